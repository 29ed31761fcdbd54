"""Drop-folder intake: every file in the inbox becomes a submission.

A file is moved to ``processed/`` or ``failed/`` only after its documents are committed, so a
crash at any point leaves it in the inbox to be picked up again (ingest is idempotent).
Files that are still being written (hidden, ``*.part``, ``*.tmp``) and symlinks are left alone.
A file refused by its sender's archive quota goes to ``failed/`` with its note, nothing archived.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from einvoice.config import DropFolder, Settings
from einvoice.context import Context
from einvoice.errors import InputError
from einvoice.formats.detect import Container, sniff
from einvoice.pipeline import Examined, IngestResult, Submission, examine, ingest
from einvoice.store.types import utcnow

log = logging.getLogger(__name__)

PROCESSED = "processed"
FAILED = "failed"
PARTIAL_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")
PARALLEL_FROM = 16  # below this many files a process pool costs more than it saves


def iter_files(root: Path, skip_dirs: frozenset[str] = frozenset()) -> Iterator[Path]:
    """Regular files under ``root`` (or ``root`` itself), sorted, without hidden/partial files."""
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in skip_dirs and not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.startswith(".") or name.endswith(PARTIAL_SUFFIXES) or path.is_symlink():
                continue
            yield path


@dataclass
class FileResult:
    path: Path
    result: IngestResult | None
    error: str | None
    moved_to: Path | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.result is not None and self.result.ok

    @property
    def problem(self) -> str:
        """Why the file failed, in one line per document ('' when it did not)."""
        if self.error is not None:
            return self.error
        outcomes = self.result.outcomes if self.result else []
        return "\n".join(f"{o.filename or 'document'}: {o.error}" for o in outcomes if o.error)


@dataclass(frozen=True)
class _Loaded:
    """A file's bytes and, for non-ZIPs, its reading and validation: what a worker hands back."""

    data: bytes | None
    error: str | None
    examined: Examined | None


def _load(path: Path, settings: Settings) -> _Loaded:
    """Read a file and the document in it (archiving is ingest's: after the quota check)."""
    try:
        size = path.stat().st_size
        limit = settings.max_submission_bytes
        if size > limit:
            return _Loaded(None, f"file of {size} bytes exceeds the limit of {limit} bytes", None)
        data = path.read_bytes()
    except OSError as exc:
        return _Loaded(None, str(exc), None)
    if sniff(data) is Container.ZIP:
        return _Loaded(data, None, None)
    return _Loaded(data, None, examine(data, settings, path.name))


def _exit_with(pid: int) -> None:
    """Worker start-up: end this worker when the ingesting process is gone (even by kill -9)."""

    def watch() -> None:
        while True:
            time.sleep(1)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _loaded(ctx: Context, paths: list[Path], workers: int) -> Iterator[tuple[Path, _Loaded]]:
    """Files loaded and read in order; with several workers, reading runs ahead in other
    processes (bounded, so memory stays flat) while this one writes to the database."""
    if workers < 2 or len(paths) < PARALLEL_FROM:
        for path in paths:
            yield path, _load(path, ctx.settings)
        return
    # forkserver, not fork: a forked worker would inherit this process's database connections,
    # and after a kill -9 of this process keep them (and their locks) open.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"),
                               initializer=_exit_with, initargs=(os.getpid(),))
    with pool:
        ahead: deque[tuple[Path, Future[_Loaded]]] = deque()
        todo = iter(paths)
        for path in itertools.islice(todo, workers * 4):
            ahead.append((path, pool.submit(_load, path, ctx.settings)))
        while ahead:
            path, future = ahead.popleft()
            for nxt in itertools.islice(todo, 1):
                ahead.append((nxt, pool.submit(_load, nxt, ctx.settings)))
            yield path, future.result()


def ingest_files(ctx: Context, paths: list[Path], channel: str,
                 workers: int = 1) -> Iterator[FileResult]:
    """Ingest files one by one (each committed before the next is reported); input errors
    (too large, unreadable) are reported, not raised."""
    for path, loaded in _loaded(ctx, paths, workers):
        if loaded.data is None:
            yield FileResult(path, None, loaded.error)
            continue
        try:
            sub = Submission(loaded.data, channel, filename=path.name)
            yield FileResult(path, ingest(ctx, sub, loaded.examined), None)
        except InputError as exc:
            yield FileResult(path, None, str(exc))


def _move(path: Path, folder: Path, digest: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():
        tag = digest[:12] if digest else utcnow().strftime("%Y%m%dT%H%M%S%f")
        target = folder / f"{path.stem}.{tag}{path.suffix}"
    os.replace(path, target)
    return target


def pending_files(inbox: Path, settle_seconds: float = 0.0) -> list[Path]:
    """Files waiting in the inbox (the ``processed`` and ``failed`` folders excluded); a file
    modified within the last ``settle_seconds`` may still be being written and is left alone."""
    inbox.mkdir(parents=True, exist_ok=True)
    settled = time.time() - settle_seconds
    return [p for p in iter_files(inbox, frozenset({PROCESSED, FAILED}))
            if p.stat().st_mtime <= settled]


def scan(ctx: Context, folder: DropFolder, workers: int = 1) -> Iterator[FileResult]:
    """Process every file waiting in a drop folder; each is moved once its documents are
    committed, and a note beside a failed file says why it failed. The first scan of a process
    (the service's start, ``einvoice scan``) sweeps the archive of temp files that writes
    killed before their rename left behind."""
    if not ctx.archive.swept:
        for tmp in ctx.archive.sweep():
            log.info("removed %s, left by an archive write that did not finish", tmp)
    inbox = folder.path
    files = pending_files(inbox, ctx.settings.settle_seconds)
    for res in ingest_files(ctx, files, folder.channel, workers):
        digest = res.result.sha256 if res.result else None
        res.moved_to = _move(res.path, inbox / (PROCESSED if res.ok else FAILED), digest)
        if not res.ok:
            res.moved_to.with_name(res.moved_to.name + ".error.txt").write_text(
                res.problem + "\n", encoding="utf-8")
        yield res
