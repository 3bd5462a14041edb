"""Strict parsing of what arrives in URLs: ids are ASCII digits in the database's range, nothing else."""

from __future__ import annotations

import re

# At most 18 digits: always below 2**63, the largest id SQLite and PostgreSQL's bigint hold. `str.isdigit` would
# let a superscript two through to int(), which fails, or a full-width one, which int() reads as 1.
ID = re.compile(r'[0-9]{1,18}')


def parse_id(text: str) -> int | None:
    """The id ``text`` spells, or None when it is not one (callers answer 404, as for an unknown id)."""
    return int(text) if ID.fullmatch(text) else None
