"""The KoSIT validator configuration: its ``scenarios.xml`` converts to exactly our built-in
scenario table; ``einvoice rules add`` takes the configuration archive as KoSIT publishes it
(built here from the corpus scenarios.xml with BR-CL-23 raised to error, the wheel's CEN XSLT
and the shipped XRechnung sources compiled), alone or together with the Schematron release; a
match expression we cannot read is refused with nothing installed."""

from __future__ import annotations

import functools
import json
import zipfile
from pathlib import Path

import pytest

from einvoice.errors import ConfigError
from einvoice.validation.kosit_config import official_scenarios, scenarios_toml
from einvoice.validation.official.compiler import compile_schematron
from einvoice.validation.releases import BUILTIN_RELEASES, load_release
from einvoice.validation.scenarios import BUILTIN_SCENARIOS, load_scenarios
from einvoice.validation.xsd import XSD_DIR
from tests.conftest import Cli

XR = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
TOKENS = {"@xrechnung.spec.id@": XR,
          "@xrechnung.extension.id@": f"{XR}#conformant#urn:xeinkauf.de:kosit:extension:"
                                      "xrechnung_3.0",
          "@xrechnung.cvd.id@": f"{XR}#compliant#urn:xeinkauf.de:kosit:xrechnung:cvd_0.9",
          "@xrechnung.version@": "3.0.2"}
SOURCES = BUILTIN_RELEASES / "xrechnung-2.5" / "official"
CEN_UBL = XSD_DIR / "ubl-2.1" / "EN16931-UBL-validation.xslt"  # what runs today
MARK = "[BR-CL-23]-Unit code (archive) MUST"  # shows that the archive's CEN XSLT ran
INVOICE = "valid/xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_ubl.xml"
CONFIG = "xrechnung-3.0.2-validator-configuration-2027-03-01.zip"


def kosit_xml(corpus: Path, raw: bool = False) -> str:
    text = (corpus / "rules/kosit-config/scenarios.xml").read_text("utf-8")
    for token, value in ({} if raw else TOKENS).items():
        text = text.replace(token, value)
    return text


UBL = "urn:oasis:names:specification:ubl:schema:xsd:"
UNCEFACT = "urn:un:unece:uncefact:data:standard:"


def one_scenario(match: str, schematron: str = "EN16931-UBL-validation.xsl",
                 prefix: str = "invoice") -> bytes:
    bound = {"cbc": f"{UBL}CommonBasicComponents-2", prefix: f"{UBL}Invoice-2",
             "creditnote": f"{UBL}CreditNote-2", "rsm": f"{UNCEFACT}CrossIndustryInvoice:100",
             "ram": f"{UNCEFACT}ReusableAggregateBusinessInformationEntity:100"}
    namespaces = "".join(f'<namespace prefix="{p}">{uri}</namespace>' for p, uri in bound.items())
    return f"""<scenarios xmlns="http://www.xoev.de/de/validator/framework/1/scenarios">
      <scenario><name>Mine</name>{namespaces}
        <match>{match}</match>
        <validateWithXmlSchema><resource><name>x</name>
          <location>resources/ubl/2.1/xsd/maindoc/UBL-Invoice-2.1.xsd</location></resource>
        </validateWithXmlSchema>
        <validateWithSchematron><resource><name>x</name>
          <location>resources/ubl/2.1/xsl/{schematron}</location></resource>
        </validateWithSchematron>
        <createReport><customLevel level="warning">BR-CL-23</customLevel></createReport>
      </scenario></scenarios>""".encode()


# ---------------------------------------------------------------- conversion

def test_the_official_scenarios_xml_converts_to_the_builtin_table(corpus: Path,
                                                                  tmp_path: Path) -> None:
    builtin = load_scenarios(BUILTIN_SCENARIOS)
    official = official_scenarios(kosit_xml(corpus).encode())
    assert len(official) == 11 and official == builtin[:11]  # names, match, schema, packs, levels
    converted = tmp_path / "scenarios.toml"
    converted.write_text(scenarios_toml(kosit_xml(corpus).encode(), builtin, "scenarios.xml"))
    assert load_scenarios(converted) == builtin  # then Peppol, Factur-X, ZUGFeRD 1.0, as before
    assert [s.name for s in load_scenarios(converted)[11:]][-1] == "ZUGFeRD 1.0"


def test_a_scenario_the_configuration_dropped_is_not_kept(corpus: Path) -> None:
    from einvoice.validation.kosit_config import policy_scenarios
    builtin = load_scenarios(BUILTIN_SCENARIOS)
    without_cvd = [s for s in builtin[:11] if "CVD" not in s.name]
    kept = policy_scenarios(builtin, without_cvd)
    assert [s.name for s in kept] == [s.name for s in builtin[11:]]


