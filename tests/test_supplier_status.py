"""What a supplier learns about its invoices (issue 13), over real HTTP against uvicorn as
tests/test_http.py does, on SQLite and PostgreSQL: the lookup by invoice number with the
supplier's token (its own invoices only, both when a number repeats), the status in plain German
and English, the expected payment date only while a payment is expected, the day it was paid;
the status page; and the receipt of a document that will not be processed (a plain PDF above
all), on the upload answer, the upload page and the mail receipt."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import lxml.html
import pypdf
import pytest
import uvicorn
from sqlalchemy import update
from sqlmodel import Session, col, select

from einvoice.approval import workflow
from einvoice.approval.payments import pay
from einvoice.approval.suppliers import SupplierData, save_supplier
from einvoice.approval.tokens import create_token
from einvoice.config import Settings
from einvoice.context import Context, open_context
from einvoice.formats.detect import Kind
from einvoice.intake.http import create_app
from einvoice.notify import text as notify_text
from einvoice.notify.unprocessable import unprocessable
from einvoice.pipeline import Submission, ingest
from einvoice.store import tables as t
from einvoice.views.chromium import run_chromium
from tests import system
from tests.conftest import register

CIUS = "valid/xrechnung-testsuite/technical-cases/cius"
COMPREHENSIVE = f"{CIUS}/01.01_comprehensive_test_ubl.xml"
MINIMAL = f"{CIUS}/01.05_minimal_test_ubl.xml"
API = "/api/v1/invoices"
CHECKED_DE = "gültig, in Prüfung durch die Rechnungsstelle"
CHECKED_EN = "valid, being reviewed by our accounts department"


def renumber(data: bytes, number: str) -> bytes:
    out = data.replace(b"<cbc:ID>1234567</cbc:ID>", f"<cbc:ID>{number}</cbc:ID>".encode(), 1)
    assert out != data
    return out


def invalid(data: bytes) -> bytes:
    """Without its Leitweg-ID (BR-DE-15): read, numbered, rejected by validation."""
    return data.replace(b"<cbc:BuyerReference>", b"<cbc:Note>", 1).replace(
        b"</cbc:BuyerReference>", b"</cbc:Note>", 1)


def plain_pdf() -> bytes:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(595, 842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@dataclass
class Server:
    url: str
    ctx: Context

    def supplier(self, name: str) -> str:
        """A new supplier's token."""
        row = save_supplier(self.ctx, SupplierData(name))
        assert row.id is not None
        return create_token(self.ctx, row.id, "test")[1]


