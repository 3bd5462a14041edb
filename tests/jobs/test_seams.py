"""The runtime's parts are handed what they need: none of them reaches back into the service that uses them."""

from __future__ import annotations

import ast
from pathlib import Path

JOBS = Path(__file__).parents[2] / 'app' / 'jobs'


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):  # TYPE_CHECKING blocks included
        if isinstance(node, ast.ImportFrom):
            names.update(f'{node.module}.{alias.name}' for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_module_of_the_runtime_imports_the_service() -> None:
    offenders = {path.name for path in JOBS.glob('*.py') if path.name != 'service.py'
                 if any(name.startswith('app.jobs.service') for name in imported_names(path))}  # fmt: skip
    assert offenders == set()


def test_only_the_store_publishes_job_changes_on_the_change_feed() -> None:
    publishers = {path.name for path in JOBS.glob('*.py') if '.publish(' in path.read_text()}
    assert publishers == {'store.py', 'accounts.py'}  # accounts.py: account changes (AccountChanged) only
    accounts = (JOBS / 'accounts.py').read_text()
    assert accounts.count('.publish(') == accounts.count('.publish(AccountChanged(')
