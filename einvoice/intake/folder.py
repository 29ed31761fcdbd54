"""Drop-folder intake: every file in the inbox becomes a submission.

Files are ingested in batches (``pipeline.batch``: up to ``BATCH_SIZE`` files, or what arrived
within ``BATCH_SECONDS``, written in one transaction). A file is moved to ``processed/`` or
``failed/`` only after its batch is committed, so a crash at any point leaves it in the inbox to
be picked up again (ingest is idempotent). Files that are still being written (hidden,
``*.part``, ``*.tmp``), symlinks, and what is no regular file (a named pipe would make the scan
wait for ever) are left alone. A file refused by its sender's archive quota goes to ``failed/``
with its note, nothing archived.

SQLite has one writer: this process writes while worker processes read and validate ahead
(``loading``). PostgreSQL shares the work: every writer (the ``workers`` processes of this scan,
and any other process scanning the same folder on a machine that shares the database and the
folder) claims the files it takes, one advisory lock each (``store.locks.claim``), and writes
and moves them itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from einvoice.config import DropFolder, Settings
from einvoice.context import Context, open_context
from einvoice.intake.loading import PARALLEL_FROM, PROCESSES, Loaded, exit_with, loaded, regular
from einvoice.pipeline import IngestResult, Submission
from einvoice.pipeline.batch import ingest_batch
from einvoice.store.locks import claim, release
from einvoice.store.types import utcnow

log = logging.getLogger(__name__)

PROCESSED = "processed"
FAILED = "failed"
PARTIAL_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")
BATCH_SIZE = 50  # files per transaction
BATCH_SECONDS = 0.5  # a batch is written once its first file waited this long


def iter_files(root: Path, skip_dirs: frozenset[str] = frozenset()) -> Iterator[Path]:
    """Regular files under ``root`` (or ``root`` itself), sorted, without hidden/partial files."""
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in skip_dirs and not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.startswith(".") or name.endswith(PARTIAL_SUFFIXES) or not regular(path):
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


def _batches(files: Iterator[tuple[Path, Loaded]]) -> Iterator[list[tuple[Path, Loaded]]]:
    """Loaded files grouped: a batch ends at ``BATCH_SIZE`` files, or with the first file that
    arrives ``BATCH_SECONDS`` after the batch's first."""
    batch: list[tuple[Path, Loaded]] = []
    started = 0.0
    for item in files:
        if not batch:
            started = time.monotonic()
        batch.append(item)
        if len(batch) >= BATCH_SIZE or time.monotonic() - started >= BATCH_SECONDS:
            yield batch
            batch = []
    if batch:
        yield batch


def _ingest(ctx: Context, batch: list[tuple[Path, Loaded]], channel: str) -> list[FileResult]:
    """One batch written; a file that could not be taken, or was refused, reports why."""
    taken = [(path, item) for path, item in batch if item.data is not None]
    done = iter(ingest_batch(ctx, [(Submission(item.data, channel, filename=path.name),
                                    item.examined)
                                   for path, item in taken if item.data is not None]))
    results = []
    for path, item in batch:
        outcome = next(done) if item.data is not None else None
        if isinstance(outcome, IngestResult):
            results.append(FileResult(path, outcome, None))
        else:
            results.append(FileResult(path, None, str(outcome) if outcome else item.error))
    return results


def ingest_files(ctx: Context, paths: list[Path], channel: str,
                 workers: int = 1) -> Iterator[FileResult]:
    """Ingest files in batches (each committed before its files are reported); input errors
    (too large, unreadable) are reported, not raised."""
    for batch in _batches(loaded(ctx.settings, paths, workers)):
        yield from _ingest(ctx, batch, channel)


