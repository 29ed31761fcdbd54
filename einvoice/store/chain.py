"""Appending to the audit trail: every event is a link of a SHA-256 hash chain.

Each event's hash covers its content and the previous event's hash, so editing or deleting an
event breaks the chain at that point; ``prev_hash`` is unique, so concurrent writers cannot
fork it (the loser retries). The caller decides what happened; this module only writes it, in
the caller's transaction. Checking the chain is the auditor's job: ``approval.audit``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlmodel import col

from einvoice.store import tables as t
from einvoice.store.types import utcnow

GENESIS = "0" * 64
_HEAD = select(col(t.AuditEvent.hash)).order_by(col(t.AuditEvent.id).desc()).limit(1)


def event_hash(prev_hash: str, invoice_id: int | None, at: datetime, actor: str, action: str,
               reason: str | None, before: str | None, after: str | None,
               detail: str | None) -> str:
    payload = json.dumps([prev_hash, invoice_id, at.isoformat(), actor, action, reason, before,
                          after, detail], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append(conn: Connection, *, invoice_id: int | None, actor: str, action: str,
           before: str | None, after: str | None, reason: str | None = None,
           detail: dict[str, Any] | None = None) -> str:
    """Add an event inside the caller's transaction; returns its hash."""
    prev = conn.execute(_HEAD).scalar() or GENESIS
    at = utcnow()
    detail_text = json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None
    digest = event_hash(prev, invoice_id, at, actor, action, reason, before, after, detail_text)
    conn.execute(insert(t.AuditEvent), {
        "invoice_id": invoice_id, "at": at, "actor": actor, "action": action, "reason": reason,
        "before": before, "after": after, "detail": detail_text, "prev_hash": prev,
        "hash": digest})
    return digest
