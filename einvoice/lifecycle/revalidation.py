"""When a document the validation engine could not decide (``received``, verdict
``undefined``) is validated again: soon at first (a failure may pass), then ever more rarely
(one that keeps failing must not cost the service its time), but never never.
"""

from __future__ import annotations

from datetime import datetime, timedelta

# the wait before attempt 1, 2, ...; every later attempt waits as long as the last
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30),
           timedelta(hours=2), timedelta(days=1))


def wait_after(attempts: int) -> timedelta:
    """How long to wait after ``attempts`` attempts (0: after the validation at ingest)."""
    return BACKOFF[min(attempts, len(BACKOFF) - 1)]


def next_attempt(attempts: int, last: datetime) -> datetime:
    """When the next attempt is due, ``attempts`` attempts after ingest, the last at ``last``
    (for none yet: the moment the document was received)."""
    return last + wait_after(attempts)
