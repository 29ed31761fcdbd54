"""The invoice page finance staff read: every corpus invoice renders, nothing that was read goes
missing, German formats, a sound self-contained page; PDF and screenshot via headless Chromium."""

from __future__ import annotations

import base64
import json
import re
import shutil
import types
import typing
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from babel.numbers import format_currency
from pydantic import BaseModel

from einvoice.formats.reader import read_document
from einvoice.model import Identifier, Invoice, Line
from einvoice.validation.findings import Finding, Flag
from einvoice.validation.report import finding_json
from einvoice.views import formatting, render
from einvoice.views.casepage import CaseSection
from einvoice.views.chromium import ChromiumMissing, RenderError, html_to_pdf, run_chromium
from einvoice.views.labels import LABELS, code
from einvoice.views.render import render_invoice_html
from tests import system
from tests.conftest import CORPUS

MAX_XML = 64 * 1024 * 1024
XR_CIUS = "valid/xrechnung-testsuite/technical-cases/cius"


def _invoice_files() -> list[str]:
    """Every file under corpus/valid/ and every PDF under corpus/zugferd/ carrying an invoice."""
    if not CORPUS.is_dir():
        return ["<corpus missing>"]
    files = sorted(str(p.relative_to(CORPUS)) for p in (CORPUS / "valid").rglob("*")
                   if p.is_file() and p.name != "manifest.json")
    manifest = json.loads((CORPUS / "zugferd" / "manifest.json").read_text())
    return files + sorted(f"zugferd/{rel}" for rel, entry in manifest.items()
                          if entry["embedded_xml"]["has_xml"]
                          and entry["embedded_xml"]["filename"].lower() != "order-x.xml")


def _read(path: Path) -> Invoice:
    reading = read_document(path.read_bytes(), MAX_XML)
    assert reading.invoice is not None, reading.error
    return reading.invoice


def _text(html: str) -> str:
    """The page's visible text, runs of ASCII whitespace as one space (no-break spaces kept)."""
    (body,) = _elements(lxml.html.document_fromstring(html), "/html/body")
    return re.sub(r"[ \t\r\n]+", " ", body.text_content()).strip()


def _elements(doc: lxml.html.HtmlElement, path: str) -> list[lxml.html.HtmlElement]:
    found = doc.xpath(path)
    assert isinstance(found, list)
    return [e for e in found if isinstance(e, lxml.html.HtmlElement)]


def _compact(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("rel", _invoice_files())
def test_every_corpus_invoice_renders_its_number_total_and_items(corpus: Path, rel: str) -> None:
    invoice = _read(corpus / rel)
    text = _text(render_invoice_html(invoice))
    assert invoice.number and invoice.number in text
    if invoice.totals.with_vat is not None:
        assert format_currency(invoice.totals.with_vat, invoice.currency or "EUR",
                               locale="de_DE") in text
    for line in invoice.lines:
        assert _compact(line.item.name or "") in _compact(text)
    assert "Weitere Angaben" not in text, "a term the layout does not place explicitly"


# ------------------------------------------------------------------ nothing goes missing

def _fill(cls: type[BaseModel], counter: list[int], is_charge: bool = False) -> dict[str, Any]:
    """Data for ``cls`` with every field set to a distinct value (lists get two entries)."""
    data: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        ann = info.annotation
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if isinstance(ann, types.UnionType) or typing.get_origin(ann) is typing.Union:
            ann = args[0]
        counter[0] += 1
        n = counter[0]
        if typing.get_origin(ann) is list:
            (item,) = typing.get_args(ann)
            data[name] = [_fill(item, counter, charge) if item is not Identifier
                          else {"value": f"v{n}x{charge}", "scheme": f"sc{n}"}
                          for charge in (False, True)]
        elif ann is Identifier:
            data[name] = {"value": f"id{n}", "scheme": f"sc{n}"}
        elif isinstance(ann, type) and issubclass(ann, BaseModel):
            data[name] = _fill(ann, counter)
        elif name == "is_charge":
            data[name] = is_charge
        elif name == "content":
            data[name] = base64.b64encode(b"%PDF" + b"x" * 2000).decode()
        elif ann is Decimal:
            data[name] = Decimal(f"{n}.5")
        elif ann is date:
            data[name] = date(2020, 1, 1) + timedelta(days=n)
        else:
            data[name] = f"s{n}"
    return data


def _leaves(obj: BaseModel) -> typing.Iterator[tuple[str, Any]]:
    for name in type(obj).model_fields:
        value = getattr(obj, name)
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, BaseModel) and not isinstance(v, Identifier):
                yield from _leaves(v)
            elif v is not None and name not in ("is_charge", "content"):
                yield name, v


