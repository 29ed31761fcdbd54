"""The rules of what staff read, at their boundaries: every document can be viewed and shown
(invalid with its findings, a duplicate with its original, an unreadable file with its name, kind,
size, SHA-256, error and arrival), and invoices whose Leitweg-ID matches no office are listed
under ``unassigned`` and counted in ``status``."""

from __future__ import annotations

import io
import json
import os
import pwd
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import lxml.html
import pytest
from pypdf import PdfReader
from rich.text import Span, Text
from sqlalchemy import update
from sqlmodel import col
from typer.testing import CliRunner

from einvoice.cli import app
from einvoice.context import Context
from einvoice.formats.detect import Kind
from einvoice.pipeline import Submission, ingest
from einvoice.store import tables as t
from einvoice.validation.findings import Finding, Flag
from einvoice.views.casepage import NO_OFFICE, UNREADABLE, case_section
from einvoice.views.labels import KIND_DE
from einvoice.views.queries import UNASSIGNED, Case, InboxRow, get_case, inbox
from einvoice.views.render import render_invoice_html
from einvoice.views.status import service_status, status_view
from tests import system
from tests.conftest import register

XR = "valid/xrechnung-testsuite/technical-cases/cius/01.01_comprehensive_test_ubl.xml"
BERLIN = ZoneInfo("Europe/Berlin")
SHA = "ab" * 32


def _xml(corpus: Path, number: str, *, leitweg: bool = True) -> bytes:
    data = (corpus / XR).read_bytes()
    if not leitweg:  # BR-DE-15: the invoice is invalid
        data = re.sub(rb"<cbc:BuyerReference>.*?</cbc:BuyerReference>", b"", data)
    return data.replace(b"<cbc:ID>1234567</cbc:ID>", f"<cbc:ID>{number}</cbc:ID>".encode(), 1)


def _one(ctx: Context, data: bytes, filename: str = "r.xml", channel: str = "cli",
         **extra: str) -> int:
    (outcome,) = ingest(ctx, Submission(data, channel, filename=filename, **extra)).outcomes
    return outcome.invoice_id


def _text(html: str) -> str:
    body = lxml.html.document_fromstring(html).body
    return re.sub(r"[ \t\r\n]+", " ", body.text_content()).strip()


def _facts(html: str) -> dict[str, str]:
    doc = lxml.html.document_fromstring(html)
    return {dt.text_content(): dt.getnext().text_content()
            for dt in doc.xpath("//section[@class='case']/dl/div/dt")}


