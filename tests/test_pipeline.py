"""Ingest on SQLite and PostgreSQL: idempotent, duplicates marked, bad input quarantined,
originals archived unchanged, amounts exact."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from pathlib import Path

from sqlmodel import Session, func, select

from einvoice.context import Context
from einvoice.pipeline import Submission, ingest
from einvoice.store import tables as t
from einvoice.views.queries import get_case

XR = "valid/xrechnung-testsuite/technical-cases/cius"


def count(ctx: Context, table: type) -> int:
    with Session(ctx.engine) as s:
        return s.exec(select(func.count()).select_from(table)).one()


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_same_bytes_twice_give_one_invoice(ctx: Context, corpus: Path) -> None:
    data = (corpus / XR / "01.01_comprehensive_test_ubl.xml").read_bytes()
    first = ingest(ctx, Submission(data, "cli", filename="a.xml"))
    again = ingest(ctx, Submission(data, "folder", filename="b.xml"))
    assert first.ok and [o.new for o in first.outcomes] == [True]
    assert again.submission_id == first.submission_id
    assert [o.new for o in again.outcomes] == [False]
    assert again.outcomes[0].invoice_id == first.outcomes[0].invoice_id
    assert count(ctx, t.Invoice) == 1 and count(ctx, t.Document) == 1


def test_stored_invoice_keeps_exact_amounts_lines_and_original(ctx: Context, corpus: Path) -> None:
    data = (corpus / XR / "01.01_comprehensive_test_uncefact.xml").read_bytes()
    outcome = ingest(ctx, Submission(data, "cli", filename="x.xml")).outcomes[0]
    case = get_case(ctx, outcome.invoice_id)
    assert case.invoice.status == "pending" and case.invoice.verdict == "accept"
    assert case.document.kind == "cii" and case.document.syntax == "cii"
    assert case.model is not None
    assert case.invoice.gross_total == case.model.totals.with_vat
    assert isinstance(case.invoice.gross_total, Decimal)
    assert case.invoice.specification_id == case.model.specification_id
    assert ctx.archive.get(case.document.sha256) == data
    assert ctx.archive.verify(case.document.sha256)
    with Session(ctx.engine) as s:
        lines = s.exec(select(t.InvoiceLine).where(t.InvoiceLine.invoice_id == outcome.invoice_id)
                       .order_by(t.InvoiceLine.position)).all()
    assert [ln.net_amount for ln in lines] == [ln.net_amount for ln in case.model.lines]
    assert case.submission.received_at.tzinfo is not None


def test_second_copy_with_other_bytes_is_a_duplicate(ctx: Context, corpus: Path) -> None:
    data = (corpus / XR / "01.01_comprehensive_test_ubl.xml").read_bytes()
    first = ingest(ctx, Submission(data, "cli")).outcomes[0]
    copy = ingest(ctx, Submission(data + b"\n<!-- resent -->\n", "cli")).outcomes[0]
    assert copy.new and copy.status == "duplicate"
    assert get_case(ctx, copy.invoice_id).invoice.duplicate_of == first.invoice_id
    other = data.replace(b"<cbc:ID>1234567</cbc:ID>", b"<cbc:ID>7654321</cbc:ID>", 1)
    assert other != data
    assert ingest(ctx, Submission(other, "cli")).outcomes[0].status == "pending"


def test_unreadable_documents_are_quarantined_with_their_error(ctx: Context) -> None:
    cases = {
        "junk.bin": (b"\x00\x01 not an invoice", "neither XML, PDF nor ZIP"),
        "broken.xml": (b"<Invoice><unclosed></Invoice>", "not well-formed"),
        "other.xml": (b"<order xmlns='urn:x'/>", "not an invoice"),
        "fake.pdf": (b"%PDF-1.7\n garbage", "PDF"),
        "empty.xml": (b"", "empty"),
    }
    for name, (data, why) in cases.items():
        res = ingest(ctx, Submission(data, "folder", filename=name))
        assert not res.ok
        (outcome,) = res.outcomes
        assert outcome.status == "quarantined"
        assert outcome.error and why in outcome.error, (name, outcome.error)
        assert ctx.archive.get(res.sha256) == data
    assert count(ctx, t.Invoice) == len(cases)


def test_zip_members_are_documents_of_their_own(ctx: Context, corpus: Path) -> None:
    ubl = (corpus / XR / "01.01_comprehensive_test_ubl.xml").read_bytes()
    cii = (corpus / "valid/en16931-examples/cii/CII_example1.xml").read_bytes()
    data = zip_of({"../../etc/a.xml": ubl, "sub/b.xml": cii, "notes.txt": b"hello",
                   "inner.zip": zip_of({"c.xml": ubl})})
    res = ingest(ctx, Submission(data, "upload", filename="batch.zip"))
    names = sorted((o.filename or "", o.status) for o in res.outcomes)
    assert names == [("a.xml", "pending"), ("b.xml", "pending"), ("c.xml", "pending"),
                     ("notes.txt", "quarantined")]
    # c.xml has the same bytes as a.xml: one document, reported twice
    assert len({o.document_id for o in res.outcomes}) == 3
    again = ingest(ctx, Submission(data, "upload"))
    assert not any(o.new for o in again.outcomes)
    assert count(ctx, t.Invoice) == 3


def test_zip_bomb_and_broken_zip_are_quarantined(ctx: Context) -> None:
    bomb = zip_of({f"{i}.xml": b"\0" * (40 * 1024 * 1024) for i in range(8)})
    assert len(bomb) < 2 * 1024 * 1024
    res = ingest(ctx, Submission(bomb, "upload", filename="bomb.zip"))
    assert res.outcomes[0].status == "quarantined"
    assert "size limit" in (res.outcomes[0].error or "")
    broken = ingest(ctx, Submission(b"PK\x03\x04 broken", "upload")).outcomes[0]
    assert broken.status == "quarantined" and "ZIP" in (broken.error or "")
    empty = ingest(ctx, Submission(zip_of({}), "upload")).outcomes[0]
    assert empty.status == "quarantined" and "no files" in (empty.error or "")


def test_rejected_invoice_is_invalid_with_its_findings_stored(ctx: Context, corpus: Path) -> None:
    data = (corpus / XR / "01.01_comprehensive_test_ubl.xml").read_bytes()
    broken = data.replace(b"<cbc:BuyerReference>", b"<cbc:Note>").replace(
        b"</cbc:BuyerReference>", b"</cbc:Note>")
    outcome = ingest(ctx, Submission(broken, "cli")).outcomes[0]
    case = get_case(ctx, outcome.invoice_id)
    assert outcome.status == "invalid" and case.invoice.verdict == "reject"
    assert "XRechnung" in (case.invoice.scenario or "") and "(UBL Invoice)" in (
        case.invoice.scenario or "")
    assert "BR-DE-15" in {f.rule_id for f in case.findings if f.level == "error"}


def test_a_corrected_resend_of_an_invalid_invoice_is_not_a_duplicate(ctx: Context,
                                                                     corpus: Path) -> None:
    data = (corpus / XR / "01.01_comprehensive_test_ubl.xml").read_bytes()
    broken = data.replace(b"<cbc:BuyerReference>", b"<cbc:Note>").replace(
        b"</cbc:BuyerReference>", b"</cbc:Note>")
    assert ingest(ctx, Submission(broken, "cli")).outcomes[0].status == "invalid"
    assert ingest(ctx, Submission(data, "cli")).outcomes[0].status == "pending"


def test_a_nul_in_what_a_channel_names_is_stored_visibly(ctx: Context, corpus: Path) -> None:
    """PostgreSQL text holds no NUL: one in a file name, sender, subject or Message-ID of any
    channel must not make the submission unrecordable."""
    data = (corpus / "valid/xrechnung-testsuite/technical-cases/cius/01.05_minimal_test_ubl.xml"
            ).read_bytes()
    sub = Submission(data, "mail", filename="a\x00.xml", sender="x\x00@example.org",
                     subject="Rechnung\x00", message_id="<m\x00@example.org>")
    result = ingest(ctx, sub)
    with Session(ctx.engine) as s:
        row = s.get(t.Submission, result.submission_id)
        assert row is not None
        assert (row.filename, row.sender, row.subject, row.message_id) == (
            "a\u2400.xml", "x\u2400@example.org", "Rechnung\u2400", "<m\u2400@example.org>")
    assert result.outcomes[0].status != "quarantined"
