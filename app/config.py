"""Settings, read once from the environment (prefix ``JOBS_``) or a ``.env`` file."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
from datetime import timedelta
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.cron import crontab_trigger

SECRET_FILE = 'storage_secret'
PLACEHOLDER_SECRETS = {'changeme', 'change-me', 'secret', 'password', 'xxx'}
MIN_SECRET_LENGTH = 16


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix='JOBS_', env_file='.env', extra='ignore')

    data_dir: Path = Path('./data')
    database_url: str = ''
    host: str = '127.0.0.1'
    port: int = 8080
    admin_username: str = ''
    admin_password: str = ''
    max_upload_mb: int = 100
    retention_days: int = 90
    storage_secret: str = ''
    storage_dir: Path | None = None
    backup_cron: str = '0 2 * * *'
    purge_cron: str = '30 3 * * *'
    integrity_cron: str = '0 4 * * 0'
    extra_job_types: str = ''
    # Several nodes on PostgreSQL (see README "Running on several machines"):
    worker_concurrency: int = 10  # jobs one worker process runs at once
    web_worker: bool = True  # `serve` also runs jobs; false for a node that only serves pages
    stalled_after_seconds: int = 30  # a worker silent this long is dead; its jobs are started again
    max_attempts: int = 3  # runs of a job whose workers keep dying before it is marked Failed
    shutdown_grace_seconds: int = 10  # on SIGTERM, running jobs get this long before they are interrupted
    # Sessions and the network in front of the app (see README "Security and reliability"):
    session_idle_minutes: int = 720  # a session unused this long ends (server-side)
    session_max_days: int = 14  # a session ends this long after the login, used or not
    cookie_secure: bool = False  # mark the session cookie Secure (set it when the app is served over HTTPS)
    login_max_delay_seconds: int = 10  # the longest a try on a username waits, however often it failed
    trusted_proxies: str = ''  # comma-separated IPs or CIDRs whose X-Forwarded-For names the client

    @field_validator('trusted_proxies')
    @classmethod
    def _valid_networks(cls, value: str) -> str:
        for part in filter(None, (item.strip() for item in value.split(','))):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f'{part!r} is not an IP address or network') from None
        return value

    @property
    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(p.strip(), strict=False) for p in self.trusted_proxies.split(',') if p.strip()]

    @field_validator('storage_secret')
    @classmethod
    def _reject_weak_secret(cls, value: str) -> str:
        if value and (value.lower() in PLACEHOLDER_SECRETS or len(value) < MIN_SECRET_LENGTH):
            raise ValueError(
                f'JOBS_STORAGE_SECRET must be at least {MIN_SECRET_LENGTH} characters and not a placeholder'
            )
        return value

    @field_validator('backup_cron', 'purge_cron', 'integrity_cron')
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if value.strip():
            crontab_trigger(value)  # raises ValueError naming the problem
        return value.strip()

    @field_validator(
        'max_upload_mb',
        'retention_days',
        'worker_concurrency',
        'stalled_after_seconds',
        'max_attempts',
        'shutdown_grace_seconds',
        'session_idle_minutes',
        'session_max_days',
        'login_max_delay_seconds',
    )
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError('must be a positive number')
        return value

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def resolved_storage_dir(self) -> Path:
        return (self.storage_dir or self.resolved_data_dir / 'storage').expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f'sqlite:///{self.resolved_data_dir / "jobs.db"}'

    @property
    def session_limits(self) -> dict[str, timedelta]:
        """How long a session may go unused and how long it may last at all (``session_user``'s keywords)."""
        return {'idle': timedelta(minutes=self.session_idle_minutes), 'max_age': timedelta(days=self.session_max_days)}

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    def prepare_data_dir(self) -> None:
        """Create the data and storage directories, owner-only (0700)."""
        for directory in (self.resolved_data_dir, self.resolved_storage_dir):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            with contextlib.suppress(OSError):  # e.g. a shared mount that belongs to someone else
                directory.chmod(0o700)  # whatever the umask, and for a directory made before

    def session_secret(self) -> str:
        """The configured secret, else one generated on first start and kept owner-only in the data dir."""
        if self.storage_secret:
            return self.storage_secret
        path = self.resolved_data_dir / SECRET_FILE
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, 'w') as file:
                file.write(secrets.token_urlsafe(48))
        return path.read_text().strip()
