"""The approval workflow on SQLite and PostgreSQL: every allowed and forbidden transition, the
four-eyes rule, concurrent approvals, and a tamper-evident audit trail."""

from __future__ import annotations

import json
import multiprocessing
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from einvoice.approval import audit, identity, workflow
from einvoice.approval.suppliers import SupplierData, save_supplier
from einvoice.approval.workflow import WorkflowError
from einvoice.cli import app
from einvoice.config import load_settings
from einvoice.context import Context, open_context
from einvoice.pipeline import Submission, ingest
from einvoice.store import tables as t
from einvoice.views.queries import get_case, inbox

XR = "valid/xrechnung-testsuite/technical-cases/cius"


def pending_invoice(ctx: Context, corpus: Path, name: str = "01.01_comprehensive_test_ubl.xml",
                    number: bytes | None = None) -> int:
    data = (corpus / XR / name).read_bytes()
    if number:
        data = data.replace(b"<cbc:ID>1234567</cbc:ID>", b"<cbc:ID>" + number + b"</cbc:ID>", 1)
    outcome = ingest(ctx, Submission(data, "cli")).outcomes[0]
    assert outcome.status == "pending"
    return outcome.invoice_id


def state(ctx: Context, invoice_id: int) -> tuple[str, int, int]:
    with Session(ctx.engine) as s:
        inv = s.get(t.Invoice, invoice_id)
        events = s.exec(select(func.count()).select_from(t.AuditEvent)).one()
    assert inv is not None
    return inv.status, inv.version, events


@pytest.fixture
def one_approver(ctx: Context) -> Context:
    ctx.settings.four_eyes_threshold = Decimal("1000000")
    return ctx


def test_allowed_transitions(one_approver: Context, corpus: Path) -> None:
    ctx = one_approver
    a = pending_invoice(ctx, corpus)
    assert workflow.hold(ctx, a, "alice", "Lieferschein fehlt").after == "on_hold"
    assert workflow.release(ctx, a, "alice").after == "pending"
    assert workflow.reassign(ctx, a, "alice", "Tiefbauamt", "falsche Stelle").after == "pending"
    assert workflow.assign(ctx, a, "alice", "4711", "KST-10").after == "pending"
    assert workflow.assign(ctx, a, "alice", "4712", None, line=1).after == "pending"
    assert workflow.approve(ctx, a, "bob").after == "approved"
    case = get_case(ctx, a)
    assert (case.invoice.office, case.invoice.account, case.invoice.cost_centre) == (
        "Tiefbauamt", "4711", "KST-10")
    assert [e.action for e in case.events] == ["ingest", "hold", "release", "reassign",
                                               "assign", "assign", "approve"]
    assert case.events[1].reason == "Lieferschein fehlt" and case.events[-1].actor == "bob"
    b = pending_invoice(ctx, corpus, number=b"B-1")
    assert workflow.reject(ctx, b, "carol", "Leistung nicht erbracht").after == "rejected"
    c = pending_invoice(ctx, corpus, number=b"C-1")
    workflow.hold(ctx, c, "carol", "Rückfrage")
    assert workflow.reject(ctx, c, "carol", "Rückfrage erfolglos").after == "rejected"


@pytest.mark.parametrize(("setup", "action"), [
    ([], lambda ctx, i: workflow.release(ctx, i, "carol")),
    ([], lambda ctx, i: workflow.reject(ctx, i, "carol", "  ")),
    ([], lambda ctx, i: workflow.assign(ctx, i, "carol", None, None)),
    ([], lambda ctx, i: workflow.assign(ctx, i, "carol", "4711", None, line=999)),
    (["approve"], lambda ctx, i: workflow.approve(ctx, i, "bob")),
    (["approve"], lambda ctx, i: workflow.reject(ctx, i, "carol", "zu spät")),
    (["approve"], lambda ctx, i: workflow.hold(ctx, i, "carol", "n")),
    (["approve"], lambda ctx, i: workflow.assign(ctx, i, "carol", "4711", None)),
    (["reject"], lambda ctx, i: workflow.approve(ctx, i, "carol")),
    (["reject"], lambda ctx, i: workflow.release(ctx, i, "carol")),
    (["hold"], lambda ctx, i: workflow.hold(ctx, i, "carol", "again")),
    (["hold"], lambda ctx, i: workflow.approve(ctx, i, "carol")),
])
def test_forbidden_transitions_change_nothing(one_approver: Context, corpus: Path,
                                              setup: list[str], action: object) -> None:
    ctx = one_approver
    invoice_id = pending_invoice(ctx, corpus)
    for step in setup:
        {"approve": lambda: workflow.approve(ctx, invoice_id, "alice"),
         "reject": lambda: workflow.reject(ctx, invoice_id, "alice", "nein"),
         "hold": lambda: workflow.hold(ctx, invoice_id, "alice", "warten")}[step]()
    before = state(ctx, invoice_id)
    with pytest.raises(WorkflowError):
        action(ctx, invoice_id)  # type: ignore[operator]
    assert state(ctx, invoice_id) == before


