"""JSON API (``/api/jobs``) and file downloads (``/files/{id}``), under the same visibility rules as the pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, JSONResponse
from nicegui import app
from starlette.responses import Response

from app.pages.auth import current_user
from app.pages.data import fetch
from app.services import Services
from app.storage import jobs as queries
from app.storage import listing
from app.storage.files import UnsafePath
from app.storage.models import Category, Status

NOT_FOUND = {'detail': 'Not found'}
MAX_TEXT = 200


class InvalidQuery(ValueError):
    pass


def register(services: Services) -> None:
    @app.get('/api/jobs')
    async def list_jobs(request: Request) -> Response:
        viewer = await current_user(services)
        if viewer is None:
            return _unauthenticated()
        try:
            query = parse_list_query(dict(request.query_params))
        except InvalidQuery as error:
            return JSONResponse({'detail': str(error)}, status_code=422)
        page = await fetch(listing.list_jobs, services.engine, viewer=viewer, **query)
        return JSONResponse({'total': page.total, 'rows': page.rows, 'total_is_exact': page.total_is_exact})

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


def parse_list_query(params: dict[str, str]) -> dict[str, Any]:
    """Validate the list parameters; raises InvalidQuery with a message for the caller."""
    offset, limit, sort = params.get('offset', '0'), params.get('limit', '100'), params.get('sort', '-started_at')
    if not _is_int(offset) or int(offset) < 0:
        raise InvalidQuery('offset must be a whole number of 0 or more')
    if not _is_int(limit) or not 1 <= int(limit) <= listing.MAX_LIMIT:
        raise InvalidQuery(f'limit must be a whole number from 1 to {listing.MAX_LIMIT}')
    if sort.lstrip('-') not in listing.SORT_FIELDS:
        raise InvalidQuery(f'sort must be one of: {", ".join(listing.SORT_FIELDS)} (prefix - for descending)')
    return {'filters': parse_filter(params), 'offset': int(offset), 'limit': int(limit), 'sort': sort}


def parse_filter(params: dict[str, str]) -> listing.JobFilter:
    """The filters of a list request: category, status, job, run_by, since, until, q."""
    category, status = params.get('category') or None, params.get('status') or None
    if category is not None and category not in {c.value for c in Category}:
        raise InvalidQuery(f'category must be one of: {", ".join(c.value for c in Category)}')
    if status is not None and status not in {s.value for s in Status}:
        raise InvalidQuery(f'status must be one of: {", ".join(s.value for s in Status)}')
    for name in ('job', 'run_by', 'q'):
        if len(params.get(name, '')) > MAX_TEXT:
            raise InvalidQuery(f'{name} must be at most {MAX_TEXT} characters')
    return listing.JobFilter(
        category=category,
        status=status,
        job=params.get('job') or None,
        run_by=params.get('run_by') or None,
        since=_parse_time('since', params.get('since')),
        until=_parse_time('until', params.get('until'), end_of_day=True),
        q=(params.get('q') or '').strip() or None,
    )


def _parse_time(name: str, value: str | None, *, end_of_day: bool = False) -> datetime | None:
    """An ISO date or datetime (UTC unless it has an offset); a bare ``until`` date includes that whole day."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace('Z', '+00:00'))
    except ValueError:
        raise InvalidQuery(f'{name} must be an ISO 8601 date or date and time, e.g. 2026-01-31') from None
    if end_of_day and len(value) == 10:
        parsed += timedelta(days=1)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _is_int(value: str) -> bool:
    return value.lstrip('-').isdigit()


def _unauthenticated() -> Response:
    return JSONResponse({'detail': 'Not authenticated'}, status_code=401)
