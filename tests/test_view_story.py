"""The whole story of an invoice on its page (``view``, HTML and PDF) and in ``show``: status in
German and English, the approvals with the register's names and local times (and what is still
open), why it was held, rejected or closed, the supplier warnings with their reasons, office,
pay-by date and Skonto, rule release and profile, and the findings of the check."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import lxml.html
import pytest
from pypdf import PdfReader
from sqlalchemy import update
from sqlmodel import col

from einvoice.approval import workflow
from einvoice.approval.suppliers import SupplierData, save_supplier
from einvoice.context import Context
from einvoice.pipeline import Submission, ingest
from einvoice.store import tables as t
from einvoice.views.chromium import run_chromium
from einvoice.views.story import event_rows
from tests import system
from tests.conftest import register
from tests.test_output_style import COMPREHENSIVE, ON_FILE, Cli, fits, staff_cli

SKONTO = b"#SKONTO#TAGE=14#PROZENT=2.00#\n"
APPROVED_AT = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 in Berlin (CEST)


@pytest.fixture
def cli(ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI in an 80-column terminal, with the settings of ``cases``."""
    run = staff_cli(ctx, tmp_path, monkeypatch)
    settings = tmp_path / "einvoice.toml"
    settings.write_text('[approval_steps]\nBauamt = ["sachlich", "rechnerisch", "anordnung"]\n',
                        encoding="utf-8")
    monkeypatch.setenv("EINVOICE_CONFIG", str(settings))
    return run


@pytest.fixture
def cases(ctx: Context, corpus: Path) -> dict[str, int]:
    """Three invoices of the Kämmerei from a supplier on file with another IBAN: one approved
    by two people (four-eyes), one held, released and rejected, one of an office that signs in
    the municipal steps, its first step signed."""
    register(ctx, "anna", name="Anna Adler", steps='["sachlich"]')
    register(ctx, "bernd", name="Bernd Berger")
    ctx.settings.leitweg_routes = {"90000000": "Kämmerei"}
    ctx.settings.approval_steps = {"Bauamt": ["sachlich", "rechnerisch", "anordnung"]}
    data = re.sub(rb"<cbc:Note>Beschreibung 1:[^<]*</cbc:Note>", b"<cbc:Note>" + SKONTO
                  + b"</cbc:Note>", (corpus / COMPREHENSIVE).read_bytes())
    ids = {}
    for name in ("approved", "rejected", "steps"):
        xml = data.replace(b"<cbc:ID>1234567</cbc:ID>", f"<cbc:ID>{name}</cbc:ID>".encode(), 1)
        (outcome,) = ingest(ctx, Submission(xml, "cli", filename=f"{name}.xml")).outcomes
        ids[name] = outcome.invoice_id
    # on file only now: at ingest, another IBAN on a known VAT id would hold them (issue 14)
    save_supplier(ctx, SupplierData("[Seller name]", "ATU123456789", (ON_FILE,)))
    workflow.approve(ctx, ids["approved"], "anna")
    workflow.approve(ctx, ids["approved"], "bernd")
    with ctx.engine.begin() as conn:
        conn.execute(update(t.Approval).where(col(t.Approval.invoice_id) == ids["approved"],
                                              col(t.Approval.staff_id) == _staff_id(ctx, "anna"))
                     .values(at=APPROVED_AT))
    workflow.hold(ctx, ids["rejected"], "anna", "Rückfrage beim Lieferanten")
    workflow.release(ctx, ids["rejected"], "anna")
    workflow.reject(ctx, ids["rejected"], "bernd", "Leistung nicht erbracht")
    workflow.reassign(ctx, ids["steps"], "anna", "Bauamt", "Baumaßnahme")
    workflow.approve(ctx, ids["steps"], "anna", "sachlich")
    return ids


def _staff_id(ctx: Context, login: str) -> int:
    with ctx.engine.connect() as conn:
        found = conn.execute(t.Staff.__table__.select()  # type: ignore[attr-defined]
                             .where(col(t.Staff.login) == login)).first()
    assert found is not None
    return int(found.id)


def _page(cli: Cli, tmp_path: Path, invoice_id: int, *pdf: str) -> lxml.html.HtmlElement:
    cli("view", str(invoice_id), "-o", f"case-{invoice_id}.html", *pdf)
    return lxml.html.document_fromstring((tmp_path / f"case-{invoice_id}.html").read_text())


def _facts(doc: lxml.html.HtmlElement) -> dict[str, str]:
    return {dt.text_content(): dt.getnext().text_content()
            for dt in doc.xpath("//section[@class='case']/dl/div/dt")}


def _rows(doc: lxml.html.HtmlElement, table: str) -> list[list[str]]:
    return [[re.sub(r"[ \t\r\n]+", " ", c.text_content()).strip() for c in tr.xpath("th|td")]
            for tr in doc.xpath(f"//section[@class='case']//table[@class='{table}']/tbody/tr")]


