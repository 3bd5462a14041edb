"""What the pages repeat: routes and how a status looks. One place for each fact (sizes and durations: app.units).

The JavaScript of the grids gets the same facts as props (``STATUS_LOOKS``, ``ROUTES``), so a status or a route
is never spelled twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from urllib.parse import quote

from app.storage.models import Status

LOGIN_PATH = '/login'
JOBS_PATH = '/settings/maintenance/jobs'
TASKS_PATH = '/settings/maintenance/tasks'
OVERVIEW_PATH = '/settings/maintenance/overview'
IMPORTS_PATH = '/imports'
USERS_PATH = '/settings/users'
ACCOUNT_PATH = '/settings/account'
API_JOBS_PATH = '/api/jobs'


def job_path(job_id: int) -> str:
    """The detail page of a job."""
    return f'{JOBS_PATH}/{job_id}'


def login_path(redirect_to: str) -> str:
    """The login page, sending the user on to ``redirect_to`` afterwards."""
    return f'{LOGIN_PATH}?redirect_to={quote(redirect_to)}'


@dataclass(frozen=True, slots=True)
class StatusLook:
    text: str  # the status as people read it, also the icon's aria-label and title
    icon: str  # a Material icon name
    css: str  # job-status--<css> sets the colour (and the spin of the running one)


STATUS_LOOKS: dict[str, StatusLook] = {
    Status.IN_PROGRESS: StatusLook('In Progress', 'autorenew', 'running'),
    Status.COMPLETED: StatusLook('Completed', 'check_circle', 'completed'),
    Status.FAILED: StatusLook('Failed', 'cancel', 'failed'),
}


def status_look(status: str) -> StatusLook:
    """How ``status`` is shown; an unknown value reads as itself, with the failed colour."""
    return STATUS_LOOKS.get(status) or StatusLook(status, 'help', 'failed')


def status_text(status: str) -> str:
    return status_look(status).text


def status_props() -> dict[str, dict[str, str]]:
    """The status looks as the grid's JavaScript receives them."""
    return {status: asdict(look) for status, look in STATUS_LOOKS.items()}


ROUTES = {'api_jobs': API_JOBS_PATH, 'jobs': JOBS_PATH, 'login': LOGIN_PATH}
