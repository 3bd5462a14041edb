"""Why a list query is slow: the SQL the app runs for it, its time without HTTP, and the database's plan."""

from __future__ import annotations

import statistics
import time
from typing import Any

import sqlalchemy as sa

from app.storage.db import create_engine
from bench.server import ADMIN


def explain(url: str, params: dict[str, str], *, runs: int = 3) -> dict[str, Any]:
    """Run the app's own list query for ``params`` in-process; returns its statements, their plans and its time."""
    from sqlmodel import Session, select

    from app.pages.api import parse_list_query
    from app.storage import listing
    from app.storage.models import User

    engine = create_engine(url)
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        statements.append((statement, parameters))

    try:
        with Session(engine) as db:
            viewer = db.exec(select(User).where(User.username == ADMIN[0])).one()
        query = parse_list_query(params)
        timings = []
        for _ in range(runs):
            statements.clear()
            sa.event.listen(engine, 'before_cursor_execute', capture)
            started = time.perf_counter()
            listing.list_jobs(engine, viewer=viewer, **query)
            timings.append((time.perf_counter() - started) * 1000)
            sa.event.remove(engine, 'before_cursor_execute', capture)
        postgres = engine.dialect.name == 'postgresql'
        plans = []
        with engine.connect() as connection:
            for statement, parameters in statements:
                if 'job' not in statement:
                    continue
                prefix = 'EXPLAIN ' if postgres else 'EXPLAIN QUERY PLAN '
                result = connection.exec_driver_sql(prefix + statement, parameters)
                lines = [row[0] for row in result] if postgres else [row[-1] for row in result]
                plans.append({'sql': ' '.join(statement.split()), 'parameters': parameters, 'plan': lines})
        return {'in_process_ms': statistics.median(timings), 'statements': plans}
    finally:
        engine.dispose()


def format_plan(label: str, explained: dict[str, Any]) -> str:
    lines = [f'{label}: {explained["in_process_ms"]:.1f} ms in-process (median of 3, no HTTP)']
    for statement in explained['statements']:
        lines.append(f'  SQL: {statement["sql"][:400]}')
        lines.append(f'       params: {statement["parameters"]}')
        lines.extend(f'    {line}' for line in statement['plan'])
    return '\n'.join(lines)
