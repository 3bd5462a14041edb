"""The job list behind the grids and ``GET /api/jobs``: visibility, filters and sorting, all in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select

from app.storage.db import session
from app.storage.jobs import job_row, visible_to
from app.storage.models import Job, User

SORT_FIELDS: dict[str, Any] = {
    'id': Job.id,
    'job': Job.name,
    'description': Job.description,
    'status': Job.status,
    'started_at': Job.started_at,
    'ended_at': Job.ended_at,
    'failed_at': Job.failed_at,
    'run_by': User.username,
}
MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class JobFilter:
    """What the user narrowed the list to; None means no restriction."""

    category: str | None = None
    status: str | None = None
    job: str | None = None
    run_by: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None

    def apply(self, query: Any) -> Any:
        conditions: list[Any] = []
        if self.category is not None:
            conditions.append(Job.category == self.category)
        if self.status is not None:
            conditions.append(Job.status == self.status)
        if self.job is not None:
            conditions.append(Job.name == self.job)
        if self.run_by is not None:
            user_id = select(User.id).where(User.username == self.run_by).scalar_subquery()
            conditions.append(Job.run_by_id == user_id)
        if self.since is not None:
            conditions.append(col(Job.started_at) >= self.since)
        if self.until is not None:
            conditions.append(col(Job.started_at) < self.until)
        if self.q:
            text = col(Job.description).ilike(f'%{_escape_like(self.q)}%', escape='\\')
            conditions.append(sa.or_(col(Job.id) == int(self.q), text) if self.q.isdigit() else text)
        return query.where(*conditions) if conditions else query


def list_jobs(
    engine: sa.Engine,
    *,
    viewer: User,
    filters: JobFilter = JobFilter(),
    offset: int = 0,
    limit: int = 100,
    sort: str = '-started_at',
) -> tuple[int, list[dict[str, Any]]]:
    """One page of the jobs ``viewer`` may see, filtered and sorted in SQL; returns (total, rows)."""
    descending = sort.startswith('-')
    column = SORT_FIELDS[sort.lstrip('-')]
    order = [column.desc(), col(Job.id).desc()] if descending else [column.asc(), col(Job.id).asc()]
    count_query = filters.apply(visible_to(select(func.count()).select_from(Job), viewer))
    rows_query = filters.apply(visible_to(select(Job, User.username).join(User, col(User.id) == Job.run_by_id), viewer))
    with session(engine) as db:
        total = db.exec(count_query).one()
        rows = db.exec(rows_query.order_by(*order).offset(offset).limit(limit)).all()
    return total, [job_row(job, username) for job, username in rows]


def _escape_like(text: str) -> str:
    return text.replace('\\', '\\\\').replace('%', '\\%').replace('_', '\\_')
