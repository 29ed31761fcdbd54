"""Neutral export for municipal ERP imports: ``invoices.csv`` and ``invoices.jsonl``.

``invoices.csv`` — UTF-8 (no BOM), ``;`` as separator, CRLF, RFC 4180 quoting (only where
needed), decimal point, ISO dates (``YYYY-MM-DD``). One row per invoice line (BG-25), each row
repeating the invoice's header fields; an invoice without lines has one row with empty line
fields. Amounts as in the document (credit notes positive; ``credit_note`` says which).
Columns: ``invoice_id, batch_id, status, number (BT-1), type_code (BT-3), credit_note (0/1),
issue_date (BT-2), due_date (BT-9), pay_by, currency (BT-5), seller_name (BT-27),
seller_vat_id (BT-31), buyer_reference (BT-10), order_reference (BT-13), net_total (BT-109),
vat_total (BT-110), gross_total (BT-112), payable (BT-115), creditor_account, account,
cost_centre, original_sha256, xml_sha256, original_file, line_position, line_id (BT-126),
item_name (BT-153), quantity (BT-129), unit_code (BT-130), line_net_amount (BT-131),
line_vat_category (BT-151), line_vat_rate (BT-152), line_accounting_reference (BT-133),
line_account, line_cost_centre``. Every text column (everything but ids, numbers, dates,
``credit_note``, ``status`` and the SHA-256 digests, which are formatted here) is neutralised
against spreadsheet formulas by ``csvcells``: a value starting like a formula gets a leading ``'``
and double quotes. Numbers stay as they are, a negative amount too (``-5.00`` is a number).

``invoices.jsonl`` — UTF-8, one JSON object per line and invoice, keys sorted:
``{"id", "status", "batch", "account", "cost_centre", "assigned_account",
"assigned_cost_centre", "creditor_account", "pay_by", "original_sha256", "xml_sha256",
"files", "lines": [{"position", "account", "cost_centre"}], "invoice": {…}}`` where
``invoice`` is the full canonical EN 16931 model (field names of ``einvoice.model.Invoice``,
amounts as decimal strings, dates ISO, attachments base64). ``account`` / ``cost_centre`` /
``creditor_account`` are what was booked (assignment, else supplier master data, else default);
``assigned_*`` are the case's own assignment. JSON carries no formulas: the values are as read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from einvoice.export import BatchInfo, ExportItem
from einvoice.export.csvcells import Cells
from einvoice.views.formatting import plain

CSV_COLUMNS = (
    "invoice_id", "batch_id", "status", "number", "type_code", "credit_note", "issue_date",
    "due_date", "pay_by", "currency", "seller_name", "seller_vat_id", "buyer_reference",
    "order_reference", "net_total", "vat_total", "gross_total", "payable", "creditor_account",
    "account", "cost_centre", "original_sha256", "xml_sha256", "original_file",
    "line_position", "line_id", "item_name", "quantity", "unit_code", "line_net_amount",
    "line_vat_category", "line_vat_rate", "line_accounting_reference", "line_account",
    "line_cost_centre",
)


TYPED = frozenset({
    "invoice_id", "batch_id", "status", "credit_note", "issue_date", "due_date", "pay_by",
    "net_total", "vat_total", "gross_total", "payable", "original_sha256", "xml_sha256",
    "line_position", "quantity", "line_net_amount", "line_vat_rate"})
_KINDS = tuple(name in TYPED for name in CSV_COLUMNS)


def _s(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return plain(value)
    return str(value)


def _header(item: ExportItem, batch: BatchInfo) -> list[Any]:
    m = item.model
    t = m.totals
    return [
        item.invoice_id, batch.batch_id, item.status, m.number, m.type_code,
        int(m.is_credit_note), m.issue_date, m.due_date, item.pay_by, m.currency, m.seller.name,
        m.seller.vat_id, m.buyer_reference, m.purchase_order_reference, t.without_vat, t.vat,
        t.with_vat, t.payable, item.creditor, item.account, item.cost_centre,
        item.original_sha256, item.xml_sha256, item.files[0] if item.files else None]


def _row(cells: Cells, values: list[Any]) -> str:
    return cells.row(cells.typed(_s(v)) if typed else cells.text(_s(v))
                     for v, typed in zip(values, _KINDS, strict=True))


def write_csv(items: Sequence[ExportItem], batch: BatchInfo, *, guard: bool = True) -> bytes:
    """The CSV of a batch (``guard``: see ``csvcells``; False only to rewrite an old batch)."""
    cells = Cells(separator=";", guard=guard)
    out = [cells.row(CSV_COLUMNS)]
    for item in items:
        head = _header(item, batch)
        assigned = {lb.position: lb for lb in item.lines}
        if not item.model.lines:
            out.append(_row(cells, head + [None] * (len(CSV_COLUMNS) - len(head))))
        for pos, line in enumerate(item.model.lines, start=1):
            lb = assigned.get(pos)
            out.append(_row(cells, [
                *head, pos, line.id, line.item.name, line.quantity, line.unit_code, line.net_amount,
                line.vat_category, line.vat_rate, line.accounting_reference,
                (lb.account if lb else None) or item.account,
                (lb.cost_centre if lb else None) or item.cost_centre]))
    return "".join(f"{line}\r\n" for line in out).encode("utf-8")


def record(item: ExportItem, batch: BatchInfo) -> dict[str, Any]:
    return {
        "id": item.invoice_id, "status": item.status, "batch": batch.batch_id,
        "account": item.account, "cost_centre": item.cost_centre,
        "assigned_account": item.assigned_account,
        "assigned_cost_centre": item.assigned_cost_centre,
        "creditor_account": item.creditor,
        "pay_by": item.pay_by.isoformat() if item.pay_by else None,
        "original_sha256": item.original_sha256, "xml_sha256": item.xml_sha256,
        "files": list(item.files),
        "lines": [{"position": lb.position, "account": lb.account,
                   "cost_centre": lb.cost_centre} for lb in item.lines],
        "invoice": item.model.model_dump(mode="json"),
    }


def write_jsonl(items: Sequence[ExportItem], batch: BatchInfo) -> bytes:
    return b"".join(
        json.dumps(record(item, batch), ensure_ascii=False, sort_keys=True,
                   separators=(",", ":")).encode("utf-8") + b"\n"
        for item in items)
