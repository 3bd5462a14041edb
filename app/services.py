"""The one wiring point: builds every service from the settings and starts/stops them with the app.

The job runtime is put together here and nowhere else: the job store (reads, group-commit writes, the change
feed), the runner that runs a recorded job, and the executor, which is handed the runner's ``run`` callable and
never sees the service. Blocking work of the runtime runs in ``Services.threads``, the one pool.
"""

from __future__ import annotations

import importlib
import logging
import os
import secrets
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from app.config import Settings
from app.jobs.accounts import AccountWatch
from app.jobs.actions import JobActions
from app.jobs.events import ChangeFeed
from app.jobs.executors import Executor, LocalExecutor
from app.jobs.registry import Registry
from app.jobs.runner import JobRunner
from app.jobs.service import JobService
from app.jobs.store import JobStore
from app.memory import return_freed_memory
from app.storage import users
from app.storage.db import create_engine, migrate, refresh_statistics
from app.storage.files import FileStore
from app.threads import Threads

if TYPE_CHECKING:
    from app.jobs.relay import ChangeRelay

log = logging.getLogger('app')


@dataclass
class Services:
    settings: Settings
    engine: sa.Engine
    threads: Threads
    files: FileStore
    registry: Registry
    feed: ChangeFeed
    store: JobStore
    jobs: JobService
    actions: JobActions
    system_user_id: int = 0
    schedules: dict[str, str] = field(default_factory=dict)
    relay: ChangeRelay | None = None  # PostgreSQL only (psycopg is not even imported on SQLite)
    accounts: AccountWatch | None = None  # web processes: account changes reach open pages (app.jobs.accounts)

    def start(self, *, web: bool = True) -> None:
        """Prepare the data dir, migrate, create the first admin, recover crashed jobs, start the executor.

        Synchronous on purpose: NiceGUI serves requests as soon as startup handlers return, and no request
        may reach a database that is not migrated yet. Must be called on the running event loop. ``web``
        processes also relay job changes made by other nodes into their change feed (PostgreSQL).
        """
        self.prepare()
        for key, cron in self.schedules.items():
            if cron.strip():
                kind = self.registry.get(key)
                self.jobs.schedule(
                    key, cron, run_by_id=self.system_user_id, run_at=SYSTEM_TASKS_PATH, description=kind.summary
                )
        executor = self.jobs.executor
        if isinstance(executor, LocalExecutor):
            # Sorted lists rely on the planner choosing the matching index; keep its picture of the data current.
            args = [refresh_statistics, self.engine]
            executor.scheduler.add_job(self.threads.run, 'interval', args=args, hours=1, id='statistics')
        self.jobs.start(run_jobs=self.settings.web_worker or not web)
        if web:
            self.accounts = AccountWatch(engine=self.engine, feed=self.feed, threads=self.threads,
                                         session_limits=self.settings.session_limits)  # fmt: skip
            self.accounts.start()
        if web and self.engine.dialect.name == 'postgresql':
            from app.jobs.relay import ChangeRelay

            self.relay = ChangeRelay(store=self.store, node=self.jobs.node)
            self.relay.start()
        return_freed_memory()  # what start-up used and freed: migrations, the first password hash

    def prepare(self) -> None:
        """Blocking start-up work, also used by the CLI."""
        self.settings.prepare_data_dir()
        migrate(self.engine)
        refresh_statistics(self.engine)
        self.files.prepare()
        self.system_user_id = users.ensure_system_user(self.engine).id or 0
        generated = users.bootstrap_admin(
            self.engine, username=self.settings.admin_username, password=self.settings.admin_password
        )
        if generated is not None:
            username = self.settings.admin_username or 'admin'
            print(f'Created admin user "{username}" with password: {generated}  (shown only once)', flush=True)

    async def stop(self) -> None:
        """Stop relaying, give running jobs their grace, commit the last job writes, then close the pool."""
        if self.relay is not None:
            await self.relay.stop()
        if self.accounts is not None:
            await self.accounts.stop()
        await self.jobs.stop()
        self.store.stop()
        self.threads.stop()
        self.engine.dispose()

    def account_changed(self, user_id: int) -> None:
        """This process changed a user's sessions, password, status or role: their open pages re-check at once."""
        if self.accounts is not None:
            self.accounts.announce(user_id)


SYSTEM_TASKS_PATH = '/settings/maintenance/tasks'


def node_name() -> str:
    """This process's name among the nodes sharing a database (its PostgreSQL application_name)."""
    return f'jobs-{socket.gethostname()[:32]}-{os.getpid()}-{secrets.token_hex(3)}'


def build_services(settings: Settings) -> Services:
    """Build (without starting) every service; nothing is opened until ``start``."""
    from app.jobs import system_tasks
    from app.jobs.imports import CONTACTS_IMPORT

    node = node_name()
    engine = create_engine(settings.resolved_database_url, application_name=node)
    # On PostgreSQL the storage directory may be shared by several nodes: each keeps its temp files apart.
    files = FileStore(settings.resolved_storage_dir, node=node if engine.dialect.name != 'sqlite' else None)
    registry = Registry()
    registry.register(CONTACTS_IMPORT)
    for task in system_tasks.TASKS:
        registry.register(task)
    for module_name in filter(None, (name.strip() for name in settings.extra_job_types.split(','))):
        importlib.import_module(module_name).register(registry)
    threads, feed = Threads(), ChangeFeed()
    store = JobStore(engine=engine, feed=feed, threads=threads)
    runner = JobRunner(store=store, files=files, settings=settings, threads=threads, registry=registry)
    executor = _executor(settings, store, node, runner)
    jobs = JobService(
        store=store, registry=registry, executor=executor, node=node, shutdown_grace=settings.shutdown_grace_seconds
    )
    actions = JobActions(store=store, launch=jobs.launch, files=files, threads=threads, registry=registry)
    services = Services(settings=settings, engine=engine, threads=threads, files=files, registry=registry, feed=feed,
                        store=store, jobs=jobs, actions=actions)  # fmt: skip
    services.schedules = {
        system_tasks.DATABASE_BACKUP.key: settings.backup_cron,
        system_tasks.PURGE_OLD_JOBS.key: settings.purge_cron,
        system_tasks.STORAGE_INTEGRITY_CHECK.key: settings.integrity_cron,
    }
    return services


def _executor(settings: Settings, store: JobStore, node: str, runner: JobRunner) -> Executor:
    """SQLite runs jobs in this process; PostgreSQL hands them to procrastinate workers on any node."""
    if store.engine.dialect.name == 'postgresql':
        from app.jobs.cluster import ClusterExecutor

        return ClusterExecutor(run=runner.run, store=store, settings=settings, node=node)
    return LocalExecutor(run=runner.run, store=store)
