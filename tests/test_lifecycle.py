"""The status machine, who may act, the approval rules and the ingest decisions of
``einvoice.lifecycle``, pinned at their boundaries: the table of allowed transitions with the
least role of each written out here (never read from the code under test), every role against
every action, the refusal messages word for word, four-eyes exactly at and one cent above the
threshold in EUR and after conversion, limits at and one cent above, the municipal steps in
order with the Anordnung never by the sachlich signer, approvals on behalf of a colleague, the
duplicate key field by field, the seller key, pay-by, Skonto and the supplier warnings."""

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
    Member,
    NotPermitted,
    Role,
    Signature,
    Status,
    WorkflowError,
)
from einvoice.lifecycle.ingest import status_after_revalidation
from einvoice.lifecycle.machine import _from
from einvoice.model import Invoice, Seller, Totals
from einvoice.validation.findings import Verdict

STATUSES = ["received", "pending", "invalid", "on_hold", "approved", "rejected", "exported",
            "duplicate", "quarantined", "closed", "paid"]
ROLES = ["viewer", "approver", "admin"]  # the staff roles, least first

# action: (statuses it may start from, where it leads (None: status unchanged), least role)
TABLE: dict[str, tuple[set[str], str | None, str]] = {
    "approve": ({"pending"}, "approved", "approver"),
    "reject": ({"pending", "on_hold"}, "rejected", "approver"),
    "hold": ({"pending"}, "on_hold", "approver"),
    "release": ({"on_hold"}, "pending", "approver"),
    "reassign": ({"received", "pending", "on_hold", "invalid"}, None, "approver"),
    "assign": ({"pending", "on_hold"}, None, "approver"),
    "close": ({"invalid", "duplicate", "quarantined"}, "closed", "approver"),
    "export": ({"approved"}, "exported", "system"),
    "pay": ({"exported"}, "paid", "approver"),
}
DOING = {"approve": "approving", "reject": "rejecting", "hold": "holding",
         "release": "releasing", "reassign": "reassigning", "assign": "assigning",
         "close": "closing", "export": "exporting", "pay": "paying"}

THRESHOLD = Decimal("5000")
AT_THRESHOLD = Decimal("5000.00")
CENT_ABOVE = Decimal("5000.01")
NO_RATES: dict[str, Decimal] = {}
RATES = {"USD": Decimal("0.5"), "CHF": Decimal("1.05")}  # EUR per unit


def covers(held: str, needed: str) -> bool:
    if "system" in (held, needed):
        return held == needed
    return ROLES.index(held) >= ROLES.index(needed)


def test_the_statuses_actions_and_roles_are_exactly_these() -> None:
    assert sorted(s.value for s in Status) == sorted(STATUSES)
    assert sorted(a.value for a in Action) == sorted(TABLE)
    assert sorted(r.value for r in Role) == sorted(["system", *ROLES])
    assert [r.value for r in lifecycle.STAFF_ROLES] == ROLES


@pytest.mark.parametrize("held", ["system", *ROLES])
@pytest.mark.parametrize("needed", ["system", *ROLES])
def test_a_role_covers_the_roles_below_it_and_the_service_only_its_own(held: str,
                                                                       needed: str) -> None:
    assert lifecycle.role_covers(Role(held), Role(needed)) is covers(held, needed)


@pytest.mark.parametrize("action", sorted(TABLE))
def test_transition_table(action: str) -> None:
    sources, target, role = TABLE[action]
    rule = lifecycle.TRANSITIONS[Action(action)]
    assert (sorted(rule.sources), rule.target, rule.role) == (sorted(sources), target, role)
    allowed_text = ", ".join(sorted(sources))
    for held in ["system", *ROLES]:
        for status in STATUSES:
            if not covers(held, role):
                with pytest.raises(WorkflowError) as wrong_role:
                    lifecycle.check_transition(Action(action), status, Role(held), 7)
                assert str(wrong_role.value) == f"{action} is taken by {role}, not by {held}"
            elif status in sources:
                lifecycle.check_transition(Action(action), status, Role(held), 7)
            else:
                with pytest.raises(WorkflowError) as refused:
                    lifecycle.check_transition(Action(action), status, Role(held), 7)
                assert str(refused.value) == (
                    f"invoice 7 is {status}: cannot {action} (allowed from {allowed_text})")