@pytest.mark.parametrize(("match", "prefix", "kind", "values"), [
    ("/invoice:Invoice/cbc:CustomizationID[text() = 'a']", "invoice", "ubl-invoice", {"a"}),
    ("exists( /creditnote:CreditNote/cbc:CustomizationID[ . = ('a', 'b''c') ] ) ", "invoice",
     "ubl-creditnote", {"a", "b'c"}),
    ("/ubl:Invoice[cbc:CustomizationID = \"a\"]", "ubl", "ubl-invoice", {"a"}),
    ("exists(/rsm:CrossIndustryInvoice[rsm:ExchangedDocumentContext/ram:Guideline"
     "SpecifiedDocumentContextParameter/ram:ID/text() = 'a'])", "invoice", "cii", {"a"}),
])
def test_the_official_match_shapes_are_read(match: str, prefix: str, kind: str,
                                            values: set[str]) -> None:
    (scenario,) = official_scenarios(one_scenario(match, prefix=prefix))
    assert (set(scenario.kinds), set(scenario.specifications)) == ({kind}, values)
    assert scenario.packs == ("en16931-ubl",)  # no XRechnung rules: no leitweg


@pytest.mark.parametrize(("match", "schematron", "why"), [
    ("count(/invoice:Invoice) > 0", None, "cannot take the match expression"),
    ("/invoice:Invoice/cbc:ProfileID[. = 'a']", None, "cannot take the match expression"),
    ("/invoice:Invoice/cbc:CustomizationID[starts-with(., 'a')]", None, "cannot take"),
    ("exists(/invoice:Invoice/cbc:CustomizationID[. = 'a']) or true()", None, "cannot take"),
    ("/rsm:CrossIndustryInvoice[ram:ID = 'a']", None, "cannot take the match expression"),
    ("/x:Invoice/cbc:CustomizationID[. = 'a']", None, "prefix 'x' of its match is not declared"),
    ("/invoice:Invoice/cbc:CustomizationID[. = '@xrechnung.spec.id@']", None,
     "unsubstituted build token"),
    ("/invoice:Invoice/cbc:CustomizationID[. = 'a']", "Mine.xsl", "unknown Schematron"),
])
def test_other_scenarios_are_refused_naming_the_scenario(match: str, schematron: str | None,
                                                         why: str) -> None:
    with pytest.raises(ConfigError) as refused:
        official_scenarios(one_scenario(match, schematron or "EN16931-UBL-validation.xsl"))
    assert "scenario 'Mine'" in str(refused.value) and why in str(refused.value)


# ---------------------------------------------------------------- rules add

@functools.cache
def compiled(syntax: str) -> str:
    return compile_schematron(SOURCES / syntax.lower() / f"XRechnung-{syntax}-validation.sch")


def config_archive(path: Path, corpus: Path, scenarios: str | None = None) -> Path:
    """The validator-configuration ZIP as KoSIT lays it out (XML Schemas aside: ours run)."""
    if scenarios is None:
        scenarios = kosit_xml(corpus).replace('<customLevel level="warning">BR-CL-23<',
                                              '<customLevel level="error">BR-CL-23<', 1)
    cen = CEN_UBL.read_text("utf-8")
    assert "[BR-CL-23]-Unit code MUST" in cen
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("scenarios.xml", scenarios)
        archive.writestr("LICENSE", "Apache License 2.0\n")
        archive.writestr("resources/ubl/2.1/xsl/EN16931-UBL-validation.xsl",
                         cen.replace("[BR-CL-23]-Unit code MUST", MARK, 1))
        for syntax in ("UBL", "CII"):
            archive.writestr(f"resources/xrechnung/3.0.2/xsl/XRechnung-{syntax}-validation.xsl",
                             compiled(syntax))
    return path


