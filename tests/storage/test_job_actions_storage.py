"""Job actions in the database on both backends: the log keeps the newest lines, percent never goes back, cancel
requests are seen by their jobs' owners and admins only."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.storage import job_actions, maintenance
from app.storage import jobs as queries
from app.storage.job_actions import LogLine
from app.storage.models import User, utcnow
from app.storage.users import create_user


@pytest.fixture
def people(engine: sa.Engine) -> dict[str, User]:
    return {
        'ann': create_user(engine, username='ann', password='pw'),
        'bob': create_user(engine, username='bob', password='pw'),
        'boss': create_user(engine, username='boss', password='pw', is_admin=True),
    }


def new_job(engine: sa.Engine, owner: User) -> int:
    assert owner.id is not None
    row = queries.create_job(engine, job_type='t', name='T', category='general', description='d',
                             run_by_id=owner.id, run_at='/x', params={})  # fmt: skip
    job_id: int = row['id']
    return job_id


def test_the_log_keeps_the_newest_lines_and_counts_the_dropped(
    engine: sa.Engine, people: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_actions, 'LOG_KEPT', 5)
    job_id = new_job(engine, people['ann'])
    start = utcnow()
    for first in (1, 4, 7):  # three writes of three lines
        lines = [LogLine(seq, start + timedelta(seconds=seq), 'info', f'line {seq}') for seq in range(first, first + 3)]
        row = job_actions.append_log(engine, job_id=job_id, lines=lines)
    assert row['log_seq'] == 9
    found = job_actions.read_log(engine, viewer=people['ann'], job_id=job_id)
    assert found is not None
    kept, dropped = found
    assert [line.seq for line in kept] == [5, 6, 7, 8, 9] and dropped == 4
    assert kept[0].at == start + timedelta(seconds=5) and kept[0].at.utcoffset() == timedelta(0)
    after = job_actions.read_log(engine, viewer=people['boss'], job_id=job_id, after=7)
    assert after is not None and [line.message for line in after[0]] == ['line 8', 'line 9']
    assert job_actions.read_log(engine, viewer=people['bob'], job_id=job_id) is None


def test_percent_never_goes_back_and_completed_reads_100(engine: sa.Engine, people: dict[str, User]) -> None:
    job_id = new_job(engine, people['ann'])
    assert queries.job_rows(engine, job_ids=[job_id])[0]['progress'] is None  # reports none yet
    row = queries.set_progress(engine, job_id=job_id, done=5, total=10, percent=42.04, eta=30.0)
    assert row['progress'] == {'percent': 42.0, 'eta_seconds': 30.0}
    row = queries.set_progress(engine, job_id=job_id, done=1, total=10, percent=10.0, eta=80.0)  # e.g. a retry
    assert row['progress']['percent'] == 42.0
    row = queries.finish_job(engine, job_id=job_id)
    assert row['progress'] == {'percent': 100.0, 'eta_seconds': None}


def test_cancel_requests(engine: sa.Engine, people: dict[str, User]) -> None:
    job_id = new_job(engine, people['ann'])
    assert job_actions.request_cancel(engine, viewer=people['bob'], job_id=job_id) is None  # not bob's to see
    assert job_actions.cancel_requests(engine, job_ids=[job_id]) == {}
    found = job_actions.request_cancel(engine, viewer=people['boss'], job_id=job_id)
    assert found is not None and found[0]['cancelled_by'] == 'boss'
    job_actions.request_cancel(engine, viewer=people['ann'], job_id=job_id)  # the first request's name stays
    assert job_actions.cancel_requests(engine, job_ids=[job_id]) == {job_id: 'boss'}
    row = queries.finish_job(engine, job_id=job_id)  # however the handler ended, it was cancelled
    assert (row['status'], row['error']) == ('failed', 'Cancelled by boss')
    with pytest.raises(job_actions.NotRunning):
        job_actions.request_cancel(engine, viewer=people['ann'], job_id=job_id)


def test_purging_a_job_removes_its_log(engine: sa.Engine, people: dict[str, User]) -> None:
    job_id = new_job(engine, people['ann'])
    job_actions.append_log(engine, job_id=job_id, lines=[LogLine(1, utcnow(), 'info', 'kept until purged')])
    queries.finish_job(engine, job_id=job_id)
    purged = maintenance.purge_batch(engine, cutoff=utcnow() + timedelta(days=1), keep_job_id=0)
    assert [job.id for job in purged] == [job_id]
    with engine.connect() as connection:
        assert connection.execute(sa.text('SELECT count(*) FROM job_log')).scalar_one() == 0
