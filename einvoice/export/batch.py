"""The nightly export batch: every approved invoice goes to accounting exactly once.

Order of work (one exporter at a time: ``store.locks.named_lock``, on PostgreSQL an advisory
lock, so exporters on several machines wait for each other):

1. Clean up what a killed run left (``recover``): folders named ``.tmp-*`` are deleted; a
   ``batch-<id>-…`` folder whose id has no ``ExportBatch`` row (renamed, but the database commit
   never came) is first renamed to ``.tmp-…`` and then deleted; its invoices are still
   ``approved`` and go again.
2. Plan (``plan``): the approved invoices not yet in a batch (by id), less those that differ
   from what was approved (``vouch``: refused, reported in the result), how each is booked, the
   batch id (highest recorded + 1), its time and the audit chain's head.
3. Write (``write``) the batch into ``.tmp-batch-<id>-<random>``, every file and folder fsynced;
   rename it to ``batch-<id>-<YYYYMMDD>``; fsync the parent.
4. Record (``record``) it in one transaction: the ``ExportBatch`` row, the invoices
   ``exported``, the audit events. If an invoice left ``approved`` meanwhile, nothing is
   recorded, the folder is discarded and the run starts again from step 2.

A kill before the rename leaves only a ``.tmp-`` folder; a kill between rename and commit leaves
a complete folder that no record claims, removed by the next run; after the commit the batch is
done. So a batch is complete or absent, and no invoice is exported twice or lost.

Everything written derives from the database (batch record, invoices, the audit events of the
export) and the archive, never from the clock or the current settings, so ``rewrite`` writes a
lost batch again byte for byte and checks that against the recorded manifest SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from einvoice.context import Context
from einvoice.errors import NotFound
from einvoice.export.folders import TMP_PREFIX, discard, publish
from einvoice.export.plan import Batch, ExportError, Planned, next_batch, preview, refused
from einvoice.export.record import Stale, record, recorded
from einvoice.export.vouch import Refusal
from einvoice.export.write import MANIFEST, Written, write_batch
from einvoice.store import tables as t
from einvoice.store.chain import Head
from einvoice.views.formatting import plain

EXPORT_LOCK = "export-batch"  # one exporter at a time, also across machines
_BATCH_DIR = re.compile(r"^batch-(\d+)(?:-|$)")
_ATTEMPTS = 5  # plan → write → record rounds before giving up on invoices that keep changing


@dataclass
class ExportResult:
    """What a run did; ``to_json`` is the output of ``einvoice export --json``."""

    batch_id: int | None = None
    folder: Path | None = None
    invoice_ids: list[int] = field(default_factory=list)
    gross_total: Decimal = Decimal(0)
    files: list[str] = field(default_factory=list)
    manifest_sha256: str | None = None
    cleaned: list[str] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)  # recorded batches whose folder is missing
    planned: list[Planned] = field(default_factory=list)
    dry_run: bool = False
    rewritten: bool = False
    refused: list[Refusal] = field(default_factory=list)  # approved, but not as they are now

    @classmethod
    def of(cls, batch: Batch, folder: Path, written: Written, *,
           rewritten: bool = False) -> ExportResult:
        return cls(batch.info.batch_id, folder, batch.invoice_ids, batch.gross_total,
                   list(written.files), written.manifest_sha256, rewritten=rewritten,
                   refused=list(batch.refused))

    @property
    def id(self) -> int | None:
        return self.batch_id

    @property
    def invoice_count(self) -> int:
        return len(self.invoice_ids)

    def to_json(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "folder": str(self.folder) if self.folder else None,
                "invoice_ids": self.invoice_ids, "invoice_count": len(self.invoice_ids),
                "gross_total": plain(self.gross_total), "files": self.files,
                "manifest_sha256": self.manifest_sha256, "cleaned": self.cleaned,
                "lost": self.lost, "dry_run": self.dry_run, "rewritten": self.rewritten,
                "planned": [p.to_json() for p in self.planned],
                "refused": [r.to_json() for r in self.refused]}


@dataclass(frozen=True)
class Recovered:
    """What ``recover`` found in the export directory."""

    cleaned: list[str]  # folder names removed: temporary, or renamed but never recorded
    lost: list[int]  # recorded batches whose folder is missing


def recover(ctx: Context) -> Recovered:
    """Delete temporary and unrecorded batch folders (call under the lock)."""
    root = ctx.settings.export_path
    with Session(ctx.engine) as s:
        known = {b.id: Path(b.folder).name for b in s.exec(select(t.ExportBatch)).all()}
    cleaned: list[str] = []
    present: set[str] = set()
    for entry in sorted(root.iterdir()) if root.is_dir() else []:
        if not entry.is_dir():
            continue
        if entry.name.startswith(TMP_PREFIX):
            shutil.rmtree(entry, ignore_errors=True)
            cleaned.append(entry.name)
            continue
        m = _BATCH_DIR.match(entry.name)
        if m is None:
            continue
        if known.get(int(m.group(1))) == entry.name:
            present.add(entry.name)
        else:
            discard(root, entry)
            cleaned.append(entry.name)
    return Recovered(cleaned, sorted(bid for bid, name in known.items()
                                     if bid is not None and name not in present))


def export(ctx: Context, actor: str, *, dry_run: bool = False) -> ExportResult:
    """Export every approved invoice not yet exported into one new batch (or nothing)."""
    if dry_run:
        return ExportResult(planned=preview(ctx), dry_run=True, refused=refused(ctx))
    with ctx.lock(EXPORT_LOCK):
        found = recover(ctx)
        for _attempt in range(_ATTEMPTS):
            result = _export_once(ctx, actor)
            if result is not None:
                result.cleaned, result.lost = found.cleaned, found.lost
                return result
        raise ExportError("invoices kept changing while the batch was written; try again")


def run_export(ctx: Context, actor: str) -> ExportResult | None:
    """The nightly job's entry point: the new batch and the refused invoices, or None when
    there was neither."""
    result = export(ctx, actor)
    return result if result.batch_id is not None or result.refused else None


def _export_once(ctx: Context, actor: str) -> ExportResult | None:
    """One plan → write → record round; None when the batch went stale before its commit."""
    batch = next_batch(ctx, actor)
    if batch is None or not batch.entries:
        return ExportResult(refused=list(batch.refused) if batch else [])
    root = ctx.settings.export_path
    written = write_batch(ctx, batch)
    try:
        final = publish(root, written.folder, batch.info.folder)
    except BaseException:
        shutil.rmtree(written.folder, ignore_errors=True)
        raise
    try:
        record(ctx, batch, final, written.manifest_sha256)
    except Stale:
        discard(root, final)
        return None
    except BaseException:
        discard(root, final)
        raise
    return ExportResult.of(batch, final, written)


def rewrite(ctx: Context, batch_id: int) -> ExportResult:
    """Write a recorded batch again, byte for byte as the first time (checked against the
    recorded manifest SHA-256 before it replaces anything)."""
    root = ctx.settings.export_path
    with ctx.lock(EXPORT_LOCK):
        rec = recorded(ctx, batch_id)
        written = write_batch(ctx, rec.batch)
        if written.manifest_sha256 != rec.manifest_sha256:
            shutil.rmtree(written.folder, ignore_errors=True)
            raise ExportError(f"batch {batch_id} cannot be reproduced: its manifest would "
                              f"differ from the recorded one ({rec.manifest_sha256})")
        final = root / rec.batch.info.folder
        if final.exists():
            discard(root, final)
        final = publish(root, written.folder, rec.batch.info.folder)
    return ExportResult.of(rec.batch, final, written, rewritten=True)


def verify(ctx: Context, batch_id: int) -> list[str]:
    """Problems of a recorded batch folder: missing or altered files (empty: all good)."""
    with Session(ctx.engine) as s:
        batch = s.get(t.ExportBatch, batch_id)
        if batch is None:
            raise NotFound(f"no export batch {batch_id}")
    folder = ctx.settings.export_path / Path(batch.folder).name
    try:
        data = (folder / MANIFEST).read_bytes()
    except OSError:
        return [f"{folder}: no manifest (the batch is lost: use --rewrite)"]
    problems = []
    if hashlib.sha256(data).hexdigest() != batch.manifest_sha256:
        problems.append("manifest.json differs from the recorded SHA-256")
    for entry in json.loads(data)["files"]:
        path = folder / entry["name"]
        if not path.is_file():
            problems.append(f"missing: {entry['name']}")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
            problems.append(f"altered: {entry['name']}")
    return problems


def manifest_anchors(ctx: Context) -> list[tuple[str, Head]]:
    """The audit chain heads the batch folders' manifests anchor, with each manifest's path
    (folders without a manifest, and batches written before anchors, have none)."""
    root = ctx.settings.export_path
    out = []
    for entry in sorted(root.iterdir()) if root.is_dir() else []:
        path = entry / MANIFEST
        if not (_BATCH_DIR.match(entry.name) and path.is_file()):
            continue
        try:
            data = json.loads(path.read_bytes())
            if "audit_anchor" in data:
                out.append((str(path), Head.from_json(data["audit_anchor"])))
        except ValueError as exc:
            raise ExportError(f"{path}: not a readable manifest ({exc})") from exc
    return out