def test_a_fully_populated_invoice_shows_every_value_and_term() -> None:
    invoice = Invoice.model_validate(_fill(Invoice, [99]))
    html = render_invoice_html(invoice)
    text = _compact(_text(html))
    for name, value in _leaves(invoice):
        if isinstance(value, Identifier):
            shown = f"{value.value}(Schema{value.scheme})"
        elif isinstance(value, Decimal):
            shown = str(value).replace(".", ",")
        elif isinstance(value, date):
            shown = value.strftime("%d.%m.%Y")
        else:
            shown = _compact(value)
        assert shown in text, (name, value)
    shown_terms = set(re.findall(r"BT-\d+(?:-\d)?", _text(html)))
    assert {t for t in _model_terms() if t.startswith("BT-")} <= shown_terms
    assert "2\xa0kB" in _text(html)  # attachment size, not its bytes


def _model_classes(cls: type[BaseModel]) -> set[type[BaseModel]]:
    found = {cls}
    for info in cls.model_fields.values():
        for arg in [info.annotation, *typing.get_args(info.annotation)]:
            for inner in [arg, *typing.get_args(arg)]:
                if isinstance(inner, type) and issubclass(inner, BaseModel) and inner not in found:
                    found |= _model_classes(inner)
    return found


def _model_terms() -> set[str]:
    """Every term id in the model's metadata (per-role ids included)."""
    ids: set[str] = set()
    for cls in _model_classes(Invoice):
        for info in cls.model_fields.values():
            extra = info.json_schema_extra
            if isinstance(extra, dict):
                terms = extra.get("terms")
                ids |= {str(t) for t in (terms.values() if isinstance(terms, dict) else [])}
                ids |= {str(extra["term"])} if "term" in extra else set()
    return ids


def test_every_model_term_has_a_german_label() -> None:
    missing = {t for t in _model_terms() if t.startswith("BT-") and t not in LABELS}
    assert not missing


def test_terms_no_section_places_land_in_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    invoice = Invoice.model_validate({"number": "R-1", "seller": {
        "name": "Stadtwerke", "vat_id": "DE111", "address": {"city": "Mülheim"}}})
    monkeypatch.setattr(render, "_party", lambda v, party, role: [])
    text = _text(render_invoice_html(invoice))
    rest = text[text.index("Weitere Angaben"):]
    assert "Name des Verkäufers (BT-27) Stadtwerke" in rest
    assert "(BT-31) DE111" in rest
    assert "Ort des Verkäufers (BT-37) Mülheim" in rest


# ------------------------------------------------------------------ German formats, case data

def test_german_number_date_and_code_formats() -> None:
    assert formatting.money(Decimal("1234.56"), "EUR") == "1.234,56\xa0€"
    assert formatting.money(Decimal("9.9000"), "EUR") == "9,90\xa0€"
    assert formatting.money(Decimal("0.0125"), "EUR") == "0,0125\xa0€"  # unit prices keep decimals
    assert formatting.number(Decimal("1500.2500")) == "1.500,25"
    assert formatting.day(date(2026, 12, 24)) == "24.12.2026"
    assert formatting.iban("DE02120300000000202051") == "DE02 1203 0000 0000 2020 51"
    assert code("BT-3", "381") == "381 – Gutschrift"
    assert code("BT-130", "HUR") == "Stunde (HUR)"
    assert code("BT-40", "AT") == "Österreich (AT)"
    assert formatting.size(150_123) == "150,1\xa0kB"


def test_skonto_terms_are_spelled_out_with_the_last_day() -> None:
    invoice = Invoice.model_validate({
        "number": "R-2", "issue_date": "2026-03-02", "currency": "EUR",
        "payment_terms": "#SKONTO#TAGE=14#PROZENT=2.00#BASISBETRAG=1000.00#\n"})
    text = _text(render_invoice_html(invoice))
    assert "2 % Skonto bei Zahlung innerhalb von 14 Tagen ab Rechnungsdatum, also bis 16.03.2026"\
        in text
    assert "Basisbetrag 1.000,00\xa0€" in text


