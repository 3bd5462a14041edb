"""SQLModel tables: users, login sessions, API tokens, jobs with their subtasks and files, imported contacts."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Stores naive UTC on every backend and always hands back aware UTC datetimes."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def utcnow() -> datetime:
    """The current time in UTC (aware)."""
    return datetime.now(UTC)


class Status(StrEnum):
    IN_PROGRESS = 'in_progress'
    COMPLETED = 'completed'
    FAILED = 'failed'


class Category(StrEnum):
    GENERAL = 'general'
    IMPORT = 'import'


class FileRole(StrEnum):
    INPUT = 'input'
    OUTPUT = 'output'
    ERROR_REPORT = 'error_report'


def _time(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class User(SQLModel, table=True):
    __tablename__ = 'user'

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=150, unique=True)
    password_hash: str = Field(max_length=255)
    is_admin: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    disabled_at: datetime | None = _time()  # a disabled user cannot log in; sessions and tokens stop (0007)
    last_login_at: datetime | None = _time()
    # Bumped when the user's sessions, password, status or role change: open pages on every node re-check (0007).
    auth_version: int = Field(default=0, sa_column_kwargs={'server_default': '0'})


class ApiToken(SQLModel, table=True):
    """A token for scripts (``Authorization: Bearer jm_...``); only its SHA-256 is stored (migration 0007)."""

    __tablename__ = 'api_token'
    __table_args__ = (sa.Index('ix_api_token_token_hash', 'token_hash', unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey('user.id', ondelete='CASCADE'), nullable=False, index=True)
    )
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = _time()
    expires_at: datetime | None = _time()


class UserSession(SQLModel, table=True):
    """A logged-in browser, seen alike by every node that shares the database (migration 0004).

    ``id`` is the SHA-256 of NiceGUI's browser id (kept in the signed session cookie), never the id itself.
    """

    __tablename__ = 'user_session'

    id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey('user.id', ondelete='CASCADE'), nullable=False, index=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Job(SQLModel, table=True):
    __tablename__ = 'job'
    __table_args__ = (
        sa.Index('ix_job_category_started', 'category', 'started_at', 'id'),
        sa.Index('ix_job_owner_category_started', 'run_by_id', 'category', 'started_at', 'id'),
        sa.Index('ix_job_ended_at', 'ended_at'),
        sa.Index('ix_job_status', 'status'),
        sa.Index('ix_job_started', 'started_at', 'id'),
        sa.Index('ix_job_category_id', 'category', 'id'),
        sa.Index('ix_job_rerun_of', 'rerun_of'),
        *(
            sa.Index(f'ix_job_category_{column}', 'category', column, 'started_at', 'id')
            for column in ('status', 'name', 'description', 'ended_at', 'failed_at', 'run_by_name')
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    job_type: str = Field(max_length=100)
    name: str = Field(max_length=200)
    category: str = Field(max_length=20)
    description: str = Field(default='', max_length=1000)
    status: str = Field(default=Status.IN_PROGRESS, max_length=20)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ended_at: datetime | None = _time()
    failed_at: datetime | None = _time()
    run_by_id: int = Field(foreign_key='user.id')
    run_by_name: str = Field(default='', max_length=150)  # usernames never change; saves a join on every list
    run_at: str = Field(default='', max_length=500)
    progress_done: int = 0
    progress_total: int = 0
    error: str | None = Field(default=None, sa_type=sa.Text)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    attempts: int = Field(default=1, sa_column_kwargs={'server_default': '1'})  # > 1 after a worker died
    engine_job_id: int | None = Field(default=None, sa_type=sa.BigInteger)  # procrastinate's id (PostgreSQL)
    # Acting on jobs (migration 0008): who asked to cancel it (the flag its worker polls, on whichever node),
    # the job it runs again, its one progress scale, and its log's last line number and dropped lines.
    cancelled_by: str | None = Field(default=None, max_length=150)
    rerun_of: int | None = None
    progress_percent: float | None = None
    progress_eta: float | None = None
    progress_step: str | None = Field(default=None, max_length=200)  # the subtask under way, for people
    log_seq: int = Field(default=0, sa_column_kwargs={'server_default': '0'})
    log_dropped: int = Field(default=0, sa_column_kwargs={'server_default': '0'})


class JobCount(SQLModel, table=True):
    """Jobs per group, kept exact by database triggers (migrations 0002, 0006) so totals need no full count; a
    group may have several rows (shards), and its count is their sum."""

    __tablename__ = 'job_count'

    category: str = Field(primary_key=True, max_length=20)
    status: str = Field(primary_key=True, max_length=20)
    name: str = Field(primary_key=True, max_length=200)
    run_by_id: int = Field(primary_key=True)
    shard: int = Field(default=0, primary_key=True, sa_type=sa.SmallInteger)  # spreads concurrent writers (0006)
    n: int = Field(sa_type=sa.BigInteger)


class Subtask(SQLModel, table=True):
    __tablename__ = 'subtask'
    __table_args__ = (sa.Index('ix_subtask_job_position', 'job_id', 'position'),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('job.id', ondelete='CASCADE'), nullable=False))
    position: int
    name: str = Field(max_length=200)
    status: str = Field(default=Status.IN_PROGRESS, max_length=20)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    message: str = Field(default='', sa_type=sa.Text)


class JobFile(SQLModel, table=True):
    __tablename__ = 'job_file'

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey('job.id', ondelete='CASCADE'), nullable=False, index=True)
    )
    role: str = Field(max_length=20)
    filename: str = Field(max_length=255)
    relative_path: str = Field(max_length=500)
    size: int = Field(sa_type=sa.BigInteger)
    sha256: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class JobLog(SQLModel, table=True):
    """A job's log line, numbered per job from 1; only the newest ``LOG_KEPT`` of a job are kept."""

    __tablename__ = 'job_log'

    job_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('job.id', ondelete='CASCADE'), primary_key=True))
    seq: int = Field(primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    level: str = Field(max_length=10)
    message: str = Field(sa_type=sa.Text)


class Contact(SQLModel, table=True):
    __tablename__ = 'contact'

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320, unique=True)
    phone: str | None = Field(default=None, max_length=20)
    company: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class JobStat(SQLModel, table=True):
    """Jobs per start hour, job, owner and status, kept by triggers (migration 0009); ``run_by_id`` 0 counts
    everyone's. A group may have several rows (shards, on PostgreSQL): its count is their sum."""

    __tablename__ = 'job_stat'
    __table_args__ = {'sqlite_with_rowid': False}  # as migration 0009 creates it

    run_by_id: int = Field(primary_key=True)
    hour: datetime = Field(primary_key=True, sa_type=UTCDateTime)
    category: str = Field(primary_key=True, max_length=20)
    name: str = Field(primary_key=True, max_length=200)
    status: str = Field(primary_key=True, max_length=20)
    shard: int = Field(primary_key=True, sa_type=sa.SmallInteger)
    n: int = Field(sa_type=sa.BigInteger)


class JobDuration(SQLModel, table=True):
    """How many ended jobs per start hour, job and owner took a duration in each bucket (migration 0009)."""

    __tablename__ = 'job_duration'
    __table_args__ = {'sqlite_with_rowid': False}  # as migration 0009 creates it

    run_by_id: int = Field(primary_key=True)
    hour: datetime = Field(primary_key=True, sa_type=UTCDateTime)
    category: str = Field(primary_key=True, max_length=20)
    name: str = Field(primary_key=True, max_length=200)
    bucket: int = Field(primary_key=True, sa_type=sa.SmallInteger)
    shard: int = Field(primary_key=True, sa_type=sa.SmallInteger)
    n: int = Field(sa_type=sa.BigInteger)


class LoginThrottle(SQLModel, table=True):
    """Login tries per username and per client address within a window, shared by every node (migration 0010).

    ``key`` is the SHA-256 of ``user:<name>`` or ``address:<ip>``: what people type into the username field is
    never stored. See app.storage.throttle.
    """

    __tablename__ = 'login_throttle'

    key: str = Field(primary_key=True, max_length=64)
    tries: int = 0
    last_try_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
