"""The one wiring point: builds every service from the settings and starts/stops them with the app."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.config import Settings
from app.jobs.events import ChangeFeed
from app.jobs.registry import Registry
from app.jobs.service import JobService
from app.storage import users
from app.storage.db import create_engine, migrate, refresh_statistics
from app.storage.files import FileStore

log = logging.getLogger('app')


@dataclass
class Services:
    settings: Settings
    engine: sa.Engine
    files: FileStore
    registry: Registry
    feed: ChangeFeed
    jobs: JobService
    system_user_id: int = 0
    schedules: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        """Prepare the data dir, migrate, create the first admin, recover crashed jobs, start the scheduler.

        Synchronous on purpose: NiceGUI serves requests as soon as startup handlers return, and no request
        may reach a database that is not migrated yet. Must be called on the running event loop.
        """
        self.prepare()
        self.jobs.start()
        # Sorted lists rely on the planner choosing the matching index; keep its picture of the data current.
        self.jobs.scheduler.add_job(refresh_statistics, 'interval', args=[self.engine], hours=1, id='statistics')
        for key, cron in self.schedules.items():
            if cron.strip():
                kind = self.registry.get(key)
                self.jobs.schedule(
                    key, cron, run_by_id=self.system_user_id, run_at=SYSTEM_TASKS_PATH, description=kind.summary
                )

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
        await self.jobs.stop()
        self.engine.dispose()


SYSTEM_TASKS_PATH = '/settings/maintenance/tasks'


def build_services(settings: Settings) -> Services:
    """Build (without starting) every service; nothing is opened until ``start``."""
    from app.jobs import system_tasks
    from app.jobs.imports import CONTACTS_IMPORT

    engine = create_engine(settings.resolved_database_url)
    files = FileStore(settings.resolved_storage_dir)
    registry = Registry()
    feed = ChangeFeed()
    registry.register(CONTACTS_IMPORT)
    for task in system_tasks.TASKS:
        registry.register(task)
    for module_name in filter(None, (name.strip() for name in settings.extra_job_types.split(','))):
        importlib.import_module(module_name).register(registry)
    services = Services(
        settings=settings,
        engine=engine,
        files=files,
        registry=registry,
        feed=feed,
        jobs=JobService(settings=settings, engine=engine, files=files, registry=registry, feed=feed),
    )
    services.schedules = {
        system_tasks.DATABASE_BACKUP.key: settings.backup_cron,
        system_tasks.PURGE_OLD_JOBS.key: settings.purge_cron,
        system_tasks.STORAGE_INTEGRITY_CHECK.key: settings.integrity_cron,
    }
    return services
