"""The status machine and the ingest decisions of ``einvoice.lifecycle``, pinned at their
boundaries: the table of allowed transitions written out here (never read from the code under
test), four-eyes exactly at and one cent above the threshold, the duplicate key field by field,
the seller key, pay-by, Skonto and the supplier warnings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from einvoice import lifecycle
from einvoice.lifecycle import (
    Action,
    ApprovalOutcome,
    DuplicateKey,
    IngestDecision,
    Role,
    Status,
    WorkflowError,
)
from einvoice.model import Invoice, Seller, Totals
from einvoice.validation.findings import Verdict

STATUSES = ["received", "pending", "invalid", "on_hold", "approved", "rejected", "exported",
            "duplicate", "quarantined"]

# action: (statuses it may start from, where it leads (None: status unchanged), who takes it)
TABLE: dict[str, tuple[set[str], str | None, str]] = {
    "approve": ({"pending"}, "approved", "staff"),
    "reject": ({"pending", "on_hold"}, "rejected", "staff"),
    "hold": ({"pending"}, "on_hold", "staff"),
    "release": ({"on_hold"}, "pending", "staff"),
    "reassign": ({"received", "pending", "on_hold", "invalid"}, None, "staff"),
    "assign": ({"pending", "on_hold"}, None, "staff"),
    "export": ({"approved"}, "exported", "system"),
}

THRESHOLD = Decimal("5000")
AT_THRESHOLD = Decimal("5000.00")
CENT_ABOVE = Decimal("5000.01")


def test_the_statuses_actions_and_roles_are_exactly_these() -> None:
    assert sorted(s.value for s in Status) == sorted(STATUSES)
    assert sorted(a.value for a in Action) == sorted(TABLE)
    assert sorted(r.value for r in Role) == ["staff", "system"]


@pytest.mark.parametrize("action", sorted(TABLE))
def test_transition_table(action: str) -> None:
    sources, target, role = TABLE[action]
    rule = lifecycle.TRANSITIONS[Action(action)]
    assert (sorted(rule.sources), rule.target, rule.role) == (sorted(sources), target, role)
    other_role = Role.SYSTEM if role == "staff" else Role.STAFF
    allowed_text = ", ".join(sorted(sources))
    for status in STATUSES:
        if status in sources:
            lifecycle.check_transition(Action(action), status, Role(role), 7)
        else:
            with pytest.raises(WorkflowError) as refused:
                lifecycle.check_transition(Action(action), status, Role(role), 7)
            assert str(refused.value) == (
                f"invoice 7 is {status}: cannot {action} (allowed from {allowed_text})")
        with pytest.raises(WorkflowError) as wrong_role:
            lifecycle.check_transition(Action(action), status, other_role, 7)
        assert str(wrong_role.value) == f"{action} is taken by {role}, not by {other_role}"


def test_status_sets_are_built_from_the_given_statuses() -> None:
    assert lifecycle._from(Status.PENDING, Status.ON_HOLD) == frozenset({"pending", "on_hold"})
    assert sorted(lifecycle.NOT_ORIGINALS) == ["invalid", "quarantined", "rejected"]


# ------------------------------------------------------------------ four-eyes

@pytest.mark.parametrize(("gross", "needed"), [
    (AT_THRESHOLD, 1), (CENT_ABOVE, 2), (Decimal("0"), 1), (Decimal("-9999"), 1), (None, 1),
    (Decimal("4999.99"), 1), (Decimal("1000000"), 2)])
def test_approvals_needed(gross: Decimal | None, needed: int) -> None:
    assert lifecycle.approvals_needed(gross, THRESHOLD) == needed


def test_at_the_threshold_one_approval_suffices() -> None:
    assert lifecycle.approval(7, "alice", [], AT_THRESHOLD, THRESHOLD) == ApprovalOutcome(
        Status.APPROVED, 1, 1)


def test_without_a_gross_total_one_approval_suffices() -> None:
    assert lifecycle.approval(7, "alice", [], None, THRESHOLD) == ApprovalOutcome(
        Status.APPROVED, 1, 1)


def test_one_cent_above_two_different_people_are_needed() -> None:
    first = lifecycle.approval(7, "alice", [], CENT_ABOVE, THRESHOLD)
    assert first == ApprovalOutcome(Status.PENDING, 1, 2)
    with pytest.raises(WorkflowError) as twice:
        lifecycle.approval(7, "alice", ["alice"], CENT_ABOVE, THRESHOLD)
    assert str(twice.value) == ("alice has already approved invoice 7; a second approval must "
                                "come from someone else")
    assert lifecycle.approval(7, "bob", ["alice"], CENT_ABOVE, THRESHOLD) == ApprovalOutcome(
        Status.APPROVED, 2, 2)


def test_nobody_counts_twice() -> None:
    # the earlier approvals are people, not rows: the same name twice is one person
    assert lifecycle.approval(7, "bob", ["alice", "alice"], CENT_ABOVE, THRESHOLD) == (
        ApprovalOutcome(Status.APPROVED, 2, 2))
    assert lifecycle.approval(7, "bob", iter(["alice"]), CENT_ABOVE, THRESHOLD).have == 2


# ------------------------------------------------------------------ ingest decisions

@pytest.mark.parametrize(("verdict", "status"), [
    (Verdict.ACCEPT, Status.PENDING), (Verdict.REJECT, Status.INVALID),
    (Verdict.UNDEFINED, Status.RECEIVED), (None, Status.RECEIVED)])
def test_status_after_validation(verdict: Verdict | None, status: Status) -> None:
    assert lifecycle.status_after_validation(verdict) is status


def invoice(**fields: object) -> Invoice:
    base: dict[str, object] = {
        "number": "R-2026-001", "type_code": "380", "issue_date": date(2026, 1, 31),
        "seller": Seller(name="Muster GmbH", vat_id="DE123456789"),
        "totals": Totals(with_vat=Decimal("119.00"))}
    base.update(fields)
    return Invoice.model_validate(base)


@pytest.mark.parametrize(("seller", "key"), [
    (Seller(vat_id="de 123 456 789", name="Muster GmbH"), "DE123456789"),
    (Seller(vat_id="DE123456789"), "DE123456789"),
    (Seller(name="  Muster \t GmbH\n& Co.  KG "), "muster gmbh & co. kg"),
    (Seller(name="Straßenbau MÜLLER"), "strassenbau müller"),  # casefold, not lower
    (Seller(vat_id="", name="Muster GmbH"), "muster gmbh"),
    (Seller(), None),
    (Seller(vat_id="", name=""), None),
])
def test_seller_key_normalisation(seller: Seller, key: str | None) -> None:
    assert lifecycle.seller_key(invoice(seller=seller)) == key


def test_duplicate_key_is_seller_number_type_and_gross_total() -> None:
    base = invoice()
    assert lifecycle.duplicate_key(base) == DuplicateKey(
        "DE123456789", "R-2026-001", "380", Decimal("119.00"))
    # each of the four fields alone makes another key ...
    differing = [
        invoice(seller=Seller(name="Muster GmbH", vat_id="DE999999999")),
        invoice(number="R-2026-002"),
        invoice(type_code="381"),
        invoice(totals=Totals(with_vat=Decimal("119.01"))),
    ]
    keys = [lifecycle.duplicate_key(m) for m in differing]
    assert keys == [
        DuplicateKey("DE999999999", "R-2026-001", "380", Decimal("119.00")),
        DuplicateKey("DE123456789", "R-2026-002", "380", Decimal("119.00")),
        DuplicateKey("DE123456789", "R-2026-001", "381", Decimal("119.00")),
        DuplicateKey("DE123456789", "R-2026-001", "380", Decimal("119.01")),
    ]
    # ... while nothing else does
    same = invoice(issue_date=date(2026, 2, 1), due_date=date(2026, 3, 1), buyer_reference="x",
                   seller=Seller(name="Other name", vat_id="DE 123456789"),
                   totals=Totals(with_vat=Decimal("119.0"), without_vat=Decimal("100")))
    assert lifecycle.duplicate_key(same) == lifecycle.duplicate_key(base)


def test_duplicate_key_allows_a_missing_type_code() -> None:
    assert lifecycle.duplicate_key(invoice(type_code=None)) == DuplicateKey(
        "DE123456789", "R-2026-001", None, Decimal("119.00"))


@pytest.mark.parametrize("missing", [
    {"seller": Seller()}, {"number": None}, {"totals": Totals()},
    {"number": None, "totals": Totals()}, {"seller": Seller(), "totals": Totals()}])
def test_no_duplicate_key_without_seller_number_or_gross_total(missing: dict[str, object]) -> None:
    assert lifecycle.duplicate_key(invoice(**missing)) is None


@pytest.mark.parametrize(("fields", "days", "expected"), [
    ({"due_date": date(2026, 2, 14)}, 30, date(2026, 2, 14)),       # BT-9 wins
    ({"due_date": date(2026, 1, 15)}, 30, date(2026, 1, 15)),       # even before the issue date
    ({}, 30, date(2026, 3, 2)),                                     # 31 Jan + 30 days
    ({}, 0, date(2026, 1, 31)),
    ({}, 14, date(2026, 2, 14)),
    ({"issue_date": None}, 30, None),
    ({"issue_date": None, "due_date": date(2026, 4, 1)}, 30, date(2026, 4, 1)),
])
def test_pay_by(fields: dict[str, object], days: int, expected: date | None) -> None:
    assert lifecycle.pay_by(invoice(**fields), days) == expected


SKONTO = "#SKONTO#TAGE=14#PROZENT=2.00#\n#SKONTO#TAGE=7#PROZENT=3.00#\n#SKONTO#TAGE=21#PROZENT=1#\n"


def test_skonto_deadline_is_the_shortest_term_from_the_invoice_date() -> None:
    assert lifecycle.skonto_deadline(invoice(payment_terms=SKONTO)) == (
        date(2026, 2, 7), Decimal("3.00"))
    assert lifecycle.skonto_deadline(invoice(payment_terms="#SKONTO#TAGE=10#PROZENT=2.5#")) == (
        date(2026, 2, 10), Decimal("2.5"))
    # counted from the invoice date even when a due date is given
    assert lifecycle.skonto_deadline(invoice(payment_terms=SKONTO, due_date=date(2026, 5, 1))) == (
        date(2026, 2, 7), Decimal("3.00"))


@pytest.mark.parametrize("fields", [
    {}, {"payment_terms": "Zahlbar innerhalb 30 Tagen"},
    {"payment_terms": SKONTO, "issue_date": None}])
def test_no_skonto_deadline(fields: dict[str, object]) -> None:
    assert lifecycle.skonto_deadline(invoice(**fields)) is None


ROUTES = {"05117000": "Kämmerei", "05117000-TIEFBAU": "Tiefbauamt"}


def test_decide_ingest_unreadable_is_quarantined() -> None:
    assert lifecycle.decide_ingest(None, Verdict.ACCEPT, None, ROUTES, 30) == IngestDecision(
        Status.QUARANTINED)


def test_decide_ingest_fills_every_value() -> None:
    model = invoice(payment_terms=SKONTO, buyer_reference="05117000-TIEFBAU-56",
                    buyer_accounting_reference="4711")
    assert lifecycle.decide_ingest(model, Verdict.ACCEPT, None, ROUTES, 30) == IngestDecision(
        status=Status.PENDING, office="Tiefbauamt", pay_by=date(2026, 3, 2),
        skonto_until=date(2026, 2, 7), skonto_percent=Decimal("3.00"), account="4711")


@pytest.mark.parametrize(("verdict", "duplicate_of", "status"), [
    (Verdict.ACCEPT, None, Status.PENDING), (Verdict.REJECT, None, Status.INVALID),
    (Verdict.UNDEFINED, None, Status.RECEIVED), (None, None, Status.RECEIVED),
    (Verdict.ACCEPT, 5, Status.DUPLICATE), (Verdict.REJECT, 5, Status.DUPLICATE),
    (None, 5, Status.DUPLICATE)])
def test_decide_ingest_status(verdict: Verdict | None, duplicate_of: int | None,
                              status: Status) -> None:
    model = invoice(buyer_reference="09162000-18", due_date=date(2026, 2, 28))
    assert lifecycle.decide_ingest(model, verdict, duplicate_of, ROUTES, 30) == IngestDecision(
        status=status, office=None, pay_by=date(2026, 2, 28))


# ------------------------------------------------------------------ supplier warnings

KNOWN = "DE02120300000000202051"
OTHER = "DE89370400440532013000"
UNKNOWN_SUPPLIER = "unbekannter Lieferant / unknown supplier"


def test_normalise_iban() -> None:
    assert lifecycle.normalise_iban(" de89 3704 0044 0532 0130 00 ") == OTHER


@pytest.mark.parametrize(("iban", "ok"), [
    (OTHER, True), ("DE89 3704 0044 0532 0130 00", True), ("de89370400440532013000", True),
    ("DE89370400440532013001", False), ("DE00 1234", False), ("", False), ("not an iban", False)])
def test_iban_ok(iban: str, ok: bool) -> None:
    assert lifecycle.iban_ok(iban) is ok


@pytest.mark.parametrize(("name", "ibans", "known", "flags"), [
    # a supplier not on file
    ("Muster GmbH", [], None, [UNKNOWN_SUPPLIER]),
    ("Muster GmbH", [OTHER], None, [UNKNOWN_SUPPLIER]),
    (None, [OTHER], None, []),
    ("", [], None, []),
    # on file: every IBAN must be valid and known
    ("Muster GmbH", [KNOWN], [KNOWN], []),
    ("Muster GmbH", [OTHER], [KNOWN], [f"neue IBAN / IBAN not on file {OTHER}"]),
    ("Muster GmbH", [OTHER], [], [f"neue IBAN / IBAN not on file {OTHER}"]),
    (None, [OTHER], [KNOWN], [f"neue IBAN / IBAN not on file {OTHER}"]),
    ("Muster GmbH", [KNOWN, OTHER], [KNOWN, OTHER], []),
    # IBANs compare normalised, on both sides
    ("Muster GmbH", ["de02 1203 0000 0000 2020 51"], [KNOWN], []),
    ("Muster GmbH", [KNOWN], ["DE02 1203 0000 0000 2020 51"], []),
    # an invalid IBAN is reported as such, known or not
    ("Muster GmbH", ["DE00 1234"], [KNOWN], ["ungültige IBAN / invalid IBAN DE00 1234"]),
    ("Muster GmbH", ["DE00 1234", OTHER], None,
     [UNKNOWN_SUPPLIER, "ungültige IBAN / invalid IBAN DE00 1234"]),
    ("Muster GmbH", ["DE89370400440532013001", OTHER, KNOWN], [KNOWN],
     ["ungültige IBAN / invalid IBAN DE89370400440532013001",
      f"neue IBAN / IBAN not on file {OTHER}"]),
])
def test_supplier_flags(name: str | None, ibans: list[str], known: list[str] | None,
                        flags: list[str]) -> None:
    assert lifecycle.supplier_flags(name, ibans, known) == flags
