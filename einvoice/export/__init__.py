"""The hand-off to accounting: DATEV Buchungsstapel, neutral CSV / JSON Lines, the originals.

``batch`` decides what goes (exactly once, crash-safe), ``datev`` and ``neutral`` only turn a
list of :class:`ExportItem` into file bytes. Everything a file contains comes from the items and
the :class:`BatchInfo`, never from the clock or the current settings, so a lost batch can be
written again byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from einvoice.config import DEFAULT_TIMEZONE
from einvoice.model import Invoice as InvoiceModel


@dataclass(frozen=True)
class LineBooking:
    """The assignment of one invoice line (position from 1), as stored on ``InvoiceLine``."""

    position: int
    account: str | None
    cost_centre: str | None


@dataclass(frozen=True)
class ExportItem:
    """One invoice as it goes into a batch: the case, its canonical model, its booking."""

    invoice_id: int
    model: InvoiceModel
    creditor: str  # Konto: the supplier's creditor account (or the default)
    account: str  # Gegenkonto: G/L account of the invoice (assignment, supplier, default)
    cost_centre: str | None  # KOST1
    assigned_account: str | None  # the invoice's own assignment, as the case holds it
    assigned_cost_centre: str | None
    lines: tuple[LineBooking, ...]
    original_sha256: str  # the document as it came (XML or PDF)
    xml_sha256: str | None  # its XML (equal to the original for an XML document)
    files: tuple[str, ...]  # names of its originals inside the batch folder
    pay_by: date | None
    status: str = "exported"
    # EUR per unit of a foreign invoice currency (DATEV Kurs, Basis-Umsatz); None: EUR, or a
    # batch written before foreign currencies carried a rate (its files stay as they were)
    eur_rate: Decimal | None = None

    @property
    def signed_gross(self) -> Decimal:
        """BT-112, negative for a credit note (what the batch total adds up)."""
        gross = self.model.totals.with_vat or Decimal(0)
        return -gross if self.model.is_credit_note else gross


@dataclass(frozen=True)
class DatevParams:
    """The DATEV settings a batch was written with (kept with the batch for ``--rewrite``)."""

    adviser: int
    client: int
    chart: str
    account_length: int
    fiscal_year_start: str  # MMDD
    tax_keys: dict[str, str] = field(default_factory=dict)
    per_line: bool = False
    timezone: str = DEFAULT_TIMEZONE  # local dates in the file and the folder name
    # text cells neutralised against spreadsheet formulas (``csvcells``); False only for a batch
    # written before that, so that ``--rewrite`` gives its bytes again
    formula_guard: bool = True

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "adviser": self.adviser, "client": self.client, "chart": self.chart,
            "account_length": self.account_length, "fiscal_year_start": self.fiscal_year_start,
            "tax_keys": dict(sorted(self.tax_keys.items())), "per_line": self.per_line}
        # batches written before the setting (or the guard) existed carry no zone (no guard):
        # keep their bytes
        if self.timezone != DEFAULT_TIMEZONE:
            data["timezone"] = self.timezone
        if self.formula_guard:
            data["formula_guard"] = True
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DatevParams:
        return cls(adviser=int(data["adviser"]), client=int(data["client"]),
                   chart=str(data["chart"]), account_length=int(data["account_length"]),
                   fiscal_year_start=str(data["fiscal_year_start"]),
                   tax_keys={str(k): str(v) for k, v in data["tax_keys"].items()},
                   per_line=bool(data["per_line"]),
                   timezone=str(data.get("timezone", DEFAULT_TIMEZONE)),
                   formula_guard=bool(data.get("formula_guard", False)))


@dataclass(frozen=True)
class BatchInfo:
    """What identifies a batch in its files."""

    batch_id: int
    created_at: datetime  # aware, from the batch record
    actor: str
    folder: str  # the folder's name under the export directory
