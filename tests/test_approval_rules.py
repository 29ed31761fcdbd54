"""The approval rules through the workflow, on SQLite and PostgreSQL: every allowed (action,
status) pair succeeds and every other status is refused without changing anything (table
written out in ``tests.test_lifecycle``); who may act (unknown, disabled, viewer, offices,
limits, admins acting on behalf of a colleague) refused with nothing changed; four-eyes at and
one cent above the threshold, in EUR and converted; the municipal steps in order; two people
acting at once; the supplier master and the suppliers' upload tokens.

Invoices are written as rows (with their ingest audit event) rather than ingested from the
corpus: these rules do not depend on the document, and mutation testing runs them often. The
staff register of ``ctx`` holds alice, bob and carol as approvers (``tests.conftest``)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, func, select

from einvoice import lifecycle
from einvoice.approval import payments, tokens, workflow
from einvoice.approval.suppliers import SupplierData, SupplierError, save_supplier, suppliers
from einvoice.approval.workflow import Change, OnBehalf, WorkflowError
from einvoice.context import Context
from einvoice.errors import NotFound
from einvoice.lifecycle import NotPermitted, Signature
from einvoice.store import chain, retry
from einvoice.store import tables as t
from tests.conftest import register
from tests.test_lifecycle import STATUSES, TABLE

THRESHOLD = Decimal("5000")
SENDER = "Muster GmbH <rechnung@muster.example>"


@pytest.fixture
def staff(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Context:
    """A context with the four-eyes threshold at 5000, the admin ``boss``, the viewer ``vera``,
    the disabled ``dora``, ``tina`` of the Tiefbauamt and ``lim`` with a limit of 100 EUR;
    retries do not sleep."""
    ctx.settings.four_eyes_threshold = THRESHOLD
    register(ctx, "boss", role="admin")
    register(ctx, "vera", role="viewer")
    register(ctx, "dora", active=False)
    register(ctx, "tina", offices='["Tiefbauamt"]')
    register(ctx, "lim", amount_limit=Decimal("100"))
    monkeypatch.setattr(retry, "pause", lambda attempt: None)
    return ctx


def make_invoice(ctx: Context, status: str = "pending", gross: Decimal | None = Decimal("100.00"),
                 office: str | None = "Kämmerei", supplier_id: int | None = None,
                 **columns: Any) -> int:
    """An invoice row as the pipeline leaves it: submission (by mail, or uploaded with a token
    of ``supplier_id``), document, two lines and the ingest audit event."""
    digest = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    columns.setdefault("currency", "EUR")
    with Session(ctx.engine) as s:
        sub = t.Submission(sha256=digest, size=100, channel="mail", sender=SENDER,
                           supplier_id=supplier_id)
        s.add(sub)
        s.flush()
        assert sub.id is not None
        doc = t.Document(submission_id=sub.id, sha256=digest, size=100, filename="r.xml",
                         kind="ubl-invoice")
        s.add(doc)
        s.flush()
        assert doc.id is not None
        inv = t.Invoice(document_id=doc.id, status=status, number=f"R-{digest[:8]}",
                        gross_total=gross, office=office, seller_name="Muster GmbH", **columns)
        s.add(inv)
        s.flush()
        assert inv.id is not None
        s.add_all([t.InvoiceLine(invoice_id=inv.id, position=pos, line_id=str(pos))
                   for pos in (1, 2)])
        chain.append(s.connection(), invoice_id=inv.id, actor="einvoice", action="ingest",
                     before=None, after=status)
        s.commit()
        return inv.id


@dataclass(frozen=True)
class State:
    """Everything an action may change."""

    status: str
    version: int
    updated_at: datetime
    office: str | None
    account: str | None
    cost_centre: str | None
    note: str | None
    line_accounts: tuple[str | None, ...]
    events: int
    approvals: tuple[tuple[str, str, int | None], ...]  # (step, signer, on behalf of: staff id)
    notices: int


def staff_id(ctx: Context, login: str) -> int:
    with Session(ctx.engine) as s:
        return s.exec(select(t.Staff.id).where(t.Staff.login == login)).one() or 0


def state(ctx: Context, invoice_id: int) -> State:
    with Session(ctx.engine) as s:
        inv = s.get(t.Invoice, invoice_id)
        assert inv is not None
        lines = s.exec(select(t.InvoiceLine.account)
                       .where(t.InvoiceLine.invoice_id == invoice_id)
                       .order_by(col(t.InvoiceLine.position))).all()
        approvals = s.exec(select(t.Approval.step, t.Staff.login, t.Approval.on_behalf_of_id)
                           .join(t.Staff, col(t.Staff.id) == t.Approval.staff_id)
                           .where(t.Approval.invoice_id == invoice_id)
                           .order_by(col(t.Approval.id))).all()
        return State(inv.status, inv.version, inv.updated_at, inv.office, inv.account,
                     inv.cost_centre, inv.note, tuple(lines),
                     s.exec(select(func.count()).select_from(t.AuditEvent)).one(),
                     tuple(tuple(a) for a in approvals),
                     s.exec(select(func.count()).select_from(t.Notice)).one())


def last_event(ctx: Context) -> tuple[Any, ...]:
    with Session(ctx.engine) as s:
        ev = s.exec(select(t.AuditEvent).order_by(col(t.AuditEvent.id).desc())).first()
        assert ev is not None
        return (ev.invoice_id, ev.actor, ev.action, ev.reason, ev.before, ev.after, ev.detail)


def last_detail(ctx: Context) -> dict[str, Any]:
    detail = last_event(ctx)[-1]
    return json.loads(detail) if detail else {}


REASON = "Leistung nicht erbracht"
NOTE = "Lieferschein fehlt"
PAID_ON = date(2024, 1, 15)

Act = Callable[..., Change]
# what each staff action is called with (as ``who``), and what it writes
ACT: dict[str, Act] = {
    "approve": lambda ctx, i, who="alice", **kw: workflow.approve(ctx, i, who, **kw),
    "reject": lambda ctx, i, who="alice", **kw: workflow.reject(ctx, i, who, REASON, **kw),
    "hold": lambda ctx, i, who="alice", **kw: workflow.hold(ctx, i, who, NOTE, **kw),
    "release": lambda ctx, i, who="alice", **kw: workflow.release(ctx, i, who, **kw),
    "reassign": lambda ctx, i, who="alice", **kw: workflow.reassign(
        ctx, i, who, "Tiefbauamt", "falsche Stelle", **kw),
    "assign": lambda ctx, i, who="alice", **kw: workflow.assign(ctx, i, who, "4711", "KST-10",
                                                                **kw),
    "close": lambda ctx, i, who="alice", **kw: workflow.close(ctx, i, who, REASON, **kw),
    "pay": lambda ctx, i, who="alice", **kw: payments.pay(ctx, i, who, PAID_ON, **kw),
}
MESSAGE = {
    "approve": "invoice {i} approved",
    "reject": "invoice {i} rejected",
    "hold": "invoice {i} on hold",
    "release": "invoice {i} pending again",
    "reassign": "invoice {i} now with Tiefbauamt",
    "assign": "invoice {i}: assigned {{'account': '4711', 'cost_centre': 'KST-10'}}",
    "close": "invoice {i} closed",
    "pay": "invoice {i} paid on 2024-01-15",
}
# (reason, detail) of the audit event; an approval's detail is what was approved
AUDIT = {
    "approve": (None, "approved content"),
    "reject": (REASON, None),
    "hold": (NOTE, None),
    "release": (None, None),
    "reassign": ("falsche Stelle", '{"office": ["Kämmerei", "Tiefbauamt"]}'),
    "assign": (None, '{"account": "4711", "cost_centre": "KST-10", "line": null}'),
    "close": (REASON, None),
    "pay": (None, '{"paid_on": "2024-01-15", "source": "manual"}'),
}
# the columns the action sets: (office, account, cost_centre, note)
COLUMNS = {
    "reject": {"note": REASON},
    "close": {"note": REASON},
    "hold": {"note": NOTE},
    "reassign": {"office": "Tiefbauamt"},
    "assign": {"account": "4711", "cost_centre": "KST-10"},
}
# a status each action may start from
FROM = {action: sorted(sources)[0] for action, (sources, _, _) in TABLE.items()}


def test_every_staff_action_is_in_the_table() -> None:
    assert set(ACT) == {a for a, (_, _, role) in TABLE.items() if role != "system"}


def expected_event(ctx: Context, i: int, action: str, before: str, after: str,
                   who: str = "alice") -> None:
    reason, detail = AUDIT[action]
    got = last_event(ctx)
    assert got[:-1] == (i, who, action, reason, before, after)
    if action == "approve":
        assert isinstance(last_detail(ctx), dict) and "step" not in last_detail(ctx)
    else:
        assert got[-1] == detail


@pytest.mark.parametrize("action", sorted(ACT))
def test_every_status_through_the_workflow(staff: Context, action: str) -> None:
    sources, target, _ = TABLE[action]
    for status in STATUSES:
        i = make_invoice(staff, status)
        before = state(staff, i)
        if status not in sources:
            with pytest.raises(WorkflowError) as refused:
                ACT[action](staff, i)
            assert str(refused.value) == (f"invoice {i} is {status}: cannot {action} "
                                          f"(allowed from {', '.join(sorted(sources))})")
            assert state(staff, i) == before, (action, status)
            continue
        after = target or status
        change = ACT[action](staff, i)
        assert change == Change(i, action, status, after, MESSAGE[action].format(i=i))
        now = state(staff, i)
        expected = {"status": after, "version": before.version + 1,
                    "updated_at": now.updated_at, "events": before.events + 1,
                    "approvals": (("approve", "alice", None),) if action == "approve" else (),
                    "notices": before.notices + (action == "reject"), **COLUMNS.get(action, {})}
        assert now == State(**{**before.__dict__, **expected}), (action, status)
        assert now.updated_at > before.updated_at
        expected_event(staff, i, action, status, after)


def test_a_rejection_queues_the_notice_with_the_reason(staff: Context) -> None:
    staff.settings.timezone = "Asia/Tokyo"
    i = make_invoice(staff, received_at=datetime(2026, 1, 31, 23, 30, tzinfo=UTC))
    workflow.reject(staff, i, "alice", REASON)
    with Session(staff.engine) as s:
        notice = s.exec(select(t.Notice)).one()
    assert (notice.invoice_id, notice.kind, notice.recipient) == (
        i, "rejected", "rechnung@muster.example")
    assert REASON in notice.body
    # when it arrived, in the local time zone of the settings
    assert "01.02.2026, 08:30 Uhr" in notice.body and "(Asia/Tokyo time)" in notice.body


def test_the_rejection_of_an_invoice_with_an_iban_not_on_file_goes_to_the_finance_office(
        staff: Context) -> None:
    """Its sender may be someone posing as the supplier (``notify.recipient``): the notice goes
    to the finance office of the settings, not to the mail's sender."""
    staff.settings.finance_office_email = "Rechnungsprüfung <pruefung@stadt.example>"
    i = make_invoice(staff, ibans="DE02120300000000202051")  # the supplier is not on file
    workflow.reject(staff, i, "alice", REASON)
    with Session(staff.engine) as s:
        notice = s.exec(select(t.Notice)).one()
    assert (notice.invoice_id, notice.kind, notice.recipient) == (
        i, "rejected", "pruefung@stadt.example")