def test_case_data_is_shown_and_everything_is_escaped() -> None:
    invoice = Invoice.model_validate({"number": "<script>alert(1)</script>",
                                      "notes": [{"text": "a & b <b>"}]})
    finding = finding_json(Finding("BR-DE-15", Flag.FATAL, "Käuferreferenz <fehlt>"))
    html = render_invoice_html(invoice, CaseSection(
        "Vorgang <i>1</i>", [("Status <i>", "wartet auf Freigabe (pending)"),
                             ("Prüfergebnis", "abgelehnt (reject)")], [finding], ["<u>x</u>"]))
    assert "<script>" not in html and "<b>" not in html and "<i>" not in html
    assert "<u>" not in html
    text = _text(html)
    assert "Status <i>wartet auf Freigabe (pending)" in text and "abgelehnt (reject)" in text
    doc = lxml.html.document_fromstring(html)
    assert [td.text_content() for td in _elements(doc, "//section[@class='case']//tbody//td")] \
        == ["Fehler", "BR-DE-15", "Käuferreferenz <fehlt>"]
    assert doc.findtext(".//h1") == "Rechnung <script>alert(1)</script>"


def test_page_is_sound_accessible_and_self_contained(corpus: Path) -> None:
    html = render_invoice_html(_read(corpus / XR_CIUS / "01.01_comprehensive_test_ubl.xml"),
                               CaseSection("Vorgang 1", [("Datei", "r.xml")],
                                           [finding_json(Finding("BR-X", Flag.WARNING, "m"))]))
    parser = lxml.html.HTMLParser()
    doc = lxml.html.document_fromstring(html, parser=parser)
    assert not list(parser.error_log)
    assert doc.get("lang") == "de"
    assert doc.findtext(".//title")
    assert not _elements(doc, "//script | //link | //img | //iframe | //object | //*[@src]")
    style = doc.findtext(".//style") or ""
    assert "http" not in style and "url(" not in style
    assert "@media print" in style
    for table in _elements(doc, "//table"):
        assert _elements(table, ".//th"), "every table has header cells"
    assert all(th.get("scope") in ("col", "row") for th in _elements(doc, "//th"))
    assert len(_elements(doc, "//h1")) == 1


# ------------------------------------------------------------------ Chromium: PDF, screenshot

def _need_chromium() -> None:
    system.chromium()  # in CI a missing browser fails the test; elsewhere it is skipped


def _page_file(tmp_path: Path, corpus: Path, rel: str) -> Path:
    page = tmp_path / "invoice.html"
    page.write_text(render_invoice_html(_read(corpus / rel)), encoding="utf-8")
    return page


def test_screenshot_of_the_page_is_a_real_image(tmp_path: Path, corpus: Path) -> None:
    _need_chromium()
    page = _page_file(tmp_path, corpus, f"{XR_CIUS}/01.01_comprehensive_test_ubl.xml")
    png = tmp_path / "out.png"
    run_chromium(page, f"--screenshot={png}", "--window-size=1280,2000")
    facts = system.png_facts(png)
    assert (facts.width, facts.height) == (1280, 2000)
    assert facts.colours > 16, "a blank or flat page has a single colour"
    assert 0.002 < facts.dark_share < 0.5, facts  # text on a light page
    # what the browser shows is the invoice, not an error page
    shown = _text(system.dump_dom(page))
    assert "Rechnung 1234567" in shown and "Rechnungsnummer (BT-1)" in shown
    assert "12.829,69\xa0€" in shown


def test_html_to_pdf_writes_a_pdf(tmp_path: Path, corpus: Path) -> None:
    _need_chromium()
    page = _page_file(tmp_path, corpus, "zugferd/mustang/library/EN16931_Einfach.pdf")
    pdf = tmp_path / "invoice.pdf"
    html_to_pdf(page, pdf)
    assert pdf.read_bytes().startswith(b"%PDF")


def test_chromium_is_bounded_by_a_timeout(tmp_path: Path) -> None:
    _need_chromium()
    page = tmp_path / "p.html"
    page.write_text("<!doctype html><title>t</title>", encoding="utf-8")
    with pytest.raises(RenderError, match="did not finish"):
        html_to_pdf(page, tmp_path / "p.pdf", timeout=0.01)


def test_missing_chromium_is_a_clear_error(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ChromiumMissing, match="apt-get install -y chromium"):
        html_to_pdf(tmp_path / "p.html", tmp_path / "p.pdf")


def test_line_without_item_name_still_renders() -> None:
    invoice = Invoice(number="R-3", lines=[Line(id="1", quantity=Decimal("2"))])
    assert "R-3" in _text(render_invoice_html(invoice))
