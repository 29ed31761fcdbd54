"""Files read and their documents examined (read and validated), ahead of the writer: the
CPU-heavy half of file intake, which worker processes may do while one process writes.

A file is opened without following a link and without blocking: a named pipe or a device
would make intake wait for ever, a link could point anywhere.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import stat
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from einvoice.config import Settings
from einvoice.formats.detect import Container, sniff
from einvoice.pipeline import Examined, examine

PARALLEL_FROM = 16  # below this many files a process pool costs more than it saves
AHEAD = 8  # files each worker may read ahead: enough to go on while a batch is written
# forkserver, not fork: a forked worker would inherit this process's database connections,
# and after a kill -9 of this process keep them (and their locks) open.
PROCESSES = multiprocessing.get_context("forkserver")


@dataclass(frozen=True)
class Loaded:
    """A file's bytes and, for non-ZIPs, its reading and validation: what a worker hands back
    (``data`` None: the file could not be taken, ``error`` says why)."""

    data: bytes | None
    error: str | None
    examined: Examined | None


def regular(path: Path) -> bool:
    """A regular file, not a link to one: a named pipe or a device would block or never end
    when read, and a link could point anywhere."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:  # gone meanwhile
        return False


def load(path: Path, settings: Settings) -> Loaded:
    """Read a file and the document in it (archiving is ingest's: after the quota check)."""
    try:
        # opened without blocking: a file swapped for a pipe or a device after it was listed
        # is refused, not waited on
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                return Loaded(None, "not a regular file", None)
            limit = settings.max_submission_bytes
            if info.st_size > limit:
                return Loaded(None, f"file of {info.st_size} bytes exceeds the limit of {limit} "
                              "bytes", None)
            data = fh.read()
    except OSError as exc:
        return Loaded(None, str(exc), None)
    if sniff(data) is Container.ZIP:
        return Loaded(data, None, None)
    return Loaded(data, None, examine(data, settings, path.name))


def exit_with(pid: int) -> None:
    """Worker start-up: end this worker when the process that started it is gone (even by
    kill -9); an interrupt (Ctrl-C in the terminal) is the starting process's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while not _gone(pid):
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _gone(pid: int) -> bool:
    """The process has ended: it no longer exists, or it is a zombie (killed, and not yet
    waited for by its own parent, which may be waiting for this worker's output to end)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):  # no /proc: the first check is all there is
        return False


def loaded(settings: Settings, paths: list[Path],
           workers: int) -> Iterator[tuple[Path, Loaded]]:
    """Files loaded and read in order; with several workers, reading runs ahead in other
    processes (bounded, so memory stays flat) while this one writes to the database."""
    if workers < 2 or len(paths) < PARALLEL_FROM:
        for path in paths:
            yield path, load(path, settings)
        return
    pool = ProcessPoolExecutor(workers, mp_context=PROCESSES, initializer=exit_with,
                               initargs=(os.getpid(),))
    with pool:
        ahead: deque[tuple[Path, Future[Loaded]]] = deque()
        todo = iter(paths)
        for path in itertools.islice(todo, workers * AHEAD):
            ahead.append((path, pool.submit(load, path, settings)))
        while ahead:
            path, future = ahead.popleft()
            for nxt in itertools.islice(todo, 1):
                ahead.append((nxt, pool.submit(load, nxt, settings)))
            yield path, future.result()
