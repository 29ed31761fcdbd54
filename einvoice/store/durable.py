"""Writes that survive a crash or power loss: data fsynced before it counts as written."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
SYNC_THREADS = 8  # fsyncs waiting at once share the file system's journal commits


def fsync_dir(path: Path) -> None:
    """Make a rename or new entry in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path, sync: bool = True) -> list[Path]:
    """Create ``path`` and missing parents; the parents that got a new entry, top down. With
    ``sync`` each new entry is made durable at once (a folder created just before a power cut may
    otherwise vanish with the files renamed into it); without, the caller fsyncs the folders
    returned before anything in them counts as written."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        if sync:
            fsync_dir(folder.parent)
    return [folder.parent for folder in reversed(missing)]


def all_at_once(work: Callable[[T], None], items: Iterable[T]) -> None:
    """``work`` on every item, up to ``SYNC_THREADS`` at a time (fsync releases the GIL, and
    the file system commits the waiting fsyncs together); the first error is raised once all
    have ended."""
    todo = list(items)
    if len(todo) < 2:
        for item in todo:
            work(item)
        return
    futures = [_pool().submit(work, item) for item in todo]
    wait(futures)
    for future in futures:
        future.result()


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """One pool per process, its threads started once (starting them per batch cost more than
    the fsyncs they wait for)."""
    return ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="fsync")


def write_file(path: Path, data: bytes) -> None:
    """Write and fsync one file."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