@pytest.fixture
def cli(ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The CLI on the test's database, run by a registered member of staff; returns stdout,
    asserting the exit code."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EINVOICE_DATABASE_URL", ctx.settings.db_url)
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.delenv("EINVOICE_CONFIG", raising=False)

    def invoke(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.stdout

    register(ctx, pwd.getpwuid(os.geteuid()).pw_name, role="viewer")  # reads need a role
    return invoke


# ------------------------------------------------------------------ view / show every document

def test_unreadable_document_page_shows_file_hash_error_and_arrival(
        ctx: Context, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    member = io.BytesIO()
    with zipfile.ZipFile(member, "w") as z:
        z.writestr("kaputt.xml", b"<junk")
    invoice_id = _one(ctx, member.getvalue(), "sendung.zip", "mail",
                      sender="Lieferant <l@example.com>", subject="Rechnung März")
    cli("view", str(invoice_id), "-o", "page.html")
    html = (tmp_path / "page.html").read_text()
    case = get_case(ctx, invoice_id)
    facts = _facts(html)
    assert facts["Status"] == "nicht lesbar / unreadable (quarantined)"
    assert facts["Datei"] == "kaputt.xml"
    assert facts["Art"] == "keine erkennbare Rechnung (not-an-invoice)"
    assert facts["Größe"] == "5\xa0Byte"
    assert facts["SHA-256"] == case.document.sha256 and len(case.document.sha256) == 64
    assert facts["Fehler"] == case.invoice.error and "not well-formed" in facts["Fehler"]
    local = case.submission.received_at.astimezone(ctx.settings.zone)
    assert facts["Eingang"] == (f"{local:%d.%m.%Y %H:%M} per E-Mail von Lieferant "
                                "<l@example.com>, Betreff „Rechnung März“, in sendung.zip")
    assert "Stelle" not in facts  # an unreadable file was never routed
    doc = lxml.html.document_fromstring(html)
    assert doc.findtext(".//title") == doc.findtext(".//h1") == "Nicht lesbares Dokument kaputt.xml"
    assert UNREADABLE in _text(html) and not doc.xpath("//main")
    shown = cli("show", str(invoice_id))
    assert case.document.sha256 in shown and "kaputt.xml" in shown and "5\xa0Byte" in shown
    assert json.loads(cli("show", str(invoice_id), "--json"))["status"] == "quarantined"
    _set(ctx, invoice_id, status="closed", note="Werbung, keine Rechnung")  # `einvoice close`
    cli("view", str(invoice_id), "-o", "closed.html")
    closed = _facts((tmp_path / "closed.html").read_text())
    assert (closed["Status"], closed["Vermerk"]) == ("erledigt / closed",
                                                      "Werbung, keine Rechnung")
    assert "Werbung, keine Rechnung" in cli("show", str(invoice_id))


def test_unreadable_document_prints_to_pdf(ctx: Context, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    system.chromium()
    invoice_id = _one(ctx, b"%PDF-1.4 not really", "scan.pdf")
    cli("view", str(invoice_id), "-o", "page.html", "--pdf")
    printed = " ".join(p.extract_text() for p in PdfReader(tmp_path / "page.pdf").pages)
    printed = " ".join(printed.split())
    assert "Nicht lesbares Dokument scan.pdf" in printed
    assert get_case(ctx, invoice_id).document.sha256[:32] in printed.replace(" ", "")


def test_invalid_invoice_page_lists_its_findings(ctx: Context, cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                 corpus: Path) -> None:
    invoice_id = _one(ctx, _xml(corpus, "INV-1", leitweg=False))
    cli("view", str(invoice_id), "-o", "page.html")
    html = (tmp_path / "page.html").read_text()
    doc = lxml.html.document_fromstring(html)
    rows = [[td.text_content() for td in tr.xpath("td")]
            for tr in doc.xpath("//section[@class='case']//tbody/tr")]
    assert ["Fehler", "BR-DE-15"] in [r[:2] for r in rows]
    assert any("BT-10" in r[2] for r in rows if r[1] == "BR-DE-15")
    assert _facts(html)["Status"] == "ungültig / invalid"
    assert _facts(html)["Prüfergebnis"].startswith("abgelehnt (reject), Szenario ")
    assert doc.xpath("//main") and "Rechnung INV-1" in _text(html)  # and the invoice itself
    assert "BR-DE-15" in cli("show", str(invoice_id))


def test_duplicate_page_names_the_invoice_it_repeats(ctx: Context, cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                     corpus: Path) -> None:
    first = _one(ctx, _xml(corpus, "D-1"))
    copy = _one(ctx, _xml(corpus, "D-1") + b"<!-- again -->")
    cli("view", str(copy), "-o", "page.html")
    original = get_case(ctx, first).invoice
    local = original.received_at.astimezone(ctx.settings.zone)
    assert _facts((tmp_path / "page.html").read_text())["Duplikat von"] == (
        f"Vorgang {first} (Rechnung D-1, eingegangen {local:%d.%m.%Y %H:%M}, "
        "wartet auf Freigabe)")
    assert "Duplikat von" not in _facts(render_invoice_html(
        None, case_section(get_case(ctx, first), BERLIN)))
    assert re.search(rf"Duplikat von +Vorgang {first} \(Rechnung D-1", cli("show", str(copy)))


def _case(*, office: str | None = None, size: int = 5, verdict: str | None = None,
          scenario: str | None = None, model: bool = True, note: str | None = None,
          **sub: str) -> Case:
    """A case in memory (no database): a readable invoice unless ``model`` is False."""
    from einvoice.model import Invoice

    received = datetime(2026, 7, 1, 10, 5, tzinfo=UTC)
    inv = t.Invoice(id=7, document_id=1, status="pending", office=office, verdict=verdict,
                    scenario=scenario, note=note, received_at=received)
    doc = t.Document(id=1, submission_id=1, sha256=SHA, size=size, filename="r.xml",
                     kind="ubl-invoice")
    submission = t.Submission(id=1, sha256=SHA, size=size, channel=sub.pop("channel", "mail"),
                              received_at=received, **sub)
    return Case(inv, doc, submission, Invoice(number="R-7") if model else None,
                [Finding("BR-X", Flag.WARNING, "m <b>")], ["neue IBAN / IBAN not on file X"], [])


def test_case_facts_at_their_boundaries() -> None:
    def facts(case: Case) -> dict[str, str]:
        return dict(case_section(case, BERLIN).facts)

    assert facts(_case(size=999))["Größe"] == "999\xa0Byte"
    assert facts(_case(size=1000))["Größe"] == "1\xa0kB (1.000\xa0Byte)"
    assert facts(_case(office=None))["Stelle"] == NO_OFFICE == (
        "keine: die Leitweg-ID passt zu keiner Stelle (unassigned)")
    assert facts(_case(office="Tiefbauamt"))["Stelle"] == "Tiefbauamt"
    assert "Stelle" not in facts(_case(model=False))
    assert "Prüfergebnis" not in facts(_case()) and "Vermerk" not in facts(_case())
    assert facts(_case(note="Doppelt eingereicht", model=False))["Vermerk"] == (
        "Doppelt eingereicht")  # why a person closed, rejected or held it
    assert facts(_case(verdict="accept"))["Prüfergebnis"] == "angenommen (accept)"
    assert facts(_case(verdict="reject", scenario="S"))["Prüfergebnis"] == (
        "abgelehnt (reject), Szenario S")
    assert facts(_case(channel="upload"))["Eingang"] == "01.07.2026 12:05 per Upload-Portal"
    assert facts(_case(channel="folder"))["Eingang"] == "01.07.2026 12:05 per Ablageordner"
    assert facts(_case(channel="cli"))["Eingang"] == (
        "01.07.2026 12:05 per Kommandozeile (einvoice ingest)")
    assert facts(_case(channel="sftp", filename="r.xml"))["Eingang"] == (
        "01.07.2026 12:05 per sftp")  # a drop folder's own channel name; same file not repeated
    assert facts(_case(sender="a@b.de", subject="S", filename="z.zip"))["Eingang"] == (
        "01.07.2026 12:05 per E-Mail von a@b.de, Betreff „S“, in z.zip")
    assert facts(_case())["Art"] == "UBL-Rechnung (ubl-invoice)"
    assert set(Kind) <= set(KIND_DE), "every kind of document has German words"


def test_case_section_on_the_page_is_escaped_and_flags_shown() -> None:
    section = case_section(_case(), BERLIN)
    assert section.title == "Vorgang 7: wartet auf Freigabe" and section.unreadable is None
    html = render_invoice_html(_case().model, section)
    assert "<b>" not in html
    doc = lxml.html.document_fromstring(html)
    assert [td.text_content() for td in doc.xpath("//section[@class='case']//tbody//td")] == [
        "Warnung", "BR-X", "m <b>"]
    assert doc.findtext(".//section[@class='case']/h2") == section.title
    assert "neue IBAN / IBAN not on file X" in _text(html)
    assert doc.findtext(".//title") == "Rechnung R-7"
    unreadable = case_section(_case(model=False), BERLIN)
    assert unreadable.title == "Nicht lesbares Dokument r.xml"
    assert unreadable.unreadable == UNREADABLE


# ------------------------------------------------------------------ unassigned invoices

def _set(ctx: Context, invoice_id: int, **values: str | None) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(update(t.Invoice).where(col(t.Invoice.id) == invoice_id).values(**values))


def test_invoices_of_no_office_are_listed_and_counted_as_unassigned(
        ctx: Context, cli, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    ctx.settings.leitweg_routes = {"90000000": "Kämmerei"}  # the sample's Leitweg-ID
    ours = _one(ctx, _xml(corpus, "U-1"))
    ctx.settings.leitweg_routes = {"05117000": "Tiefbauamt"}  # now it matches no route
    lost, held, named, invalid = (_one(ctx, _xml(corpus, f"U-{i}")) for i in range(2, 6))
    _set(ctx, held, status="on_hold")
    _set(ctx, named, office=UNASSIGNED)  # reassigned by that name: among them
    _set(ctx, invalid, status="invalid")  # awaits no decision
    _one(ctx, b"<junk", "bad.xml")  # quarantined: no office, awaits no decision
    assert get_case(ctx, lost).invoice.office is None  # stored as no office

    def ids(office: str | None) -> set[int]:
        return {r.invoice.id or 0 for r in inbox(ctx, office)}

    assert ids(UNASSIGNED) == {lost, held, named}
    assert ids("Kämmerei") == {ours}
    assert ids("Tiefbauamt") == set()
    assert ids(None) == {ours, lost, held, named}
    everything = {r.invoice.id: r for r in inbox(ctx, None)}
    assert everything[lost].office == UNASSIGNED == "unassigned"
    assert everything[ours].office == "Kämmerei"
    assert {r["id"] for r in json.loads(cli("inbox", "--office", "unassigned", "--json"))} == {
        lost, held, named}
    assert len(json.loads(cli("inbox", "--office", "*", "--json"))) == 4

    data = service_status(ctx)
    assert data["unassigned"] == 3 == len(inbox(ctx, UNASSIGNED))
    assert json.loads(cli("status", "--json"))["unassigned"] == 3
    assert "awaiting a decision in no office's inbox: 3 (einvoice inbox --office unassigned)" \
        in cli("status")
    _set(ctx, lost, status="approved")
    assert service_status(ctx)["unassigned"] == 2


def test_status_view_without_unassigned_invoices_is_quiet() -> None:
    data = {"jobs": {}, "queues": {}, "last_export": None, "notices_unsent": 0, "errors": [],
            "unassigned": 0, "waiting": {"count": 0, "oldest": None}}

    def line() -> Text:
        return next(p for p in status_view(data)
                    if isinstance(p, Text) and "no office's inbox" in p.plain)

    quiet = line()
    assert quiet.plain == "awaiting a decision in no office's inbox: 0" and not quiet.spans
    data["unassigned"] = 1
    loud = line()
    assert loud.plain == ("awaiting a decision in no office's inbox: 1 "
                          "(einvoice inbox --office unassigned)")
    assert loud.spans == [Span(0, len(loud.plain), "yellow")]


def test_inbox_row_names_its_office() -> None:
    doc = t.Document(submission_id=1, sha256=SHA, size=1, kind="cii")
    assert InboxRow(t.Invoice(document_id=1, status="pending"), doc, []).office == "unassigned"
    assert InboxRow(t.Invoice(document_id=1, status="pending", office="A"), doc, []).office == "A"
