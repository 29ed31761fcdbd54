"""A crash is contained to the smallest unit that crashed: a rule of a native pack, an
assertion of the CEN CII stylesheet, else the one pack; every other rule still reports, and the
verdict says what the rules that did run found (``engine.verdict``)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from lxml import etree

from einvoice.formats.detect import xml_kind
from einvoice.formats.xmlsafe import parse_xml
from einvoice.validation.cen_cii import GuardedPack
from einvoice.validation.cen_sch import CII_NAMESPACES, to_xslt
from einvoice.validation.document import Doc
from einvoice.validation.engine import Validator, verdict
from einvoice.validation.findings import ENGINE, EngineError, Finding, Flag, Level, Verdict
from einvoice.validation.report import report_json, report_text
from einvoice.validation.xrechnung.engine import Pack, fatal

STANDARD = "valid/xrechnung-testsuite/business-cases/standard"
LIMIT = 50_000_000


@pytest.fixture(scope="module")
def validator() -> Validator:
    """The built-in scenarios with the official CEN UBL stylesheet (engine ``official``): it
    stops as a whole on a dynamic error, the case of a crashing pack (the native engine's
    per-rule containment: ``test_the_native_cen_engine_contains_a_crash_to_its_rule``)."""
    from einvoice.validation.schematron import en16931_ubl

    checker = Validator()
    checker.registry.register("en16931-ubl", en16931_ubl)
    return checker


def sample(corpus: Path, name: str) -> bytes:
    return (corpus / STANDARD / name).read_bytes()


def doubled(data: bytes, xpath: str) -> bytes:
    """The document with the first node at ``xpath`` repeated right after itself."""
    root = etree.fromstring(data)
    node = root.xpath(xpath, namespaces=root.nsmap)[0]
    node.addnext(copy.deepcopy(node))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def line_of(data: bytes, xpath: str) -> int:
    root = etree.fromstring(data)
    line = root.xpath(xpath, namespaces=root.nsmap)[0].sourceline
    assert isinstance(line, int)
    return line


def make_doc(data: bytes) -> Doc:
    """A document as a pack sees it, without a canonical model."""
    root = parse_xml(data).getroot()
    return Doc(xml=data, root=root, kind=xml_kind(root), syntax="", invoice=None)


def rule_ids(findings: list[Finding]) -> set[str]:
    return {f.rule_id for f in findings}


# ------------------------------------------------------------------ one pack crashes

@pytest.mark.parametrize(("name", "old", "new", "peppol"), [
    # the CEN UBL stylesheet casts ChargeIndicator to xs:boolean and Percent to xs:decimal
    ("01.21a-INVOICE_ubl.xml", "<cbc:ChargeIndicator>true", "<cbc:ChargeIndicator>no",
     "PEPPOL-EN16931-R043"),
    ("01.21a-INVOICE_ubl.xml", "<cbc:ChargeIndicator>true", "<cbc:ChargeIndicator>1234",
     "PEPPOL-EN16931-R043"),
    ("01.20a-INVOICE_ubl.xml", "<cbc:ChargeIndicator>false", "<cbc:ChargeIndicator>1234",
     "PEPPOL-EN16931-R044"),  # a price-level charge
    ("01.21a-INVOICE_ubl.xml", "<cbc:AllowanceChargeReason>Lieferpauschale<",
     "<cbc:AllowanceChargeReason><", "PEPPOL-EN16931-R008"),
])
def test_a_crashing_pack_leaves_the_others_reporting(corpus: Path, validator: Validator,
                                                    name: str, old: str, new: str,
                                                    peppol: str) -> None:
    data = sample(corpus, name).replace(old.encode(), new.encode(), 1)
    if "Reason" in old:  # the empty reason alone does not crash: also a percent of "no"
        data = data.replace(b"<cbc:Percent>0</cbc:Percent>", b"<cbc:Percent>no</cbc:Percent>", 1)
    report = validator.validate_bytes(data, name, LIMIT)
    assert report.verdict is Verdict.REJECT  # on the schema and the Peppol findings
    assert {"XSD", peppol} <= rule_ids(report.findings)
    assert [(e.pack, e.rule_id) for e in report.engine_errors] == [("en16931-ubl", ENGINE)]
    assert "cannot" in report.engine_errors[0].message.lower()
    assert report.error and report.error.startswith("en16931-ubl: rule pack en16931-ubl could")


def test_an_engine_failure_on_a_schema_valid_document_is_undefined(
        corpus: Path, validator: Validator) -> None:
    # schema-valid, but the CEN UBL stylesheet applies normalize-space() to both legal names
    data = doubled(sample(corpus, "01.20a-INVOICE_ubl.xml"),
                   "//cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity")
    report = validator.validate_bytes(data, "x", LIMIT)
    assert (report.verdict, report.findings) == (Verdict.UNDEFINED, [])
    assert report.engine_errors[0].pack == "en16931-ubl"
    assert "more than one item" in (report.error or "")


def test_the_native_cen_engine_contains_a_crash_to_its_rule(corpus: Path) -> None:
    """The same document natively: only BR-06 (normalize-space of two seller names) cannot run;
    every other CEN rule reports, and UBL-SR-09 (seller name at most once) rejects it."""
    data = doubled(sample(corpus, "01.20a-INVOICE_ubl.xml"),
                   "//cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity")
    report = Validator().validate_bytes(data, "x", LIMIT)
    assert [(e.pack, e.rule_id) for e in report.engine_errors] == [("en16931-ubl", "BR-06")]
    assert "more than one item" in report.engine_errors[0].message
    assert report.engine_errors[0].line == line_of(data, "/*")
    assert report.verdict is Verdict.REJECT and "UBL-SR-09" in rule_ids(report.errors)


def test_an_error_of_a_pack_that_ran_rejects_despite_the_crash(
        corpus: Path, validator: Validator) -> None:
    data = doubled(sample(corpus, "01.20a-INVOICE_ubl.xml"),
                   "//cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity")
    data = data.replace(b"<cbc:BuyerReference>1234567890-54321-40</cbc:BuyerReference>", b"")
    report = validator.validate_bytes(data, "x", LIMIT)
    assert report.verdict is Verdict.REJECT
    assert "BR-DE-15" in rule_ids(report.errors) and "XSD" not in rule_ids(report.findings)
    assert len(report.engine_errors) == 1


# ------------------------------------------------------------------ one CEN CII assertion

def _cii_two_tax_registrations(corpus: Path) -> bytes:
    return doubled(sample(corpus, "01.14a-INVOICE_uncefact.xml"),
                   "//ram:SellerTaxRepresentativeTradeParty/ram:SpecifiedTaxRegistration")


def test_a_crashing_cen_cii_assertion_is_an_engine_error_for_that_rule_only(
        corpus: Path, validator: Validator) -> None:
    data = _cii_two_tax_registrations(corpus)
    report = validator.validate_bytes(data, "x", LIMIT)
    assert report.verdict is Verdict.UNDEFINED  # schema-valid, no error from any rule
    [error] = report.engine_errors
    assert (error.pack, error.rule_id) == ("en16931-cii", "BR-56")
    assert error.line == line_of(data, "//ram:SellerTaxRepresentativeTradeParty")
    assert "more than one item" in error.message
    # the other CEN CII assertions still ran: a wrong payable amount is found
    wrong = data.replace(b"<ram:DuePayableAmount>", b"<ram:DuePayableAmount>1", 1)
    report = validator.validate_bytes(wrong, "x", LIMIT)
    assert report.verdict is Verdict.REJECT and "BR-CO-16" in rule_ids(report.errors)
    assert [e.rule_id for e in report.engine_errors] == ["BR-56"]


def test_two_uriid_where_cen_allows_one_reject_on_the_schema(corpus: Path,
                                                            validator: Validator) -> None:
    one = b'<ram:URIID schemeID="EM">seller@email.de</ram:URIID>'
    data = sample(corpus, "01.01a-INVOICE_uncefact.xml").replace(one, one + one, 1)
    report = validator.validate_bytes(data, "x", LIMIT)
    assert report.verdict is Verdict.REJECT and "XSD" in rule_ids(report.errors)
    assert [(e.pack, e.rule_id) for e in report.engine_errors] == [("en16931-cii", "BR-62")]


def test_guarded_stylesheet_reports_failures_and_errors_per_assertion() -> None:
    pattern = (("/rsm:CrossIndustryInvoice", (
        ("T-CAST", "fatal", "xs:decimal(rsm:X) > 0", "[T-CAST] cast"),
        ("T-FAIL", "fatal", "false()", "[T-FAIL] fails"),
        ("T-PASS", "warning", "true()", "[T-PASS] passes"))),)
    pack = GuardedPack("guarded", to_xslt((pattern,), CII_NAMESPACES))
    ns = CII_NAMESPACES["rsm"]
    found = pack.validate(make_doc(f'<rsm:CrossIndustryInvoice xmlns:rsm="{ns}">\n'
                                   "<rsm:X>no</rsm:X></rsm:CrossIndustryInvoice>".encode()))
    assert [(type(f).__name__, f.rule_id) for f in found] == [
        ("Finding", "T-FAIL"), ("EngineError", "T-CAST")]
    assert found[1].line == 1 and "no" in found[1].message


# ------------------------------------------------------------------ one native rule

def test_a_crashing_native_rule_is_an_engine_error_for_that_rule_only(corpus: Path) -> None:
    def boom(el: etree._Element) -> bool:
        raise ValueError("predicate broke")

    rules = [fatal("T-1", "/*", boom, "BT-1"), fatal("T-2", "/*", "$undefined = 1"),
             fatal("T-3", "/*", "false()")]
    wording = {"T-1": "one", "T-2": "two", "T-3": "three"}
    pack = Pack("native", rules, {}, "/*/nothing", wording)
    found = pack.validate(make_doc(b"<Invoice/>"))
    assert [(type(f).__name__, f.rule_id) for f in found] == [
        ("EngineError", "T-1"), ("EngineError", "T-2"), ("Finding", "T-3")]
    assert "predicate broke" in found[0].message and found[0].term == "BT-1"


# ------------------------------------------------------------------ the verdict rule

def _f(rule_id: str, flag: Flag = Flag.FATAL, level: Level | None = None) -> Finding:
    return Finding(rule_id, flag, "m", level=level)


CRASH = EngineError(ENGINE, Flag.FATAL, "crashed", pack="p")


@pytest.mark.parametrize(("findings", "errors", "expected"), [
    ([], [], Verdict.ACCEPT),
    ([_f("W", Flag.WARNING)], [], Verdict.ACCEPT),
    ([_f("BR-1", level=Level.WARNING)], [], Verdict.ACCEPT),  # lowered by the scenario
    ([_f("BR-1")], [], Verdict.REJECT),
    ([], [CRASH], Verdict.UNDEFINED),
    ([_f("W", Flag.WARNING)], [CRASH], Verdict.UNDEFINED),
    ([_f("BR-1", level=Level.WARNING)], [CRASH], Verdict.UNDEFINED),
    ([_f("BR-1")], [CRASH], Verdict.REJECT),
    ([_f("XSD")], [CRASH], Verdict.REJECT),
    ([_f("XSD", level=Level.WARNING)], [CRASH], Verdict.REJECT),  # any schema finding
    ([_f("XSD", level=Level.WARNING)], [], Verdict.REJECT),
])
def test_verdict(findings: list[Finding], errors: list[EngineError], expected: Verdict) -> None:
    assert verdict(findings, errors) is expected


def test_reports_name_the_rules_that_could_not_run(corpus: Path, validator: Validator) -> None:
    report = validator.validate_bytes(_cii_two_tax_registrations(corpus), "x.xml", LIMIT)
    [out] = report_json(report)["engine_errors"]
    assert (out["rule_id"], out["level"]) == ("BR-56", "error")
    assert "not run     en16931-cii BR-56" in report_text(report)
    assert report.error and report.error.startswith("en16931-cii BR-56: rule could not run")
