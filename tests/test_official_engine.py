"""The reference engine: the official XRechnung Schematron compiled by our compiler and run with
Saxon, and the fingerprints of its assertions (issue 12).

GIVEN the official sources shipped under schemas/releases/xrechnung-2.5/official/, WHEN each
official XRechnung rule test instance runs through them, THEN the failed assertions are exactly
those of the official compiled XSLT (Peppol BIS rules aside: they come from a source we do not
ship), file by file, with the same flag and count.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from saxonche import PySaxonApiError

from einvoice.errors import ReadError
from einvoice.formats.detect import Kind, xml_kind
from einvoice.formats.reader import map_xml
from einvoice.formats.xmlsafe import parse_xml
from einvoice.validation.document import Doc
from einvoice.validation.official.assertions import assertions, fingerprint
from einvoice.validation.official.pack import CII_SCH, UBL_SCH, OfficialPack
from tests.conftest import CORPUS

XR_RULES = CORPUS / "xr-rules"
MISSING = "corpus-missing"  # the one case when the corpus is absent (skips, or fails in CI)
Outcome = Counter[tuple[str, str]]


def _expected() -> dict[str, Outcome]:
    if not (XR_RULES / "expected.json").is_file():
        return {}
    data = json.loads((XR_RULES / "expected.json").read_text(encoding="utf-8"))
    return {name: Counter({(f["id"], f["flag"]): f["count"]
                           for f in entry["xrechnung"]["failed"]
                           if not f["id"].startswith("PEPPOL-")})
            for name, entry in data.items()}


EXPECTED = _expected()


@pytest.fixture(scope="module")
def official() -> dict[str, OfficialPack]:
    return {"cii": OfficialPack("xr-cii", CII_SCH), "ubl": OfficialPack("xr-ubl", UBL_SCH)}


def _doc(data: bytes) -> Doc:
    root = parse_xml(data).getroot()
    kind = xml_kind(root)
    try:
        syntax, invoice = map_xml(kind, root)
    except (ReadError, ValueError):  # the engine only needs the XML
        syntax, invoice = ("cii" if kind is Kind.CII else "ubl"), None
    return Doc(data, root, kind, syntax, invoice)


def _outcome(pack: OfficialPack, name: str) -> Outcome:
    findings = pack.validate(_doc((XR_RULES / name).read_bytes()))
    return Counter((f.rule_id, f.flag.value) for f in findings)


def _pack_for(official: dict[str, OfficialPack], name: str) -> OfficialPack:
    return official["cii" if name.startswith("cii/") else "ubl"]


@pytest.mark.parametrize("name", sorted(EXPECTED) or [MISSING])
def test_agrees_with_the_official_xslt(corpus: Path, official: dict[str, OfficialPack],
                                       name: str) -> None:
    assert name in EXPECTED, f"no official outcomes at {XR_RULES / 'expected.json'}"
    assert _outcome(_pack_for(official, name), name) == EXPECTED[name]


def test_agreement_figures(corpus: Path, official: dict[str, OfficialPack]) -> None:
    """All 349 files (cii 125, ubl-inv 132, ubl-cn 92) agree, and they exercise real failures."""
    agree: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for name, want in EXPECTED.items():
        folder = name.split("/")[0]
        total[folder] += 1
        agree[folder] += _outcome(_pack_for(official, name), name) == want
    fired = {rule for want in EXPECTED.values() for rule, _ in want}
    print(f"official engine agrees on {sum(agree.values())}/{sum(total.values())} files "
          f"({dict(agree)} of {dict(total)}); {len(fired)} distinct rules fire")
    assert total == {"cii": 125, "ubl-inv": 132, "ubl-cn": 92}
    assert agree == total
    assert len(fired) >= 25  # the agreement is not only about silence


# ------------------------------------------------------------------ tiny schemas

SCHEMA = """<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">
  <ns prefix="t" uri="urn:test"/>
  <include href="../parts/pattern.sch"/>
</schema>"""
PATTERN = """<pattern xmlns="http://purl.oclc.org/dsdl/schematron" id="p">
  <let name="limit" value="10"/>
  <rule context="{context}">
    <let name="n" value="count(t:item)"/>
    <assert id="R-1" flag="{flag}" test="{test}">[R-1] <name/> has <value-of select="$n"/></assert>
  </rule>
  <rule context="t:item">
    <assert id="R-2" flag="warning" test="xs:decimal(@amount) &lt;= $limit">[R-2] big</assert>
    <report id="R-3" flag="information" test="@amount = '0'">[R-3] zero</report>
  </rule>
  <rule context="t:item[@amount = '99']">
    <assert id="R-4" flag="fatal" test="false()">[R-4] never, R-2's rule matches first</assert>
  </rule>
