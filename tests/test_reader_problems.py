"""Dates and numbers the reader cannot parse become findings on an invalid document, never a
quarantine: the model keeps None, the reading lists the problem (term, text, place), and the
validator turns each into a fatal ``EINVOICE-READ`` finding."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from einvoice.config import load_settings
from einvoice.context import Context, open_context
from einvoice.errors import ReadError
from einvoice.formats.cii import read_cii
from einvoice.formats.reader import read_document
from einvoice.formats.xmlsafe import parse_xml
from einvoice.pipeline import Submission, ingest
from einvoice.validation.engine import READ, Validator
from einvoice.validation.findings import Flag, Verdict

STANDARD = "valid/xrechnung-testsuite/business-cases/standard"
CII = "01.14a-INVOICE_uncefact.xml"
ISSUE_102 = '<udt:DateTimeString format="102">20180413</udt:DateTimeString>'
LIMIT = 50_000_000


def cii_with(corpus: Path, old: str, new: str) -> bytes:
    data = (corpus / STANDARD / CII).read_text("utf-8")
    assert data.count(old) >= 1
    return data.replace(old, new, 1).encode()


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator()


@pytest.fixture
def sqlite_ctx(tmp_path: Path) -> Iterator[Context]:
    ctx = open_context(load_settings(data_dir=tmp_path / "data", inbox_dir=tmp_path / "inbox",
                                     database_url=f"sqlite:///{tmp_path / 'e.db'}"))
    yield ctx
    ctx.close()


def test_an_impossible_cii_date_is_read_as_none_with_a_problem(corpus: Path) -> None:
    data = cii_with(corpus, ISSUE_102, ISSUE_102.replace("20180413", "20139102"))
    reading = read_document(data, LIMIT)
    assert reading.error is None and reading.invoice is not None
    assert reading.invoice.issue_date is None and reading.invoice.number  # the rest is read
    [problem] = reading.problems
    assert (problem.term, problem.value, problem.line) == ("BT-2", "20139102", 18)
    assert problem.path == ("/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:IssueDateTime"
                            "/udt:DateTimeString")
    assert "20139102" in problem.message


def test_the_validator_rejects_it_with_a_finding_naming_the_value(corpus: Path,
                                                                 validator: Validator) -> None:
    data = cii_with(corpus, ISSUE_102, ISSUE_102.replace("20180413", "20139102"))
    report = validator.validate(read_document(data, LIMIT), "x.xml", LIMIT)
    assert report.verdict is Verdict.REJECT
    [read] = [f for f in report.findings if f.rule_id == READ]
    assert (read.flag, read.term, read.line, read.pack) == (Flag.FATAL, "BT-2", 18, "reader")
    assert "value cannot be read" in read.message and "'20139102'" in read.message


def test_ingest_makes_it_invalid_not_quarantined(corpus: Path, sqlite_ctx: Context) -> None:
    data = cii_with(corpus, ISSUE_102, ISSUE_102.replace("20180413", "20139102"))
    outcome = ingest(sqlite_ctx, Submission(data, "cli", filename="date.xml")).outcomes[0]
    assert outcome.status == "invalid" and outcome.error is None


@pytest.mark.parametrize(("old", "new", "term"), [
    ("<ram:GrandTotalAmount>12829.69<", "<ram:GrandTotalAmount>12.829,69<", "BT-112"),
    ('format="102">20180413<', 'format="610">2018<', "BT-2"),  # too short for CCYYMM
    ('format="102">20180413<', 'format="999">20180413<', "BT-2"),  # no such format
])
def test_numbers_and_dates_of_any_kind(corpus: Path, validator: Validator, old: str, new: str,
                                       term: str) -> None:
    reading = read_document(cii_with(corpus, old, new), LIMIT)
    assert reading.invoice is not None and [p.term for p in reading.problems] == [term]
    report = validator.validate(reading, "x.xml", LIMIT)
    assert report.verdict is Verdict.REJECT and READ in {f.rule_id for f in report.errors}


def test_a_ubl_date_that_was_quarantined_is_now_rejected(corpus: Path,
                                                         validator: Validator) -> None:
    # the CEN unit test of BR-03 writes IssueDate "123"; it used to make the file unreadable
    data = (corpus / "cen-unit/Invoice-unit-UBL/BR-03__01.xml").read_bytes()
    reading = read_document(data, LIMIT)
    assert reading.invoice is not None and reading.invoice.issue_date is None
    assert [(p.term, p.value) for p in reading.problems] == [("BT-2", "123")]
    assert validator.validate(reading, "BR-03__01.xml", LIMIT).verdict is Verdict.REJECT
    xrechnung = (corpus / STANDARD / "01.20a-INVOICE_ubl.xml").read_bytes().replace(
        b"<cbc:IssueDate>2021-01-25<", b"<cbc:IssueDate>123<", 1)
    report = validator.validate(read_document(xrechnung, LIMIT), "x.xml", LIMIT)
    assert report.verdict is Verdict.REJECT
    assert {"XSD", READ} <= {f.rule_id for f in report.errors}


def test_a_broken_attachment_is_a_problem_of_bt_125(corpus: Path) -> None:
    data = (corpus / STANDARD / "01.20a-INVOICE_ubl.xml").read_text("utf-8")
    attachment = ('<cac:AdditionalDocumentReference><cbc:ID>a</cbc:ID><cac:Attachment>'
                  '<cbc:EmbeddedDocumentBinaryObject mimeCode="text/csv" filename="a.csv">'
                  'QUJDRA</cbc:EmbeddedDocumentBinaryObject></cac:Attachment>'
                  '</cac:AdditionalDocumentReference>')
    data = data.replace("<cac:AccountingSupplierParty>",
                        attachment + "<cac:AccountingSupplierParty>", 1)
    reading = read_document(data.encode(), LIMIT)
    assert reading.invoice is not None
    assert reading.invoice.supporting_documents[0].attachment is None
    assert [p.term for p in reading.problems] == ["BT-125"]


def test_zugferd_1_samples_read_and_a_broken_date_is_a_problem(corpus: Path,
                                                               validator: Validator) -> None:
    manifest = json.loads((corpus / "zugferd" / "manifest.json").read_text())
    v1 = [name for name, entry in manifest.items() if entry.get("family") == "ZUGFeRD 1.0"]
    assert len(v1) == 6
    for name in v1:  # none of them is quarantined, none has a value the reader cannot take
        reading = read_document((corpus / "zugferd" / name).read_bytes(), LIMIT)
        assert reading.error is None and reading.invoice is not None and not reading.problems
    xml = (corpus / "zugferd" / manifest[v1[0]]["embedded_xml"]["extracted_to"]).read_text()
    start = xml.index('<udt:DateTimeString format="102">') + len('<udt:DateTimeString ')
    broken = xml[:start] + 'format="102">2017-13-45<' + xml[xml.index("</udt:", start) + 1:]
    reading = read_document(broken.encode(), LIMIT)
    assert reading.error is None and reading.invoice is not None
    assert reading.invoice.issue_date is None and [p.term for p in reading.problems] == ["BT-2"]
    assert validator.validate(reading, "zf1.xml", LIMIT).verdict is Verdict.REJECT


def test_outside_a_reading_the_readers_stay_strict(corpus: Path) -> None:
    data = cii_with(corpus, ISSUE_102, ISSUE_102.replace("20180413", "20139102"))
    with pytest.raises(ReadError, match="20139102"):
        read_cii(parse_xml(data).getroot())


# ------------------------------------------------------------------ any date text whatever

_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn")), max_size=16)
_DIGITS = st.text(st.sampled_from("0123456789-+: TZ"), min_size=0, max_size=14)
_SLOW = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


@settings(max_examples=150, deadline=None, suppress_health_check=_SLOW)
@given(text=st.one_of(_TEXT, _DIGITS),
       fmt=st.sampled_from(["102", "610", "616", "203", "", "x"]))
def test_any_cii_date_gives_a_date_or_a_problem(corpus: Path, text: str, fmt: str) -> None:
    data = cii_with(corpus, ISSUE_102,
                    f'<udt:DateTimeString format="{fmt}">{escape(text)}</udt:DateTimeString>')
    reading = read_document(data, LIMIT)  # never raises, never a quarantine
    assert reading.error is None and reading.invoice is not None
    problems = [p for p in reading.problems if p.term == "BT-2"]
    if text.strip():
        assert (reading.invoice.issue_date is None) == bool(problems)
    else:
        assert reading.invoice.issue_date is None and not problems


@settings(max_examples=100, deadline=None, suppress_health_check=_SLOW)
@given(text=st.one_of(_TEXT, _DIGITS))
def test_any_ubl_date_gives_a_date_or_a_problem(corpus: Path, text: str) -> None:
    data = (corpus / STANDARD / "01.20a-INVOICE_ubl.xml").read_text("utf-8").replace(
        "<cbc:IssueDate>2021-01-25<", f"<cbc:IssueDate>{escape(text)}<", 1)
    reading = read_document(data.encode(), LIMIT)
    assert reading.error is None and reading.invoice is not None
    problems = [p for p in reading.problems if p.term == "BT-2"]
    assert (reading.invoice.issue_date is None) == (bool(problems) or not text.strip())