def test_reassign_of_an_approved_invoice_is_refused(staff: Context) -> None:
    i = make_invoice(staff)
    workflow.approve(staff, i, "alice")
    before = state(staff, i)
    with pytest.raises(WorkflowError, match=rf"^invoice {i} is approved: cannot reassign "
                                            r"\(allowed from invalid, on_hold, pending, "
                                            r"received\)$"):
        workflow.reassign(staff, i, "bob", "Tiefbauamt", None)
    assert state(staff, i) == before


def test_unknown_invoice(staff: Context) -> None:
    with pytest.raises(NotFound, match=r"^no invoice with id 999999$"):
        workflow.approve(staff, 999999, "alice")


# ------------------------------------------------------------------ who may act

def refused_for(ctx: Context, action: str, i: int, **kw: Any) -> str:
    """The refusal of ``action`` on invoice ``i``, which must change nothing."""
    before = state(ctx, i)
    with pytest.raises(NotPermitted) as refused:
        ACT[action](ctx, i, **kw)
    assert state(ctx, i) == before
    return str(refused.value)


DOING = {"approve": "approving", "reject": "rejecting", "hold": "holding",
         "release": "releasing", "reassign": "reassigning", "assign": "assigning",
         "close": "closing", "pay": "paying"}


@pytest.mark.parametrize("action", sorted(ACT))
def test_unknown_disabled_and_viewer_accounts_change_nothing(staff: Context,
                                                             action: str) -> None:
    i = make_invoice(staff, FROM[action])
    doing = DOING[action]
    assert refused_for(staff, action, i, who="mallory") == (
        f"mallory is not on the staff register: {doing} needs the role approver")
    assert refused_for(staff, action, i, who="ALICE") == (
        f"ALICE is not on the staff register: {doing} needs the role approver")
    assert refused_for(staff, action, i, who="dora") == (
        f"dora is disabled in the staff register: {doing} is refused")
    assert refused_for(staff, action, i, who="vera") == (
        f"vera has the role viewer: {doing} needs the role approver")
    ACT[action](staff, i, who="boss")  # an admin may


