"""The paged job list: a deep page read from the end of the list is the same page, for every sort and filter."""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa

from app.storage import jobs as queries
from app.storage import listing
from app.storage.listing import JobFilter, list_jobs
from app.storage.users import create_user

SORTS = [f'{sign}{field}' for field in listing.SORT_FIELDS for sign in ('', '-')]


@pytest.fixture
def many_jobs(engine: sa.Engine) -> sa.Engine:
    """70 jobs of two owners, some running (no end), some failed (a failed time), ties in every column."""
    owners = [create_user(engine, username=name, password='pw') for name in ('ann', 'bob')]
    rng = random.Random(3)
    for number in range(70):
        owner = owners[number % 2]
        assert owner.id is not None
        name, description = rng.choice(['Alpha', 'Beta']), f'job {rng.randint(1, 5)}'
        row = queries.create_job(engine, job_type='t', name=name, category='general', description=description,
                                 run_by_id=owner.id, run_at='/', params={})  # fmt: skip
        if number % 3:
            queries.finish_job(engine, job_id=row['id'], error='boom' if number % 5 == 0 else None)
    return engine


@pytest.mark.parametrize('filters', [JobFilter(), JobFilter(status='completed'), JobFilter(job='Beta', run_by='bob')])
def test_pages_read_from_the_end_equal_pages_read_from_the_start(
    many_jobs: sa.Engine, monkeypatch: pytest.MonkeyPatch, filters: JobFilter
) -> None:
    admin = create_user(many_jobs, username='boss', password='pw', is_admin=True)
    for sort in SORTS:
        monkeypatch.setattr(listing, 'REVERSE_FROM', 10**9)
        expected = [list_jobs(many_jobs, viewer=admin, filters=filters, sort=sort, offset=offset, limit=7)
                    for offset in range(0, 80, 7)]  # fmt: skip
        monkeypatch.setattr(listing, 'REVERSE_FROM', 0)
        for offset, page in zip(range(0, 80, 7), expected, strict=True):
            reversed_page = list_jobs(many_jobs, viewer=admin, filters=filters, sort=sort, offset=offset, limit=7)
            assert [row['id'] for row in reversed_page.rows] == [row['id'] for row in page.rows], (sort, offset)
            assert reversed_page.total == page.total


@pytest.mark.parametrize('q', ['job 3', 'JOB', 'ob 4', '3', 'nothing like it', 'b 1'])
def test_a_search_through_its_rarest_trigrams_finds_what_the_whole_phrase_finds(
    many_jobs: sa.Engine, monkeypatch: pytest.MonkeyPatch, q: str
) -> None:
    admin = create_user(many_jobs, username='boss', password='pw', is_admin=True)
    filters = JobFilter(q=q)
    monkeypatch.setattr(listing, 'RARE_ENOUGH', 0)  # every trigram "common": the whole phrase
    expected = list_jobs(many_jobs, viewer=admin, filters=filters, limit=100)
    monkeypatch.setattr(listing, 'RARE_ENOUGH', 10**6)  # every trigram "rare": through the rarest two
    with many_jobs.connect() as connection:
        narrowed = listing.with_rare_trigrams(connection, filters)
    if many_jobs.dialect.name == 'sqlite' and len(q) >= 3:
        assert narrowed.q_match is not None
    found = list_jobs(many_jobs, viewer=admin, filters=filters, limit=100)
    assert [row['id'] for row in found.rows] == [row['id'] for row in expected.rows]
    assert found.total == expected.total
