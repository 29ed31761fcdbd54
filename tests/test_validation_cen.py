"""Schema and CEN EN 16931 packs against the official outcomes recorded in the corpus.

cen-unit: each CEN unit test's declared expectation for its rule; xr-rules and valid: the full
multiset of failed CEN rules (id, flag, count) of the official XSLT; valid: the XSD outcome.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from einvoice.errors import InputError
from einvoice.formats.detect import xml_kind
from einvoice.formats.reader import map_xml
from einvoice.formats.xmlsafe import parse_xml
from einvoice.validation import xsd
from einvoice.validation.cen_cii import en16931_cii
from einvoice.validation.document import Doc
from einvoice.validation.findings import Finding, Flag
from einvoice.validation.packs import RulePack
from einvoice.validation.schematron import XsltPack, en16931_ubl
from tests.conftest import CORPUS

pytestmark = pytest.mark.corpus
MISSING = "corpus-missing"  # the single case when the corpus is absent: the fixture skips/fails


@cache
def _expected(name: str) -> dict[str, Any]:
    path = CORPUS / name
    return json.loads(path.read_text("utf-8")) if path.is_file() else {}


def _cases(name: str) -> list[str]:
    return sorted(_expected(name)) or [MISSING]


def make_doc(data: bytes) -> Doc:
    root = parse_xml(data).getroot()
    kind = xml_kind(root)
    try:
        syntax, invoice = map_xml(kind, root)
    except InputError:
        syntax, invoice = kind.value, None
    return Doc(xml=data, root=root, kind=kind, syntax=syntax, invoice=invoice)


@cache
def pack(name: str) -> RulePack:
    factories: dict[str, Callable[[], RulePack]] = {
        "ubl": en16931_ubl, "cii": en16931_cii, "ubl-inv": xsd.ubl_invoice,
        "ubl-cn": xsd.ubl_creditnote, "cii-xsd": xsd.cii}
    return factories[name]()


def failed(findings: list[Finding]) -> Counter[tuple[str, str]]:
    return Counter((f.rule_id, f.flag.value) for f in findings)


@cache
def cen_unit_agrees(name: str) -> bool:
    case = _expected("cen-unit/expected.json")[name]
    syntax = "cii" if name.startswith("cii/") else "ubl"
    findings = pack(syntax).validate(make_doc((CORPUS / "cen-unit" / name).read_bytes()))
    flags = {f.flag for f in findings if f.rule_id == case["rule"]}
    wanted = {"error": {Flag.FATAL}, "warning": {Flag.WARNING}, "success": set()}
    return flags == wanted[case["expect"]]


@pytest.mark.parametrize("name", _cases("cen-unit/expected.json"))
def test_cen_unit_expectation(corpus: Path, name: str) -> None:
    assert cen_unit_agrees(name)


def test_cen_unit_agreement_summary(corpus: Path,
                                    record_property: Callable[[str, object], None]) -> None:
    names = sorted(_expected("cen-unit/expected.json"))
    assert len(names) >= 1000, "the CEN unit tests and their expectations are missing"
    agreed = sum(cen_unit_agrees(name) for name in names)
    record_property("cen_unit_agreement", f"{agreed}/{len(names)}")
    print(f"cen-unit agreement {agreed}/{len(names)}")
    assert agreed == len(names)


@pytest.mark.parametrize("name", _cases("xr-rules/expected.json"))
def test_xr_rules_cen_outcome(corpus: Path, name: str) -> None:
    case = _expected("xr-rules/expected.json")[name]
    syntax = "cii" if case["syntax"] == "cii" else "ubl"
    findings = pack(syntax).validate(make_doc((corpus / "xr-rules" / name).read_bytes()))
    official = Counter({(f["id"], f["flag"]): f["count"] for f in case["cen"]["failed"]})
    assert failed(findings) == official
    assert all(f.line for f in findings)


@pytest.mark.parametrize("name", _cases("valid/manifest.json"))
def test_valid_schema_and_cen_outcome(corpus: Path, name: str) -> None:
    case = _expected("valid/manifest.json")[name]
    doc = make_doc((corpus / "valid" / name).read_bytes())
    schema = pack("cii-xsd" if case["syntax"] == "cii" else case["syntax"])
    assert (not schema.validate(doc)) == case["xsd"]["valid"]
    rules = pack("cii" if case["syntax"] == "cii" else "ubl")
    official = Counter({(f["id"], f["flag"]): f["count"] for f in case["cen"]["failed"]})
    assert failed(rules.validate(doc)) == official


@pytest.mark.parametrize(("name", "syntax"), [
    ("xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_ubl.xml", "ubl-inv"),
    ("xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_uncefact.xml", "cii-xsd"),
])
def test_broken_document_gets_schema_finding_with_line(corpus: Path, name: str,
                                                       syntax: str) -> None:
    data = (corpus / "valid" / name).read_bytes()
    root = parse_xml(data).getroot()
    root.insert(1, root.makeelement(f"{{{root.nsmap[root.prefix]}}}Unexpected"))
    findings = pack(syntax).validate(make_doc(etree.tostring(root)))
    assert findings
    assert all(f.rule_id == "XSD" and f.flag is Flag.FATAL for f in findings)
    assert findings[0].line and "Unexpected" in findings[0].message


def test_engine_failure_raises_instead_of_reporting_nothing() -> None:
    failing = XsltPack("failing", '<xsl:stylesheet version="2.0" '
                       'xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
                       '<xsl:template match="/"><xsl:sequence select="error()"/></xsl:template>'
                       "</xsl:stylesheet>")
    with pytest.raises(Exception, match=r"error\(\)"):
        failing.validate(make_doc(b"<Invoice/>"))
