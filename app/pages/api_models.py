"""The API's parameters and answers as pydantic models: validation and the OpenAPI description in one place."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.storage import listing
from app.storage.models import Category, Status

MAX_TEXT = 200
MAX_OFFSET = 10**12  # far past any real list, and far inside the databases' integer range


class ErrorOut(BaseModel):
    error: str
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {'model': ErrorOut, 'description': 'Not logged in'},
    404: {'model': ErrorOut, 'description': 'Not found, or not yours to see'},
    422: {'model': ErrorOut, 'description': 'An invalid parameter, named in the message'},
}


class ProgressOut(BaseModel):
    percent: float = Field(description='0-100, one decimal; never goes down while the job runs; 100 once Completed')
    eta_seconds: float | None = Field(description='about how long is left, from the rate so far; null if unknown')


class JobOut(BaseModel):
    id: int
    job: str = Field(description='the job type as shown in the "Job" column, e.g. "Contacts Import"')
    category: Category
    description: str
    status: Status
    started_at: str = Field(description='ISO 8601, UTC with offset')
    ended_at: str | None
    failed_at: str | None
    run_by: str = Field(description='username')
    run_at: str = Field(description='the path of the page that launched the job')
    error: str | None = Field(description='why the job failed; null unless failed')
    progress_done: int
    progress_total: int
    attempts: int
    rerun_of: int | None = Field(description='the job this one runs again, or null')
    cancelled_by: str | None = Field(description='username of who cancelled (or asked to cancel) the job, or null')
    progress: ProgressOut | None = Field(description='null for a job that reports no progress')
    log_seq: int = Field(description='number of the last log line')
    progress_step: str | None = Field(description='the step under way while the job runs, or null')


class JobPageOut(BaseModel):
    total: int = Field(description='jobs matching; a lower bound when total_is_exact is false')
    rows: list[JobOut]
    total_is_exact: bool


class SubtaskOut(BaseModel):
    name: str
    status: Status
    updated_at: str
    message: str


class FileOut(BaseModel):
    id: int
    role: str = Field(description='input, output or error_report')
    filename: str
    size: int
    url: str


class JobDetailOut(JobOut):
    subtasks: list[SubtaskOut]
    files: list[FileOut]
    reruns: list[int] = Field(description='ids of the jobs that ran this one again, oldest first')


class LogLineOut(BaseModel):
    seq: int = Field(description='line number within the job, from 1')
    at: str = Field(description='ISO 8601, UTC with offset')
    level: str = Field(description='debug, info, warning or error')
    message: str


class LogOut(BaseModel):
    lines: list[LogLineOut]
    dropped: int = Field(description='older lines no longer kept (only the newest 10,000 are)')


class FilterQuery(BaseModel):
    """The filters of a job list; empty values mean "any"."""

    model_config = ConfigDict(extra='ignore')

    category: Category | None = None
    status: Status | None = None
    job: str | None = Field(None, max_length=MAX_TEXT, description='job name, e.g. "Contacts Import"')
    run_by: str | None = Field(None, max_length=MAX_TEXT, description='username')
    since: str | None = Field(
        None, description='ISO date or date-time on the start time, UTC unless an offset is given'
    )
    until: str | None = Field(None, description='as since; a bare date includes that day')
    q: str | None = Field(None, max_length=MAX_TEXT, description='text in the description (any case), or a job id')

    @field_validator('*', mode='before')
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == '' else value

    @field_validator('since', 'until')
    @classmethod
    def _valid_time(cls, value: str | None) -> str | None:
        if value is not None:
            parse_time(value)
        return value

    def job_filter(self) -> listing.JobFilter:
        return listing.JobFilter(
            category=self.category,
            status=self.status,
            job=self.job,
            run_by=self.run_by,
            since=parse_time(self.since),
            until=parse_time(self.until, end_of_day=True),
            q=(self.q or '').strip() or None,
        )


class SortedQuery(FilterQuery):
    """Filters and a sort: what a whole list (an export) is asked with."""

    sort: str = Field('-started_at', description=f'one of {", ".join(listing.SORT_FIELDS)}; prefix - for descending')

    @field_validator('sort')
    @classmethod
    def _known_sort(cls, value: str) -> str:
        if value.removeprefix('-') not in listing.SORT_FIELDS:
            raise ValueError(f'must be one of: {", ".join(listing.SORT_FIELDS)} (prefix - for descending)')
        return value


class ListQuery(SortedQuery):
    """Filters, a sort and a page."""

    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    limit: int = Field(100, ge=1, le=listing.MAX_LIMIT)


def parse_time(value: str | None, *, end_of_day: bool = False) -> datetime | None:
    """An ISO date or date-time (UTC unless it has an offset); a bare ``until`` date includes that whole day.

    A time outside what can be stored (the year 1 or 9999 with an offset) bounds nothing, so it reads as None.
    """
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            parsed = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return parsed + timedelta(days=1) if end_of_day else parsed
        parsed = datetime.fromisoformat(value.replace('Z', '+00:00'))
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except OverflowError:
        return None
    except ValueError:
        raise ValueError('must be an ISO 8601 date or date and time, e.g. 2026-01-31') from None
