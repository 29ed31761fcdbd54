"""Named cross-process locks, so several processes (or machines) never do the same work twice.

PostgreSQL: a session advisory lock on a connection of its own (released when the block ends,
or by the server when the process dies). SQLite: ``flock`` on a file under ``data_dir/locks``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, text


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for the PostgreSQL advisory lock functions."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextlib.contextmanager
def named_lock(engine: Engine, folder: Path, name: str, *, wait: bool) -> Iterator[bool]:
    """Hold the lock ``name`` while the block runs. With ``wait`` the block waits for it and
    always gets True; without, it yields False at once when another process holds it.
    ``folder`` holds the lock files when the database is SQLite."""
    if engine.dialect.name == "postgresql":
        key = lock_key(name)
        with engine.connect() as conn:
            if wait:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
                got = True
            else:
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                        {"k": key}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (hashlib.sha256(name.encode()).hexdigest()[:24] + ".lock")
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
