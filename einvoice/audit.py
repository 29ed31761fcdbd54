"""The audit trail: every transition is an event, and events form a SHA-256 hash chain.

Each event's hash covers its content and the previous event's hash, so editing or deleting an
event breaks the chain at that point; ``prev_hash`` is unique, so concurrent writers cannot
fork it (the loser retries).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select
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


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    events: int
    broken_at: int | None = None
    problem: str | None = None


def verify(engine: Engine) -> ChainCheck:
    """Walk the chain in id order; the first event whose link or hash is wrong is reported.
    Then every invoice's status must be what its last event says: that catches a deleted newest
    event and a status changed behind the workflow's back."""
    prev = GENESIS
    count = 0
    last_after: dict[int, str | None] = {}
    with engine.connect() as conn:
        rows = conn.execute(select(t.AuditEvent.__table__).order_by(  # type: ignore[attr-defined]
            col(t.AuditEvent.id)))
        for ev in rows:
            count += 1
            if ev.prev_hash != prev:
                return ChainCheck(False, count, ev.id, "link to the previous event is broken "
                                  "(an event was deleted or inserted)")
            expected = event_hash(ev.prev_hash, ev.invoice_id, ev.at, ev.actor, ev.action,
                                  ev.reason, ev.before, ev.after, ev.detail)
            if ev.hash != expected:
                return ChainCheck(False, count, ev.id, "content does not match its hash "
                                  "(the event was edited)")
            prev = ev.hash
            if ev.invoice_id is not None:
                last_after[ev.invoice_id] = ev.after
        statuses = conn.execute(select(col(t.Invoice.id), col(t.Invoice.status)))
        for invoice_id, status in statuses:
            if last_after.get(invoice_id or 0) != status:
                return ChainCheck(False, count, None, f"invoice {invoice_id} is {status}, but "
                                  "its last audit event says otherwise (an event was deleted "
                                  "or the status was changed outside the workflow)")
    return ChainCheck(True, count)
