"""The Contacts Import job: validate a CSV, upsert contacts, write the result and error reports."""

from __future__ import annotations

from app.jobs.context import JobContext
from app.jobs.registry import JobType
from app.storage.models import Category


async def run_contacts_import(ctx: JobContext) -> None:
    raise NotImplementedError('Contacts import is not implemented yet')


CONTACTS_IMPORT = JobType(
    key='contacts_import', name='Contacts Import', category=Category.IMPORT, run=run_contacts_import
)
