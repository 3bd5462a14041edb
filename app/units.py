"""How quantities read to people, wherever they are shown (pages, job messages, reports): sizes, durations,
how long ago."""

from __future__ import annotations

from datetime import datetime

from app.storage.models import utcnow

NONE = '\u2013'  # an en dash: no value


def size_text(size: int) -> str:
    """A file size as people read it: ``812 bytes``, ``1.5 MB``."""
    value = float(size)
    for unit in ('bytes', 'KB', 'MB', 'GB'):
        if value < 1024 or unit == 'GB':
            return f'{size:,} bytes' if unit == 'bytes' else f'{value:,.1f} {unit}'
        value /= 1024
    raise AssertionError('unreachable')


def duration_text(seconds: float | None) -> str:
    """A duration as people read it: ``0.4 s``, ``12 s``, ``3 min 5 s``, ``2 h 10 min``, ``3 d 4 h``."""
    if seconds is None:
        return NONE
    if seconds < 10:
        return f'{seconds:.1f} s'
    whole = round(seconds)
    for size, unit, smaller, small_unit in ((86400, 'd', 3600, 'h'), (3600, 'h', 60, 'min'), (60, 'min', 1, 's')):
        if whole >= size:
            rest = (whole % size) // smaller
            return f'{whole // size} {unit} {rest} {small_unit}' if rest else f'{whole // size} {unit}'
    return f'{whole} s'


def relative_text(when: datetime, now: datetime | None = None) -> str:
    """How long ago ``when`` was: ``just now``, ``5 min ago``, ``3 h ago``, ``2 days ago``."""
    seconds = ((now or utcnow()) - when).total_seconds()
    if seconds < 60:
        return 'just now'
    for size, unit in ((86400, 'day'), (3600, 'h'), (60, 'min')):
        if seconds >= size:
            count = int(seconds // size)
            return f'{count} {unit}{"s" if unit == "day" and count != 1 else ""} ago'
    return 'just now'