def test_the_account_is_checked_before_the_status(staff: Context) -> None:
    i = make_invoice(staff, "approved")
    assert refused_for(staff, "approve", i, who="vera").startswith("vera has the role viewer")


def test_an_office_restricts_whose_invoices_a_person_acts_on(staff: Context) -> None:
    theirs = make_invoice(staff, office="Kämmerei")
    unassigned = make_invoice(staff, office=None)
    assert refused_for(staff, "hold", theirs, who="tina") == (
        "tina acts for Tiefbauamt only: this invoice is with Kämmerei")
    assert refused_for(staff, "approve", unassigned, who="tina") == (
        "tina acts for Tiefbauamt only: this invoice is with no office (unassigned)")
    own = make_invoice(staff, office="Tiefbauamt")
    assert workflow.approve(staff, own, "tina").after == "approved"
    # handing an invoice of her office to another office is hers to do
    mine = make_invoice(staff, office="Tiefbauamt")
    assert workflow.reassign(staff, mine, "tina", "Kämmerei", None).after == "pending"


# ------------------------------------------------------------------ limits and currencies

def test_an_approval_counts_up_to_the_limit(staff: Context) -> None:
    at = make_invoice(staff, gross=Decimal("100.00"))
    assert workflow.approve(staff, at, "lim").after == "approved"
    above = make_invoice(staff, gross=Decimal("100.01"))
    assert refused_for(staff, "approve", above, who="lim") == (
        f"lim may approve up to 100 EUR: invoice {above} is 100.01 EUR; nothing recorded, "
        "someone whose limit covers it must approve")
    # the limit is the approver's: others may act on the invoice
    assert workflow.hold(staff, above, "lim", NOTE).after == "on_hold"


def test_a_limit_in_another_currency(staff: Context) -> None:
    staff.settings.eur_rates = {"USD": Decimal("0.5")}
    at = make_invoice(staff, gross=Decimal("200.00"), currency="USD")
    assert workflow.approve(staff, at, "lim").after == "approved"
    above = make_invoice(staff, gross=Decimal("200.02"), currency="USD")
    assert refused_for(staff, "approve", above, who="lim").startswith(
        f"lim may approve up to 100 EUR: invoice {above} is 100.01 EUR;")
    no_rate = make_invoice(staff, gross=Decimal("1.00"), currency="GBP")
    assert refused_for(staff, "approve", no_rate, who="lim") == (
        f"lim may approve up to 100 EUR: invoice {no_rate} is in GBP and `eur_rates` has no "
        "rate for it; nothing recorded")


@pytest.mark.parametrize(("gross", "currency", "needed"), [
    ("10000.00", "USD", 1), ("10000.02", "USD", 2), ("10000.01", "USD", 2),
    ("1.00", "GBP", 2), ("5000.00", "EUR", 1), ("5000.01", "EUR", 2)])
def test_four_eyes_in_eur(staff: Context, gross: str, currency: str, needed: int) -> None:
    staff.settings.eur_rates = {"USD": Decimal("0.5")}
    i = make_invoice(staff, gross=Decimal(gross), currency=currency)
    first = workflow.approve(staff, i, "alice")
    if needed == 1:
        assert first.after == "approved"
        return
    assert first.message == (f"invoice {i}: approval 1 of 2 (four-eyes rule); waiting for a "
                             "second person")
    assert workflow.approve(staff, i, "bob").after == "approved"


# ------------------------------------------------------------------ four-eyes

def test_at_the_threshold_one_approval_suffices(staff: Context) -> None:
    i = make_invoice(staff, gross=Decimal("5000.00"))
    assert workflow.approve(staff, i, "alice") == Change(
        i, "approve", "pending", "approved", f"invoice {i} approved")
    assert state(staff, i).approvals == (("approve", "alice", None),)


def test_without_a_gross_total_one_approval_suffices(staff: Context) -> None:
    i = make_invoice(staff, gross=None)
    assert workflow.approve(staff, i, "alice").after == "approved"