@pytest.fixture
def serve(settings: Settings) -> Iterator[Callable[..., Server]]:
    """The app (with settings overrides) in uvicorn on a free loopback port."""
    running: list[tuple[uvicorn.Server, threading.Thread, Context]] = []

    def start(**overrides: Any) -> Server:
        app_settings = settings.model_copy(update=overrides)
        config = uvicorn.Config(create_app(app_settings), host="127.0.0.1", port=0,
                                log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        ctx = open_context(app_settings)
        running.append((server, thread, ctx))
        return Server(f"http://127.0.0.1:{port}", ctx)

    yield start
    for server, thread, ctx in running:
        server.should_exit = True
        thread.join(timeout=30)
        ctx.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def upload(client: httpx.Client, token: str, data: bytes, name: str = "r.xml") -> dict[str, Any]:
    r = client.post(API, files={"file": (name, data)}, headers=bearer(token))
    assert r.status_code in (200, 422), r.text
    (doc,) = r.json()["documents"]
    return dict(doc)


def looked_up(client: httpx.Client, token: str, number: str) -> list[dict[str, Any]]:
    r = client.get(API, params={"number": number}, headers=bearer(token))
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["number"] == number.strip()
    return list(found["invoices"])


def words(html: str) -> str:
    """The text of a page's body, each element's text a word apart."""
    body = lxml.html.fromstring(html).find("body")
    assert body is not None
    return " ".join(" ".join(body.itertext()).split())


def set_status(ctx: Context, invoice_id: int, status: str) -> None:
    """As the export leaves an invoice (its own tests cover how)."""
    with ctx.engine.begin() as conn:
        conn.execute(update(t.Invoice).where(col(t.Invoice.id) == invoice_id)
                     .values(status=status, version=t.Invoice.version + 1))


def test_lookup_by_number_with_the_token_and_what_the_supplier_is_told(
        serve: Callable[..., Server], corpus: Path) -> None:
    srv = serve(four_eyes_threshold=Decimal("1000000"))
    token_a, token_b = srv.supplier("A GmbH"), srv.supplier("B GmbH")
    register(srv.ctx, "alice")
    minimal, full = (corpus / MINIMAL).read_bytes(), (corpus / COMPREHENSIVE).read_bytes()
    with httpx.Client(base_url=srv.url, timeout=60) as client:
        first = upload(client, token_a, renumber(minimal, "R-100"))
        second = upload(client, token_a, renumber(full, "R-100"))  # the number again
        theirs = upload(client, token_b, renumber(minimal, "R-100") + b"<!-- B -->")
        bad = upload(client, token_a, invalid(renumber(full, "R-BAD")))
        assert (first["status"], second["status"], theirs["status"], bad["status"]) == (
            "pending", "pending", "duplicate", "invalid")

        mine = looked_up(client, token_a, " R-100 ")
        assert [i["invoice_id"] for i in mine] == [first["invoice_id"], second["invoice_id"]]
        assert {(i["status"], i["status_de"], i["status_en"]) for i in mine} == {
            ("pending", CHECKED_DE, CHECKED_EN)}
        assert mine[1]["pay_by"] == "2018-04-13" and mine[1]["paid_on"] is None  # BT-9
        (dup,) = looked_up(client, token_b, "R-100")  # another supplier's R-100 is not there
        assert (dup["invoice_id"], dup["status"], dup["pay_by"]) == (
            theirs["invoice_id"], "duplicate", None)
        assert "Duplikat" in dup["status_de"] and "duplicate" in dup["status_en"]
        assert looked_up(client, token_b, "R-BAD") == [] == looked_up(client, token_a, "R-1")
        # an invalid invoice has a stored pay-by date, but no supplier is told one
        with Session(srv.ctx.engine) as s:
            assert s.get(t.Invoice, bad["invoice_id"]).pay_by is not None  # type: ignore[union-attr]
        (shown,) = looked_up(client, token_a, "R-BAD")
        assert (shown["status"], shown["pay_by"], shown["status_en"]) == (
            "invalid", None, "invalid, will not be processed")
        assert client.get(API, params={"number": "R-100"}).status_code == 401
        assert client.get(API, params={"number": ""}, headers=bearer(token_a)).status_code == 422

        a, b = first["invoice_id"], second["invoice_id"]
        workflow.approve(srv.ctx, a, "alice")
        workflow.reject(srv.ctx, b, "alice", "Leistung nicht erbracht")
        approved, rejected = looked_up(client, token_a, "R-100")
        assert (approved["status"], approved["status_de"], rejected["status"]) == (
            "approved", "freigegeben", "rejected")
        assert approved["pay_by"] is not None and rejected["pay_by"] is None
        set_status(srv.ctx, a, "exported")
        exported = client.get(f"{API}/{a}", headers=bearer(token_a)).json()
        assert (exported["status_de"], exported["status_en"]) == (
            "zur Zahlung übergeben", "passed on for payment")
        assert exported["pay_by"] == approved["pay_by"] and exported["paid_on"] is None
        pay(srv.ctx, a, "alice", date(2025, 3, 14))
        paid = client.get(f"{API}/{a}", headers=bearer(token_a)).json()
        assert paid == {"invoice_id": a, "number": "R-100", "status": "paid", "verdict": "accept",
                        "pay_by": None, "paid_on": "2025-03-14", "status_de": "bezahlt",
                        "status_en": "paid"}
        assert looked_up(client, token_a, "R-100")[0] == paid
        assert client.get(f"{API}/{a}", headers=bearer(token_b)).status_code == 404


def test_the_status_page(serve: Callable[..., Server], corpus: Path, tmp_path: Path) -> None:
    srv = serve()
    token_a, token_b = srv.supplier("A GmbH"), srv.supplier("B GmbH")
    with httpx.Client(base_url=srv.url, timeout=60) as client:
        a = upload(client, token_a, renumber((corpus / MINIMAL).read_bytes(), "R-7"))
        b = upload(client, token_a, invalid(renumber((corpus / COMPREHENSIVE).read_bytes(),
                                                     "R-7")))
        register(srv.ctx, "alice")
        set_status(srv.ctx, a["invoice_id"], "exported")
        pay(srv.ctx, a["invoice_id"], "alice", date(2025, 3, 14))
        form = client.get("/status")
        assert form.status_code == 200
        page = lxml.html.fromstring(form.text)
        assert page.xpath("//form[@action='/status']//input[@name='token' and "
                          "@type='password']") and page.xpath("//input[@name='number']")
        found = client.post("/status", data={"token": token_a, "number": "R-7"})
        assert found.status_code == 200
        shown = words(found.text)
        assert "2 Rechnungen gefunden" in shown
        assert f"Rechnung R-7 (Eingangsnummer {a['invoice_id']})" in shown
        assert "Status bezahlt paid Bezahlt am 14.03.2025 (paid on 2025-03-14)" in shown
        assert (f"Rechnung R-7 (Eingangsnummer {b['invoice_id']}) Status fehlerhaft, wird nicht "
                "bearbeitet invalid, will not be processed Prüfergebnis abgelehnt") in shown
        assert "Zahlung voraussichtlich" not in shown
        in_browser(found.text, tmp_path, [
            "2 Rechnungen gefunden", "Status bezahlt", "Bezahlt am 14.03.2025",
            "fehlerhaft, wird nicht bearbeitet", "invalid, will not be processed"])
        none = client.post("/status", data={"token": token_b, "number": "R-7"})
        assert none.status_code == 200 and "keine Rechnung von Ihnen" in none.text
        assert "Eingangsnummer" not in none.text
        wrong = client.post("/status", data={"token": "nope", "number": "R-7"})
        assert wrong.status_code == 401 and 'role="alert"' in wrong.text
        empty = client.post("/status", data={"token": token_a, "number": " "})
        assert empty.status_code == 400 and "Rechnungsnummer ein" in empty.text


def in_browser(html: str, folder: Path, expected: list[str]) -> None:
    """What Chromium shows of the page (its DOM after rendering) holds every expected text, and
    its screenshot is a page with text on it."""
    page = folder / "status.html"
    page.write_text(html, encoding="utf-8")
    body = lxml.html.document_fromstring(system.dump_dom(page)).body
    shown = " ".join(" ".join(body.itertext()).split())  # a space between elements' texts
    for text in expected:
        assert text in shown, text
    shot = folder / "status.png"
    run_chromium(page, f"--screenshot={shot}", "--window-size=1000,1400")
    facts = system.png_facts(shot)
    assert (facts.width, facts.height) == (1000, 1400)
    assert facts.colours > 16 and 0.001 < facts.dark_share < 0.5, facts  # a page of text


def test_a_plain_pdf_gets_a_receipt_saying_it_will_not_be_processed(
        serve: Callable[..., Server], corpus: Path) -> None:
    srv = serve()
    token = srv.supplier("A GmbH")
    with httpx.Client(base_url=srv.url, timeout=60) as client:
        r = client.post(API, files={"file": ("rechnung.pdf", plain_pdf())},
                        headers=bearer(token))
        assert r.status_code == 422
        (doc,) = r.json()["documents"]
        assert (doc["status"], doc["kind"]) == ("quarantined", "pdf-without-xml")
        said = doc["unprocessable"]
        assert "PDF ohne eingebettete Rechnungsdaten (XML)" in said["de"]
        assert "kann nicht bearbeitet werden" in said["de"] and "XRechnung" in said["de"]
        assert "ZUGFeRD- bzw. Factur-X-PDF mit eingebetteter Rechnungs-XML" in said["de"]
        assert "cannot be processed" in said["en"] and "ZUGFeRD / Factur-X PDF" in said["en"]
        ok = upload(client, token, renumber((corpus / MINIMAL).read_bytes(), "OK-1"))
        assert ok["unprocessable"] is None
        page = client.post("/upload", data={"token": token},
                           files={"file": ("scan.pdf", plain_pdf() + b"%scan")})
        assert page.status_code == 422
        text = words(page.text)
        assert "Diese Datei wird nicht bearbeitet. Diese Datei ist ein PDF ohne" in text
        assert "This file will not be processed. This file is a PDF without" in text


def test_the_mail_receipt_of_unprocessable_documents(ctx: Context) -> None:
    sub_ids = []
    for data, name in [(plain_pdf(), "scan.pdf"), (b"Hallo, anbei die Rechnung", "x.txt")]:
        result = ingest(ctx, Submission(data, "mail", filename=name, sender="a@example.org"))
        sub_ids.append(result.submission_id)
    with Session(ctx.engine) as s:
        for sub_id, says_de, says_en in [
                (sub_ids[0], "Diese Datei ist ein PDF ohne eingebettete Rechnungsdaten (XML).",
                 "This file is a PDF without embedded invoice data (XML)."),
                (sub_ids[1], "Diese Datei ist keine elektronische Rechnung und kann nicht "
                 "bearbeitet werden", "This file is not an electronic invoice and cannot be "
                 "processed")]:
            sub = s.get(t.Submission, sub_id)
            assert sub is not None
            cases = list(s.exec(select(t.Document, t.Invoice)
                                .join(t.Invoice, col(t.Invoice.document_id) == col(t.Document.id))
                                .where(col(t.Document.submission_id) == sub_id)).all())
            body = notify_text.receipt(sub, cases).body
            german, english = body.split("-- English")
            assert says_de in " ".join(german.split()) and "XRechnung" in german
            assert says_en in " ".join(english.split()) and "ZUGFeRD" in english
            assert all(len(ln) <= 80 for ln in body.splitlines() if "SHA-256" not in ln)


@pytest.mark.parametrize(("kind", "error", "de", "en"), [
    (Kind.PDF_WITHOUT_XML, "PDF without embedded invoice XML", "PDF ohne eingebettete",
     "PDF without embedded"),
    (Kind.PDF_WITHOUT_XML, "PDF cannot be read: encrypted", "PDF-Datei konnte nicht geöffnet "
     "werden (PDF cannot be read: encrypted)", "could not be opened"),
    (Kind.ZIP, "zip bomb", "ZIP-Archiv konnte nicht gelesen werden (zip bomb)", "one by one"),
    (Kind.NOT_AN_INVOICE, None, "keine elektronische Rechnung", "not an electronic invoice"),
    (Kind.UBL_INVOICE, "not well-formed XML", "Rechnungsdaten (XML) konnten nicht gelesen "
     "werden (not well-formed XML)", "could not be read (not well-formed XML)"),
    (Kind.FACTURX_PDF, "embedded factur-x.xml: DTD refused", "(embedded factur-x.xml: DTD "
     "refused)", "send the corrected invoice again"),
])
def test_why_a_document_is_not_processed(kind: str, error: str | None, de: str,
                                         en: str) -> None:
    said = unprocessable("quarantined", kind, error)
    assert said is not None and de in said.de and en in said.en
    for status in ("pending", "invalid", "duplicate", "received"):
        assert unprocessable(status, kind, error) is None
