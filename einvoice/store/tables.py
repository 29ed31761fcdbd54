"""The database tables.

Keys: a ``Submission`` is one arrival (unique by the SHA-256 of its bytes); it holds one or more
``Document`` rows (unique by their own SHA-256: the same bytes are never processed twice); every
leaf document has exactly one ``Invoice`` row, the case finance staff work on, even when the
document could not be read (status ``quarantined``). Lines, findings, approvals and audit
events hang off the invoice; ``Staff`` is the register of who may read and act.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from einvoice.store.types import AwareDateTime, ExactDecimal, utcnow


class Submission(SQLModel, table=True):
    """What arrived through one channel: the raw bytes are in the archive under ``sha256``."""

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, unique=True)
    size: int
    channel: str = Field(max_length=16)
    filename: str | None = Field(default=None, max_length=512)
    sender: str | None = Field(default=None, max_length=512)
    subject: str | None = Field(default=None, max_length=1024)
    message_id: str | None = Field(default=None, max_length=1024)
    supplier_id: int | None = Field(default=None, foreign_key="supplier.id", index=True)
    received_at: datetime = Field(sa_type=AwareDateTime, default_factory=utcnow)
    # junk (no invoice in it) past its retention: its originals were removed from the archive
    archive_removed_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class Document(SQLModel, table=True):
    """One candidate invoice inside a submission (or a container such as a ZIP)."""

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    parent_id: int | None = Field(default=None, foreign_key="document.id")
    sha256: str = Field(max_length=64, unique=True)
    size: int
    filename: str | None = Field(default=None, max_length=1024)
    kind: str = Field(max_length=32)
    syntax: str | None = Field(default=None, max_length=32)
    xml_sha256: str | None = Field(default=None, max_length=64)
    xml_filename: str | None = Field(default=None, max_length=512)
    error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(sa_type=AwareDateTime, default_factory=utcnow)


class Invoice(SQLModel, table=True):
    """The case: the canonical model of a document plus what the pipeline decided about it."""

    __table_args__ = (
        Index("ix_invoice_duplicate_key", "seller_key", "number_key", "type_code",
              "gross_total"),
        Index("ix_invoice_status_received", "status", "received_at"),
        # the inbox: waiting (status) in an office, by Skonto deadline, else due date, then id;
        # its query reads the ids it shows from this index alone (covering)
        Index("ix_invoice_inbox_urgency", "status", "office", "skonto_until", "pay_by", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="document.id", unique=True)
    status: str = Field(max_length=16)
    duplicate_of: int | None = Field(default=None, foreign_key="invoice.id")
    number: str | None = Field(default=None, max_length=256)  # BT-1 as read, for display
    number_key: str | None = Field(default=None, max_length=256)  # as duplicates compare it
    type_code: str | None = Field(default=None, max_length=8)
    issue_date: date | None = Field(default=None, index=True)
    due_date: date | None = None
    currency: str | None = Field(default=None, max_length=3)
    seller_name: str | None = Field(default=None, max_length=512)
    seller_vat_id: str | None = Field(default=None, max_length=64)
    seller_key: str | None = Field(default=None, max_length=512)
    buyer_name: str | None = Field(default=None, max_length=512)
    buyer_reference: str | None = Field(default=None, max_length=256)
    specification_id: str | None = Field(default=None, max_length=256)
    net_total: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    gross_total: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    payable: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    model_json: str | None = Field(default=None, sa_column=Column(Text))
    error: str | None = Field(default=None, sa_column=Column(Text))
    verdict: str | None = Field(default=None, max_length=16)
    scenario: str | None = Field(default=None, max_length=128)
    rule_release: str | None = Field(default=None, max_length=64)
    profile: str | None = Field(default=None, max_length=32)
    office: str | None = Field(default=None, max_length=128, index=True)
    account: str | None = Field(default=None, max_length=32)
    cost_centre: str | None = Field(default=None, max_length=32)
    pay_by: date | None = None
    skonto_until: date | None = None
    skonto_percent: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    ibans: str | None = Field(default=None, max_length=512)
    # the channel did not speak for the seller (held at ingest), and what the clerk is told
    unbound: bool = Field(default=False, sa_column=Column(Boolean, nullable=False,
                                                          default=False))
    binding_flags: str | None = Field(default=None, sa_column=Column(Text))  # one per line
    note: str | None = Field(default=None, sa_column=Column(Text))
    version: int = 0
    export_batch_id: int | None = Field(default=None, foreign_key="exportbatch.id", index=True)
    paid_on: date | None = None  # the day the accounting paid it (status ``paid``)
    # received with verdict undefined: validated again so often, next at (none yet: see
    # ``lifecycle.revalidation``)
    revalidation_attempts: int = 0
    next_revalidation_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    received_at: datetime = Field(sa_type=AwareDateTime, default_factory=utcnow)
    updated_at: datetime = Field(sa_type=AwareDateTime, default_factory=utcnow)


class InvoiceLine(SQLModel, table=True):
    """BG-25 lines, queryable (the full line lives in ``Invoice.model_json`` too)."""

    __table_args__ = (UniqueConstraint("invoice_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    position: int
    line_id: str = Field(max_length=128)
    item_name: str | None = Field(default=None, max_length=1024)
    quantity: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    unit_code: str | None = Field(default=None, max_length=16)
    net_amount: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    vat_category: str | None = Field(default=None, max_length=8)
    vat_rate: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    accounting_reference: str | None = Field(default=None, max_length=256)
    account: str | None = Field(default=None, max_length=32)
    cost_centre: str | None = Field(default=None, max_length=32)


class Finding(SQLModel, table=True):
    """One validation finding (rule, severity, business term, location, message)."""

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    rule_id: str = Field(max_length=64)
    flag: str = Field(max_length=16)
    level: str = Field(max_length=16)
    term: str | None = Field(default=None, max_length=32)
    location: str | None = Field(default=None, sa_column=Column(Text))
    line: int | None = None
    pack: str | None = Field(default=None, max_length=64)
    message: str = Field(sa_column=Column(Text, nullable=False))


class Staff(SQLModel, table=True):
    """A person who may read or act, by the login they authenticate with (OS account or
    database role); approvals refer to this row, never to a typed name. ``offices`` and
    ``steps`` are JSON lists (no offices: every office); ``amount_limit`` is in EUR (none: no
    limit)."""

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=128, unique=True)
    name: str = Field(max_length=256)
    role: str = Field(max_length=16)
    amount_limit: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    offices: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    steps: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    active: bool = True
    created_at: datetime = Field(sa_type=AwareDateTime, default_factory=utcnow)


class Approval(SQLModel, table=True):
    """One signature on an invoice: the plain approval (step ``approve``) or a municipal step,
    by an authenticated member of staff, maybe for an absent colleague; nobody signs the same
    step of an invoice twice."""

    __table_args__ = (UniqueConstraint("invoice_id", "step", "staff_id"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    step: str = Field(max_length=32)
    staff_id: int = Field(foreign_key="staff.id")
    on_behalf_of_id: int | None = Field(default=None, foreign_key="staff.id")
    at: datetime = Field(sa_type=AwareDateTime, default_factory=utcnow)


class Supplier(SQLModel, table=True):
    """Supplier master data: who they are, where we pay them, how their invoices are booked."""

    id: int | None = Field(default=None, primary_key=True)
    vat_id: str | None = Field(default=None, max_length=64, unique=True)
    name: str = Field(max_length=512)
    ibans: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    account: str | None = Field(default=None, max_length=32)
    cost_centre: str | None = Field(default=None, max_length=32)
    creditor_account: str | None = Field(default=None, max_length=16)
    # the address we know the supplier by: notices about a suspicious invoice go only here
    email: str | None = Field(default=None, max_length=320)


class AuditEvent(SQLModel, table=True):
    """Who did what, when and why; ``hash`` chains each event to the one before, and
    ``prev_hash`` is unique, so two concurrent writers cannot fork the chain."""

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    at: datetime = Field(sa_type=AwareDateTime, default_factory=utcnow)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=32)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    before: str | None = Field(default=None, max_length=32)
    after: str | None = Field(default=None, max_length=32)
    detail: str | None = Field(default=None, sa_column=Column(Text))
    prev_hash: str = Field(max_length=64, unique=True)
    hash: str = Field(max_length=64)


class ApiToken(SQLModel, table=True):
    """A supplier's upload token; only its SHA-256 is stored."""

    id: int | None = Field(default=None, primary_key=True)
    supplier_id: int = Field(foreign_key="supplier.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    label: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(sa_type=AwareDateTime, default_factory=utcnow)
    revoked_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class MailMessage(SQLModel, table=True):
    """One message seen in a mailbox: UIDVALIDITY + UID make it unique per mailbox, the
    content hash ties it to its stored original."""

    __table_args__ = (UniqueConstraint("mailbox", "uidvalidity", "uid"),)

    id: int | None = Field(default=None, primary_key=True)
    mailbox: str = Field(max_length=128)
    uidvalidity: int
    uid: int
    message_id: str | None = Field(default=None, max_length=1024)
    sha256: str = Field(max_length=64, index=True)
    submission_id: int | None = Field(default=None, foreign_key="submission.id")
    outcome: str = Field(max_length=16)
    moved: bool = False
    seen_at: datetime = Field(sa_type=AwareDateTime, default_factory=utcnow)


class Notice(SQLModel, table=True):
    """A message to a supplier (receipt, rejection); ``event_key`` is unique, so a notice is
    never sent twice for the same event."""

    id: int | None = Field(default=None, primary_key=True)
    event_key: str = Field(max_length=256, unique=True)
    kind: str = Field(max_length=16)
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    submission_id: int | None = Field(default=None, foreign_key="submission.id")
    recipient: str = Field(max_length=512)
    subject: str = Field(max_length=512)
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_type=AwareDateTime, default_factory=utcnow)
    sent_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    error: str | None = Field(default=None, sa_column=Column(Text))
    # tries so far (one whose sender died counts; an SMTP outage does not), the earliest next
    # try after a failure, and when the outbox gave up on it for good (see ``notify.outbox``)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    failed_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class ExportBatch(SQLModel, table=True):
    """One hand-off to accounting: its folder, and the manifest that lists every file's SHA-256.

    Recorded in the same transaction that marks its invoices exported."""

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(sa_type=AwareDateTime, default_factory=utcnow)
    folder: str = Field(max_length=1024)
    invoice_count: int
    gross_total: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    manifest_sha256: str = Field(max_length=64)
    actor: str = Field(max_length=128)


class JobRun(SQLModel, table=True):
    """The last run of each scheduled job, for `einvoice status` and missed-run catch-up."""

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64, index=True)
    started_at: datetime = Field(sa_type=AwareDateTime, default_factory=utcnow)
    finished_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    ok: bool | None = None
    detail: str | None = Field(default=None, sa_column=Column(Text))