def test_status_sets_are_built_from_the_given_statuses() -> None:
    assert _from(Status.PENDING, Status.ON_HOLD) == frozenset({"pending", "on_hold"})
    assert sorted(lifecycle.NOT_ORIGINALS) == ["closed", "invalid", "quarantined", "rejected"]


# ------------------------------------------------------------------ who may act

def test_a_member_holds_what_the_register_says() -> None:
    assert Member("mueller", Role.APPROVER) == Member(
        "mueller", Role.APPROVER, True, None, frozenset(), frozenset(), 0)


@pytest.mark.parametrize("action", sorted(TABLE))
@pytest.mark.parametrize("held", ROLES)
def test_who_may_take_an_action(action: str, held: str) -> None:
    needed = TABLE[action][2]
    member = Member("mueller", Role(held))
    if covers(held, needed):
        assert lifecycle.authorise("mueller", member, Action(action), "Kämmerei") is member
        return
    with pytest.raises(NotPermitted) as refused:
        lifecycle.authorise("mueller", member, Action(action), "Kämmerei")
    assert str(refused.value) == (f"mueller has the role {held}: {DOING[action]} needs the "
                                  f"role {needed}")


@pytest.mark.parametrize("action", sorted(TABLE))
def test_an_unknown_or_disabled_account_may_do_nothing(action: str) -> None:
    needed = TABLE[action][2]
    with pytest.raises(NotPermitted) as unknown:
        lifecycle.authorise("mueller", None, Action(action), "Kämmerei")
    assert str(unknown.value) == (f"mueller is not on the staff register: {DOING[action]} "
                                  f"needs the role {needed}")
    with pytest.raises(NotPermitted) as disabled:
        lifecycle.authorise("mueller", Member("mueller", Role.ADMIN, active=False),
                            Action(action), "Kämmerei")
    assert str(disabled.value) == (f"mueller is disabled in the staff register: "
                                   f"{DOING[action]} is refused")


def test_require_names_what_is_done() -> None:
    admin = Member("root", Role.ADMIN)
    assert lifecycle.require("root", admin, Role.ADMIN, "keeping the register") is admin
    assert lifecycle.require("root", admin, Role.VIEWER, "reading") is admin
    with pytest.raises(NotPermitted, match=r"^bob has the role approver: acting on behalf of "
                                           r"carol needs the role admin$"):
        lifecycle.require("bob", Member("bob", Role.APPROVER), Role.ADMIN,
                          "acting on behalf of carol")


@pytest.mark.parametrize(("office", "allowed"), [
    ("Tiefbauamt", True), ("Kämmerei", True), ("Tiefbau", False), ("Bauamt", False),
    (None, False)])
def test_offices_restrict_whose_invoices_a_person_acts_on(office: str | None,
                                                          allowed: bool) -> None:
    member = Member("mueller", Role.APPROVER, offices=frozenset({"Tiefbauamt", "Kämmerei"}))
    if allowed:
        assert lifecycle.authorise("mueller", member, Action.HOLD, office) is member
        return
    with pytest.raises(NotPermitted) as refused:
        lifecycle.authorise("mueller", member, Action.HOLD, office)
    shown = office or "no office (unassigned)"
    assert str(refused.value) == (f"mueller acts for Kämmerei, Tiefbauamt only: this invoice "
                                  f"is with {shown}")


@pytest.mark.parametrize("office", ["Tiefbauamt", "", None])
def test_no_offices_means_every_office(office: str | None) -> None:
    member = Member("mueller", Role.APPROVER)
    assert lifecycle.authorise("mueller", member, Action.APPROVE, office) is member


# ------------------------------------------------------------------ four-eyes in EUR

@pytest.mark.parametrize(("amount", "currency", "euro"), [
    (Decimal("100.00"), "EUR", Decimal("100.00")),
    (Decimal("10000.01"), "USD", Decimal("5000.005")),  # exact: never rounded
    (Decimal("-20"), "USD", Decimal("-10.0")),
    (Decimal("100"), "CHF", Decimal("105.00")),
    (Decimal("100"), "GBP", None), (Decimal("100"), None, None), (Decimal("100"), "", None)])
def test_in_euro(amount: Decimal, currency: str | None, euro: Decimal | None) -> None:
    assert lifecycle.in_euro(amount, currency, RATES) == euro


