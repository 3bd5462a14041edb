"""JSON API for acting on jobs: cancel, run again, and the job log (as JSON lines or a text download)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.responses import Response

from app.jobs.actions import InputMissing, NotRunning, StillRunning
from app.jobs.store import AlreadyRunning
from app.pages.api import error, not_found
from app.pages.api_models import ERRORS, ErrorOut, JobOut, LogOut
from app.pages.auth import CurrentUser
from app.pages.params import parse_id
from app.services import Services
from app.storage import jobs as queries
from app.storage.job_actions import LogLine, read_log
from app.storage.models import User

CONFLICT: dict[int | str, dict[str, object]] = {409: {'model': ErrorOut, 'description': 'Not possible in its state'}}


def add_routes(router: APIRouter, services: Services) -> None:
    """Cancel, rerun, log."""

    @router.post('/api/jobs/{job_id}/cancel', status_code=202, response_model=JobOut,
                 responses={**ERRORS, **CONFLICT}, tags=['jobs'])  # fmt: skip
    async def cancel_job(user: CurrentUser, job_id: str) -> Response:
        """Ask to cancel a running job: within 5 s it ends Failed "Cancelled by <you>"; 409 if it is not running."""
        number = parse_id(job_id)
        if number is None:
            return not_found()
        try:
            row = await services.actions.cancel(user, number)
        except NotRunning:
            return error(409, 'The job is not running')
        return JSONResponse(row, status_code=202) if row is not None else not_found()

    @router.post('/api/jobs/{job_id}/rerun', status_code=201, response_model=JobOut,
                 responses={**ERRORS, **CONFLICT}, tags=['jobs'])  # fmt: skip
    async def rerun_job(user: CurrentUser, job_id: str) -> Response:
        """Run a finished job again (same type, inputs and parameters, run by you); answers the new job.

        409 while the job still runs, when a system task of its type is already running, or when the job's input
        files are no longer stored.
        """
        number = parse_id(job_id)
        if number is None:
            return not_found()
        try:
            new_id = await services.actions.rerun(user, number)
        except StillRunning:
            return error(409, 'The job is still running')
        except (AlreadyRunning, InputMissing) as refused:
            return error(409, str(refused))
        if new_id is None:
            return not_found()
        [row] = await services.threads.run(queries.job_rows, services.engine, job_ids=[new_id])  # launched by user
        return JSONResponse(row, status_code=201)

    @router.get('/api/jobs/{job_id}/log', response_model=LogOut, responses=ERRORS, tags=['jobs'])
    async def job_log(user: CurrentUser, job_id: str, after: Annotated[int, Query(ge=0, le=2**31)] = 0) -> Response:
        """The job's log lines after line ``after`` (oldest first), and how many older lines were dropped."""
        found = await _read_log(services, user, job_id, after)
        if found is None:
            return not_found()
        lines, dropped = found
        return JSONResponse({'lines': [line_json(line) for line in lines], 'dropped': dropped})

    @router.get('/api/jobs/{job_id}/log.txt', response_class=PlainTextResponse, responses=ERRORS, tags=['jobs'])
    async def job_log_text(user: CurrentUser, job_id: str) -> Response:
        """The job's log as a text file: ``<ISO time> <LEVEL> <message>`` per line."""
        found = await _read_log(services, user, job_id, 0)
        if found is None:
            return not_found()
        number = parse_id(job_id)
        headers = {'Content-Disposition': f'attachment; filename="job-{number}-log.txt"'}
        return PlainTextResponse(log_text(*found), headers=headers)


async def _read_log(services: Services, user: User, job_id: str, after: int) -> tuple[list[LogLine], int] | None:
    number = parse_id(job_id)
    if number is None:
        return None
    found: tuple[list[LogLine], int] | None = await services.threads.run(
        read_log, services.engine, viewer=user, job_id=number, after=after
    )
    return found


def line_json(line: LogLine) -> dict[str, object]:
    return {'seq': line.seq, 'at': line.at.isoformat(), 'level': line.level, 'message': line.message}


def log_text(lines: list[LogLine], dropped: int) -> str:
    """The log as text, one ``<ISO time> <LEVEL> <message>`` line each; dropped lines are counted on top."""
    text = []
    if dropped and lines:
        text.append(f'{lines[0].at.isoformat()} INFO {dropped:,} earlier lines dropped (only the newest are kept)')
    text.extend(f'{line.at.isoformat()} {line.level.upper()} {line.message}' for line in lines)
    return ''.join(f'{entry}\n' for entry in text)
