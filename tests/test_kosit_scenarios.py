"""Scenarios like the official KoSIT configuration, and the policy for documents that are not
XRechnung 3: each known disagreement with the official validator gets a small document, built
here from a corpus file changed in memory."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from lxml import etree

from einvoice.config import load_settings
from einvoice.validation import xsd
from einvoice.validation.engine import Validator
from einvoice.validation.findings import Level, Report, Verdict
from einvoice.validation.policy import Policy
from einvoice.validation.report import report_json
from einvoice.validation.scenarios import BUILTIN_SCENARIOS, load_scenarios
from tests.conftest import CORPUS

LIMIT = 64 * 1024 * 1024
XR = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
EXT = f"{XR}#conformant#urn:xeinkauf.de:kosit:extension:xrechnung_3.0"
CVD = f"{XR}#compliant#urn:xeinkauf.de:kosit:xrechnung:cvd_0.9"
PEPPOL = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
STANDARD = "valid/xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_"
UBL, CII = f"{STANDARD}ubl.xml", f"{STANDARD}uncefact.xml"
CVD_CN = "xr-rules/ubl-cn/ubl-cn-br-de-cvd-03-04-05-06-test.xml"
PEPPOL_INV = "valid/en16931-testfiles/Invoice-Min_content_with_VAT.xml"
PEPPOL_CN = "valid/en16931-testfiles/CreditNote-Min_content_with_VAT.xml"
FX = "zugferd/mustang/library/"
BR_DE_21 = ('[BR-DE-21] Das Element "Specification identifier" (BT-24) soll syntaktisch der '
            'Kennung des Standards XRechnung entsprechen.')


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator()


def read(corpus: Path, rel: str) -> bytes:
    return (corpus / rel).read_bytes()


def with_spec(data: bytes, spec: str) -> bytes:
    """The document with another BT-24 (UBL CustomizationID or CII guideline ID)."""
    return re.sub(rb"(<(cbc:CustomizationID|ram:ID)>)urn:cen[^<]*(<)",
                  rb"\g<1>" + spec.encode() + rb"\3", data, count=1)


def check(validator: Validator, data: bytes) -> Report:
    return validator.validate_bytes(data, "test.xml", LIMIT)


def levels(report: Report, rule: str) -> set[Level]:
    return {f.effective for f in report.findings if f.rule_id == rule}


# ---------------------------------------------------------------- the official configuration

OFFICIAL_SCHEMA = {"UBL-Invoice-2.1.xsd": "ubl-invoice-xsd",
                   "UBL-CreditNote-2.1.xsd": "ubl-creditnote-xsd",
                   "CrossIndustryInvoice_100pD16B.xsd": "cii-xsd"}
OFFICIAL_RULES = {"EN16931-UBL-validation.xsl": "en16931-ubl",
                  "EN16931-CII-validation.xsl": "en16931-cii",
                  "XRechnung-UBL-validation.xsl": "xrechnung-ubl",
                  "XRechnung-CII-validation.xsl": "xrechnung-cii"}
OFFICIAL_ROOT = {"invoice:Invoice": "ubl-invoice", "creditnote:CreditNote": "ubl-creditnote",
                 "rsm:CrossIndustryInvoice": "cii"}


def official_scenarios(corpus: Path) -> list[dict[str, object]]:
    text = (corpus / "rules/kosit-config/scenarios.xml").read_text("utf-8")
    for token, value in (("@xrechnung.spec.id@", XR), ("@xrechnung.extension.id@", EXT),
                         ("@xrechnung.cvd.id@", CVD)):
        text = text.replace(token, value)
    ns = {"s": "http://www.xoev.de/de/validator/framework/1/scenarios"}
    out = []
    for sc in etree.fromstring(text.encode()).iterfind("s:scenario", ns):
        match = sc.findtext("s:match", namespaces=ns) or ""
        root = next(k for prefix, k in OFFICIAL_ROOT.items() if f"/{prefix}" in match)
        out.append({
            "name": sc.findtext("s:name", namespaces=ns), "kinds": {root},
            "specifications": set(re.findall(r"'([^']+)'", match)),
            "schema": OFFICIAL_SCHEMA[Path(sc.findtext(
                "s:validateWithXmlSchema/s:resource/s:location", namespaces=ns) or "").name],
            "packs": [OFFICIAL_RULES[Path(loc).name] for loc in sc.xpath(
                "s:validateWithSchematron/s:resource/s:location/text()", namespaces=ns)],
            "levels": {str(c.text).strip(): c.get("level") for c in sc.iterfind(
                "s:createReport/s:customLevel", ns)}})
    return out


def test_the_first_scenarios_are_the_official_ones_one_for_one(corpus: Path) -> None:
    official = official_scenarios(corpus)
    ours = load_scenarios(BUILTIN_SCENARIOS)[:len(official)]
    assert len(official) == 11
    assert [{
        "name": s.name, "kinds": set(s.kinds), "specifications": set(s.specifications),
        "schema": s.schema_for(next(iter(s.kinds))),
        "packs": [p for p in s.packs if p != "leitweg"],  # warnings only, never a verdict
        "levels": {rule: level.value for rule, level in s.levels.items()}}
        for s in ours] == official
    names = [s.name for s in load_scenarios(BUILTIN_SCENARIOS)]
    assert "EN16931 XRechnung Extension (UBL CreditNote)" not in names
    assert not [s for s in load_scenarios(BUILTIN_SCENARIOS) if "*" in s.specifications
                and s.kinds & {"ubl-invoice", "ubl-creditnote", "cii"}], "no catch-all"


# ---------------------------------------------------------------- 1. CII-SR-452/453/454

def test_cii_xrechnung_scenarios_raise_cii_sr_452_to_454_to_error(validator: Validator,
                                                                  corpus: Path) -> None:
    data = read(corpus, CII)
    terms = re.search(rb"<ram:SpecifiedTradePaymentTerms>.*?</ram:SpecifiedTradePaymentTerms>",
                      data, re.S)
    tax = re.search(rb"<ram:ApplicableTradeTax>.*?</ram:ApplicableTradeTax>", data, re.S)
    assert terms and tax
    for part in (terms.group(), tax.group()):
        data = data.replace(part, part * 2, 1)
    for spec in (XR, EXT, CVD):
        report = check(validator, with_spec(data, spec))
        assert report.scenario and "XRechnung" in report.scenario and "CII" in report.scenario
        for rule in ("CII-SR-452", "CII-SR-453", "CII-SR-454"):
            assert levels(report, rule) == {Level.ERROR}, (spec, rule)
        assert report.verdict is Verdict.REJECT
    plain = check(validator, with_spec(data, "urn:cen.eu:en16931:2017"))
    assert plain.scenario == "EN16931 (CII)"
    assert levels(plain, "CII-SR-452") == {Level.WARNING}


# ---------------------------------------------------------------- 2. the official CII schema

def test_cii_is_checked_against_the_shipped_un_cefact_d16b_schema(validator: Validator,
                                                                  corpus: Path) -> None:
    notice = (xsd.CII_D16B.parents[3] / "NOTICE.md").read_text("utf-8")
    assert hashlib.sha256(xsd.CII_D16B.read_bytes()).hexdigest() in notice
    assert "b6c9e06a59812fb1a83585da40923b3678a649ad" in notice
    assert (xsd.CII_D16B.parents[3] / "LICENSE.txt").is_file()
    report = check(validator, read(corpus, f"{FX}EN16931_1_Teilrechnung.pdf"))
    assert (report.scenario, report.verdict) == ("EN16931 (CII)", Verdict.ACCEPT)
    broken = read(corpus, CII).replace(b"<ram:BuyerReference>", b"<ram:Unknown/>"
                                       b"<ram:BuyerReference>", 1)
    findings = check(validator, broken).findings
    assert [f.rule_id for f in findings if f.pack == "cii-xsd"] == ["XSD"]


# ---------------------------------------------------------------- 3. UBL CreditNote

def cvd_credit_note(corpus: Path) -> bytes:
    """The official CVD credit note test instance, without its two seller tax schemes that
    lack a VAT ID (UBL-SR-53, beside the point here)."""
    data = read(corpus, CVD_CN)
    return re.sub(rb"<cac:PartyTaxScheme>\s*<cac:TaxScheme>\s*<cbc:ID>(VAT|FC)</cbc:ID>\s*"
                  rb"</cac:TaxScheme>\s*</cac:PartyTaxScheme>", b"", data, count=2)


def test_cvd_rules_apply_to_ubl_credit_notes(validator: Validator, corpus: Path) -> None:
    report = check(validator, cvd_credit_note(corpus))
    assert report.scenario == "EN16931 XRechnung CVD (UBL CreditNote)"
    assert report.verdict is Verdict.ACCEPT, [(f.rule_id, f.message) for f in report.errors]
    assert levels(report, "BR-CL-13") == {Level.INFORMATION}
    broken = check(validator, cvd_credit_note(corpus).replace(
        b'listID="CVD" listVersionID="88">M1<', b'listID="CVD" listVersionID="88">X2<', 1))
    assert levels(broken, "BR-DE-CVD-04") == {Level.ERROR}
    assert broken.verdict is Verdict.REJECT


def test_no_extension_scenario_for_ubl_credit_notes(validator: Validator, corpus: Path) -> None:
    report = check(validator, with_spec(read(corpus, PEPPOL_CN), EXT))
    assert report.verdict is Verdict.REJECT and report.scenario is None
    (finding,) = report.findings
    assert finding.rule_id == "EINVOICE-SCENARIO" and finding.pack == "scenario"
    assert repr(EXT) in finding.message and f"{CVD}," in finding.message + ","


def test_br_co_16_is_lowered_only_for_the_ubl_invoice_extension(validator: Validator,
                                                                corpus: Path) -> None:
    ubl = check(validator, read(corpus, "valid/xrechnung-testsuite/business-cases/extension/"
                                        "05.01a-INVOICE_ubl.xml"))
    assert ubl.verdict is Verdict.ACCEPT and levels(ubl, "BR-CO-16") == {Level.INFORMATION}
    cii = read(corpus, "valid/xrechnung-testsuite/business-cases/extension/"
                       "04.05a-INVOICE_uncefact.xml")
    report = check(validator, cii.replace(b"<ram:DuePayableAmount>119.00<",
                                          b"<ram:DuePayableAmount>100.00<", 1))
    assert report.scenario == "EN16931 XRechnung Extension (CII)"
    assert levels(report, "BR-CO-16") == {Level.ERROR} and report.verdict is Verdict.REJECT


# ---------------------------------------------------------------- 4. and 5. no scenario

@pytest.mark.parametrize("rel", [UBL, CII])
@pytest.mark.parametrize("spec", ["urn:cen.eu:en16931:2017#compliant#urn:example:mine", ""])
def test_unknown_bt24_with_a_leitweg_id_is_br_de_21(validator: Validator, corpus: Path,
                                                    rel: str, spec: str) -> None:
    report = check(validator, with_spec(read(corpus, rel), spec))
    assert report.verdict is Verdict.REJECT and report.profile is None
    (finding,) = report.findings
    assert (finding.rule_id, finding.flag.value, finding.term) == ("BR-DE-21", "fatal", "BT-24")
    assert finding.message.startswith(BR_DE_21) and XR in finding.message


def test_unknown_bt24_without_leitweg_id_names_found_and_accepted(validator: Validator,
                                                                 corpus: Path) -> None:
    data = with_spec(read(corpus, UBL), "urn:example:mine").replace(
        b"04011000-12345-03", b"PO-4711")
    (finding,) = check(validator, data).findings
    assert (finding.rule_id, finding.flag.value, finding.pack) == (
        "EINVOICE-SCENARIO", "fatal", "scenario")
    assert "'urn:example:mine'" in finding.message
    for accepted in (XR, EXT, CVD, "urn:cen.eu:en16931:2017", PEPPOL):
        assert accepted in finding.message


# ---------------------------------------------------------------- 6. the document policy

def test_expired_xrechnung_is_rejected_naming_its_version(validator: Validator,
                                                         corpus: Path) -> None:
    spec = "urn:cen.eu:en16931:2017#compliant#urn:xoev-de:kosit:standard:xrechnung_2.3"
    report = check(validator, with_spec(read(corpus, UBL), spec))
    (finding,) = report.findings
    assert (report.verdict, report.profile, finding.rule_id) == (
        Verdict.REJECT, "XRECHNUNG", "EINVOICE-POLICY")
    assert "XRechnung 2.3" in finding.message
    pdf = check(validator, read(corpus, "zugferd/mustang/validator/validXRechnung.pdf"))
    assert "XRechnung 1.2" in pdf.findings[0].message


def test_peppol_bis_gets_schema_cen_and_peppol_rules(validator: Validator,
                                                     corpus: Path) -> None:
    report = check(validator, read(corpus, PEPPOL_INV))
    assert (report.verdict, report.profile, report.scenario) == (
        Verdict.ACCEPT, "PEPPOL", "Peppol BIS Billing 3.0 (UBL Invoice)")
    no_profile = re.sub(rb"<cbc:ProfileID>[^<]*</cbc:ProfileID>", b"", read(corpus, PEPPOL_INV))
    broken = check(validator, no_profile)
    assert [f.rule_id for f in broken.errors] == ["PEPPOL-EN16931-R001"]
    assert {f.pack for f in broken.findings} == {"peppol-ubl"}
    assert report_json(report)["profile"] == "PEPPOL"


@pytest.mark.parametrize(("rel", "profile"), [
    ("zugferd/synthesized/synth_MINIMUM_facturFrMinimum.pdf", "MINIMUM"),
    ("zugferd/mustang/validator/validAvoir_FR_type380_BASICWL.pdf", "BASIC WL"),
])
def test_minimum_and_basic_wl_are_no_invoices_under_german_vat_law(
        validator: Validator, corpus: Path, rel: str, profile: str) -> None:
    report = check(validator, read(corpus, rel))
    assert (report.verdict, report.profile) == (Verdict.REJECT, profile)
    assert "§14 UStG" in report.findings[0].message


def test_basic_gets_its_profile_schema_and_rules(validator: Validator, corpus: Path) -> None:
    data = read(corpus, "zugferd/synthesized/synth_BASIC_Factur-X_basic.pdf.embedded.xml")
    report = check(validator, data)
    assert (report.verdict, report.profile, report.scenario) == (
        Verdict.ACCEPT, "BASIC", "Factur-X BASIC (CII)")
    # an element the BASIC schema does not have where it stands
    broken = check(validator, data.replace(b"<ram:Name>", b"<ram:Description>x</ram:Description>"
                                                       b"<ram:Name>", 1))
    assert broken.verdict is Verdict.REJECT
    assert "facturx-basic-xsd" in {f.pack for f in broken.errors}


def test_extended_gets_its_own_rules_never_the_cen_core(corpus: Path) -> None:
    fresh = Validator()
    report = check(fresh, read(corpus, f"{FX}EXTENDED_Fremdwaehrung_wdis_fx-pdfa4.pdf"))
    assert (report.verdict, report.profile, report.scenario) == (
        Verdict.ACCEPT, "EXTENDED", "Factur-X EXTENDED (CII)")
    assert fresh.registry.loaded() == {"facturx-extended-xsd", "facturx-extended"}
    # the official CEN rules reject this EXTENDED invoice (BR-CO-12, BR-S-08); its profile not
    extended = check(fresh, read(corpus, "zugferd/mustang/validator/"
                                         "zugferd_2p1_EXTENDED_PDFA-3A.pdf"))
    assert extended.verdict is Verdict.ACCEPT


def test_zugferd_1_is_rejected_with_a_reason(validator: Validator, corpus: Path) -> None:
    report = check(validator, read(corpus, f"{FX}zugferd_invoice.pdf"))
    assert (report.verdict, report.profile) == (Verdict.REJECT, "ZUGFERD1")
    assert "ZUGFeRD 1.0" in report.findings[0].message and report.findings[0].pack == "policy"


def test_a_zugferd_1_document_claiming_xrechnung_is_still_zugferd_1(validator: Validator,
                                                                     corpus: Path) -> None:
    data = read(corpus, f"{FX}zugferd_invoice.pdf.embedded.xml")
    claimed = re.sub(rb"urn:ferd:CrossIndustryDocument:invoice:1p0:\w+", XR.encode(), data)
    assert claimed != data
    report = check(validator, claimed)
    assert (report.verdict, report.profile, report.findings[0].rule_id) == (
        Verdict.REJECT, "ZUGFERD1", "EINVOICE-POLICY")


def test_a_known_bt24_with_stray_blanks_matches_no_scenario(validator: Validator,
                                                            corpus: Path) -> None:
    """Like the official XPath ``=``: the value as written, and the report shows it so."""
    report = check(validator, with_spec(read(corpus, UBL), f" {XR}\n"))
    (finding,) = report.findings
    assert (report.profile, finding.rule_id) == ("XRECHNUNG", "EINVOICE-SCENARIO")
    assert repr(f" {XR}\n") in finding.message


def test_the_policy_is_a_setting(corpus: Path) -> None:
    settings = load_settings(document_policy={"peppol": {
        "action": "reject", "reason": "Nur XRechnung. / XRechnung only."}})
    assert settings.document_policy["peppol"].profile == "PEPPOL"  # the rest stays default
    assert len(settings.document_policy) == len(load_settings().document_policy)
    report = check(Validator(policy=Policy(settings.document_policy)), read(corpus, PEPPOL_INV))
    assert (report.verdict, report.profile) == (Verdict.REJECT, "PEPPOL")
    assert report.findings[0].message.startswith("Nur XRechnung.")
    odd = Policy(load_settings(document_policy={"peppol": {
        "action": "reject", "reason": "{unbalanced"}}).document_policy)
    assert odd.decide("ubl-invoice", PEPPOL).reason == "{unbalanced"  # said as written


# ---------------------------------------------------------------- the ZUGFeRD corpus

def _pdfs() -> list[str]:
    manifest = CORPUS / "zugferd" / "manifest.json"
    return sorted(json.loads(manifest.read_text())) if manifest.is_file() else ["missing"]


@pytest.mark.parametrize("rel", _pdfs())
def test_zugferd_corpus_schema_outcome_agrees(validator: Validator, corpus: Path,
                                              rel: str) -> None:
    """Where a scenario runs a schema, its outcome is the manifest's (the profile's XSD); a
    PDF without XML or with an unknown id is rejected saying so."""
    entry = json.loads((corpus / "zugferd/manifest.json").read_text())[rel]
    report = check(validator, read(corpus, f"zugferd/{rel}"))
    schema = [f for f in report.findings if f.rule_id == "XSD"]
    if report.scenario:
        assert (not schema) == entry["facturx_xsd_valid"]
    else:
        assert report.verdict is Verdict.REJECT and report.findings[0].flag.value == "fatal"
