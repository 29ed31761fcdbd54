"""Pausing between retries of a conflicting write, with jitter so that writers racing for the
same row (the audit chain head, above all) spread out instead of colliding again."""

from __future__ import annotations

import random
import time

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

ATTEMPTS = 40
# how the drivers word a unique violation (SQLite; PostgreSQL's message and SQLSTATE 23505)
_UNIQUE = ("unique constraint failed", "duplicate key value violates unique constraint")


def is_conflict(exc: DBAPIError) -> bool:
    """A write that lost a race and may succeed when tried again: a lock or serialisation
    failure, or a unique key another writer took first. Anything else (a NOT NULL or foreign
    key violation, say) is a bug to report, not to retry."""
    if isinstance(exc, OperationalError):
        return True
    text = str(exc.orig).lower()
    return isinstance(exc, IntegrityError) and (
        getattr(exc.orig, "sqlstate", None) == "23505" or any(u in text for u in _UNIQUE))


def pause(attempt: int) -> None:
    """Sleep a random time up to 2 ms · 2^attempt, at most 0.25 s."""
    time.sleep(random.uniform(0, min(0.25, 0.002 * 2 ** attempt)))