def _text(doc: lxml.html.HtmlElement) -> str:
    return re.sub(r"[ \t\r\n]+", " ", doc.body.text_content())


def test_an_approved_invoice_page_tells_its_whole_story(
        ctx: Context, cli: Cli, cases: dict[str, int], tmp_path: Path) -> None:
    doc = _page(cli, tmp_path, cases["approved"])
    facts = _facts(doc)
    case = ctx.engine  # the stored columns the page must show
    with case.connect() as conn:
        inv = conn.execute(t.Invoice.__table__.select()  # type: ignore[attr-defined]
                           .where(col(t.Invoice.id) == cases["approved"])).one()
    assert inv.rule_release and inv.profile
    assert facts["Status"] == "freigegeben / approved"
    assert facts["Stelle"] == "Kämmerei"
    assert facts["Zahlen bis"] == "13.04.2018"
    assert facts["Skonto"] == "2 % bei Zahlung bis 27.04.2018"
    assert facts["Regelwerk"] == inv.rule_release and facts["Profil"] == inv.profile
    assert "Wartet auf" not in facts
    approvals = _rows(doc, "approvals")
    assert approvals[0] == ["Freigabe 1 von 2", "Anna Adler (anna), 29.03.2026 03:30"]
    assert approvals[1][0] == "Freigabe 2 von 2"
    assert approvals[1][1].startswith("Bernd Berger (bernd), ")
    history = _rows(doc, "history")
    assert [r[1:3] for r in history] == [["einvoice", "Eingang geprüft"],
                                        ["Anna Adler (anna)", "Freigabe"],
                                        ["Bernd Berger (bernd)", "Freigabe"]]
    assert history[-1][3] == "wartet auf Freigabe → freigegeben"
    assert "über 12.829,69\xa0€" in history[-1][4]
    flags = [li.text_content() for li in doc.xpath("//div[@class='flags']//li")]
    assert len(flags) == 2 and all(f.startswith("neue IBAN / IBAN not on file DE") for f in flags)
    assert all(f"„[Seller name]“ in den Stammdaten ({ON_FILE})" in f for f in flags)
    findings = [[td.text_content() for td in tr.xpath("td")] for tr in doc.xpath(
        "//section[@class='case']/table[not(@class)]/tbody/tr")]
    assert ["Warnung", "EINVOICE-LEITWEG-1"] in [f[:2] for f in findings]


def test_a_rejected_invoice_page_says_who_held_and_rejected_it_and_why(
        cli: Cli, cases: dict[str, int], tmp_path: Path) -> None:
    doc = _page(cli, tmp_path, cases["rejected"])
    facts = _facts(doc)
    assert facts["Status"] == "abgelehnt / rejected"
    assert facts["Vermerk"] == "Leistung nicht erbracht"
    assert [r[1:] for r in _rows(doc, "history")[1:]] == [
        ["Anna Adler (anna)", "zurückgestellt", "wartet auf Freigabe → zurückgestellt",
         "Rückfrage beim Lieferanten"],
        ["Anna Adler (anna)", "wieder aufgenommen", "zurückgestellt → wartet auf Freigabe", ""],
        ["Bernd Berger (bernd)", "abgelehnt", "wartet auf Freigabe → abgelehnt",
         "Leistung nicht erbracht"]]
    assert not _rows(doc, "approvals")  # no approval was given, none is open any more


def test_an_invoice_in_municipal_steps_shows_the_signed_and_the_open_ones(
        cli: Cli, cases: dict[str, int], tmp_path: Path) -> None:
    doc = _page(cli, tmp_path, cases["steps"])
    facts = _facts(doc)
    assert facts["Status"] == "wartet auf Freigabe / awaiting approval (pending)"
    assert (facts["Stelle"], facts["Wartet auf"]) == ("Bauamt", "rechnerisch richtig")
    signed, *still_open = _rows(doc, "approvals")
    assert signed[0] == "sachlich richtig" and signed[1].startswith("Anna Adler (anna), ")
    assert still_open == [["rechnerisch richtig", "offen / open"], ["Anordnung", "offen / open"]]
    assert ["Anna Adler (anna)", "sachlich richtig gezeichnet"] in [
        r[1:3] for r in _rows(doc, "history")]
    assert "von Kämmerei an Bauamt" in _text(doc)


