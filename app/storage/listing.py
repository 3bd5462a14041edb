"""The job list behind the grids and ``GET /api/jobs``: visibility, filters and sorting, all in SQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.sql.util import ClauseAdapter
from sqlmodel import col, func, select

from app.storage.jobs import JOB, job_row, visible_to
from app.storage.models import Job, JobCount, User

SORT_FIELDS: dict[str, Any] = {
    'id': Job.id,
    'job': Job.name,
    'description': Job.description,
    'status': Job.status,
    'started_at': Job.started_at,
    'ended_at': Job.ended_at,
    'failed_at': Job.failed_at,
    'run_by': Job.run_by_name,
}
MAX_LIMIT = 1000
TRIGRAM = 3
# Text search at a million rows: a word found in many descriptions is found fastest by reading the newest rows
# in sort order until a page is full; a rare one through the trigram index. Only a window of the first rows is
# read the first way (this many, or ten times the rows up to the page's end) before falling back to the second.
SEARCH_WINDOW = 5000
SEARCH_WINDOW_GROWTH = 10
# A text search counts its matches only this far past the page; "total" is then a lower bound ("N or more").
SEARCH_COUNT_AHEAD = 1000
# Text search on SQLite: how many of its trigrams are looked up (each costs a fraction of a millisecond), how many
# of the rarest narrow the jobs, and from how many jobs on a trigram is too common to be worth it.
MAX_LOOKED_UP_TRIGRAMS = 16
RARE_TRIGRAMS = 2
RARE_ENOUGH = 20_000
# Pages this deep (and in the second half of the list) are read from the end of the list, in reverse.
REVERSE_FROM = 10_000


class JobPage(NamedTuple):
    total: int
    rows: list[dict[str, Any]]
    total_is_exact: bool = True


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
    # SQLite: an FTS5 query on the rarest trigrams of ``q`` (found by ``with_rare_trigrams``), which narrows the
    # jobs quickly; the description is then checked for ``q`` itself.
    q_match: str | None = None

    def apply(self, query: Any, dialect: str = '') -> Any:
        conditions: list[Any] = []
        if self.category is not None:
            conditions.append(Job.category == self.category)
        if self.status is not None:
            conditions.append(Job.status == self.status)
        if self.job is not None:
            conditions.append(Job.name == self.job)
        if self.run_by is not None:
            conditions.append(Job.run_by_name == self.run_by)
        if self.since is not None:
            conditions.append(col(Job.started_at) >= self.since)
        if self.until is not None:
            conditions.append(col(Job.started_at) < self.until)
        if self.q:
            text = _contains(self.q, dialect, self.q_match)
            conditions.append(sa.or_(col(Job.id) == int(self.q), text) if _is_id(self.q) else text)
        return query.where(*conditions) if conditions else query

    @property
    def countable_by_group(self) -> bool:
        """Whether the per-group counts (``job_count``) can answer the total without counting rows."""
        return self.since is None and self.until is None and not self.q


def list_jobs(
    engine: sa.Engine,
    *,
    viewer: User,
    filters: JobFilter = JobFilter(),
    offset: int = 0,
    limit: int = 100,
    sort: str = '-started_at',
) -> JobPage:
    """One page of the jobs ``viewer`` may see, filtered and sorted in SQL, with the total.

    The page's ids come from an index alone (every sort is "column, started_at, id", which migration 0002
    indexes per category), then only those rows are read; the total comes from the trigger-kept group counts.
    A text search (``q``) counts at most ``SEARCH_COUNT_AHEAD`` matches past the page (``total_is_exact`` False).
    """
    order = order_by(sort)
    dialect = engine.dialect.name
    visible = visible_to(select(Job.id), viewer)
    # Plain rows, not ORM objects: building and tracking a hundred instances cost more than the queries.
    with engine.connect() as connection:
        filters = with_rare_trigrams(connection, filters) if filters.q else filters
        ids = _searched_in_window(connection, filters, visible, order, offset, limit) if filters.q else None
        dense = ids is not None  # a text found within the window: counting by reading rows stops soon
        total = None
        if ids is None and offset >= REVERSE_FROM and filters.countable_by_group:
            total = _total(connection, viewer, filters, dialect)
            ids = _from_the_end(connection, filters.apply(visible, dialect), sort, offset, limit, total)
        if ids is None:
            page_ids = filters.apply(visible, dialect).order_by(*order).offset(offset).limit(limit)
            ids = list(connection.execute(page_ids).scalars())
        jobs = {row.id: row for row in connection.execute(sa.select(JOB).where(JOB.c.id.in_(ids)))} if ids else {}
        if not filters.q:
            total, exact = total if total is not None else _total(connection, viewer, filters, dialect), True
        elif 0 < len(ids) < limit or (not ids and not offset):  # the list ends on this page
            total, exact = offset + len(ids), True
        else:
            total, exact = _count_matches(connection, viewer, filters, dialect, cap=offset + limit + SEARCH_COUNT_AHEAD,
                                          by_reading_rows=dense)  # fmt: skip
    return JobPage(total, [job_row(jobs[job_id]) for job_id in ids], exact)


def _from_the_end(
    connection: sa.Connection, query: Any, sort: str, offset: int, limit: int, total: int
) -> list[int] | None:
    """A page in the second half of the list, read from its end in the opposite order: OFFSET walks index
    entries one by one, so page 9,000 of 10,000 costs what page 1,000 does. None for the first half."""
    if offset < total / 2:
        return None
    flipped = sort.removeprefix('-') if sort.startswith('-') else f'-{sort}'
    end = min(offset + limit, total)
    if end <= offset:
        return []
    from_end = query.order_by(*order_by(flipped)).offset(total - end).limit(end - offset)
    return list(reversed(connection.execute(from_end).scalars().all()))


def order_by(sort: str) -> list[Any]:
    """The ORDER BY of a sort key (``-started_at``...): the column, then start time and id, as the indexes are."""
    descending = sort.startswith('-')
    columns = [SORT_FIELDS[sort.lstrip('-')], Job.started_at, Job.id]
    if sort.lstrip('-') in {'id', 'started_at'}:
        columns = [Job.started_at, Job.id] if sort.lstrip('-') == 'started_at' else [Job.id]
    return [col(column).desc() if descending else col(column).asc() for column in columns]


def _searched_in_window(
    connection: sa.Connection, filters: JobFilter, visible: Any, order: list[Any], offset: int, limit: int
) -> list[int] | None:
    """The page when the first rows in sort order (a window) hold it; None to search everything. The window's rows
    are checked as the index gives them, so a common word stops reading once the page is full."""
    assert filters.q is not None
    size = max(SEARCH_WINDOW, SEARCH_WINDOW_GROWTH * (offset + limit))
    shown = dict.fromkeys([col(Job.description), *(term.element for term in order)])
    window = replace(filters, q=None).apply(visible.add_columns(*shown)).order_by(*order).limit(size).subquery()
    on_window: Callable[[Any], Any] = ClauseAdapter(window).traverse  # the same terms, on the window's columns
    query = select(window.c.id).where(on_window(_like(filters.q))).order_by(*map(on_window, order))
    ids = list(connection.execute(query.offset(offset).limit(limit)).scalars())
    return ids if len(ids) == limit else None


def _count_matches(
    connection: sa.Connection, viewer: User, filters: JobFilter, dialect: str, *, cap: int, by_reading_rows: bool
) -> tuple[int, bool]:
    """Matches of a text search, counted up to ``cap``; returns (count, exact)."""
    assert filters.q is not None
    query = visible_to(select(Job.id), viewer)
    if by_reading_rows:  # many matches: reading rows finds ``cap`` of them quickly, the index would list them all
        query = replace(filters, q=None).apply(query).where(_like(filters.q))
    else:
        query = filters.apply(query, dialect)
    count = int(connection.execute(select(func.count()).select_from(query.limit(cap + 1).subquery())).scalar_one())
    return (cap, False) if count > cap else (count, True)


def _total(connection: sa.Connection, viewer: User, filters: JobFilter, dialect: str) -> int:
    if not filters.countable_by_group:
        count = filters.apply(visible_to(select(func.count()).select_from(Job), viewer), dialect)
        return int(connection.execute(count).scalar_one())
    query = select(func.coalesce(func.sum(JobCount.n), 0))
    if not viewer.is_admin:
        query = query.where(JobCount.run_by_id == viewer.id)
    if filters.run_by is not None:
        query = query.where(
            JobCount.run_by_id == select(User.id).where(User.username == filters.run_by).scalar_subquery()
        )
    for column, value in ((JobCount.category, filters.category), (JobCount.status, filters.status),
                          (JobCount.name, filters.job)):  # fmt: skip
        if value is not None:
            query = query.where(column == value)
    return int(connection.execute(query).scalar_one())


def _contains(text: str, dialect: str, rare: str | None = None) -> Any:
    """Description contains ``text`` (any case): through the trigram index where there is one (migration 0003)."""
    if dialect == 'sqlite' and rare is not None:
        candidates = sa.text('SELECT rowid FROM job_search WHERE job_search MATCH :rare').bindparams(rare=rare)
        return sa.and_(col(Job.id).in_(candidates), col(Job.description).ilike(f'%{_escape_like(text)}%', escape='\\'))
    if dialect == 'sqlite' and len(text) >= TRIGRAM:
        phrase = '"' + text.replace('"', '""') + '"'  # an FTS5 phrase: matched as a substring by the trigram index
        matches = sa.text('SELECT rowid FROM job_search WHERE job_search MATCH :phrase').bindparams(phrase=phrase)
        return col(Job.id).in_(matches)
    # PostgreSQL's pg_trgm GIN index serves ILIKE directly; SQLite text shorter than a trigram reads every row.
    return col(Job.description).ilike(f'%{_escape_like(text)}%', escape='\\')


def with_rare_trigrams(connection: sa.Connection, filters: JobFilter) -> JobFilter:
    """``filters`` with an FTS5 query on the rarest trigrams of its text (SQLite), when they are rare enough to be
    worth it: "batch 4242" is then found through the 7,000 jobs holding "424" and "242", not by intersecting
    lists of a million ("bat", "atc", "tch") as the whole phrase would. Each trigram is counted only up to
    RARE_ENOUGH, so a common one costs no more than a rare one (about a millisecond)."""
    text = (filters.q or '').lower()
    if connection.dialect.name != 'sqlite' or len(text) < TRIGRAM:
        return filters
    trigrams = sorted({text[index : index + TRIGRAM] for index in range(len(text) - TRIGRAM + 1)})
    step = max(1, len(trigrams) // MAX_LOOKED_UP_TRIGRAMS)
    counts = {trigram: _documents_with(connection, trigram) for trigram in trigrams[::step]}
    rarest = sorted(counts, key=counts.__getitem__)[:RARE_TRIGRAMS]
    if counts[rarest[0]] >= RARE_ENOUGH:
        return filters  # every trigram is common: the whole phrase is no worse
    return replace(filters, q_match=' AND '.join('"' + trigram.replace('"', '""') + '"' for trigram in rarest))


def _documents_with(connection: sa.Connection, trigram: str) -> int:
    """How many jobs hold ``trigram``, counted up to RARE_ENOUGH (the index stops reading there)."""
    phrase = '"' + trigram.replace('"', '""') + '"'
    return int(connection.execute(_DOCUMENTS_WITH, {'phrase': phrase, 'cap': RARE_ENOUGH}).scalar_one())


_DOCUMENTS_WITH = sa.text(
    'SELECT count(*) FROM (SELECT rowid FROM job_search WHERE job_search MATCH :phrase LIMIT :cap)'
)


def _like(q: str) -> Any:
    """Description contains ``q`` (any case), or ``q`` is the job id: checked row by row, no index."""
    text = col(Job.description).ilike(f'%{_escape_like(q)}%', escape='\\')
    return sa.or_(col(Job.id) == int(q), text) if _is_id(q) else text


def _is_id(text: str) -> bool:
    """Whether a search text could be a job id: ASCII digits within the id range (not "²", not 20 digits)."""
    return text.isascii() and text.isdigit() and len(text) <= 18


def _escape_like(text: str) -> str:
    return text.replace('\\', '\\\\').replace('%', '\\%').replace('_', '\\_')