@pytest.mark.parametrize(("gross", "currency", "rates", "needed"), [
    (AT_THRESHOLD, "EUR", NO_RATES, 1), (CENT_ABOVE, "EUR", NO_RATES, 2),
    (Decimal("4999.99"), "EUR", NO_RATES, 1), (Decimal("0"), "EUR", NO_RATES, 1),
    (Decimal("-9999"), "EUR", NO_RATES, 1), (Decimal("1000000"), "EUR", NO_RATES, 2),
    (None, "EUR", NO_RATES, 1), (None, "USD", NO_RATES, 1),
    # converted: exactly at the threshold, one cent above, half a cent above
    (Decimal("10000.00"), "USD", RATES, 1), (Decimal("10000.02"), "USD", RATES, 2),
    (Decimal("10000.01"), "USD", RATES, 2), (Decimal("9999.98"), "USD", RATES, 1),
    # a currency without a rate needs two, whatever the amount
    (Decimal("1.00"), "USD", NO_RATES, 2), (Decimal("1.00"), "GBP", RATES, 2),
    (Decimal("1.00"), None, RATES, 2), (Decimal("-1.00"), "GBP", RATES, 2)])
def test_approvals_needed(gross: Decimal | None, currency: str | None,
                          rates: dict[str, Decimal], needed: int) -> None:
    assert lifecycle.approvals_needed(gross, currency, THRESHOLD, rates) == needed


def test_the_threshold_is_the_one_given() -> None:
    assert lifecycle.approvals_needed(Decimal("100.01"), "EUR", Decimal("100"), NO_RATES) == 2
    assert lifecycle.approvals_needed(Decimal("100.00"), "EUR", Decimal("100"), NO_RATES) == 1


# ------------------------------------------------------------------ the approval procedure

PLAIN_1 = lifecycle.procedure([], 1)
PLAIN_2 = lifecycle.procedure([], 2)
STEPS = ["sachlich", "rechnerisch", "anordnung"]
MUNICIPAL = lifecycle.procedure(STEPS, 2)


def sig(step: str, by: str, on_behalf_of: str | None = None) -> Signature:
    return Signature(step, by, on_behalf_of)


def test_procedures() -> None:
    assert PLAIN_1 == (("approve", 1),) and PLAIN_2 == (("approve", 2),)
    assert MUNICIPAL == (("sachlich", 1), ("rechnerisch", 1), ("anordnung", 1))
    assert lifecycle.procedure(["sachlich", "anordnung"], 1) == (("sachlich", 1),
                                                                 ("anordnung", 1))


def test_the_people_of_a_signature() -> None:
    assert sig("approve", "alice").people == frozenset({"alice"})
    assert sig("approve", "root", "bob").people == frozenset({"root", "bob"})


@pytest.mark.parametrize(("plan", "done", "expected"), [
    (PLAIN_2, [], "approve"), (PLAIN_2, [sig("approve", "alice")], "approve"),
    (PLAIN_2, [sig("approve", "alice"), sig("approve", "bob")], None),
    (PLAIN_1, [sig("approve", "alice")], None), (PLAIN_1, [], "approve"),
    (MUNICIPAL, [], "sachlich"), (MUNICIPAL, [sig("approve", "alice")], "sachlich"),
    (MUNICIPAL, [sig("sachlich", "alice")], "rechnerisch"),
    (MUNICIPAL, [sig("sachlich", "alice"), sig("rechnerisch", "alice")], "anordnung"),
    (MUNICIPAL, [sig("sachlich", "a"), sig("rechnerisch", "a"), sig("anordnung", "b")], None),
    (MUNICIPAL, [sig("rechnerisch", "alice")], "sachlich")])
def test_next_step(plan: tuple[tuple[str, int], ...], done: list[Signature],
                   expected: str | None) -> None:
    assert lifecycle.next_step(plan, done) == expected
    assert lifecycle.next_step(plan, iter(done)) == expected


def approval(new: Signature, earlier: list[Signature],
             plan: tuple[tuple[str, int], ...] = PLAIN_2) -> ApprovalOutcome:
    return lifecycle.approval(7, new, earlier, plan)


