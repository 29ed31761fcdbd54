"""Pausing between retries of a conflicting write, with jitter so that writers racing for the
same row (the audit chain head, above all) spread out instead of colliding again."""

from __future__ import annotations

import random
import time

ATTEMPTS = 40


def pause(attempt: int) -> None:
    """Sleep a random time up to 2 ms · 2^attempt, at most 0.25 s."""
    time.sleep(random.uniform(0, min(0.25, 0.002 * 2 ** attempt)))
