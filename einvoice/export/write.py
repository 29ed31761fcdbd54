"""Writing a batch folder so that it survives a crash: under a temporary name, every file and
folder fsynced before the caller renames it to its final name (``folders.publish``).

The folder holds the DATEV file(s), ``invoices.csv``, ``invoices.jsonl``, ``originals/`` (the
archived bytes unchanged) and ``manifest.json``: the SHA-256 and size of every other file, the
invoices, the totals, the DATEV settings and the audit chain's head before the batch (an
anchor outside the database: ``einvoice audit verify`` checks the chain against it). The
manifest's own SHA-256 is what the batch record keeps, so one digest vouches for the folder.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from pathlib import Path
from typing import Any

from einvoice.context import Context
from einvoice.export import datev, neutral
from einvoice.export.folders import TMP_PREFIX
from einvoice.export.plan import Batch
from einvoice.store.durable import fsync_dir, write_file
from einvoice.views.formatting import plain

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Written:
    """A batch folder on disk, complete and durable, still under its temporary name."""

    folder: Path
    manifest_sha256: str
    files: tuple[str, ...]  # every file in it, relative, sorted (the manifest included)


def write_batch(ctx: Context, batch: Batch) -> Written:
    """Write ``batch`` into a fresh temporary folder under the export directory."""
    info = batch.info
    tmp = ctx.settings.export_path / (
        f"{TMP_PREFIX}batch-{info.batch_id:06d}-{uuid.uuid4().hex[:12]}")
    tmp.mkdir(parents=True)
    (tmp / "originals").mkdir()
    listed: dict[str, dict[str, Any]] = {}

    def put(name: str, data: bytes) -> None:
        write_file(tmp / name, data)
        listed[name] = {"name": name, "sha256": hashlib.sha256(data).hexdigest(),
                        "size": len(data)}

    items = batch.items
    for name, data in datev.write(items, batch.params, info).items():
        put(name, data)
    put("invoices.csv", neutral.write_csv(items, info, guard=batch.params.formula_guard))
    put("invoices.jsonl", neutral.write_jsonl(items, info))
    for entry in batch.entries:
        for original in entry.originals:
            put(original.name, ctx.archive.get(original.sha256))
    fsync_dir(tmp / "originals")
    data = _manifest(batch, [listed[name] for name in sorted(listed)])
    write_file(tmp / MANIFEST, data)
    fsync_dir(tmp)
    return Written(tmp, hashlib.sha256(data).hexdigest(), tuple(sorted([*listed, MANIFEST])))


def _manifest(batch: Batch, files: list[dict[str, Any]]) -> bytes:
    info = batch.info
    totals: dict[str, Decimal] = {}
    for item in batch.items:
        cur = item.model.currency or ""
        totals[cur] = totals.get(cur, Decimal(0)) + item.signed_gross
    manifest: dict[str, Any] = {
        "format": "einvoice-export/1", "batch": info.batch_id,
        "created_at": info.created_at.astimezone(UTC).isoformat(), "actor": info.actor,
        "folder": info.folder, "invoice_count": len(batch.entries),
        "gross_total": plain(batch.gross_total),
        "totals_by_currency": {k: plain(v) for k, v in sorted(totals.items())},
        "datev": batch.params.to_json(),
        "invoices": [{"id": i.invoice_id, "number": i.model.number,
                      "type_code": i.model.type_code, "credit_note": i.model.is_credit_note,
                      "currency": i.model.currency,
                      "gross_total": None if i.model.totals.with_vat is None
                      else plain(i.model.totals.with_vat),
                      "original_sha256": i.original_sha256, "xml_sha256": i.xml_sha256,
                      "files": list(i.files)} for i in batch.items],
        "files": files,
    }
    if batch.head is not None:  # batches written before anchors carry none: keep their bytes
        manifest["audit_anchor"] = batch.head.to_json()
    return (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()
