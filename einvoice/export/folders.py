"""Batch folders on disk: durable writes, atomic publication, and discarding leftovers."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from einvoice.store.durable import fsync_dir

TMP_PREFIX = ".tmp-"
_FILE_BAD = re.compile(r"[^A-Za-z0-9._-]+")


def discard(root: Path, folder: Path) -> None:
    """Make a folder invisible at once (rename to a temporary name), then delete it."""
    gone = root / f"{TMP_PREFIX}discard-{folder.name}-{uuid.uuid4().hex[:8]}"
    os.rename(folder, gone)
    fsync_dir(root)
    shutil.rmtree(gone, ignore_errors=True)


def folder_name(batch_id: int, created_at: datetime, zone: ZoneInfo) -> str:
    """``batch-<id>-<local date>``: the day accounting sees the batch arrive."""
    return f"batch-{batch_id:06d}-{created_at.astimezone(zone):%Y%m%d}"


def safe_name(name: str | None) -> str:
    return _FILE_BAD.sub("-", name or "").strip("-.")[:60] or "ohne-nummer"


def publish(root: Path, tmp: Path, name: str) -> Path:
    final = root / name
    os.rename(tmp, final)  # atomic; fails if a folder of that name exists
    fsync_dir(root)
    return final
