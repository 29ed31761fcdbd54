"""`einvoice validate` and the engine: verdicts like the official validator on the corpus,
scenario overrides as data, clear answers on hostile input, exit codes and report formats."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from einvoice.cli import app
from einvoice.config import load_settings
from einvoice.formats.reader import read_document
from einvoice.validation.engine import Validator
from einvoice.validation.findings import Verdict
from einvoice.validation.releases import installed, load_release, seal_manifest
from einvoice.validation.rulebook import Rulebook, rulebook_for
from einvoice.validation.scenarios import load_scenarios
from tests.conftest import CORPUS
from tests.test_hostile import BOMB, xxe

LIMIT = 64 * 1024 * 1024
XR_UBL = "valid/xrechnung-testsuite/technical-cases/cius/01.01_comprehensive_test_ubl.xml"


def _valid_files() -> list[str]:
    manifest = CORPUS / "valid" / "manifest.json"
    return sorted(json.loads(manifest.read_text())) if manifest.exists() else ["<corpus missing>"]


@pytest.fixture(scope="module")
def validator() -> Validator:
    """The validator of the rule release in force today."""
    book = rulebook_for(load_settings())
    return book.validator(book.release_for())


@pytest.fixture(scope="module")
def builtin() -> Validator:
    """The validator of the built-in scenarios (``schemas/releases/xrechnung-2.5/``)."""
    return Validator()


@pytest.mark.parametrize("rel", _valid_files())
def test_every_valid_corpus_file_gets_the_official_verdict(builtin: Validator, corpus: Path,
                                                           rel: str) -> None:
    """The official validator's scenario and verdict, except where the document policy says
    otherwise: Peppol BIS Billing 3.0 (no official scenario) gets the Peppol rules."""
    entry = json.loads((corpus / "valid/manifest.json").read_text())[rel]
    report = builtin.validate_bytes((corpus / "valid" / rel).read_bytes(), rel, LIMIT)
    errors = [(f.rule_id, f.message) for f in report.errors]
    if entry["spec_id"].endswith("urn:fdc:peppol.eu:2017:poacc:billing:3.0"):
        assert (report.verdict, report.profile) == (Verdict.ACCEPT, "PEPPOL"), errors
        return
    official = entry["kosit_emulation"]
    assert (report.verdict is Verdict.ACCEPT) == official["accept"], (report.scenario, errors)
    assert report.scenario == official["scenario"]


def test_overrides_are_scenario_data_not_code(validator: Validator, corpus: Path) -> None:
    """The extension case is accepted only because its scenario lowers BR-CL-10/21."""
    rel = "valid/xrechnung-testsuite/business-cases/extension/04.05a-INVOICE_uncefact.xml"
    data = (corpus / rel).read_bytes()
    report = validator.validate_bytes(data, rel, LIMIT)
    lowered = {f.rule_id for f in report.findings if f.level is not None}
    assert {"BR-CL-10", "BR-CL-21"} & lowered
    strict = [replace(s, levels={}) if "Extension" in s.name else s for s in load_scenarios()]
    assert Validator(strict).validate_bytes(data, rel, LIMIT).verdict is Verdict.REJECT


@pytest.mark.parametrize(("data", "why"), [
    (b"<a><b></a>", "not well-formed"),
    (BOMB, "DTD"),
    (xxe("file:///etc/passwd"), "DTD"),
    (b"<Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:Invoice-3'/>",
     "not an invoice"),
    (b"%PDF-1.4 truncated", "PDF"),
    (b"\x89PNG" + b"\0" * (50 * 1024 * 1024), "neither XML, PDF nor ZIP"),
])
def test_hostile_or_foreign_input_is_rejected_with_a_reason(validator: Validator, data: bytes,
                                                            why: str) -> None:
    report = validator.validate_bytes(data, "x", LIMIT)
    assert report.verdict is Verdict.REJECT
    assert report.findings[0].rule_id == "EINVOICE-UNKNOWN"
    assert why in report.findings[0].message


def test_cli_exit_codes_and_json_shape(tmp_path: Path, corpus: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    good = str(corpus / XR_UBL)
    bad = tmp_path / "bad.xml"
    bad.write_bytes((corpus / XR_UBL).read_bytes().replace(b"<cbc:BuyerReference>", b"<x>")
                    .replace(b"</cbc:BuyerReference>", b"</x>"))
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", "--format", "json", good])
    assert ok.exit_code == 0, ok.output
    (entry,) = json.loads(ok.stdout)
    assert entry["path"] == good and entry["verdict"] == "accept"
    assert "XRechnung" in entry["scenario"] and "(UBL Invoice)" in entry["scenario"]
    assert entry["profile"] == "XRECHNUNG"
    rejected = runner.invoke(app, ["validate", "--format", "json", good, str(bad)])
    assert rejected.exit_code == 1
    reports = json.loads(rejected.stdout)
    assert [r["verdict"] for r in reports] == ["accept", "reject"]
    assert {"rule_id", "flag", "location", "message"} <= set(reports[1]["findings"][0])
    missing = runner.invoke(app, ["validate", str(tmp_path / "nope.xml")])
    assert missing.exit_code == 2
    html = runner.invoke(app, ["validate", "--format", "html", "--output", "out", str(bad)])
    assert html.exit_code == 1
    page = (tmp_path / "out" / "bad.xml.report.html").read_text()
    assert "abgelehnt / reject" in page and "BR-DE" in page


TINY_RULES = """<xsl:stylesheet version="2.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
  xmlns:svrl="http://purl.oclc.org/dsdl/svrl">
 <xsl:template match="/">
  <svrl:schematron-output>
   <svrl:failed-assert id="NEW-1" flag="fatal" location="/*">
    <svrl:text>Rule of a newer release</svrl:text>
   </svrl:failed-assert>
  </svrl:schematron-output>
 </xsl:template>
