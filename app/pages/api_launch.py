"""Starting work over the API: ``POST /api/imports`` (a CSV, multipart) and ``POST /api/tasks/{key}/run`` (admins),
and ``/api/docs``, the API's description shown with Swagger UI from local files (no internet needed).

Scripts authenticate with ``Authorization: Bearer jm_...`` (app.pages.auth); both routes answer the new job.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.responses import Response

from app.jobs.service import AlreadyRunning
from app.jobs.system_tasks import TASKS
from app.pages.api import error, not_found
from app.pages.api_models import ERRORS, ErrorOut, JobOut
from app.pages.auth import DOCS_PATH, AdminUser, CurrentUser
from app.pages.display import TASKS_PATH
from app.pages.imports import display_name, launch_import
from app.services import Services
from app.storage.files import FileTooLarge
from app.storage.jobs import job_rows

CHUNK = 1024 * 1024
DOCS_ASSETS = {
    'swagger-ui.css': 'text/css',
    'swagger-ui-bundle.js': 'text/javascript',
    'init.js': 'text/javascript',
}
DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Job Management API</title>
<link rel="stylesheet" href="/api/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script><script src="/api/docs/init.js"></script></body></html>
"""
DOCS_INIT = """window.ui = SwaggerUIBundle({
  url: '/api/openapi.json', dom_id: '#swagger-ui', deepLinking: true,
  validatorUrl: null,  // no badge fetched from the internet
  presets: [SwaggerUIBundle.presets.apis], layout: 'BaseLayout',
});
"""
CONFLICT: dict[int | str, dict[str, Any]] = {409: {'model': ErrorOut, 'description': 'The task is already running'}}
TOO_LARGE: dict[int | str, dict[str, Any]] = {413: {'model': ErrorOut, 'description': 'Larger than JOBS_MAX_UPLOAD_MB'}}


def add_routes(router: APIRouter, services: Services) -> None:
    @router.post(
        '/api/imports', status_code=201, response_model=JobOut, responses={**ERRORS, **TOO_LARGE}, tags=['imports']
    )
    async def start_import(user: CurrentUser, file: UploadFile) -> Response:
        """Start a Contacts Import of the uploaded CSV (multipart field ``file``), as the page does; answers the
        new job. Follow it with ``GET /api/jobs/{id}``; its reports are among the job's ``files``."""
        filename = display_name(file.filename)
        if not filename.lower().endswith('.csv'):
            return error(422, 'file: choose a .csv file')

        async def chunks() -> AsyncIterator[bytes]:
            while chunk := await file.read(CHUNK):
                yield chunk

        try:
            stored = await services.files.save_stream(chunks(), limit=services.settings.max_upload_bytes)
        except FileTooLarge as problem:
            return error(413, str(problem))
        assert user.id is not None
        return await _job(services, await launch_import(services, user.id, filename, stored=stored))

    @router.post(
        '/api/tasks/{key}/run', status_code=201, response_model=JobOut, responses={**ERRORS, **CONFLICT}, tags=['tasks']
    )
    async def run_task(admin: AdminUser, key: str) -> Response:
        """Run a system task now (admins only; others get 404): ``database_backup``, ``purge_old_jobs`` or
        ``storage_integrity_check``. Answers the new job; 409 while the task is already running."""
        task = next((task for task in TASKS if task.key == key), None)
        if task is None:
            return not_found()
        assert admin.id is not None
        try:
            job_id = await services.jobs.launch(
                task.key, description=task.summary, run_by_id=admin.id, run_at=TASKS_PATH, exclusive=True
            )
        except AlreadyRunning:
            return error(409, f'{task.name} is already running')
        return await _job(services, job_id)

    @router.get(DOCS_PATH, include_in_schema=False)
    async def docs(_user: CurrentUser) -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE)

    @router.get(DOCS_PATH + '/{name}', include_in_schema=False)
    async def docs_asset(_user: CurrentUser, name: str) -> Response:
        if name not in DOCS_ASSETS:
            return not_found()
        if name == 'init.js':
            return Response(DOCS_INIT, media_type=DOCS_ASSETS[name])
        return FileResponse(_swagger_dir() / name, media_type=DOCS_ASSETS[name])


async def _job(services: Services, job_id: int) -> Response:
    rows = await services.threads.run(job_rows, services.engine, job_ids=[job_id])
    if not rows:  # purged within the same instant: nothing sensible to answer
        raise HTTPException(404)
    return JSONResponse(rows[0], status_code=201)


def _swagger_dir() -> Path:
    from swagger_ui_bundle import swagger_ui_path

    return Path(swagger_ui_path)