def _move(path: Path, folder: Path, digest: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():
        tag = digest[:12] if digest else utcnow().strftime("%Y%m%dT%H%M%S%f")
        target = folder / f"{path.stem}.{tag}{path.suffix}"
    os.replace(path, target)
    return target


def _settle(res: FileResult, inbox: Path) -> FileResult:
    """Move a committed file out of the inbox, a note beside it when it failed."""
    digest = res.result.sha256 if res.result else None
    res.moved_to = _move(res.path, inbox / (PROCESSED if res.ok else FAILED), digest)
    if not res.ok:
        res.moved_to.with_name(res.moved_to.name + ".error.txt").write_text(
            res.problem + "\n", encoding="utf-8")
    return res


def pending_files(inbox: Path, settle_seconds: float = 0.0) -> list[Path]:
    """Files waiting in the inbox (the ``processed`` and ``failed`` folders excluded); a file
    modified within the last ``settle_seconds`` may still be being written and is left alone."""
    inbox.mkdir(parents=True, exist_ok=True)
    settled = time.time() - settle_seconds
    return [p for p in iter_files(inbox, frozenset({PROCESSED, FAILED}))
            if _mtime(p) <= settled]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # taken by another writer meanwhile
        return float("inf")


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
    if ctx.engine.dialect.name != "postgresql":
        for res in ingest_files(ctx, files, folder.channel, workers):
            yield _settle(res, inbox)
    elif workers < 2 or len(files) < PARALLEL_FROM:
        yield from _claimed(ctx, folder, files)
    else:
        yield from _shared(ctx.settings, folder, workers)


def _claimed(ctx: Context, folder: DropFolder, files: list[Path],
             stop: Any = None) -> Iterator[FileResult]:
    """The files of ``files`` no other writer holds, claimed a batch at a time, written and
    moved by this process (PostgreSQL); a file gone once claimed was done by another."""
    with ctx.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for start in range(0, len(files), BATCH_SIZE):
            if stop is not None and stop.is_set():
                return
            names = {str(path.resolve()): path for path in files[start:start + BATCH_SIZE]}
            mine = claim(conn, list(names))
            try:
                todo = [names[name] for name in mine if names[name].exists()]
                for res in ingest_files(ctx, todo, folder.channel):
                    yield _settle(res, folder.path)
            finally:
                release(conn, mine)


def _shared(settings: Settings, folder: DropFolder, workers: int) -> Iterator[FileResult]:
    """``workers`` processes each claiming, writing and moving files (``_claimed``), each
    starting at its own share of the folder, so they meet only at the end; their results as
    they come. Closing this generator lets each finish its batch and stop."""
    results: Any = PROCESSES.Queue()
    stop = PROCESSES.Event()
    procs = [PROCESSES.Process(target=_worker, daemon=True,
                               args=(settings, folder, i, workers, results, stop, os.getpid()))
             for i in range(workers)]
    for proc in procs:
        proc.start()
    try:
        running = workers
        while running:
            try:
                res = results.get(timeout=1.0)
            except queue.Empty:
                running = min(running, sum(proc.is_alive() for proc in procs))
                continue
            if res is None:
                running -= 1
            else:
                yield res
    finally:
        stop.set()
        while any(proc.is_alive() for proc in procs):  # a worker ends once its queue is read
            with contextlib.suppress(queue.Empty):
                results.get(timeout=0.1)
        for proc in procs:
            proc.join()
    failed = [proc.exitcode for proc in procs if proc.exitcode]
    if failed:
        raise RuntimeError(f"drop-folder workers ended with exit codes {failed}")


def _worker(settings: Settings, folder: DropFolder, index: int, count: int, results: Any,
            stop: Any, parent: int) -> None:
    """One worker process of ``_shared``: its own database connections and rule packs."""
    exit_with(parent)
    ctx = open_context(settings)
    try:
        files = pending_files(folder.path, settings.settle_seconds)
        start = len(files) * index // count
        for res in _claimed(ctx, folder, files[start:] + files[:start], stop):
            results.put(res)
    finally:
        results.put(None)
        ctx.close()