def refused(new: Signature, earlier: list[Signature],
            plan: tuple[tuple[str, int], ...] = PLAIN_2) -> str:
    with pytest.raises(WorkflowError) as no:
        approval(new, earlier, plan)
    return str(no.value)


def test_at_the_threshold_one_approval_suffices() -> None:
    assert approval(sig("approve", "alice"), [], PLAIN_1) == ApprovalOutcome(
        Status.APPROVED, 1, 1, None)


def test_one_cent_above_two_different_people_are_needed() -> None:
    assert approval(sig("approve", "alice"), []) == ApprovalOutcome(
        Status.PENDING, 1, 2, "approve")
    assert refused(sig("approve", "alice"), [sig("approve", "alice")]) == (
        "alice has already approved invoice 7; a second approval must come from someone else")
    assert approval(sig("approve", "bob"), [sig("approve", "alice")]) == ApprovalOutcome(
        Status.APPROVED, 2, 2, None)


def test_an_approval_on_behalf_never_counts_as_one_of_the_four_eyes() -> None:
    assert refused(sig("approve", "root", "bob"), [sig("approve", "alice")]) == (
        "invoice 7 needs 2 approvals given in person: one on behalf of bob does not count")
    assert refused(sig("approve", "root", "bob"), []) == (
        "invoice 7 needs 2 approvals given in person: one on behalf of bob does not count")
    # where one approval is enough, the admin's approval for the colleague is that one
    assert approval(sig("approve", "root", "bob"), [], PLAIN_1) == ApprovalOutcome(
        Status.APPROVED, 1, 1, None)


def test_nobody_signs_a_step_twice_in_person_or_through_someone() -> None:
    assert refused(sig("approve", "root", "alice"), [sig("approve", "alice")]) == (
        "alice has already approved invoice 7; a second approval must come from someone else")
    assert refused(sig("approve", "alice"), [sig("approve", "root", "alice")], PLAIN_1) == (
        "alice has already approved invoice 7; a second approval must come from someone else")
    assert refused(sig("approve", "root"), [sig("approve", "root", "alice")], PLAIN_1) == (
        "root has already approved invoice 7; a second approval must come from someone else")
    # of several people signed twice, the first by name is named
    assert refused(sig("approve", "zed", "amy"), [sig("approve", "zed"), sig("approve", "amy")],
                   (("approve", 3),)).startswith("amy has already approved")


def test_when_the_settings_changed_the_last_step_takes_the_signature() -> None:
    # approved by one when two were needed, then the threshold was raised
    assert approval(sig("approve", "bob"), [sig("approve", "alice")], PLAIN_1) == (
        ApprovalOutcome(Status.APPROVED, 2, 1, None))
    done = [sig("sachlich", "a"), sig("rechnerisch", "a"), sig("anordnung", "b")]
    assert approval(sig("anordnung", "c"), done, MUNICIPAL) == ApprovalOutcome(
        Status.APPROVED, 2, 1, None)
    assert refused(sig("sachlich", "c"), done, MUNICIPAL) == (
        "invoice 7: the next step is anordnung, not sachlich")


def test_the_municipal_steps_in_order() -> None:
    assert approval(sig("sachlich", "alice"), [], MUNICIPAL) == ApprovalOutcome(
        Status.PENDING, 1, 1, "rechnerisch")
    done = [sig("sachlich", "alice")]
    # sachlich and rechnerisch richtig may come from one person
    assert approval(sig("rechnerisch", "alice"), done, MUNICIPAL) == ApprovalOutcome(
        Status.PENDING, 1, 1, "anordnung")
    done.append(sig("rechnerisch", "alice"))
    assert approval(sig("anordnung", "bob"), done, MUNICIPAL) == ApprovalOutcome(
        Status.APPROVED, 1, 1, None)


@pytest.mark.parametrize(("new", "expected"), [
    (sig("anordnung", "alice"), "the next step is sachlich, not anordnung"),
    (sig("rechnerisch", "alice"), "the next step is sachlich, not rechnerisch"),
    (sig("approve", "alice"), "the next step is sachlich, not approve")])
def test_steps_are_signed_in_order(new: Signature, expected: str) -> None:
    assert refused(new, [], MUNICIPAL) == f"invoice 7: {expected}"


def test_a_plain_approval_has_no_steps() -> None:
    assert refused(sig("sachlich", "alice"), [], PLAIN_1) == (
        "invoice 7: the next step is approve, not sachlich")


