"""The native XRechnung packs against the official XRechnung Schematron results."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from einvoice.formats.detect import xml_kind
from einvoice.formats.reader import map_xml
from einvoice.formats.xmlsafe import parse_xml
from einvoice.validation.document import Doc
from einvoice.validation.findings import Flag
from einvoice.validation.xrechnung import cii, ubl
from tests.conftest import CORPUS

PACKS = {"cii": cii(), "ubl": ubl()}
XR_RULES = CORPUS / "xr-rules"
# the single case when the corpus is absent: the `corpus` fixture then skips, or fails in CI
# (an empty parameter list would skip silently, also in CI)
MISSING = "corpus-missing"


def _load(path: Path) -> Doc:
    data = path.read_bytes()
    root = parse_xml(data).getroot()
    kind = xml_kind(root)
    syntax, invoice = map_xml(kind, root)
    return Doc(data, root, kind, syntax, invoice)


def _pack_for(doc: Doc) -> str:
    return "cii" if doc.syntax == "cii" else "ubl"


def _expected() -> dict[str, list[dict[str, object]]]:
    if not (XR_RULES / "expected.json").is_file():
        return {}
    data = json.loads((XR_RULES / "expected.json").read_text())
    return {name: entry["xrechnung"]["failed"] for name, entry in data.items()}


EXPECTED = _expected()


def _valid_xrechnung() -> list[str]:
    manifest = CORPUS / "valid" / "manifest.json"
    if not manifest.is_file():
        return []
    entries: dict[str, dict[str, object]] = json.loads(manifest.read_text())
    return sorted(name for name, entry in entries.items()
                  if "xrechnung" in str(entry.get("spec_id", "")))


@pytest.mark.parametrize("name", sorted(EXPECTED) or [MISSING])
def test_agrees_with_official_rules(corpus: Path, name: str) -> None:
    assert name in EXPECTED, f"no official outcomes at {XR_RULES / 'expected.json'}"
    doc = _load(corpus / "xr-rules" / name)
    findings = PACKS[_pack_for(doc)].validate(doc)
    got = Counter((f.rule_id, f.flag.value) for f in findings)
    want = {(str(f["id"]), str(f["flag"])): f["count"] for f in EXPECTED[name]}
    assert dict(got) == want


@pytest.mark.parametrize("name", _valid_xrechnung() or [MISSING])
def test_valid_xrechnung_has_no_fatal(corpus: Path, name: str) -> None:
    assert name != MISSING, "no XRechnung files listed in valid/manifest.json"
    doc = _load(corpus / "valid" / name)
    fatal = [f for f in PACKS[_pack_for(doc)].validate(doc) if f.flag is Flag.FATAL]
    assert fatal == []


def test_findings_carry_official_text_and_location(corpus: Path) -> None:
    doc = _load(corpus / "xr-rules" / "cii" / "cii-br-de-1-test.xml")
    (finding,) = PACKS["cii"].validate(doc)
    assert finding.rule_id == "BR-DE-TMP-32"
    assert finding.message.startswith("[BR-DE-TMP-32] Eine Rechnung sollte")
    assert finding.location == "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction"
    assert finding.line and finding.pack == "xrechnung-cii"
