"""The status machine and every decision that moves an invoice, in one place.

Pure functions over the canonical model and values the caller looked up: nothing here reads
the database, the clock or the settings object. The pipeline asks here what an ingested
document becomes, the approval workflow which transitions are allowed, who may take them and
when an invoice is approved, the export which invoices may go; the store then writes what was
decided. ``machine``: statuses, the transition table, who may act; ``approvals``: four-eyes,
the municipal steps, limits; ``ingest``: what a document becomes; ``suppliers``: warnings;
``payments``: which invoice a line of a bank statement pays; ``keys``: how identifiers compare
(invoice numbers, VAT ids, names); ``binding``: whether the channel speaks for the seller.

Statuses (stored values): ``received`` → ``invalid`` or ``pending`` → ``approved`` (one person,
or two different people above the four-eyes threshold, or an office's municipal steps) or
``rejected``; approved → ``exported`` → ``paid`` (recorded by a person or from a bank
statement); ``on_hold`` pauses a pending invoice (a person's hold, or at ingest when the channel
does not speak for the seller); ``duplicate`` and
``quarantined`` end at ingest; ``closed`` ends an invalid, duplicate or quarantined document.
"""

from typing import TYPE_CHECKING, Any

from einvoice.lifecycle.approvals import (
    ANORDNUNG,
    APPROVE_STEP,
    SACHLICH,
    ApprovalOutcome,
    Signature,
    approval,
    approvals_needed,
    in_euro,
    may_sign,
    next_step,
    procedure,
)
from einvoice.lifecycle.binding import (
    MAIL_CHANNEL,
    UNCLEARED,
    Binding,
    Channel,
    SellerClaim,
    SupplierFacts,
    bind,
)
from einvoice.lifecycle.keys import name_key, number_key, vat_key
from einvoice.lifecycle.machine import (
    NOT_ORIGINALS,
    PAYMENT_EXPECTED,
    STAFF_ROLES,
    TRANSITIONS,
    Action,
    Member,
    NotPermitted,
    Role,
    Status,
    Transition,
    WorkflowError,
    authorise,
    check_paid_on,
    check_transition,
    expected_payment,
    require,
    role_covers,
    seen_by_supplier,
)
from einvoice.lifecycle.payments import PAYMENT_CANDIDATES, Candidate, LineMatch, match
from einvoice.lifecycle.suppliers import iban_ok, normalise_iban, supplier_flags

# The ingest decisions need the canonical model, whose import is most of the start-up of a
# command that only needs the statuses (every CLI command registers its options, `--status`
# among them): they load on first use.
if TYPE_CHECKING:
    from einvoice.lifecycle.ingest import (
        DuplicateKey,
        IngestDecision,
        decide_ingest,
        duplicate_key,
        pay_by,
        seller_key,
        skonto_deadline,
        status_after_validation,
    )
else:
    def __getattr__(name: str) -> Any:
        if name in __all__:  # every other name of __all__ is bound above
            from einvoice.lifecycle import ingest

            return getattr(ingest, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "ANORDNUNG", "APPROVE_STEP", "MAIL_CHANNEL", "NOT_ORIGINALS", "PAYMENT_CANDIDATES",
    "PAYMENT_EXPECTED", "SACHLICH", "STAFF_ROLES", "TRANSITIONS", "UNCLEARED", "Action",
    "ApprovalOutcome", "Binding", "Candidate", "Channel", "DuplicateKey", "IngestDecision",
    "LineMatch", "Member", "NotPermitted", "Role", "SellerClaim", "Signature", "Status",
    "SupplierFacts", "Transition", "WorkflowError", "approval", "approvals_needed", "authorise",
    "bind", "check_paid_on", "check_transition", "decide_ingest", "duplicate_key",
    "expected_payment", "iban_ok", "in_euro", "match", "may_sign", "name_key", "next_step",
    "normalise_iban", "number_key", "pay_by", "procedure", "require", "role_covers",
    "seen_by_supplier", "seller_key", "skonto_deadline", "status_after_validation",
    "supplier_flags", "vat_key",
]