@pytest.mark.parametrize(("sachlich", "anordnung", "who"), [
    (sig("sachlich", "alice"), sig("anordnung", "alice"), "alice"),
    (sig("sachlich", "alice"), sig("anordnung", "root", "alice"), "alice"),
    (sig("sachlich", "root", "alice"), sig("anordnung", "root"), "root"),
    (sig("sachlich", "root", "alice"), sig("anordnung", "alice"), "alice"),
    (sig("sachlich", "root", "zed"), sig("anordnung", "zed", "root"), "root")])
def test_the_anordnung_never_by_the_sachlich_signer(sachlich: Signature, anordnung: Signature,
                                                    who: str) -> None:
    done = [sachlich, sig("rechnerisch", "carol")]
    assert refused(anordnung, done, MUNICIPAL) == (
        f"{who} signed sachlich richtig for invoice 7: the Anordnung must come from someone "
        "else")
    # the rechnerisch signer may give the Anordnung
    assert approval(sig("anordnung", "carol"), done, MUNICIPAL).status is Status.APPROVED


def test_two_steps_without_rechnerisch() -> None:
    plan = lifecycle.procedure(["sachlich", "anordnung"], 1)
    assert approval(sig("sachlich", "alice"), [], plan).next_step == "anordnung"
    assert refused(sig("anordnung", "alice"), [sig("sachlich", "alice")], plan).startswith(
        "alice signed sachlich richtig")
    assert approval(sig("anordnung", "bob"), [sig("sachlich", "alice")], plan).status is (
        Status.APPROVED)


# ------------------------------------------------------------------ who may sign, up to what

LIMITED = Member("mueller", Role.APPROVER, limit=Decimal("1000"),
                 steps=frozenset({"sachlich", "anordnung"}))


def may_sign(member: Member, step: str, gross: Decimal | None, currency: str | None = "EUR",
             rates: dict[str, Decimal] = RATES) -> None:
    lifecycle.may_sign(member, step, gross, currency, rates, 7)


@pytest.mark.parametrize("step", ["sachlich", "anordnung", "approve"])
def test_a_step_needs_its_permission(step: str) -> None:
    may_sign(LIMITED, step, Decimal("1"))


def test_a_step_without_its_permission_is_refused() -> None:
    with pytest.raises(NotPermitted) as refused_:
        may_sign(LIMITED, "rechnerisch", Decimal("1"))
    assert str(refused_.value) == ("mueller may not sign the step rechnerisch (einvoice staff "
                                   "add mueller --step rechnerisch grants it)")
    may_sign(Member("x", Role.ADMIN), "approve", Decimal("1"))
    with pytest.raises(NotPermitted, match=r"^x may not sign the step sachlich"):
        may_sign(Member("x", Role.ADMIN), "sachlich", Decimal("1"))  # admins too need it


@pytest.mark.parametrize(("gross", "currency"), [
    (Decimal("1000.00"), "EUR"), (Decimal("999.99"), "EUR"), (Decimal("2000.00"), "USD"),
    (None, "EUR"), (None, "GBP"), (Decimal("-5000"), "EUR")])
def test_an_approval_within_the_limit(gross: Decimal | None, currency: str) -> None:
    may_sign(LIMITED, "approve", gross, currency)
    may_sign(LIMITED, "sachlich", gross, currency)


@pytest.mark.parametrize(("gross", "currency", "euro"), [
    (Decimal("1000.01"), "EUR", "1000.01"), (Decimal("2000.02"), "USD", "1000.01"),
    (Decimal("2000.01"), "USD", "1000.005"), (Decimal("1E+4"), "EUR", "10000")])
def test_an_approval_above_the_limit_is_refused(gross: Decimal, currency: str,
                                                euro: str) -> None:
    for step in ("approve", "anordnung"):
        with pytest.raises(NotPermitted) as refused_:
            may_sign(LIMITED, step, gross, currency)
        assert str(refused_.value) == (
            f"mueller may approve up to 1000 EUR: invoice 7 is {euro} EUR; nothing recorded, "
            "someone whose limit covers it must approve")


