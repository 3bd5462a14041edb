"""Figures, the machine they were measured on, the printed table and the JSON results."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / 'results' / 'latest.json'


@dataclass
class Figure:
    """One measured value and its target; ``better`` says which way passes ('lower' or 'higher')."""

    name: str
    value: float | None
    unit: str
    target: float | None = None
    better: str = 'lower'
    note: str = ''
    shown: str = ''  # what the Value column shows, when it is more than the value (e.g. p50 / p95)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        if self.value is None:
            return 'n/a'
        if self.target is None:
            return 'info'
        met = self.value <= self.target if self.better == 'lower' else self.value >= self.target
        return 'pass' if met else 'FAIL'

    def formatted(self) -> str:
        return self.shown or format_value(self.value, self.unit)

    def formatted_target(self) -> str:
        if self.target is None:
            return ''
        return f'{"≤" if self.better == "lower" else "≥"} {format_value(self.target, self.unit)}'


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return '—'
    if unit in ('ms', 'MB', 'KB', 's') and value < 10:
        return f'{value:.2f} {unit}' if unit != 'KB' else f'{value:.1f} {unit}'
    if unit == 'x':
        return f'{value:.2f}x'
    return f'{value:,.0f} {unit}'.strip()


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (p95 of 30 samples is the 29th smallest)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> dict[str, Any]:
    """CPU count and model, RAM, OS, Python and SQLite versions."""
    model = ''
    cpuinfo = Path('/proc/cpuinfo')
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    ram_kb = 0
    meminfo = Path('/proc/meminfo')
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith('MemTotal:'):
                ram_kb = int(line.split()[1])
    return {
        'cpus': os.cpu_count(),
        'cpu_model': model or platform.processor(),
        'ram_gb': round(ram_kb / 1024 / 1024, 1),
        'os': f'{platform.system()} {platform.release()}',
        'python': sys.version.split()[0],
        'sqlite': sqlite3.sqlite_version,
    }


def describe_machine(info: dict[str, Any]) -> str:
    return (
        f'{info["cpus"]} CPUs ({info["cpu_model"]}), {info["ram_gb"]} GB RAM, {info["os"]}, '
        f'Python {info["python"]}, SQLite {info["sqlite"]}'
        + (f', {info["postgresql"]}' if info.get('postgresql') else '')
    )


def table(figures: list[Figure]) -> str:
    """The figures as a fixed-width text table."""
    rows = [('Figure', 'Value', 'Target', 'Result')]
    rows += [(f.name, f.formatted(), f.formatted_target(), f.verdict) for f in figures]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = []
    for number, row in enumerate(rows):
        lines.append('  '.join(cell.ljust(width) if c == 0 else cell.rjust(width) for c, (cell, width) in
                               enumerate(zip(row, widths, strict=True))).rstrip())  # fmt: skip
        if number == 0:
            lines.append('  '.join('-' * width for width in widths))
    return '\n'.join(lines)


def markdown_table(figures: list[Figure]) -> str:
    lines = ['| Figure | Value | Target | Result |', '| --- | ---: | ---: | :---: |']
    lines += [f'| {f.name} | {f.formatted()} | {f.formatted_target()} | {f.verdict} |' for f in figures]
    return '\n'.join(lines)


def write_json(path: Path, *, info: dict[str, Any], config: dict[str, Any], figures: list[Figure],
               notes: list[str], extra: dict[str, Any]) -> None:  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        'finished_at': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
        'machine': info,
        'config': config,
        'figures': [{**asdict(f), 'verdict': f.verdict} for f in figures],
        'notes': notes,
        **extra,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + '\n')