def schematron_archive(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("common.sch", "ubl/XRechnung-UBL-validation.sch",
                     "cii/XRechnung-CII-validation.sch"):
            archive.writestr(f"schematron/{name}", (SOURCES / name).read_text("utf-8"))
        archive.writestr("CHANGELOG.md", "# Changelog\n\n## v2.7.0 on 2027-02-01\n")
    return path


def installed(tmp_path: Path) -> list[str]:
    folder = tmp_path / "data" / "rules" / "releases"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def bad_unit(tmp_path: Path, corpus: Path) -> Path:
    """A standard XRechnung invoice whose unit code is not in UN/ECE Rec. 20 (BR-CL-23)."""
    sample = tmp_path / "invoice.xml"
    sample.write_bytes((corpus / INVOICE).read_bytes().replace(b'unitCode="XPP"',
                                                               b'unitCode="XXX"'))
    return sample


def br_cl_23(rules_admin: Cli, sample: Path, release: str) -> tuple[str, set[str], str]:
    out = rules_admin("validate", str(sample), "-f", "json", "--release", release)
    (report,) = json.loads(out.output)
    found = [f for f in report["findings"] if f["rule_id"] == "BR-CL-23"]
    return report["verdict"], {f["level"] for f in found}, " ".join(f["message"] for f in found)


def test_the_validator_configuration_takes_effect(rules_admin: Cli, tmp_path: Path,
                                                  corpus: Path) -> None:
    added = rules_admin("rules", "add", str(config_archive(tmp_path / CONFIG, corpus)))
    assert added.exit_code == 0, added.output
    assert "added xrechnung-config-2027-03-01 (valid from 01.03.2027)" in added.output
    assert installed(tmp_path) == ["xrechnung-config-2027-03-01"]
    release = load_release(tmp_path / "data/rules/releases/xrechnung-config-2027-03-01", False)
    assert "XRechnung 3.0.2 validator configuration 2027-03-01" in release.title
    assert [(p.name, p.type, p.path.relative_to(release.folder).as_posix())
            for p in release.packs] == [
        ("en16931-ubl", "xslt", "archive/resources/ubl/2.1/xsl/EN16931-UBL-validation.xsl")]
    listed = {r["id"]: r for r in json.loads(rules_admin("rules", "--json").output)}
    new = listed["xrechnung-config-2027-03-01"]
    assert {p: info["engine"] for p, info in new["packs"].items()} == {
        "xrechnung-ubl": "official", "xrechnung-cii": "official"}
    assert new["scenarios"][0]["levels"]["BR-CL-23"] == "error"
    assert new["replaced"] == {
        "en16931-ubl": "archive/resources/ubl/2.1/xsl/EN16931-UBL-validation.xsl"}
    assert "pack en16931-ubl: replaced by the release's archive/resources/ubl/2.1/xsl/" \
        in " ".join(rules_admin("rules").output.split())  # wrapped at words
    assert [s["name"] for s in new["scenarios"]] == [
        s["name"] for s in listed["xrechnung-2.5"]["scenarios"]]
    sample = bad_unit(tmp_path, corpus)
    verdict, levels, message = br_cl_23(rules_admin, sample, "xrechnung-config-2027-03-01")
    assert (verdict, levels) == ("reject", {"error"}) and MARK in message
    verdict, levels, message = br_cl_23(rules_admin, sample, "xrechnung-2.5")
    assert (verdict, levels) == ("accept", {"warning"}) and MARK not in message


def test_both_archives_together_as_one_folder(rules_admin: Cli, tmp_path: Path,
                                              corpus: Path) -> None:
    folder = tmp_path / "kosit"
    folder.mkdir()
    schematron_archive(folder / "xrechnung-3.0.2-schematron-2.7.0.zip")
    config_archive(folder / CONFIG, corpus)
    added = rules_admin("rules", "add", str(folder))
    assert added.exit_code == 0, added.output
    assert "added xrechnung-2.7.0 (valid from 01.02.2027)" in added.output
    new = {r["id"]: r for r in json.loads(rules_admin("rules", "--json").output)}["xrechnung-2.7.0"]
    assert new["title"].startswith(
        "XRechnung Schematron 2.7.0 + validator configuration 2027-03-01 (added from kosit)")
    assert {p: (i["engine"], i["artefact"].rsplit(".", 1)[1]) for p, i in new["packs"].items()} \
        == {"xrechnung-ubl": ("native", "sch"), "xrechnung-cii": ("native", "sch")}
    assert new["scenarios"][0]["levels"]["BR-CL-23"] == "error"
    verdict, levels, message = br_cl_23(rules_admin, bad_unit(tmp_path, corpus), "xrechnung-2.7.0")
    assert (verdict, levels) == ("reject", {"error"}) and MARK in message


@pytest.mark.parametrize(("change", "message"), [
    ("shape", "scenario 'EN16931 (CII)': cannot take the match expression"),
    ("tokens", "unsubstituted build token"),
])
def test_a_configuration_we_cannot_read_is_refused_and_nothing_stays(
        rules_admin: Cli, tmp_path: Path, corpus: Path, change: str, message: str) -> None:
    if change == "shape":
        text = kosit_xml(corpus)
        old = "ram:ID/text() = 'urn:cen.eu:en16931:2017'])"
        assert old in text
        scenarios = text.replace(old, "ram:ID/text() = 'urn:cen.eu:en16931:2017'] "
                                      "or true())")
    else:
        scenarios = kosit_xml(corpus, raw=True)
    refused = rules_admin("rules", "add", str(config_archive(tmp_path / CONFIG, corpus, scenarios)))
    assert refused.exit_code == 2 and message in " ".join(refused.output.split()), refused.output
    assert installed(tmp_path) == []
