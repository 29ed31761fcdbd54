"""Named cross-process locks, so several processes (or machines) never do the same work twice.

PostgreSQL: a session advisory lock on a connection of its own (released when the block ends,
or by the server when the process dies). SQLite: ``flock`` on a file under ``data_dir/locks``.
``claim`` takes many such locks at once without waiting (work items such as drop-folder files
shared by the workers of several services); ``take_turn`` one for the rest of a transaction.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from sqlalchemy import BigInteger, Connection, Engine, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY


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


_XACT_LOCK = text("SELECT pg_advisory_xact_lock(:k)")


def take_turn(conn: Connection, name: str) -> None:
    """PostgreSQL: wait for and hold the lock ``name`` until the caller's transaction ends (a
    short stretch several writers must not run at once, such as appending to the audit chain).
    SQLite runs one writer at a time anyway."""
    if conn.dialect.name == "postgresql":
        conn.execute(_XACT_LOCK, {"k": lock_key(name)})


_CLAIM = text("SELECT k FROM unnest(:keys) AS k WHERE pg_try_advisory_lock(k)").bindparams(
    bindparam("keys", type_=ARRAY(BigInteger)))
_RELEASE = text("SELECT pg_advisory_unlock(k) FROM unnest(:keys) AS k").bindparams(
    bindparam("keys", type_=ARRAY(BigInteger)))


def claim(conn: Connection, names: Sequence[str]) -> list[str]:
    """PostgreSQL: take the lock of every name that no other session holds, without waiting;
    the names taken, in order. They stay held by ``conn`` until ``release`` or until its
    session ends (the process died): ``conn`` should be in autocommit mode, a connection that
    does nothing else."""
    keys = {lock_key(name): name for name in names}
    got = {row[0] for row in conn.execute(_CLAIM, {"keys": list(keys)})}
    return [name for key, name in keys.items() if key in got]


def release(conn: Connection, names: Sequence[str]) -> None:
    """Give back locks ``claim`` took on ``conn``."""
    if names:
        conn.execute(_RELEASE, {"keys": [lock_key(name) for name in names]}).all()
