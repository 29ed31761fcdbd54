"""Which approval an invoice passes and how far it got: its office's municipal steps (setting
``approval_steps``) or the plain approval, by two people above ``four_eyes_threshold`` (EUR,
``eur_rates`` for other currencies); and the signatures given so far. The rules themselves are
``einvoice.lifecycle``'s."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select
from sqlmodel import col

from einvoice import lifecycle
from einvoice.config import Settings
from einvoice.context import Context
from einvoice.lifecycle import Signature
from einvoice.store import tables as t

Plan = tuple[tuple[str, int], ...]


def plan(settings: Settings, office: str | None, gross_total: Decimal | None,
         currency: str | None) -> Plan:
    return lifecycle.procedure(settings.approval_steps.get(office or "") or [],
                               lifecycle.approvals_needed(gross_total, currency,
                                                          settings.four_eyes_threshold,
                                                          settings.eur_rates))


def signatures(conn: Connection, invoice_ids: Iterable[int]) -> dict[int, list[Signature]]:
    """The signatures of each invoice, naming staff by their login."""
    staff: Any = t.Staff.__table__  # type: ignore[attr-defined]
    signer, colleague = staff.alias("signer"), staff.alias("colleague")
    rows = conn.execute(
        select(col(t.Approval.invoice_id), col(t.Approval.step), signer.c.login,
               colleague.c.login)
        .join(signer, signer.c.id == col(t.Approval.staff_id))
        .outerjoin(colleague, colleague.c.id == col(t.Approval.on_behalf_of_id))
        .where(col(t.Approval.invoice_id).in_(list(invoice_ids))))
    found: dict[int, list[Signature]] = {}
    for invoice_id, step, by, for_whom in rows:
        found.setdefault(invoice_id, []).append(Signature(step, by, for_whom))
    return found


def next_steps(ctx: Context, invoices: Iterable[t.Invoice]) -> dict[int, str | None]:
    """The step each invoice waits for (``approve`` for the plain approval)."""
    cases = {inv.id: inv for inv in invoices if inv.id is not None}
    with ctx.engine.connect() as conn:
        signed = signatures(conn, cases)
    return {i: lifecycle.next_step(plan(ctx.settings, inv.office, inv.gross_total, inv.currency),
                                   signed.get(i, [])) for i, inv in cases.items()}
