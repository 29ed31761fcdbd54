"""The auditor's check of the audit trail (the chain itself is written by ``store.chain``).

Walking the chain finds an edited, inserted or deleted event; the anchors kept outside the
database (``approval.anchors``) find the same in a chain recomputed after the change, and a
deleted newest event or an emptied table; comparing every invoice's status with its last event
finds a status changed behind the workflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlmodel import col

from einvoice.approval.anchors import Anchor, Anchored, Broken
from einvoice.store import tables as t
from einvoice.store.chain import GENESIS, event_hash
from einvoice.views.approved import approved_content

__all__ = ["ChainCheck", "approved_content", "verify"]  # approve hashes approved_content


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    events: int  # walked; when broken: the position of the first bad event
    broken_at: int | None = None
    problem: str | None = None
    anchors: int = 0  # anchors checked
    anchored: int = 0  # events the anchors that held vouch for
    anchor: str | None = None  # the anchor the trail contradicts


def verify(engine: Engine, anchors: Sequence[Anchor] = ()) -> ChainCheck:
    """Walk the chain in id order; the first event whose link or hash is wrong, or that an
    anchor contradicts, is reported. Then every invoice's status must be what its last event
    says: that catches a status changed behind the workflow's back."""
    prev = GENESIS
    count = 0
    last_after: dict[int, str | None] = {}
    pinned = Anchored(anchors)

    def broken(b: Broken) -> ChainCheck:
        return ChainCheck(False, b.position, b.event_id, b.problem, pinned.count, pinned.held,
                          b.anchor)

    with engine.connect() as conn:
        rows = conn.execute(select(t.AuditEvent.__table__).order_by(  # type: ignore[attr-defined]
            col(t.AuditEvent.id)))
        for ev in rows:
            count += 1
            if ev.prev_hash != prev:
                return ChainCheck(False, count, ev.id, "link to the previous event is broken "
                                  "(an event was deleted or inserted)", pinned.count, pinned.held)
            expected = event_hash(ev.prev_hash, ev.invoice_id, ev.at, ev.actor, ev.action,
                                  ev.reason, ev.before, ev.after, ev.detail)
            if ev.hash != expected:
                return ChainCheck(False, count, ev.id, "content does not match its hash "
                                  "(the event was edited)", pinned.count, pinned.held)
            contradicted = pinned.event(count, ev.id, ev.hash)
            if contradicted is not None:
                return broken(contradicted)
            prev = ev.hash
            if ev.invoice_id is not None:
                last_after[ev.invoice_id] = ev.after
        missing = pinned.end(count)
        if missing is not None:
            return broken(missing)
        statuses = conn.execute(select(col(t.Invoice.id), col(t.Invoice.status)))
        for invoice_id, status in statuses:
            if last_after.get(invoice_id or 0) != status:
                return ChainCheck(False, count, None, f"invoice {invoice_id} is {status}, but "
                                  "its last audit event says otherwise (an event was deleted "
                                  "or the status was changed outside the workflow)",
                                  pinned.count, pinned.held)
    return ChainCheck(True, count, anchors=pinned.count, anchored=pinned.held)