def test_one_cent_above_two_different_people_are_needed(staff: Context) -> None:
    i = make_invoice(staff, gross=Decimal("5000.01"))
    first = workflow.approve(staff, i, "alice")
    assert first == Change(i, "approve", "pending", "pending", f"invoice {i}: approval 1 of 2 "
                           "(four-eyes rule); waiting for a second person")
    assert last_event(staff)[:-1] == (i, "alice", "approve", None, "pending", "pending")
    before = state(staff, i)
    assert (before.status, before.approvals) == ("pending", (("approve", "alice", None),))
    with pytest.raises(WorkflowError) as twice:
        workflow.approve(staff, i, "alice")
    assert str(twice.value) == (f"alice has already approved invoice {i}; a second approval "
                                "must come from someone else")
    assert state(staff, i) == before
    assert workflow.approve(staff, i, "bob") == Change(
        i, "approve", "pending", "approved", f"invoice {i} approved")
    assert state(staff, i).approvals == (("approve", "alice", None), ("approve", "bob", None))


def test_four_eyes_counts_the_approvals_of_this_invoice_only(staff: Context) -> None:
    a = make_invoice(staff, gross=Decimal("9000"))
    b = make_invoice(staff, gross=Decimal("9000"))
    workflow.approve(staff, a, "alice")
    assert workflow.approve(staff, b, "alice").after == "pending"  # her first approval of b
    assert workflow.approve(staff, a, "bob").after == "approved"
    assert state(staff, b).approvals == (("approve", "alice", None),)


# ------------------------------------------------------------------ on behalf of a colleague

FOR_BOB = OnBehalf("bob", "Urlaub, Skonto läuft ab")


def test_an_admin_acts_for_an_absent_colleague(staff: Context) -> None:
    i = make_invoice(staff)
    assert workflow.approve(staff, i, "boss", on_behalf=FOR_BOB).after == "approved"
    assert state(staff, i).approvals == (("approve", "boss", staff_id(staff, "bob")),)
    assert last_event(staff)[1:3] == ("boss", "approve")
    detail = last_detail(staff)
    assert (detail["on_behalf_of"], detail["on_behalf_reason"]) == (
        "bob", "Urlaub, Skonto läuft ab")
    h = make_invoice(staff)
    workflow.hold(staff, h, "boss", NOTE, on_behalf=FOR_BOB)
    assert last_event(staff) == (h, "boss", "hold", NOTE, "pending", "on_hold",
                                 '{"on_behalf_of": "bob", "on_behalf_reason": '
                                 '"Urlaub, Skonto läuft ab"}')


@pytest.mark.parametrize("action", sorted(set(ACT) - {"approve"}))
def test_every_action_on_behalf_names_the_colleague_and_the_reason(staff: Context,
                                                                   action: str) -> None:
    i = make_invoice(staff, FROM[action])
    ACT[action](staff, i, who="boss", on_behalf=FOR_BOB)
    reason, detail = AUDIT[action]
    assert last_event(staff)[:4] == (i, "boss", action, reason)
    assert last_detail(staff) == {**json.loads(detail or "{}"), "on_behalf_of": "bob",
                                  "on_behalf_reason": "Urlaub, Skonto läuft ab"}


@pytest.mark.parametrize("action", sorted(set(ACT) - {"approve"}))
def test_every_action_on_behalf_is_held_to_the_colleagues_rights(staff: Context,
                                                                 action: str) -> None:
    i = make_invoice(staff, FROM[action])  # with the Kämmerei
    assert refused_for(staff, action, i, who="boss", on_behalf=OnBehalf("tina", "krank")) == (
        "tina acts for Tiefbauamt only: this invoice is with Kämmerei")


def test_an_approval_on_behalf_never_completes_four_eyes(staff: Context) -> None:
    i = make_invoice(staff, gross=Decimal("5000.01"))
    before = state(staff, i)
    with pytest.raises(WorkflowError) as refused:
        workflow.approve(staff, i, "boss", on_behalf=FOR_BOB)
    assert str(refused.value) == (f"invoice {i} needs 2 approvals given in person: one on "
                                  "behalf of bob does not count")
    assert state(staff, i) == before
    workflow.approve(staff, i, "alice")
    with pytest.raises(WorkflowError, match="one on behalf of bob does not count"):
        workflow.approve(staff, i, "boss", on_behalf=FOR_BOB)
    assert workflow.approve(staff, i, "boss").after == "approved"  # in person, she counts


def test_only_an_admin_acts_for_someone_and_only_in_their_rights(staff: Context) -> None:
    i = make_invoice(staff, gross=Decimal("100.01"))
    assert refused_for(staff, "approve", i, who="alice", on_behalf=FOR_BOB) == (
        "alice has the role approver: acting on behalf of bob needs the role admin")
    assert refused_for(staff, "approve", i, who="boss",
                       on_behalf=OnBehalf("ghost", "x")) == (
        "ghost is not on the staff register: approving needs the role approver")
    assert refused_for(staff, "approve", i, who="boss", on_behalf=OnBehalf("vera", "x")) == (
        "vera has the role viewer: approving needs the role approver")
    assert refused_for(staff, "approve", i, who="boss", on_behalf=OnBehalf("lim", "x")) == (
        f"lim may approve up to 100 EUR: invoice {i} is 100.01 EUR; nothing recorded, someone "
        "whose limit covers it must approve")
    assert refused_for(staff, "approve", i, who="boss", on_behalf=OnBehalf("tina", "x")) == (
        "tina acts for Tiefbauamt only: this invoice is with Kämmerei")


@pytest.mark.parametrize("reason", ["", "  "])
def test_acting_for_someone_needs_a_reason(staff: Context, reason: str) -> None:
    i = make_invoice(staff)
    before = state(staff, i)
    with pytest.raises(WorkflowError) as refused:
        workflow.approve(staff, i, "boss", on_behalf=OnBehalf("bob", reason))
    assert str(refused.value) == "acting on behalf of bob needs a reason"
    assert state(staff, i) == before