</xsl:stylesheet>"""


def test_a_release_may_replace_a_builtin_pack_wholesale(tmp_path: Path,
                                                      corpus: Path) -> None:
    """A release's ``[[pack]]`` artefact replaces the built-in pack of that name."""
    release = tmp_path / "release"
    release.mkdir()
    (release / "rules.xslt").write_text(TINY_RULES)
    (release / "scenarios.toml").write_bytes(installed()[-1].scenarios.read_bytes())
    (release / "release.toml").write_text(
        'id = "tiny"\ntitle = "tiny"\nofficial_version = "0"\nvalid_from = 2020-01-01\n'
        'source = "test"\n[[pack]]\nname = "en16931-ubl"\ntype = "xslt"\nfile = "rules.xslt"\n')
    seal_manifest(release)

    book = Rulebook([load_release(release, builtin=False)])
    report = book.validate(read_document((corpus / XR_UBL).read_bytes(), LIMIT), "x", LIMIT)
    assert report.verdict is Verdict.REJECT and report.release == "tiny"
    assert [f.rule_id for f in report.findings if f.pack == "en16931-ubl"] == ["NEW-1"]


def test_no_generic_accept_a_foreign_bt24_is_rejected_with_the_reason(validator: Validator,
                                                                       corpus: Path) -> None:
    rel = "valid/en16931-examples/cii/CII-BR-CO-10-RoundingIssue.xml"  # BT-24: ZUGFeRD 1.0
    report = validator.validate_bytes((corpus / rel).read_bytes(), rel, LIMIT)
    assert (report.verdict, report.scenario, report.profile) == (
        Verdict.REJECT, None, "ZUGFERD1")
    (finding,) = report.findings
    assert (finding.rule_id, finding.flag.value) == ("EINVOICE-POLICY", "fatal")
    assert "ZUGFeRD 1.0" in finding.message


def test_a_ubl_invoice_never_pays_for_the_cii_rules(corpus: Path) -> None:
    fresh = Validator()
    fresh.validate_bytes((corpus / XR_UBL).read_bytes(), "x", LIMIT)
    loaded = fresh.registry.loaded()
    assert "en16931-ubl" in loaded and not {"en16931-cii", "cii-xsd", "xrechnung-cii"} & loaded


class _Broken:
    name = "en16931-ubl"

    def validate(self, doc: object) -> list[object]:
        raise RuntimeError("stylesheet failed")


def test_an_engine_failure_is_undefined_never_accept(corpus: Path) -> None:
    fresh = Validator()
    fresh.registry.register("en16931-ubl", _Broken)  # type: ignore[arg-type]
    report = fresh.validate_bytes((corpus / XR_UBL).read_bytes(), "x", LIMIT)
    assert report.verdict is Verdict.UNDEFINED
    assert "stylesheet failed" in (report.error or "")
    # contained: the failure is an engine error of that pack, the other packs still ran
    assert [e.pack for e in report.engine_errors] == ["en16931-ubl"]
    assert {"ubl-invoice-xsd", "xrechnung-ubl"} <= fresh.registry.loaded()
    data = (corpus / XR_UBL).read_bytes()
    start, end = data.index(b"<cbc:BuyerReference>"), data.index(b"</cbc:BuyerReference>")
    broken = data[:start] + data[end + len(b"</cbc:BuyerReference>"):]
    rejected = fresh.validate_bytes(broken, "x", LIMIT)  # an error of a pack that ran
    assert rejected.verdict is Verdict.REJECT and rejected.engine_errors
    assert [f.rule_id for f in rejected.errors] == ["BR-DE-15"]