def test_invalid_quarantined_and_duplicate_cannot_be_approved(ctx: Context,
                                                              corpus: Path) -> None:
    data = (corpus / XR / "01.01_comprehensive_test_ubl.xml").read_bytes()
    invalid = data.replace(b"<cbc:BuyerReference>", b"<cbc:Note>", 1).replace(
        b"</cbc:BuyerReference>", b"</cbc:Note>", 1).replace(
        b"<cbc:ID>1234567</cbc:ID>", b"<cbc:ID>BAD-1</cbc:ID>", 1)  # BR-DE-15
    cases = {"quarantined": b"<junk", "invalid": invalid,
             "duplicate": data + b"<!-- again -->"}
    pending_invoice(ctx, corpus)  # the original of the duplicate
    for status, body in cases.items():
        outcome = ingest(ctx, Submission(body, "cli")).outcomes[0]
        assert outcome.status == status
        before = state(ctx, outcome.invoice_id)
        with pytest.raises(WorkflowError, match=f"is {status}: cannot approve"):
            workflow.approve(ctx, outcome.invoice_id, "alice")
        assert state(ctx, outcome.invoice_id) == before


def test_four_eyes_needs_two_different_people(ctx: Context, corpus: Path) -> None:
    ctx.settings.four_eyes_threshold = Decimal("0")
    invoice_id = pending_invoice(ctx, corpus)
    first = workflow.approve(ctx, invoice_id, "alice")
    assert first.after == "pending" and "1 of 2" in first.message
    before = state(ctx, invoice_id)
    with pytest.raises(WorkflowError, match="already approved"):
        workflow.approve(ctx, invoice_id, "alice")
    assert state(ctx, invoice_id) == before
    assert workflow.approve(ctx, invoice_id, "bob").after == "approved"


def _approve_in_process(data_dir: str, db_url: str, invoice_id: int, person: str,
                        barrier: object, results: object) -> None:
    ctx = open_context(load_settings(data_dir=data_dir, database_url=db_url,
                                     four_eyes_threshold=Decimal("1000000")))
    barrier.wait()  # type: ignore[attr-defined]
    try:
        workflow.approve(ctx, invoice_id, person)
        results.put((person, "approved"))  # type: ignore[attr-defined]
    except WorkflowError as exc:
        results.put((person, f"refused: {exc}"))  # type: ignore[attr-defined]


def test_concurrent_approval_exactly_one_wins(ctx: Context, corpus: Path) -> None:
    mp = multiprocessing.get_context("spawn")
    for round_ in range(3):
        invoice_id = pending_invoice(ctx, corpus, number=f"RACE-{round_}".encode())
        barrier, results = mp.Barrier(2), mp.Queue()
        procs = [mp.Process(target=_approve_in_process,
                            args=(str(ctx.settings.data_dir), ctx.settings.db_url, invoice_id,
                                  who, barrier, results)) for who in ("alice", "bob")]
        for p in procs:
            p.start()
        outcome = dict(results.get(timeout=60) for _ in procs)
        for p in procs:
            p.join(timeout=60)
        assert sorted(v.split(":")[0] for v in outcome.values()) == ["approved", "refused"]
        assert state(ctx, invoice_id)[0] == "approved"
        with Session(ctx.engine) as s:
            approvals = s.exec(select(t.Approval).where(t.Approval.invoice_id == invoice_id)).all()
        assert len(approvals) == 1
    assert audit.verify(ctx.engine).ok


