"""Payments (issue 13): ``einvoice paid ID... [--on DATE]`` and ``einvoice paid --import FILE``
(camt.053) on SQLite and PostgreSQL: only an exported invoice becomes paid, with its day and an
audit event; refusals change nothing and exit 1 (rules) or 3 (account); a bank statement pays
an invoice only by reference and amount, lists unmatched and ambiguous lines without touching
anything, and hostile XML is refused before anything is read. The statements are built here."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from einvoice import lifecycle
from einvoice.approval import audit, identity
from einvoice.approval.payments import local_today
from einvoice.cli import app
from einvoice.context import Context
from einvoice.errors import ForbiddenXML, MalformedXML, UnsupportedDocument
from einvoice.formats.camt import BankLine, read_statement
from einvoice.lifecycle import Action, Candidate, Role, Status, WorkflowError, match
from einvoice.model import Invoice, PaymentInstructions, Seller, Totals
from einvoice.store import tables as t
from tests.conftest import register

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
BOOKED = "2025-03-14"


# ------------------------------------------------------------------ invoices and statements

def add(ctx: Context, number: str, amount: str = "119.00", *, status: str = "exported",
        currency: str = "EUR", remittance: str | None = None, skonto: str | None = None,
        ibans: str | None = None) -> int:
    """An invoice case as the pipeline and the export leave it."""
    m = Invoice(number=number, currency=currency, type_code="380",
                seller=Seller(name="Muster GmbH"), totals=Totals(with_vat=D(amount),
                                                                 payable=D(amount)),
                payment=PaymentInstructions(remittance_information=remittance))
    raw = f"<Invoice>{number} {amount} {uuid.uuid4()}</Invoice>".encode()
    sha = hashlib.sha256(raw).hexdigest()
    with Session(ctx.engine) as s:
        sub = t.Submission(sha256=sha, size=len(raw), channel="cli")
        s.add(sub)
        s.flush()
        assert sub.id is not None
        doc = t.Document(submission_id=sub.id, sha256=sha, size=len(raw), kind="ubl-invoice")
        s.add(doc)
        s.flush()
        assert doc.id is not None
        inv = t.Invoice(document_id=doc.id, status=status, number=number, currency=currency,
                        gross_total=D(amount), payable=D(amount), model_json=m.model_dump_json(),
                        skonto_percent=D(skonto) if skonto else None, ibans=ibans,
                        pay_by=date(2025, 4, 1))
        s.add(inv)
        s.commit()
        assert inv.id is not None
        return inv.id


def entry(amount: str, *, e2e: str | None = None, ustrd: tuple[str, ...] = (),
          ref: str | None = None, doc_nb: str | None = None, cdi: str = "DBIT",
          status: str = "BOOK", booked: str = BOOKED, ccy: str = "EUR",
          iban: str | None = None, creditor: str | None = None, reversal: bool = False,
          txs: tuple[str, ...] = ()) -> str:
    """One ``Ntry`` (camt.053.001.08 shape); ``txs``: the TxDtls of a batch entry."""
    strd = "".join([f"<CdtrRefInf><Ref>{ref}</Ref></CdtrRefInf>" if ref else "",
                    f"<RfrdDocInf><Nb>{doc_nb}</Nb></RfrdDocInf>" if doc_nb else ""])
    rmt = "".join(f"<Ustrd>{u}</Ustrd>" for u in ustrd) + (f"<Strd>{strd}</Strd>" if strd
                                                            else "")
    parties = "".join([f"<Cdtr><Pty><Nm>{creditor}</Nm></Pty></Cdtr>" if creditor else "",
                       f"<CdtrAcct><Id><IBAN>{iban}</IBAN></Id></CdtrAcct>" if iban else ""])
    tx = "".join([f"<Refs><EndToEndId>{e2e}</EndToEndId></Refs>" if e2e else "",
                  f"<RltdPties>{parties}</RltdPties>" if parties else "",
                  f"<RmtInf>{rmt}</RmtInf>" if rmt else ""])
    details = "".join(txs) if txs else (f"<TxDtls>{tx}</TxDtls>" if tx else "")
    return (f'<Ntry><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{cdi}</CdtDbtInd>'
            + ("<RvslInd>true</RvslInd>" if reversal else "")
            + f"<Sts><Cd>{status}</Cd></Sts><BookgDt><Dt>{booked}</Dt></BookgDt>"
            + f"<ValDt><Dt>{booked}</Dt></ValDt><AcctSvcrRef>B-{amount}</AcctSvcrRef>"
            + f"<BkTxCd/><NtryDtls>{details}</NtryDtls></Ntry>")


def tx(amount: str, e2e: str) -> str:
    return (f'<TxDtls><Refs><EndToEndId>{e2e}</EndToEndId></Refs><Amt Ccy="EUR">{amount}</Amt>'
            "<CdtDbtInd>DBIT</CdtDbtInd></TxDtls>")


def camt(*entries: str, ns: str = NS) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{ns}"><BkToCstmrStmt>'
            "<GrpHdr><MsgId>M-1</MsgId><CreDtTm>2025-03-15T06:00:00+01:00</CreDtTm></GrpHdr>"
            "<Stmt><Id>STMT-2025-03-14</Id><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id>"
            f"</Acct>{''.join(entries)}</Stmt></BkToCstmrStmt></Document>").encode()


def line(**kw: Any) -> BankLine:
    base: dict[str, Any] = {"where": "entry 1", "statement": "S", "entry_ref": None,
                            "debit": True, "status": "BOOK", "reversal": False,
                            "amount": D("119.00"), "currency": "EUR",
                            "booking_date": date(2025, 3, 14), "end_to_end_id": None}
    return BankLine(**(base | kw))


def cand(invoice_id: int, number: str, amount: str = "119.00", **kw: Any) -> Candidate:
    return Candidate(**({"invoice_id": invoice_id, "status": "exported", "number": number,
                         "remittance": None, "amount": D(amount), "currency": "EUR"} | kw))


# ------------------------------------------------------------------ the decision, pure

def test_a_line_pays_an_invoice_by_reference_and_amount_only() -> None:
    one, ten = cand(1, "RE-1"), cand(10, "RE-10", "50.00")
    assert match(line(end_to_end_id="re-1"), [one, ten]).invoice_ids == (1,)
    assert match(line(references=("RE-1",)), [one, ten]).invoice_ids == (1,)
    assert match(line(unstructured=("Rechnung RE-1", "vom 1.3.")), [one, ten]).invoice_ids == (
        1,)
    # a number is a word of the text, never a part of a longer one
    assert match(line(unstructured=("Rechnung RE-10 usw",)), [one]).invoice_ids == ()
    assert match(line(unstructured=("XRE-1",)), [one]).invoice_ids == ()
    differs = match(line(end_to_end_id="RE-1", amount=D("118.99")), [one])
    assert differs.invoice_ids == () and "amount differs" in differs.reason
    assert match(line(end_to_end_id="RE-1", currency="USD"), [one]).invoice_ids == ()
    assert match(line(amount=D("119.00")), [one]).reason == (
        "names no invoice number or reference of an open invoice")
    bt83 = cand(2, "X-9", remittance="KD 4711 / 2025")
    assert match(line(unstructured=("KD 4711 / 2025",)), [bt83]).invoice_ids == (2,)


def test_skonto_amounts_and_what_is_no_payment() -> None:
    skonto = cand(3, "S-1", "1190.00", skonto_percent=D("2"))
    assert match(line(end_to_end_id="S-1", amount=D("1166.20")), [skonto]).matched
    assert match(line(end_to_end_id="S-1", amount=D("1190")), [skonto]).matched
    assert not match(line(end_to_end_id="S-1", amount=D("1166.21")), [skonto]).matched
    one = cand(1, "RE-1")
    for kw, reason in [({"debit": False}, "a credit (money received), not a payment"),
                       ({"reversal": True}, "a reversal, not a payment"),
                       ({"status": "PDNG"}, "not booked (status PDNG)"),
                       ({"booking_date": None}, "no booking date"),
                       ({"problem": "amount '1e3' is not a decimal amount"},
                        "unreadable: amount '1e3' is not a decimal amount")]:
        m = match(line(end_to_end_id="RE-1", **kw), [one])
        assert (m.invoice_ids, m.reason) == ((), reason)


def test_two_fitting_invoices_are_narrowed_by_iban_or_listed() -> None:
    a = cand(4, "R-5", ibans=("DE02120300000000202051",))
    b = cand(5, "R-5", ibans=("DE02500105170137075030",))
    both = match(line(end_to_end_id="R-5"), [a, b])
    assert both.ambiguous and both.invoice_ids == (4, 5) and "not guessed" in both.reason
    to_b = match(line(end_to_end_id="R-5", creditor_iban="de02 5001 0517 0137 0750 30"), [a, b])
    assert to_b.invoice_ids == (5,)
    elsewhere = match(line(end_to_end_id="R-5", creditor_iban="DE89370400440532013000"), [a, b])
    assert elsewhere.ambiguous


def test_a_supplier_hears_of_a_pay_by_date_only_while_a_payment_is_expected() -> None:
    day = date(2025, 4, 1)
    told = {s.value for s in Status if lifecycle.expected_payment(s, day) == day}
    assert told == {"pending", "on_hold", "approved", "exported"}
    assert lifecycle.expected_payment(Status.APPROVED, None) is None
    assert lifecycle.TRANSITIONS[Action.PAY] == lifecycle.Transition(
        frozenset({Status.EXPORTED}), Status.PAID, Role.APPROVER)


def test_a_payment_is_recorded_once_it_happened() -> None:
    today = date(2025, 3, 14)
    lifecycle.check_paid_on(today, today, 7)
    lifecycle.check_paid_on(date(2020, 1, 1), today, 7)
    with pytest.raises(WorkflowError) as future:
        lifecycle.check_paid_on(date(2025, 3, 15), today, 7)
    assert str(future.value) == ("invoice 7: payment date 2025-03-15 is in the future (today is "
                                 "2025-03-14)")


def test_statement_versions_and_batch_entries_are_read() -> None:
    v02 = ("urn:iso:std:iso:20022:tech:xsd:camt.053.001.02", (
        '<Ntry><Amt Ccy="EUR">10.50</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>'
        "<BookgDt><DtTm>2025-03-14T10:00:00</DtTm></BookgDt><NtryDtls><TxDtls><Refs>"
        "<EndToEndId>NOTPROVIDED</EndToEndId></Refs><RltdPties><Cdtr><Nm>Muster</Nm></Cdtr>"
        "</RltdPties><RmtInf><Ustrd>RE 7</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"))
    (old,) = read_statement(camt(v02[1], ns=v02[0])).lines
    assert (old.amount, old.booking_date, old.end_to_end_id, old.creditor, old.unstructured,
            old.booked) == (D("10.50"), date(2025, 3, 14), None, "Muster", ("RE 7",), True)
    batch = read_statement(camt(entry("30.00", txs=(tx("10.00", "A-1"), tx("20.00", "A-2")))))
    assert [(ln.amount, ln.end_to_end_id, ln.where) for ln in batch.lines] == [
        (D("10.00"), "A-1", "statement STMT-2025-03-14, entry 1, transaction 1"),
        (D("20.00"), "A-2", "statement STMT-2025-03-14, entry 1, transaction 2")]
    bad = read_statement(camt(entry("1e3", e2e="X"), entry("5,00", e2e="Y"),
                              entry("5.00", ccy="euro", e2e="Z"), entry("1.00", booked="14.3.")))
    assert [ln.problem for ln in bad.lines] == [
        "amount '1e3' is not a decimal amount", "amount '5,00' is not a decimal amount",
        "currency 'euro' is not an ISO 4217 code", "booking date '14.3.' is not a date"]


XXE = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       b'<Document xmlns="' + NS.encode() + b'"><BkToCstmrStmt>&x;</BkToCstmrStmt></Document>')
BOMB = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol0 "lol">\n'
        + "".join(f' <!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">\n' for i in range(1, 10))
        .encode() + b"]>\n<Document>&lol9;</Document>\n")


@pytest.mark.parametrize(("data", "error", "says"), [
    (XXE, ForbiddenXML, "DTD"), (BOMB, ForbiddenXML, "DTD"),
    (b"<Document><unclosed></Document>", MalformedXML, "not well-formed"),
    (b"\x00\x01binary", MalformedXML, "not well-formed"),
    (b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>',
     UnsupportedDocument, "not a camt.053"),
    (camt(ns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"), UnsupportedDocument,
     "not a camt.053"),
])
def test_hostile_or_foreign_files_are_refused(data: bytes, error: type[Exception],
                                              says: str) -> None:
    with pytest.raises(error, match=says):
        read_statement(data)


# ------------------------------------------------------------------ the command

Run = Callable[..., Result]


@pytest.fixture
def run(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Run:
    """``einvoice ARGS`` against the test database, as ``login`` (default alice)."""
    monkeypatch.setenv("EINVOICE_DATABASE_URL", ctx.settings.db_url)
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(ctx.settings.data_dir))
    runner = CliRunner()

    def invoke(*args: str, login: str = "alice") -> Result:
        monkeypatch.setattr(identity, "os_login", lambda: login)
        return runner.invoke(app, list(args))

    return invoke


def state(ctx: Context, invoice_id: int) -> tuple[str, date | None, int]:
    with Session(ctx.engine) as s:
        inv = s.get(t.Invoice, invoice_id)
    assert inv is not None
    return inv.status, inv.paid_on, inv.version


def pay_events(ctx: Context) -> list[t.AuditEvent]:
    with Session(ctx.engine) as s:
        return list(s.exec(select(t.AuditEvent).where(t.AuditEvent.action == "pay")
                           .order_by(col(t.AuditEvent.id))).all())


def test_paid_by_id_with_its_day_and_an_audit_event(ctx: Context, run: Run) -> None:
    a, b = add(ctx, "RE-1"), add(ctx, "RE-2")
    done = run("paid", str(a), "--on", "2025-03-14")
    assert done.exit_code == 0, done.output
    assert "invoice" in done.stdout and "exportiert → bezahlt" in done.stdout
    assert "paid on 14.03.2025" in done.stdout
    assert state(ctx, a) == ("paid", date(2025, 3, 14), 1)
    as_json = run("paid", str(b), "--json", login="bob")
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout)[0]["after"] == "paid"
    assert state(ctx, b)[:2] == ("paid", local_today(ctx))  # default: today, where we are
    first, second = pay_events(ctx)
    assert (first.invoice_id, first.actor, first.before, first.after) == (
        a, "alice", "exported", "paid")
    assert json.loads(first.detail or "{}") == {"paid_on": "2025-03-14", "source": "manual"}
    assert second.actor == "bob"
    c = add(ctx, "RE-3")
    register(ctx, "anna", role="admin")
    for_bob = run("paid", str(c), "--on", "2025-03-01", "--on-behalf-of", "bob", "--reason",
                  "Urlaub", login="anna")
    assert for_bob.exit_code == 0, for_bob.output
    third = pay_events(ctx)[2]
    assert third.actor == "anna" and json.loads(third.detail or "{}") == {
        "paid_on": "2025-03-01", "source": "manual", "on_behalf_of": "bob",
        "on_behalf_reason": "Urlaub"}
    assert audit.verify(ctx.engine).ok
    history = json.loads(run("history", str(a), "--json").stdout)
    assert [e["action"] for e in history][-1] == "pay"


def test_refused_payments_change_nothing(ctx: Context, run: Run) -> None:
    pending, approved = add(ctx, "P-1", status="pending"), add(ctx, "A-1", status="approved")
    invalid, exported = add(ctx, "I-1", status="invalid"), add(ctx, "E-1")
    register(ctx, "victor", role="viewer")
    before = {i: state(ctx, i) for i in (pending, approved, invalid, exported)}
    for invoice_id, status in [(pending, "pending"), (approved, "approved"),
                               (invalid, "invalid")]:
        refused = run("paid", str(invoice_id))
        assert refused.exit_code == 1
        assert (f"invoice {invoice_id} is {status}: cannot pay (allowed from exported)"
                in " ".join(refused.output.split()))
    tomorrow = (local_today(ctx) + timedelta(days=1)).isoformat()
    future = run("paid", str(exported), "--on", tomorrow)
    assert future.exit_code == 1 and "in the future" in future.output
    viewer = run("paid", str(exported), login="victor")
    assert viewer.exit_code == 3 and "needs the role approver" in " ".join(viewer.output.split())
    assert run("paid", str(exported), login="mallory").exit_code == 3
    assert run("paid", str(exported), "--on", "14.03.2025").exit_code == 2
    assert run("paid").exit_code == 2
    assert run("paid", "99999").exit_code == 2  # no such invoice
    assert {i: state(ctx, i) for i in before} == before and pay_events(ctx) == []
    # several ids: the payable ones are recorded, the exit code says something was refused
    mixed = run("paid", str(exported), str(pending), "--on", "2025-03-01")
    assert mixed.exit_code == 1 and state(ctx, exported)[:2] == ("paid", date(2025, 3, 1))
    again = run("paid", str(exported))
    assert again.exit_code == 1 and "is paid: cannot pay" in " ".join(again.output.split())


def test_bank_statement_import(ctx: Context, run: Run, tmp_path: Path) -> None:
    by_e2e, by_text = add(ctx, "RE-1", "119.00"), add(ctx, "RE-2", "238.00")
    by_bt83 = add(ctx, "RE-3", "10.00", remittance="RF18539007547034")
    by_doc_nb, wrong_amount = add(ctx, "RE-4", "20.00"), add(ctx, "RE-5", "50.00")
    not_exported = add(ctx, "RE-6", "60.00", status="approved")
    twin_a = add(ctx, "RE-7", "70.00", ibans="DE02120300000000202051")
    twin_b = add(ctx, "RE-7", "70.00", ibans="DE02500105170137075030")
    same_a, same_b = add(ctx, "RE-8", "80.00"), add(ctx, "RE-8", "80.00")
    batch_1, batch_2 = add(ctx, "RE-9", "9.00"), add(ctx, "RE-10", "10.10")
    duplicate = add(ctx, "RE-1", "119.00", status="duplicate", remittance="copy")
    statement = camt(
        entry("119.00", e2e="RE-1", creditor="Muster GmbH"),
        entry("238.00", ustrd=("Rechnung RE-2", "Kunde 4711")),
        entry("10.00", ref="RF18539007547034"),
        entry("20.00", doc_nb="RE-4"),
        entry("49.00", e2e="RE-5"),
        entry("60.00", e2e="RE-6"),
        entry("70.00", e2e="RE-7", iban="DE02500105170137075030"),
        entry("80.00", e2e="RE-8"),
        entry("19.10", txs=(tx("9.00", "RE-9"), tx("10.10", "RE-10"))),
        entry("119.00", e2e="RE-1", cdi="CRDT"),
        entry("119.00", e2e="RE-1", status="PDNG"),
        entry("2500.00", ustrd=("Gehalt März",)),
        entry("1e3", e2e="RE-1"))
    path = tmp_path / "auszug.xml"
    path.write_bytes(statement)
    before = {i: state(ctx, i) for i in (wrong_amount, not_exported, twin_a, same_a, same_b,
                                         duplicate)}
    done = run("paid", "--import", str(path), "--json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["statements"] == ["STMT-2025-03-14"]
    assert report["sha256"] == hashlib.sha256(statement).hexdigest()
    outcomes = [(r["outcome"], r["invoice_ids"]) for r in report["lines"]]
    assert outcomes == [
        ("paid", [by_e2e]), ("paid", [by_text]), ("paid", [by_bt83]), ("paid", [by_doc_nb]),
        ("unmatched", []), ("refused", [not_exported]), ("paid", [twin_b]),
        ("ambiguous", [same_a, same_b]), ("paid", [batch_1]), ("paid", [batch_2]),
        ("unmatched", []), ("unmatched", []), ("unmatched", []), ("unmatched", [])]
    assert "amount differs" in report["lines"][4]["message"]
    assert "is approved: cannot pay" in report["lines"][5]["message"]
    for invoice_id in (by_e2e, by_text, by_bt83, by_doc_nb, twin_b, batch_1, batch_2):
        assert state(ctx, invoice_id)[:2] == ("paid", date(2025, 3, 14))
    assert {i: state(ctx, i) for i in before} == before  # unmatched lines change nothing
    event = pay_events(ctx)[0]
    assert json.loads(event.detail or "{}") == {
        "paid_on": BOOKED, "source": "camt.053", "statement": "STMT-2025-03-14",
        "line": "statement STMT-2025-03-14, entry 1", "bank_reference": "B-119.00",
        "end_to_end_id": "RE-1", "amount": "119.00", "currency": "EUR",
        "file_sha256": report["sha256"]}
    # the same statement again: every payment is on record already, nothing changes twice
    events = len(pay_events(ctx))
    again = run("paid", "--import", str(path))
    assert again.exit_code == 0
    text = again.stdout.replace("\n" + " " * 11, " ").splitlines()  # unwrapped
    assert text[0].startswith("refused    statement STMT-2025-03-14, entry 1: 119,00\xa0€ on "
                              "14.03.2025 to Muster GmbH ref RE-1 – invoice")
    assert "is paid: cannot pay" in text[0]
    assert text[-1] == "14 lines: 0 paid, 8 refused, 1 ambiguous, 5 unmatched"
    assert len(pay_events(ctx)) == events


def test_dry_run_hostile_files_and_permissions(ctx: Context, run: Run, tmp_path: Path) -> None:
    exported, approved = add(ctx, "D-1", "5.00"), add(ctx, "D-2", "6.00", status="approved")
    good = tmp_path / "good.xml"
    good.write_bytes(camt(entry("5.00", e2e="D-1"), entry("6.00", e2e="D-2")))
    dry = run("paid", "--import", str(good), "--dry-run")
    assert dry.exit_code == 0
    assert " ".join(dry.stdout.split()).endswith(  # wrapped at 80 columns
        "2 lines: 1 would pay, 1 refused, 0 ambiguous, 0 unmatched (dry run: nothing "
        "recorded)")
    assert state(ctx, exported)[0] == "exported" and state(ctx, approved)[0] == "approved"
    for name, data in [("xxe.xml", XXE), ("bomb.xml", BOMB), ("junk.xml", b"\x00junk")]:
        hostile = tmp_path / name
        hostile.write_bytes(data)
        refused = run("paid", "--import", str(hostile))
        assert refused.exit_code == 2 and "error" in refused.output
        assert "root:" not in refused.output  # nothing of /etc/passwd
    register(ctx, "victor", role="viewer")
    assert run("paid", "--import", str(good), login="victor").exit_code == 3
    assert run("paid", "--import", str(good), "--on", "2025-01-01").exit_code == 2
    assert run("paid", "1", "--import", str(good)).exit_code == 2
    assert run("paid", "--import", str(tmp_path / "missing.xml")).exit_code == 2
    assert state(ctx, exported)[0] == "exported" and pay_events(ctx) == []