# ------------------------------------------------------------------ municipal steps

@pytest.fixture
def steps(staff: Context) -> Context:
    """The Tiefbauamt signs sachlich, rechnerisch, anordnung: alice and bob may sign each,
    carol only rechnerisch."""
    staff.settings.approval_steps = {"Tiefbauamt": ["sachlich", "rechnerisch", "anordnung"]}
    with staff.engine.begin() as conn:
        conn.execute(t.Staff.__table__.update()  # type: ignore[attr-defined]
                     .where(col(t.Staff.login).in_(["alice", "bob"]))
                     .values(steps='["anordnung", "rechnerisch", "sachlich"]'))
        conn.execute(t.Staff.__table__.update()  # type: ignore[attr-defined]
                     .where(col(t.Staff.login) == "carol").values(steps='["rechnerisch"]'))
    return staff


def test_the_three_steps_in_order(steps: Context) -> None:
    i = make_invoice(steps, office="Tiefbauamt", gross=Decimal("99999"))
    assert workflow.approve(steps, i, "alice", "sachlich") == Change(
        i, "approve", "pending", "pending", f"invoice {i}: sachlich signed; next step "
        "rechnerisch")
    assert last_detail(steps)["step"] == "sachlich"
    assert workflow.approve(steps, i, "carol", "rechnerisch").message == (
        f"invoice {i}: rechnerisch signed; next step anordnung")
    before = state(steps, i)
    with pytest.raises(WorkflowError) as refused:
        workflow.approve(steps, i, "alice", "anordnung")
    assert str(refused.value) == (f"alice signed sachlich richtig for invoice {i}: the "
                                  "Anordnung must come from someone else")
    assert state(steps, i) == before
    assert workflow.approve(steps, i, "bob", "anordnung") == Change(
        i, "approve", "pending", "approved", f"invoice {i} approved")
    assert last_detail(steps)["step"] == "anordnung"
    assert state(steps, i).approvals == (("sachlich", "alice", None),
                                         ("rechnerisch", "carol", None),
                                         ("anordnung", "bob", None))


def test_steps_out_of_order_or_without_permission(steps: Context) -> None:
    i = make_invoice(steps, office="Tiefbauamt")
    before = state(steps, i)
    for step, message in (("anordnung", "the next step is sachlich, not anordnung"),
                          (None, "the next step is sachlich, not approve")):
        with pytest.raises(WorkflowError) as refused:
            workflow.approve(steps, i, "alice", step)
        assert str(refused.value) == f"invoice {i}: {message}"
    assert refused_for(steps, "approve", i, who="carol", step="sachlich") == (
        "carol may not sign the step sachlich (einvoice staff add carol --step sachlich "
        "grants it)")
    assert state(steps, i) == before
    other = make_invoice(steps, office="Kämmerei")
    with pytest.raises(WorkflowError, match=rf"^invoice {other}: the next step is approve, not "
                                            "sachlich$"):
        workflow.approve(steps, other, "alice", "sachlich")


def test_a_step_on_behalf_counts_both_people(steps: Context) -> None:
    i = make_invoice(steps, office="Tiefbauamt")
    workflow.approve(steps, i, "boss", "sachlich", on_behalf=OnBehalf("alice", "krank"))
    workflow.approve(steps, i, "carol", "rechnerisch")
    for who, on_behalf in (("alice", None), ("boss", OnBehalf("bob", "krank"))):
        with pytest.raises(WorkflowError, match=r"signed sachlich richtig"):
            workflow.approve(steps, i, who, "anordnung", on_behalf=on_behalf)
    assert workflow.approve(steps, i, "bob", "anordnung").after == "approved"


# ------------------------------------------------------------------ two people at once

def meanwhile(monkeypatch: pytest.MonkeyPatch, other: Callable[[], object],
              times: int = 1) -> None:
    """While the next approval decides (after reading the invoice, before writing), someone
    else's transaction commits ``other``."""
    real = lifecycle.approval
    left = [times]

    def approval(invoice_id: int, new: Signature, earlier: Sequence[Signature],
                 plan: Sequence[tuple[str, int]]) -> lifecycle.ApprovalOutcome:
        outcome = real(invoice_id, new, earlier, plan)
        if left[0]:
            left[0] -= 1
            other()
        return outcome

    monkeypatch.setattr(lifecycle, "approval", approval)


