"""Drop-folder intake: every file in the inbox becomes a submission.

A file is moved to ``processed/`` or ``failed/`` only after its documents are committed, so a
crash at any point leaves it in the inbox to be picked up again (ingest is idempotent).
Files that are still being written (hidden, ``*.part``, ``*.tmp``) and symlinks are left alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from einvoice.context import Context
from einvoice.errors import InputError
from einvoice.pipeline import IngestResult, Submission, ingest
from einvoice.store.types import utcnow

PROCESSED = "processed"
FAILED = "failed"
PARTIAL_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")


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


def ingest_file(ctx: Context, path: Path, channel: str) -> FileResult:
    """Ingest one file; input errors (too large, unreadable) are reported, not raised."""
    try:
        size = path.stat().st_size
        if size > ctx.settings.max_submission_bytes:
            return FileResult(path, None, f"file of {size} bytes exceeds the limit of "
                                          f"{ctx.settings.max_submission_bytes} bytes")
        data = path.read_bytes()
        return FileResult(path, ingest(ctx, Submission(data, channel, filename=path.name)), None)
    except (InputError, OSError) as exc:
        return FileResult(path, None, str(exc))


def _move(path: Path, folder: Path, digest: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():
        tag = digest[:12] if digest else utcnow().strftime("%Y%m%dT%H%M%S%f")
        target = folder / f"{path.stem}.{tag}{path.suffix}"
    os.replace(path, target)
    return target


def pending_files(inbox: Path) -> list[Path]:
    """Files waiting in the inbox (the ``processed`` and ``failed`` folders excluded)."""
    inbox.mkdir(parents=True, exist_ok=True)
    return list(iter_files(inbox, frozenset({PROCESSED, FAILED})))


def scan_file(ctx: Context, inbox: Path, path: Path) -> FileResult:
    """Ingest one inbox file, then move it; a note beside a failed file says why it failed."""
    res = ingest_file(ctx, path, "folder")
    digest = res.result.sha256 if res.result else None
    res.moved_to = _move(path, inbox / (PROCESSED if res.ok else FAILED), digest)
    if not res.ok:
        res.moved_to.with_name(res.moved_to.name + ".error.txt").write_text(
            res.problem + "\n", encoding="utf-8")
    return res


def scan(ctx: Context, inbox: Path) -> list[FileResult]:
    """Process every file waiting in the inbox."""
    return [scan_file(ctx, inbox, path) for path in pending_files(inbox)]
