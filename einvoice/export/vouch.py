"""Only what was approved goes to accounting.

The event that approved an invoice records the values it vouched for (``views.approved``). An
invoice whose values differ now (an IBAN or amount edited in the database after approval), or
that no approval event vouches for at all (set ``approved`` behind the workflow, or approved
before approvals recorded their content), is refused: it stays approved and out of the batch,
and the run names it with the reason. The audit trail itself is checked by ``audit verify``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select
from sqlmodel import col

from einvoice.lifecycle import Status
from einvoice.store import tables as t
from einvoice.views.approved import approved_content

_APPROVING: Any = (select(col(t.AuditEvent.invoice_id), col(t.AuditEvent.detail))
                   .join(t.Invoice, col(t.Invoice.id) == col(t.AuditEvent.invoice_id))
                   .where(col(t.Invoice.status) == Status.APPROVED,
                          col(t.Invoice.export_batch_id).is_(None),
                          col(t.AuditEvent.after) == Status.APPROVED)
                   .order_by(col(t.AuditEvent.id)))


@dataclass(frozen=True)
class Refusal:
    """An approved invoice the export will not take, and why."""

    invoice_id: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.invoice_id, "reason": self.reason}


def refusals(conn: Connection, invoice_ids: list[int]) -> list[Refusal]:
    """The refusals among ``invoice_ids`` (approved, in no batch), in their order."""
    approving: dict[int, str | None] = {}
    for invoice_id, detail in conn.execute(_APPROVING):
        approving[invoice_id] = detail  # the newest approving event wins
    out = []
    for invoice_id in invoice_ids:
        if invoice_id not in approving:
            out.append(Refusal(invoice_id, "no approval in the audit trail"))
            continue
        reason = _changed(json.loads(approving[invoice_id] or "{}"),
                          approved_content(conn, invoice_id))
        if reason:
            out.append(Refusal(invoice_id, reason))
    return out


def _changed(vouched: dict[str, Any], now: dict[str, Any]) -> str | None:
    if not set(now) <= set(vouched):
        return "its approval does not record what was approved"
    changed = [f"{key} {_text(vouched[key])} → {_text(value)}" for key, value in now.items()
               if vouched[key] != value]
    return "changed since approval: " + "; ".join(changed) if changed else None


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
