"""JSON API (``/api/jobs``) and file downloads (``/files/{id}``), under the same visibility rules as the pages."""

from __future__ import annotations

from typing import Any

from fastapi.responses import FileResponse, JSONResponse
from nicegui import app
from starlette.responses import Response

from app.pages.auth import current_user
from app.pages.data import fetch
from app.services import Services
from app.storage import jobs as queries
from app.storage.files import UnsafePath
from app.storage.models import Category

NOT_FOUND = {'detail': 'Not found'}


class InvalidQuery(ValueError):
    pass


def register(services: Services) -> None:
    @app.get('/api/jobs')
    async def list_jobs(
        category: str | None = None, offset: str = '0', limit: str = '100', sort: str = '-started_at'
    ) -> Response:
        viewer = await current_user(services)
        if viewer is None:
            return _unauthenticated()
        try:
            query = parse_list_query(category=category, offset=offset, limit=limit, sort=sort)
        except InvalidQuery as error:
            return JSONResponse({'detail': str(error)}, status_code=422)
        total, rows = await fetch(queries.list_jobs, services.engine, viewer=viewer, **query)
        return JSONResponse({'total': total, 'rows': rows})

    @app.get('/api/jobs/{job_id}')
    async def get_job(job_id: str) -> Response:
        viewer = await current_user(services)
        if viewer is None:
            return _unauthenticated()
        if not job_id.isdigit():
            return JSONResponse(NOT_FOUND, status_code=404)
        detail = await fetch(queries.get_job, services.engine, viewer=viewer, job_id=int(job_id))
        return JSONResponse(detail) if detail is not None else JSONResponse(NOT_FOUND, status_code=404)

    @app.get('/files/{file_id}')
    async def download(file_id: str) -> Response:
        viewer = await current_user(services)
        if viewer is None:
            return _unauthenticated()
        job_file = (
            await fetch(queries.get_file, services.engine, viewer=viewer, file_id=int(file_id))
            if file_id.isdigit()
            else None
        )
        if job_file is None:
            return JSONResponse(NOT_FOUND, status_code=404)
        try:
            path = services.files.path(job_file.relative_path)
        except UnsafePath:
            return JSONResponse(NOT_FOUND, status_code=404)
        if not path.is_file():
            return JSONResponse({'detail': 'The stored file is missing'}, status_code=410)
        return FileResponse(path, filename=job_file.filename, content_disposition_type='attachment')


def parse_list_query(*, category: str | None, offset: str, limit: str, sort: str) -> dict[str, Any]:
    """Validate the list parameters; raises InvalidQuery with a message for the caller."""
    if category is not None and category not in {c.value for c in Category}:
        raise InvalidQuery(f'category must be one of: {", ".join(c.value for c in Category)}')
    if not _is_int(offset) or int(offset) < 0:
        raise InvalidQuery('offset must be a whole number of 0 or more')
    if not _is_int(limit) or not 1 <= int(limit) <= queries.MAX_LIMIT:
        raise InvalidQuery(f'limit must be a whole number from 1 to {queries.MAX_LIMIT}')
    if sort.lstrip('-') not in queries.SORT_FIELDS:
        raise InvalidQuery(f'sort must be one of: {", ".join(queries.SORT_FIELDS)} (prefix - for descending)')
    return {'category': category, 'offset': int(offset), 'limit': int(limit), 'sort': sort}


def _is_int(value: str) -> bool:
    return value.lstrip('-').isdigit()


def _unauthenticated() -> Response:
    return JSONResponse({'detail': 'Not authenticated'}, status_code=401)