def test_of_two_people_acting_at_once_one_wins_and_the_other_is_told(
        staff: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    i = make_invoice(staff)
    before = state(staff, i)
    meanwhile(monkeypatch, lambda: workflow.hold(staff, i, "bob", NOTE))
    with pytest.raises(WorkflowError, match=rf"^invoice {i} is on_hold: cannot approve"):
        workflow.approve(staff, i, "alice")
    now = state(staff, i)
    assert (now.status, now.version, now.events, now.approvals) == (
        "on_hold", before.version + 1, before.events + 1, ())
    assert last_event(staff)[1:3] == ("bob", "hold")


def test_the_loser_is_checked_again_and_succeeds_when_still_allowed(
        staff: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    i = make_invoice(staff)
    before = state(staff, i)
    meanwhile(monkeypatch, lambda: workflow.assign(staff, i, "bob", "4711", None))
    assert workflow.approve(staff, i, "alice").after == "approved"
    now = state(staff, i)
    # bob's change is kept, and the approval of the first, failed attempt was rolled back
    assert (now.status, now.version, now.account, now.events, now.approvals) == (
        "approved", before.version + 2, "4711", before.events + 2, (("approve", "alice", None),))


def test_retries_end_with_a_clear_message(staff: Context,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    i = make_invoice(staff)
    before = state(staff, i)
    pauses: list[int] = []
    monkeypatch.setattr(retry, "ATTEMPTS", 3)
    monkeypatch.setattr(retry, "pause", pauses.append)
    meanwhile(monkeypatch, lambda: workflow.assign(staff, i, "bob", "4711", None), times=3)
    with pytest.raises(WorkflowError) as busy:
        workflow.approve(staff, i, "alice")
    assert str(busy.value) == f"invoice {i} is being changed by someone else; try again"
    assert pauses == [0, 1, 2]  # backing off a little longer each time
    now = state(staff, i)
    assert (now.status, now.version, now.events, now.approvals) == (
        "pending", before.version + 3, before.events + 3, ())


def test_a_lost_write_race_is_tried_again_and_another_database_error_is_raised(
        staff: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lock or a unique key another writer took first (the audit chain head) may succeed
    when tried again; any other database error is a bug, raised at once with nothing changed."""
    i = make_invoice(staff)
    pauses: list[int] = []
    monkeypatch.setattr(retry, "pause", pauses.append)
    failures: list[Exception] = []
    real = chain.append

    def append(conn: Any, **event: Any) -> Any:
        if failures:
            raise failures.pop()
        return real(conn, **event)

    monkeypatch.setattr(chain, "append", append)
    failures.append(OperationalError("INSERT", {}, Exception("database is locked")))
    assert workflow.hold(staff, i, "alice", NOTE).after == "on_hold"
    assert pauses == [0] and last_event(staff)[:3] == (i, "alice", "hold")
    before = state(staff, i)
    failures.append(IntegrityError("INSERT", {}, Exception("NOT NULL constraint failed")))
    with pytest.raises(IntegrityError):
        workflow.release(staff, i, "alice")
    assert pauses == [0] and state(staff, i) == before


# ------------------------------------------------------------------ other refusals

def test_a_rejection_needs_a_reason(staff: Context) -> None:
    i = make_invoice(staff)
    before = state(staff, i)
    for reason in ("", "   ", "\n"):
        with pytest.raises(WorkflowError) as refused:
            workflow.reject(staff, i, "alice", reason)
        assert str(refused.value) == "a rejection needs a reason (it is sent to the supplier)"
    assert state(staff, i) == before


def test_closing_needs_a_reason(staff: Context) -> None:
    i = make_invoice(staff, "invalid")
    before = state(staff, i)
    for reason in ("", "  "):
        with pytest.raises(WorkflowError) as refused:
            workflow.close(staff, i, "alice", reason)
        assert str(refused.value) == "closing a document needs a reason"
    assert state(staff, i) == before


@pytest.mark.parametrize(("account", "cost_centre"), [(None, None), ("", ""), (None, "")])
def test_assign_needs_an_account_or_a_cost_centre(staff: Context, account: str | None,
                                                  cost_centre: str | None) -> None:
    i = make_invoice(staff)
    before = state(staff, i)
    with pytest.raises(WorkflowError) as refused:
        workflow.assign(staff, i, "alice", account, cost_centre)
    assert str(refused.value) == "nothing to assign: give --account and/or --cost-centre"
    assert state(staff, i) == before


def test_assign_only_what_is_given(staff: Context) -> None:
    i = make_invoice(staff)
    workflow.assign(staff, i, "alice", "4711", "KST-10")
    change = workflow.assign(staff, i, "alice", None, "KST-20")
    assert change.message == f"invoice {i}: assigned {{'cost_centre': 'KST-20'}}"
    now = state(staff, i)
    assert (now.account, now.cost_centre) == ("4711", "KST-20")
    assert last_event(staff)[-1] == '{"cost_centre": "KST-20", "line": null}'


def test_assign_one_line(staff: Context) -> None:
    i = make_invoice(staff)
    other = make_invoice(staff)
    before = state(staff, i)
    change = workflow.assign(staff, i, "alice", "4712", None, line=2)
    assert change == Change(i, "assign", "pending", "pending",
                            f"invoice {i} line 2: assigned {{'account': '4712'}}")
    now = state(staff, i)
    assert (now.line_accounts, now.account, now.version, now.events) == (
        (None, "4712"), None, before.version + 1, before.events + 1)
    assert state(staff, other).line_accounts == (None, None)
    assert last_event(staff) == (i, "alice", "assign", None, "pending", "pending",
                                 '{"account": "4712", "line": 2}')


def test_assign_a_missing_line_is_refused(staff: Context) -> None:
    i = make_invoice(staff)
    before = state(staff, i)
    with pytest.raises(WorkflowError, match=rf"^invoice {i} has no line 3$"):
        workflow.assign(staff, i, "alice", "4712", None, line=3)
    assert state(staff, i) == before


# ------------------------------------------------------------------ supplier master

A = "DE02120300000000202051"
B = "DE89370400440532013000"
C = "GB33BUKB20201555555555"


def supplier_rows(ctx: Context) -> list[tuple[Any, ...]]:
    return [(r.name, r.vat_id, r.ibans, r.account, r.cost_centre, r.creditor_account)
            for r in suppliers(ctx)]


def test_save_a_new_supplier(ctx: Context) -> None:
    row = save_supplier(ctx, SupplierData("Muster GmbH", "de 123 456 789", (B, "de02 1203 0000 "
                                          "0000 2020 51"), "4711", "KST-10", "70001"))
    # the row is usable after its session closed
    assert (row.id is not None, row.name, row.vat_id, row.ibans, row.account, row.cost_centre,
            row.creditor_account) == (True, "Muster GmbH", "DE123456789", f"{A},{B}", "4711",
                                      "KST-10", "70001")
    assert supplier_rows(ctx) == [("Muster GmbH", "DE123456789", f"{A},{B}", "4711", "KST-10",
                                   "70001")]


def test_save_a_supplier_without_vat_id_or_ibans(ctx: Context) -> None:
    row = save_supplier(ctx, SupplierData("Hausmeister Krause"))
    assert (row.name, row.vat_id, row.ibans, row.account) == ("Hausmeister Krause", None, "",
                                                              None)


def test_update_by_vat_id_keeps_what_is_not_given(ctx: Context) -> None:
    save_supplier(ctx, SupplierData("Muster GmbH", "DE123456789", (B,), "4711", "KST-10", "70001"))
    save_supplier(ctx, SupplierData("Muster GmbH & Co. KG", "DE 123456789", (C, A, "de89 3704 "
                                    "0044 0532 0130 00")))
    assert supplier_rows(ctx) == [("Muster GmbH & Co. KG", "DE123456789", f"{A},{B},{C}", "4711",
                                   "KST-10", "70001")]
    save_supplier(ctx, SupplierData("Muster GmbH & Co. KG", "DE123456789", (), "4712", "KST-20",
                                    "70002"))
    assert supplier_rows(ctx) == [("Muster GmbH & Co. KG", "DE123456789", f"{A},{B},{C}", "4712",
                                   "KST-20", "70002")]
    save_supplier(ctx, SupplierData("Muster GmbH & Co. KG", "DE123456789", (B, f" {A} ")))
    assert supplier_rows(ctx)[0][2] == f"{A},{B},{C}"  # known IBANs are not added twice


def test_update_by_name_without_vat_id(ctx: Context) -> None:
    save_supplier(ctx, SupplierData("Hausmeister Krause", None, (B,)))
    save_supplier(ctx, SupplierData("Hausmeister Krause", None, (A,), "4711"))
    assert supplier_rows(ctx) == [("Hausmeister Krause", None, f"{A},{B}", "4711", None, None)]
    save_supplier(ctx, SupplierData("Hausmeister Krause", "DE 111 222 333"))
    assert supplier_rows(ctx) == [("Hausmeister Krause", "DE111222333", f"{A},{B}", "4711", None,
                                   None)]


def test_the_supplier_address_on_file_is_kept_and_checked(ctx: Context) -> None:
    row = save_supplier(ctx, SupplierData("Muster GmbH", "DE123456789", (B,),
                                          email="buchhaltung@muster.example"))
    assert row.email == "buchhaltung@muster.example"
    assert save_supplier(ctx, SupplierData("Muster GmbH", "DE123456789")).email == (
        "buchhaltung@muster.example")  # not given: kept
    for bad in ("Muster <buchhaltung@muster.example>", "kein-at.example", ""):
        with pytest.raises(SupplierError) as refused:
            save_supplier(ctx, SupplierData("Muster GmbH", "DE123456789", email=bad))
        assert str(refused.value) == f"not an e-mail address: {bad!r}"
    assert save_supplier(ctx, SupplierData("Muster GmbH", "DE123456789")).email == (
        "buchhaltung@muster.example")


def test_an_invalid_iban_saves_nothing(ctx: Context) -> None:
    save_supplier(ctx, SupplierData("Muster GmbH", "DE123456789", (A,)))
    with pytest.raises(SupplierError) as refused:
        save_supplier(ctx, SupplierData("Muster GmbH", "DE123456789",
                                        (B, "DE00 1234", "DE89370400440532013001")))
    assert str(refused.value) == "invalid IBAN: DE00 1234, DE89370400440532013001"
    assert supplier_rows(ctx) == [("Muster GmbH", "DE123456789", A, None, None, None)]


def test_suppliers_are_listed_by_name(ctx: Context) -> None:
    for name in ("Zeta AG", "Alpha GmbH", "Mitte KG"):
        save_supplier(ctx, SupplierData(name))
    assert [r[0] for r in supplier_rows(ctx)] == ["Alpha GmbH", "Mitte KG", "Zeta AG"]


# ------------------------------------------------------------------ upload tokens

@pytest.fixture
def supplier_id(ctx: Context) -> int:
    row = save_supplier(ctx, SupplierData("Muster GmbH", "DE123456789"))
    assert row.id is not None
    return row.id


def token_rows(ctx: Context) -> list[t.ApiToken]:
    with Session(ctx.engine) as s:
        return list(s.exec(select(t.ApiToken).order_by(col(t.ApiToken.id))).all())


def test_a_token_is_shown_once_and_only_its_hash_is_stored(ctx: Context, supplier_id: int) -> None:
    token_id, token = tokens.create_token(ctx, supplier_id, "ERP upload")
    assert token.startswith("einv_") and len(token) == len("einv_") + 43  # 256 random bits
    [row] = token_rows(ctx)
    assert (row.id, row.supplier_id, row.label, row.revoked_at) == (
        token_id, supplier_id, "ERP upload", None)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() == tokens.token_hash(token)
    assert token not in json.dumps(row.model_dump(mode="json"))
    other_id, other = tokens.create_token(ctx, supplier_id)
    assert other != token and other_id != token_id and token_rows(ctx)[1].label is None


def test_authenticate(ctx: Context, supplier_id: int) -> None:
    _, token = tokens.create_token(ctx, supplier_id)
    assert tokens.authenticate(ctx, token) == supplier_id
    assert tokens.authenticate(ctx, token[:-1]) is None
    assert tokens.authenticate(ctx, token + "x") is None
    assert tokens.authenticate(ctx, "") is None
    # what a stolen database holds is not a usable token
    assert tokens.authenticate(ctx, token_rows(ctx)[0].token_hash) is None


def test_a_revoked_token_is_refused(ctx: Context, supplier_id: int) -> None:
    first_id, first = tokens.create_token(ctx, supplier_id)
    _, second = tokens.create_token(ctx, supplier_id)
    tokens.revoke_token(ctx, first_id)
    assert tokens.authenticate(ctx, first) is None
    assert tokens.authenticate(ctx, second) == supplier_id
    revoked_at = token_rows(ctx)[0].revoked_at
    assert revoked_at is not None and token_rows(ctx)[1].revoked_at is None
    tokens.revoke_token(ctx, first_id)  # revoking twice keeps the first time
    assert token_rows(ctx)[0].revoked_at == revoked_at
    assert tokens.authenticate(ctx, first) is None


def test_unknown_supplier_or_token(ctx: Context, supplier_id: int) -> None:
    with pytest.raises(NotFound, match=r"^no supplier with id 999$"):
        tokens.create_token(ctx, 999)
    assert token_rows(ctx) == []
    with pytest.raises(NotFound, match=r"^no API token with id 999$"):
        tokens.revoke_token(ctx, 999)


def test_tokens_are_compared_in_constant_time(ctx: Context, supplier_id: int,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _, token = tokens.create_token(ctx, supplier_id)
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def compare_digest(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", compare_digest)
    assert tokens.authenticate(ctx, token) == supplier_id
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert calls == [(digest, digest)]


# ------------------------------------------------------------------ what a supplier may see

def test_a_supplier_sees_its_own_invoice(ctx: Context, supplier_id: int) -> None:
    i = make_invoice(ctx, "approved", supplier_id=supplier_id, verdict="accept",
                     pay_by=date(2026, 3, 2))
    with Session(ctx.engine) as s:
        number = s.exec(select(t.Invoice.number).where(t.Invoice.id == i)).one()
    assert tokens.supplier_invoice(ctx, supplier_id, i) == tokens.InvoiceStatus(
        invoice_id=i, number=number, status="approved", verdict="accept",
        pay_by=date(2026, 3, 2))


@pytest.mark.parametrize(("status", "shown"), [
    ("on_hold", "pending"),  # an internal hold is nobody else's business
    ("pending", "pending"), ("received", "received"), ("invalid", "invalid"),
    ("rejected", "rejected"), ("exported", "exported"), ("duplicate", "duplicate")])
def test_the_supplier_sees_the_status(ctx: Context, supplier_id: int, status: str,
                                      shown: str) -> None:
    i = make_invoice(ctx, status, supplier_id=supplier_id)
    assert tokens.supplier_invoice(ctx, supplier_id, i).status == shown


@pytest.mark.parametrize("status", STATUSES)
def test_the_supplier_is_told_pay_by_while_a_payment_is_expected_and_paid_on_once_paid(
        ctx: Context, supplier_id: int, status: str) -> None:
    pay_by, paid_on = date(2026, 3, 2), date(2026, 3, 1)
    i = make_invoice(ctx, status, supplier_id=supplier_id, verdict="accept", pay_by=pay_by,
                     paid_on=paid_on)
    seen = tokens.supplier_invoice(ctx, supplier_id, i)
    expected = pay_by if status in {"pending", "on_hold", "approved", "exported"} else None
    assert (seen.status, seen.verdict, seen.pay_by, seen.paid_on) == (
        "pending" if status == "on_hold" else status, "accept", expected,
        paid_on if status == "paid" else None)


def renumber(ctx: Context, invoice_id: int, number: str) -> None:
    """The number as read and as compared (``lifecycle.number_key``), as ingest stores both."""
    with ctx.engine.begin() as conn:
        conn.execute(t.Invoice.__table__.update()  # type: ignore[attr-defined]
                     .where(col(t.Invoice.id) == invoice_id)
                     .values(number=number, number_key=lifecycle.number_key(number)))


def test_a_supplier_finds_its_own_invoices_by_number(ctx: Context, supplier_id: int) -> None:
    """Oldest first (a number may be resent), never another supplier's or a mailed one."""
    other = save_supplier(ctx, SupplierData("Andere AG", "DE999999999")).id
    first = make_invoice(ctx, "invalid", supplier_id=supplier_id, pay_by=date(2026, 3, 2))
    theirs = make_invoice(ctx, supplier_id=other)
    mailed = make_invoice(ctx)
    again = make_invoice(ctx, "on_hold", supplier_id=supplier_id, verdict="accept",
                         pay_by=date(2026, 4, 1))
    for i in (first, theirs, mailed, again):
        renumber(ctx, i, "R-7")
    renumber(ctx, make_invoice(ctx, supplier_id=supplier_id), "R-77")
    assert tokens.supplier_invoices(ctx, supplier_id, " R-7 ") == [
        tokens.InvoiceStatus(first, "R-7", "invalid", None, None),
        tokens.InvoiceStatus(again, "R-7", "pending", "accept", date(2026, 4, 1))]
    assert [seen.invoice_id for seen in tokens.supplier_invoices(ctx, other, "R-7")] == [theirs]
    assert tokens.supplier_invoices(ctx, supplier_id, "R-8") == []


def test_invoices_by_number_come_in_id_order_whatever_order_the_rows_were_written_in(
        ctx: Context, supplier_id: int) -> None:
    later = make_invoice(ctx, supplier_id=supplier_id, id=900)
    earlier = make_invoice(ctx, supplier_id=supplier_id, id=800)  # e.g. restored afterwards
    for i in (later, earlier):
        renumber(ctx, i, "R-7")
    assert [seen.invoice_id for seen in tokens.supplier_invoices(ctx, supplier_id, "R-7")] == [
        800, 900]


def test_another_suppliers_invoice_looks_missing(ctx: Context, supplier_id: int) -> None:
    other = save_supplier(ctx, SupplierData("Andere AG", "DE999999999")).id
    assert other is not None
    theirs = make_invoice(ctx, supplier_id=other)
    mailed = make_invoice(ctx)  # no supplier token at all
    for invoice_id in (theirs, mailed, 999999):
        with pytest.raises(NotFound) as missing:
            tokens.supplier_invoice(ctx, supplier_id, invoice_id)
        assert str(missing.value) == f"no invoice with id {invoice_id}"
    assert tokens.supplier_invoice(ctx, other, theirs).invoice_id == theirs
