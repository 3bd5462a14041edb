"""Job types: the handler behind each name shown in the "Job" column."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.storage.models import Category

if TYPE_CHECKING:
    from app.jobs.context import JobContext

Handler = Callable[['JobContext'], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobType:
    key: str
    name: str
    category: Category
    run: Handler
    summary: str = ''
    system: bool = False  # a system task: run by admins only, never twice at once


class Registry:
    def __init__(self) -> None:
        self._types: dict[str, JobType] = {}

    def register(self, job_type: JobType) -> JobType:
        """Add a job type; its key must be new."""
        if job_type.key in self._types:
            raise ValueError(f'Job type {job_type.key!r} is already registered')
        self._types[job_type.key] = job_type
        return job_type

    def get(self, key: str) -> JobType:
        """The job type of ``key``; KeyError naming it if there is none."""
        try:
            return self._types[key]
        except KeyError:
            raise KeyError(f'Unknown job type {key!r}') from None

    def __iter__(self) -> Iterator[JobType]:
        return iter(self._types.values())