def test_tampering_with_the_audit_trail_is_detected(one_approver: Context, corpus: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = one_approver
    a = pending_invoice(ctx, corpus)
    workflow.hold(ctx, a, "alice", "Rückfrage")
    workflow.release(ctx, a, "alice")
    workflow.approve(ctx, a, "bob")
    assert audit.verify(ctx.engine).ok
    monkeypatch.setenv("EINVOICE_DATABASE_URL", ctx.settings.db_url)
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(ctx.settings.data_dir))
    runner = CliRunner()
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    with ctx.engine.begin() as conn:
        conn.execute(text("UPDATE auditevent SET actor = 'mallory' WHERE action = 'approve'"))
    check = audit.verify(ctx.engine)
    assert not check.ok and "edited" in (check.problem or "")
    result = runner.invoke(app, ["audit", "verify", "--json"])
    assert result.exit_code == 1 and json.loads(result.stdout)["ok"] is False
    with ctx.engine.begin() as conn:
        conn.execute(text("UPDATE auditevent SET actor = 'bob' WHERE action = 'approve'"))
    assert audit.verify(ctx.engine).ok
    with ctx.engine.begin() as conn:
        conn.execute(text("DELETE FROM auditevent WHERE action = 'hold'"))
    check = audit.verify(ctx.engine)
    assert not check.ok and "deleted" in (check.problem or "")


def test_deleting_the_newest_event_or_editing_a_status_is_detected(one_approver: Context,
                                                                   corpus: Path) -> None:
    ctx = one_approver
    a = pending_invoice(ctx, corpus)
    workflow.approve(ctx, a, "bob")
    with ctx.engine.begin() as conn:
        conn.execute(text("DELETE FROM approval"))
        conn.execute(text("DELETE FROM auditevent WHERE action = 'approve'"))
    check = audit.verify(ctx.engine)
    assert not check.ok and "last audit event" in (check.problem or "")
    b = pending_invoice(ctx, corpus, number=b"S-1")
    with ctx.engine.begin() as conn:
        conn.execute(text(f"UPDATE invoice SET status = 'approved' WHERE id = {b}"))
    assert not audit.verify(ctx.engine).ok


def test_inbox_sorts_by_skonto_then_due_date_and_flags_fraud_patterns(
        ctx: Context, corpus: Path) -> None:
    ids = [pending_invoice(ctx, corpus, name, number=f"IN-{i}".encode())
           for i, name in enumerate(["01.01_comprehensive_test_ubl.xml",
                                     "01.05_minimal_test_ubl.xml"])]
    rows = inbox(ctx, None)
    keys = [r.act_by for r in rows]
    assert keys == sorted(keys, key=lambda d: (d is None, d))
    assert {r.invoice.id for r in rows} == set(ids)
    assert all("unknown supplier" in " ".join(r.flags) for r in rows)
    first = get_case(ctx, ids[0])
    assert first.model is not None and first.model.seller.vat_id
    save_supplier(ctx, SupplierData(first.model.seller.name or "x", first.model.seller.vat_id,
                                    ("DE02120300000000202051",)))
    flagged = next(r for r in inbox(ctx, None) if r.invoice.id == ids[0])
    ibans = (flagged.invoice.ibans or "").split(",")
    assert ibans and all(any(i in f for f in flagged.flags) for i in ibans)
    assert not any("unknown supplier" in f for f in flagged.flags)


def test_cli_bulk_approval_history_and_inbox_json(tmp_path: Path, db_url: str, corpus: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EINVOICE_DATABASE_URL", db_url)
    monkeypatch.setenv("EINVOICE_FOUR_EYES_THRESHOLD", "1000000")
    runner = CliRunner()

    def as_(login: str) -> None:  # the account running the next commands
        monkeypatch.setattr(identity, "os_login", lambda: login)

    as_("alice")
    assert runner.invoke(app, ["init"]).exit_code == 0  # alice: the first admin
    assert runner.invoke(app, ["staff", "add", "bob", "--name", "Bob",
                               "--role", "approver"]).exit_code == 0
    assert runner.invoke(app, ["ingest", str(corpus / XR)]).exit_code == 0
    rows = json.loads(runner.invoke(app, ["inbox", "--json"]).stdout)
    ids = [str(r["id"]) for r in rows[:3]]
    assert all(r["status"] == "pending" and "flags" in r for r in rows)
    assert {r["next_step"] for r in rows} == {"approve"}
    aborted = runner.invoke(app, ["approve", *ids], input="n\n")
    assert aborted.exit_code != 0
    assert runner.invoke(app, ["approve", *ids, "--yes"]).exit_code == 0
    as_("bob")
    assert runner.invoke(app, ["approve", ids[0]]).exit_code == 1
    events = json.loads(runner.invoke(app, ["history", "--json", ids[0]]).stdout)
    assert [(e["action"], e["actor"], e["after"]) for e in events] == [
        ("ingest", "einvoice", "pending"), ("approve", "alice", "approved")]
    refused = runner.invoke(app, ["reject", ids[1], "--reason", "x"])
    assert refused.exit_code == 1
    remaining = {r["id"] for r in json.loads(runner.invoke(app, ["inbox", "--json"]).stdout)}
    assert not remaining & {int(i) for i in ids}
