"""Appending to the audit trail: every event is a link of a SHA-256 hash chain.

Each event's hash covers its content and the previous event's hash, so editing or deleting an
event breaks the chain at that point; ``prev_hash`` is unique, so concurrent writers cannot
fork it (the loser retries). The caller decides what happened; this module only writes it, in
the caller's transaction. Checking the chain is the auditor's job: ``approval.audit``.

The chain has no secret: whoever can write the table can recompute it. What pins it is its
:class:`Head` kept outside the database (export manifests, ``einvoice audit anchor``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlmodel import col

from einvoice.store import tables as t
from einvoice.store.types import utcnow

GENESIS = "0" * 64
_HEAD = select(col(t.AuditEvent.hash)).order_by(col(t.AuditEvent.id).desc()).limit(1)
_SHA256 = re.compile("[0-9a-f]{64}")


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
    return append_many(conn, [Event(invoice_id, actor, action, before, after, reason, detail)])


@dataclass(frozen=True)
class Event:
    """One event to append: what happened to which invoice (None: to none), by whom."""

    invoice_id: int | None
    actor: str
    action: str
    before: str | None
    after: str | None
    reason: str | None = None
    detail: dict[str, Any] | None = None


def append_many(conn: Connection, events: Sequence[Event]) -> str:
    """Add events in order inside the caller's transaction, with one look-up of the head and
    one insert for all (an ingest batch); returns the new head's hash."""
    prev = conn.execute(_HEAD).scalar() or GENESIS
    rows = []
    for event in events:
        at = utcnow()
        detail_text = (json.dumps(event.detail, ensure_ascii=False, sort_keys=True)
                       if event.detail else None)
        digest = event_hash(prev, event.invoice_id, at, event.actor, event.action, event.reason,
                            event.before, event.after, detail_text)
        rows.append({
            "invoice_id": event.invoice_id, "at": at, "actor": event.actor,
            "action": event.action, "reason": event.reason, "before": event.before,
            "after": event.after, "detail": detail_text, "prev_hash": prev, "hash": digest})
        prev = digest
    if rows:
        conn.execute(insert(t.AuditEvent), rows)
    return prev


@dataclass(frozen=True)
class Head:
    """The newest event and how many events lead up to it (the empty chain: 0, GENESIS)."""

    events: int
    hash: str
    event_id: int | None = None
    at: str | None = None  # the event's time, ISO 8601 in UTC, as kept in anchors

    def to_json(self) -> dict[str, Any]:
        return {"events": self.events, "hash": self.hash, "event_id": self.event_id,
                "at": self.at}

    @classmethod
    def from_json(cls, data: Any) -> Head:
        """Read a head back; ValueError when it is not one."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        events, digest, event_id, at = (data.get(k) for k in ("events", "hash", "event_id", "at"))
        if type(events) is not int or events < 0:
            raise ValueError(f"events must be a count, not {events!r}")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise ValueError(f"hash must be 64 lowercase hex digits, not {digest!r}")
        if (event_id is None) != (events == 0) or not (event_id is None
                                                       or type(event_id) is int):
            raise ValueError(f"event_id {event_id!r} does not fit {events} events")
        if not (at is None or isinstance(at, str)):
            raise ValueError(f"at must be a time, not {at!r}")
        return cls(events, digest, event_id, at)


def head(conn: Connection) -> Head:
    """The chain's head now, read in one statement (a consistent snapshot on PostgreSQL too)."""
    total = select(func.count()).select_from(t.AuditEvent).scalar_subquery()
    row = conn.execute(select(col(t.AuditEvent.id), col(t.AuditEvent.hash),
                              col(t.AuditEvent.at), total)
                       .order_by(col(t.AuditEvent.id).desc()).limit(1)).first()
    if row is None:
        return Head(0, GENESIS)
    return Head(row[3], row.hash, row.id, row.at.astimezone(UTC).isoformat())
