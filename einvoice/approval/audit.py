"""The auditor's check of the audit trail (the chain itself is written by ``store.chain``).

Walking the chain finds an edited, inserted or deleted event; comparing every invoice's status
with its last event finds a deleted newest event and a status changed behind the workflow.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlmodel import col

from einvoice.store import tables as t
from einvoice.store.chain import GENESIS, event_hash


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