def test_a_limit_cannot_be_applied_without_a_rate() -> None:
    with pytest.raises(NotPermitted) as refused_:
        may_sign(LIMITED, "approve", Decimal("1.00"), "GBP")
    assert str(refused_.value) == ("mueller may approve up to 1000 EUR: invoice 7 is in GBP and "
                                   "`eur_rates` has no rate for it; nothing recorded")
    may_sign(Member("boss", Role.APPROVER), "approve", Decimal("1.00"), "GBP")  # no limit


def test_a_limit_of_zero() -> None:
    zero = Member("azubi", Role.APPROVER, limit=Decimal("0"))
    may_sign(zero, "approve", Decimal("0.00"))
    with pytest.raises(NotPermitted, match=r"^azubi may approve up to 0 EUR: invoice 7 is 0.01"):
        may_sign(zero, "approve", Decimal("0.01"))


# ------------------------------------------------------------------ ingest decisions

@pytest.mark.parametrize(("verdict", "status"), [
    (Verdict.ACCEPT, Status.PENDING), (Verdict.REJECT, Status.INVALID),
    (Verdict.UNDEFINED, Status.RECEIVED), (None, Status.RECEIVED)])
def test_status_after_validation(verdict: Verdict | None, status: Status) -> None:
    assert lifecycle.status_after_validation(verdict) is status


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("verdict", [Verdict.ACCEPT, Verdict.REJECT, Verdict.UNDEFINED, None])
def test_status_after_revalidation(status: str, verdict: Verdict | None) -> None:
    """Validated again, only a document still received moves, and only once it has a verdict
    (pending, invalid); one moved meanwhile is not the re-validation's to change."""
    moves = {Verdict.ACCEPT: Status.PENDING, Verdict.REJECT: Status.INVALID}
    expected = moves.get(verdict) if status == "received" and verdict is not None else None
    assert status_after_revalidation(status, verdict) is expected


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
        "DE123456789", "r-2026-001", "380", Decimal("119.00"))
    # each of the four fields alone makes another key ...
    differing = [
        invoice(seller=Seller(name="Muster GmbH", vat_id="DE999999999")),
        invoice(number="R-2026-002"),
        invoice(type_code="381"),
        invoice(totals=Totals(with_vat=Decimal("119.01"))),
    ]
    keys = [lifecycle.duplicate_key(m) for m in differing]
    assert keys == [
        DuplicateKey("DE999999999", "r-2026-001", "380", Decimal("119.00")),
        DuplicateKey("DE123456789", "r-2026-002", "380", Decimal("119.00")),
        DuplicateKey("DE123456789", "r-2026-001", "381", Decimal("119.00")),
        DuplicateKey("DE123456789", "r-2026-001", "380", Decimal("119.01")),
    ]
    # ... while nothing else does
    same = invoice(issue_date=date(2026, 2, 1), due_date=date(2026, 3, 1), buyer_reference="x",
                   seller=Seller(name="Other name", vat_id="DE 123456789"),
                   totals=Totals(with_vat=Decimal("119.0"), without_vat=Decimal("100")))
    assert lifecycle.duplicate_key(same) == lifecycle.duplicate_key(base)


def test_duplicate_key_allows_a_missing_type_code() -> None:
    assert lifecycle.duplicate_key(invoice(type_code=None)) == DuplicateKey(
        "DE123456789", "r-2026-001", None, Decimal("119.00"))


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


@pytest.mark.parametrize("status", STATUSES)
def test_the_pay_by_date_a_supplier_is_told(status: str) -> None:
    """Only while the invoice is on its way to being paid: not for one that will not be paid,
    is not checked yet, or is paid."""
    day = date(2026, 4, 1)
    expected = day if status in {"pending", "on_hold", "approved", "exported"} else None
    assert lifecycle.expected_payment(status, day) == expected
    assert lifecycle.expected_payment(status, None) is None


def test_a_payment_is_recorded_up_to_today_never_on_a_day_to_come() -> None:
    today = date(2026, 3, 10)
    for day in (today, date(2026, 3, 9), date(2020, 1, 1)):
        lifecycle.check_paid_on(day, today, 7)
    with pytest.raises(WorkflowError) as refused:
        lifecycle.check_paid_on(date(2026, 3, 11), today, 7)
    assert str(refused.value) == ("invoice 7: payment date 2026-03-11 is in the future (today is "
                                  "2026-03-10)")


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