</pattern>"""


def _schema(tmp_path: Path, context: str = "/t:doc", test: str = "$n &gt;= 2",
            flag: str = "fatal") -> Path:
    (tmp_path / "parts").mkdir(parents=True, exist_ok=True)
    (tmp_path / "main").mkdir(parents=True, exist_ok=True)
    (tmp_path / "parts" / "pattern.sch").write_text(
        PATTERN.format(context=context, test=test, flag=flag), encoding="utf-8")
    (tmp_path / "main" / "rules.sch").write_text(SCHEMA, encoding="utf-8")
    return tmp_path / "main" / "rules.sch"


def _tiny_doc(*amounts: str) -> Doc:
    items = "".join(f'<item amount="{a}"/>' for a in amounts)
    data = f'<doc xmlns="urn:test">{items}</doc>'.encode()
    return Doc(data, parse_xml(data).getroot(), Kind.NOT_AN_INVOICE, "test", None)


def test_fingerprint_is_stable_and_whitespace_blind(tmp_path: Path) -> None:
    found = assertions(_schema(tmp_path))
    assert set(found) == {"R-1", "R-2", "R-3", "R-4"}
    first = found["R-1"]
    assert (first.context, first.test, first.flag) == ("/t:doc", "$n >= 2", "fatal")
    assert first.fingerprint == fingerprint("/t:doc", "$n >= 2", "fatal") == "dc01ea5bb69ca0eb"
    assert fingerprint(" /t:doc\n", "$n  >=\n\t2", "fatal ") == first.fingerprint


@pytest.mark.parametrize("change", [{"test": "$n &gt;= 3"}, {"context": "/t:dok"},
                                    {"flag": "fatak"}, {"test": "$n &gt; 2"}])
def test_fingerprint_changes_with_one_character(tmp_path: Path, change: dict[str, str]) -> None:
    before = assertions(_schema(tmp_path / "a"))["R-1"].fingerprint
    assert assertions(_schema(tmp_path / "b", **change))["R-1"].fingerprint != before


def test_an_id_used_twice_is_refused(tmp_path: Path) -> None:
    sch = _schema(tmp_path)
    part = tmp_path / "parts" / "pattern.sch"
    part.write_text(part.read_text().replace('id="R-4"', 'id="R-2"'), encoding="utf-8")
    with pytest.raises(ValueError, match="R-2"):
        assertions(sch)


def test_runs_lets_names_values_and_first_match(tmp_path: Path) -> None:
    findings = OfficialPack("tiny", _schema(tmp_path)).validate(_tiny_doc("5", "99", "0"))
    # three items: R-1 holds; R-4's rule never fires, R-2's rule matches item 99 first
    assert [(f.rule_id, f.flag.value, f.location, f.message) for f in findings] == [
        ("R-2", "warning", "/Q{urn:test}doc[1]/Q{urn:test}item[2]", "[R-2] big"),
        ("R-3", "information", "/Q{urn:test}doc[1]/Q{urn:test}item[3]", "[R-3] zero"),
    ]
    one = OfficialPack("tiny", _schema(tmp_path)).validate(_tiny_doc("5"))
    assert [(f.rule_id, f.message) for f in one] == [("R-1", "[R-1] doc has 1")]


def test_only_keeps_the_named_assertions(tmp_path: Path) -> None:
    sch = _schema(tmp_path)
    doc = _tiny_doc("99")
    assert {f.rule_id for f in OfficialPack("tiny", sch).validate(doc)} == {"R-1", "R-2"}
    assert [f.rule_id for f in OfficialPack("tiny", sch, only=frozenset({"R-2"})).validate(doc)
            ] == ["R-2"]
    # R-4's rule stays shadowed when R-2 is left out: the engine fires where the full one does
    assert OfficialPack("tiny", sch, only=frozenset({"R-4"})).validate(doc) == []
    assert OfficialPack("tiny", sch, only=frozenset()).validate(doc) == []


def test_only_on_the_official_rules(corpus: Path, official: dict[str, OfficialPack]) -> None:
    name = next(n for n, want in sorted(EXPECTED.items()) if len(want) >= 2)
    rule = sorted(EXPECTED[name])[0][0]
    pack = OfficialPack("xr-one", UBL_SCH if not name.startswith("cii/") else CII_SCH,
                        only=frozenset({rule}))
    assert _outcome(pack, name) == Counter({k: v for k, v in EXPECTED[name].items()
                                            if k[0] == rule})


EXTENSION = ("urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
             "#conformant#urn:xeinkauf.de:kosit:extension:xrechnung_3.0")
UBL_DEX09 = f"""<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
 <cbc:CustomizationID>{EXTENSION}</cbc:CustomizationID>
 <cac:LegalMonetaryTotal><cbc:TaxInclusiveAmount currencyID="EUR">12.50</cbc:TaxInclusiveAmount>
 <cbc:PayableAmount currencyID="EUR">12,50</cbc:PayableAmount></cac:LegalMonetaryTotal>
</Invoice>"""


def test_a_dynamic_error_fails_the_whole_transform(tmp_path: Path) -> None:
    """BR-DEX-09 casts BT-115 to xs:decimal: "12,50" raises FORG0001, and Saxon abandons the run
    (no finding of any rule); leaving BR-DEX-09 out lets the rest of the pack run."""
    doc = _doc(UBL_DEX09.encode())
    with pytest.raises(PySaxonApiError, match=r"FORG0001|12,50"):
        OfficialPack("xr-ubl", UBL_SCH).validate(doc)
    rest = OfficialPack("xr-ubl", UBL_SCH, only=frozenset({"BR-DE-1", "BR-DE-15"}))
    assert {f.rule_id for f in rest.validate(doc)} == {"BR-DE-1", "BR-DE-15"}
    with pytest.raises(PySaxonApiError):
        OfficialPack("tiny", _schema(tmp_path)).validate(_tiny_doc("abc"))