def test_show_tells_the_same_story_in_80_columns(cli: Cli, cases: dict[str, int]) -> None:
    out = cli("show", str(cases["approved"]))
    fits(out, "freigegeben / approved", "Anna Adler (anna), 29.03.2026 03:30", "Kämmerei",
         "2 % bei Zahlung bis 27.04.2018", "Freigabe 2 von 2", "13.04.2018", ON_FILE)
    rejected = cli("show", str(cases["rejected"]))
    assert re.search(r"Vermerk +Leistung nicht erbracht", rejected)
    assert re.search(r"Bernd Berger +abgelehnt +Leistung nicht", rejected)  # one history row
    shown = json.loads(cli("show", "--json", str(cases["steps"])))
    assert shown["next_step"] == "rechnerisch" and Decimal(shown["skonto_percent"]) == 2
    assert [(a["step"], a["by"], a["name"]) for a in shown["approvals"]] == [
        ("sachlich", "anna", "Anna Adler")]


def test_the_story_in_headless_chromium_page_and_pdf(
        cli: Cli, cases: dict[str, int], tmp_path: Path) -> None:
    """What the browser shows and what it prints carry the story, not just the invoice."""
    system.chromium()  # required in CI, skipped elsewhere when missing
    _page(cli, tmp_path, cases["approved"], "--pdf")
    page = tmp_path / f"case-{cases['approved']}.html"
    expected = ["Vorgang", "freigegeben / approved", "Freigaben / approvals",
                "Anna Adler (anna), 29.03.2026 03:30", "Bernd Berger (bernd)", "Kämmerei",
                "2 % bei Zahlung bis 27.04.2018", "neue IBAN / IBAN not on file",
                "EINVOICE-LEITWEG-1", "Verlauf / history"]
    shown = _text(lxml.html.document_fromstring(system.dump_dom(page)))
    printed = "".join(unicodedata.normalize("NFKC", p.extract_text())  # ﬁ → fi
                      for p in PdfReader(page.with_suffix(".pdf")).pages)
    printed = "".join(printed.split())
    for text in expected:
        assert text in shown, text
        assert "".join(text.split()) in printed, text  # the PDF's text runs lose their spaces
    shot = tmp_path / "case.png"
    run_chromium(page, f"--screenshot={shot}", "--window-size=1280,1600")
    facts = system.png_facts(shot)
    assert facts.colours > 16 and 0.002 < facts.dark_share < 0.5, facts  # a page of text


def test_every_kind_of_event_is_said_in_words() -> None:
    at = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)

    def event(action: str, detail: dict[str, object] | None = None, actor: str = "anna",
              before: str | None = "pending", after: str | None = "pending") -> t.AuditEvent:
        return t.AuditEvent(invoice_id=1, at=at, actor=actor, action=action, before=before,
                            after=after, detail=json.dumps(detail) if detail else None,
                            prev_hash="p", hash="h")

    rows = event_rows([
        event("assign", {"line": 2, "account": "6800", "cost_centre": "K1"}),
        event("export", {"batch": 3, "creditor": "70001", "account": "4900",
                         "cost_centre": None}, "einvoice", "approved", "exported"),
        event("pay", {"paid_on": "2026-06-30", "source": "manual"}, after="paid"),
        event("pay", {"paid_on": "2026-06-30", "source": "camt.053", "statement": "S-1",
                      "amount": "1234.56", "currency": "EUR", "file_sha256": "ab"}),
        event("approve", {"step": "anordnung", "gross_total": "10.00", "currency": "EUR",
                          "data_sha256": "ab", "on_behalf_of": "anna",
                          "on_behalf_reason": "Urlaub"}, "carol"),
        event("revalidate", {"verdict": "accept", "release": "xrechnung-2.6.0"}, "einvoice",
              "received"),
        event("frobnicate", {"x": [1, 2]}),
    ], {"anna": "Anna Adler", "carol": "Carol Clausen"}, ZoneInfo("Europe/Berlin"))
    assert {r.when for r in rows} == {"01.07.2026 12:00:00"}
    assert [(r.who, r.what, r.change, r.why) for r in rows] == [
        ("Anna Adler (anna)", "kontiert", "", "Position 2; Konto 6800; Kostenstelle K1"),
        ("einvoice", "an die Buchhaltung übergeben", "freigegeben → exportiert",
         "Stapel 3; Kreditor 70001; Konto 4900"),
        ("Anna Adler (anna)", "bezahlt", "wartet auf Freigabe → bezahlt",
         "am 30.06.2026; von Hand erfasst"),
        ("Anna Adler (anna)", "bezahlt", "", "am 30.06.2026; Kontoauszug S-1: 1.234,56\xa0€"),
        ("Carol Clausen (carol) für Anna Adler (anna)", "Anordnung gezeichnet", "",
         "über 10,00\xa0€; Vertretung: Urlaub"),
        ("einvoice", "erneut geprüft", "eingegangen → wartet auf Freigabe",
         "Ergebnis: angenommen; Regelwerk xrechnung-2.6.0"),
        ("Anna Adler (anna)", "frobnicate", "", "x 1, 2")]
