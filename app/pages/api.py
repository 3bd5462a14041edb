"""JSON API (``/api/...``) and file downloads (``/files/{id}``), under the same visibility rules as the pages.

Parameters are typed (FastAPI and pydantic validate them: a bad value is a 422 with a message, a malformed id a
404, never a 500), and every route declares its answers, so ``GET /api/openapi.json`` describes the API.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.pages.api_models import ERRORS, ErrorOut, JobDetailOut, JobPageOut, ListQuery
from app.pages.auth import CurrentUser
from app.pages.params import parse_id
from app.services import Services
from app.storage import jobs as queries
from app.storage import listing
from app.storage.files import UnsafePath

API_TITLE = 'Job Management API'
API_DESCRIPTION = (
    'Jobs, their files, imports and system tasks. Authenticate with `Authorization: Bearer jm_...` (create a token '
    'on /settings/account) or a logged-in browser session. Errors answer `{"error": "<message>"}`.'
)


def mount(app: FastAPI, router: APIRouter) -> None:
    """Serve the API routes gathered on ``router``, with their OpenAPI description and the API's 422 answers."""

    @router.get('/api/openapi.json', include_in_schema=False)
    async def openapi(_user: CurrentUser) -> JSONResponse:
        return JSONResponse(describe(router))

    app.include_router(router)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)  # 404 keeps its own handler (app.web)


def add_routes(router: APIRouter, services: Services) -> None:
    """Job lists, job details and file downloads."""

    @router.get('/api/jobs', response_model=JobPageOut, responses=ERRORS, tags=['jobs'])
    async def list_jobs(user: CurrentUser, query: Annotated[ListQuery, Query()]) -> Response:
        """One page of the jobs you may see, newest first unless ``sort`` says otherwise."""
        page = await services.threads.run(
            listing.list_jobs, services.engine, viewer=user, filters=query.job_filter(),
            offset=query.offset, limit=query.limit, sort=query.sort,
        )  # fmt: skip
        return JSONResponse({'total': page.total, 'rows': page.rows, 'total_is_exact': page.total_is_exact})

    @router.get('/api/jobs/{job_id}', response_model=JobDetailOut, responses=ERRORS, tags=['jobs'])
    async def get_job(user: CurrentUser, job_id: str) -> Response:
        """A job with its subtasks (in order) and files; 404 for a job that does not exist or you may not see."""
        number = parse_id(job_id)
        detail = None if number is None else await services.threads.run(
            queries.get_job, services.engine, viewer=user, job_id=number
        )  # fmt: skip
        return JSONResponse(detail) if detail is not None else not_found()

    @router.get(
        '/files/{file_id}',
        response_class=FileResponse,
        responses={**ERRORS, 200: {'description': 'The file as an attachment with its original name'}},
        tags=['files'],
    )
    async def download(user: CurrentUser, file_id: str) -> Response:
        """A job's input, output or error-report file; 404 for one you may not see."""
        number = parse_id(file_id)
        job_file = None if number is None else await services.threads.run(
            queries.get_file, services.engine, viewer=user, file_id=number
        )  # fmt: skip
        if job_file is None:
            raise HTTPException(404)  # a browser gets the app's "Page not found", a script JSON (app/web.py)
        try:
            path = services.files.path(job_file.relative_path)
        except UnsafePath:
            raise HTTPException(404) from None
        if not path.is_file():
            return error(410, 'The stored file is missing')
        return FileResponse(path, filename=job_file.filename, content_disposition_type='attachment')


def describe(router: APIRouter) -> dict[str, Any]:
    """The OpenAPI description of the ``/api/`` and ``/files/`` routes: a session cookie or an API token."""
    description = get_openapi(title=API_TITLE, version='1', routes=router.routes, description=API_DESCRIPTION)
    description.setdefault('components', {})['securitySchemes'] = {
        'token': {'type': 'http', 'scheme': 'bearer', 'description': 'an API token (jm_...) from /settings/account'},
        'session': {'type': 'apiKey', 'in': 'cookie', 'name': 'session', 'description': 'a logged-in browser'},
    }
    description['security'] = [{'token': []}, {'session': []}]
    return description


def error(status: int, message: str) -> JSONResponse:
    """An API error: ``{"error": message}`` (and ``detail``, where FastAPI clients look)."""
    return JSONResponse(ErrorOut(error=message, detail=message).model_dump(), status_code=status)


def not_found() -> JSONResponse:
    return error(404, 'Not found')


async def _http_error(request: Request, exception: Exception) -> Response:
    """Any other HTTP error (405 on a known path, 401 from a route) in the API's shape; pages keep FastAPI's."""
    assert isinstance(exception, StarletteHTTPException)
    if not request.url.path.startswith(('/api/', '/files/')):
        from fastapi.exception_handlers import http_exception_handler

        return await http_exception_handler(request, exception)
    response = error(exception.status_code, str(exception.detail))
    response.headers.update(exception.headers or {})
    return response


async def _invalid_request(request: Request, exception: Exception) -> Response:
    """A 422 whose message names the parameter and what is wrong with it, for API routes; pages keep FastAPI's."""
    assert isinstance(exception, RequestValidationError)
    if not request.url.path.startswith('/api/'):
        from fastapi.exception_handlers import request_validation_exception_handler

        return await request_validation_exception_handler(request, exception)
    problem = exception.errors()[0]
    name = str(problem['loc'][-1]) if problem.get('loc') else 'request'
    message = str(problem.get('msg', 'is invalid')).removeprefix('Value error, ')
    return error(422, f'{name}: {message}')
