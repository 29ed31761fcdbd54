"""Pausing between retries of a conflicting write, with jitter so that writers racing for the
same row (the audit chain head, above all) spread out instead of colliding again."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

T = TypeVar("T")

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


def in_transaction(engine: Engine, write: Callable[[Connection], T]) -> T:
    """``write`` in a transaction of its own, run again after a pause while it conflicts with
    another writer (the audit chain head, above all); after the last attempt the conflict is
    raised."""
    for attempt in range(ATTEMPTS):
        try:
            with engine.begin() as conn:
                return write(conn)
        except DBAPIError as exc:
            if not is_conflict(exc) or attempt == ATTEMPTS - 1:
                raise
            pause(attempt)
    raise AssertionError("ATTEMPTS is positive")
