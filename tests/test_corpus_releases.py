"""The whole corpus under both installed rule releases, file by file, against the official
outcomes (those of release 2.5), through ``Rulebook.validate`` as intake does.

The comparisons are those of ``bench/agreement.py`` (which prints the table): the verdict and
scenario of the official validator, the failed assertions id + flag + count of the official
CEN and XRechnung rules, the XSD outcome, the CEN unit tests' expectation and oracle. Under 2.5
the agreement is exact; under 2.6.0 it is exact except for the rule ids that legitimately differ
between the releases (``DIFFERING``), which are left out on both sides, verdict included.

Where our document policy differs from the official validator on purpose, that difference is
asserted per file: Peppol BIS Billing 3.0 (valid/) has no official scenario and is rejected
there, ours accepts it by schema, CEN and Peppol rules — whose CEN part must still be the
official one; Factur-X BASIC and EXTENDED (zugferd/) have no official scenario either and get
their own profile schema (whose outcome is the manifest's) and rules.

Runtime of cen-unit/ (1140 files, the release's CEN pack on each) measured on the 2-core
machine with one core busy: about 16 s per release, so it runs under both releases.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench.agreement import (
    DIFFERING,
    POLICY,
    RELEASES,
    Corpus,
    cen_unit_problems,
    load_json,
    names,
)
from einvoice.validation.findings import Finding, Flag, Report, Verdict
from tests.conftest import CORPUS

pytestmark = pytest.mark.corpus
MISSING = "corpus-missing"  # the single case when the corpus is absent: the fixture skips/fails
# under 2.5 nothing is left out; under 2.6.0 the rule ids whose outcome changed with it
IGNORE = {"xrechnung-2.5": frozenset(), "xrechnung-2.6.0": DIFFERING}
BY_RELEASE = [pytest.param(r, id=r.removeprefix("xrechnung-")) for r in RELEASES]
PEPPOL = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PEPPOL_SCENARIO = {"ubl-inv": "Peppol BIS Billing 3.0 (UBL Invoice)",
                   "ubl-cn": "Peppol BIS Billing 3.0 (UBL CreditNote)"}
# Factur-X BASIC / EXTENDED: no official scenario; the profile's own schema and rules decide.
# The EXTENDED invoice of Mustang's validator is rejected by the official CEN rules (BR-CO-12,
# BR-S-08) but conforms to its profile; the ZUGFeRD 2.0 EXTENDED one breaks its profile rules.
PROFILE_RULES = {
    "mustang/library/EXTENDED_Fremdwaehrung_wdis_fx-pdfa4.pdf": ("EXTENDED", Verdict.ACCEPT),
    "mustang/library/ZTESTZUGFERD_1_INVDSS_012015738820PDF-1.pdf": ("EXTENDED", Verdict.REJECT),
    "mustang/validator/zugferd_2p1_EXTENDED_PDFA-3A.pdf": ("EXTENDED", Verdict.ACCEPT),
    "synthesized/synth_BASIC_Factur-X_basic.pdf": ("BASIC", Verdict.ACCEPT),
}
XR_UBL = "xrechnung-testsuite/technical-cases/cius/01.01_comprehensive_test_ubl.xml"
EXT_CII = "xrechnung-testsuite/business-cases/extension/04.05a-INVOICE_uncefact.xml"


def _files(folder: str) -> list[str]:
    try:
        return names(CORPUS, folder) or [MISSING]
    except OSError:
        return [MISSING]


@pytest.fixture(scope="module")
def judge(corpus: Path) -> Corpus:
    return Corpus(corpus)


def _entry(folder: str, manifest: str, name: str) -> dict[str, Any]:
    assert name != MISSING, f"no official outcomes in {CORPUS / folder / manifest}"
    entry: dict[str, Any] = load_json(CORPUS, f"{folder}/{manifest}")[name]
    return entry


# ---------------------------------------------------------------- file by file

@pytest.mark.parametrize("release", BY_RELEASE)
@pytest.mark.parametrize("name", _files("valid"))
def test_valid(judge: Corpus, name: str, release: str) -> None:
    entry = _entry("valid", "manifest.json", name)
    check = judge.compare("valid", name, release, IGNORE[release])
    report, official = judge.report("valid", name, release), judge.official("valid", name)
    if entry["spec_id"] == PEPPOL:
        # documented: the official validator has no scenario for Peppol BIS and rejects it;
        # our policy accepts it by its scenario, whose schema and CEN outcome are the official
        assert (official.scenario, official.accepts()) == (None, False)
        assert (report.verdict, report.profile, report.scenario) == (
            Verdict.ACCEPT, "PEPPOL", PEPPOL_SCENARIO[entry["syntax"]]), report.findings
        assert check.rules == [], check.rules
        assert check.policy == POLICY["PEPPOL"]
        return
    assert check.verdict == [], report.findings
    # the rules are compared wherever a scenario of ours ran (all but ZUGFeRD 1.0, which both
    # sides reject without a scenario)
    assert check.rules == ([] if report.scenario else None), check.rules


@pytest.mark.parametrize("release", BY_RELEASE)
@pytest.mark.parametrize("name", _files("xr-rules"))
def test_xr_rules(judge: Corpus, name: str, release: str) -> None:
    _entry("xr-rules", "expected.json", name)
    check = judge.compare("xr-rules", name, release, IGNORE[release])
    assert check.verdict == []
    assert check.rules == [], check.rules  # None would mean: no rule set compared


@pytest.mark.parametrize("release", BY_RELEASE)
@pytest.mark.parametrize("name", _files("cen-unit"))
def test_cen_unit(judge: Corpus, name: str, release: str) -> None:
    _entry("cen-unit", "expected.json", name)
    check = judge.compare("cen-unit", name, release, IGNORE[release])
    # no scenario takes a unit test (its BT-24 is no known one), officially nor here
    assert check.verdict == []
    assert judge.report("cen-unit", name, release).verdict is Verdict.REJECT
    assert check.rules == [], check.rules


@pytest.mark.parametrize("release", BY_RELEASE)
@pytest.mark.parametrize("name", _files("zugferd"))
def test_zugferd(judge: Corpus, name: str, release: str) -> None:
    _entry("zugferd", "manifest.json", name)
    check = judge.compare("zugferd", name, release, IGNORE[release])
    report, official = judge.report("zugferd", name, release), judge.official("zugferd", name)
    if name in PROFILE_RULES:
        profile, verdict = PROFILE_RULES[name]
        assert (official.scenario, official.accepts()) == (None, False)
        assert (report.profile, report.scenario, report.verdict) == (
            profile, f"Factur-X {profile} (CII)", verdict), report.findings
        assert judge.schema_ran(release, report)
        assert judge.schema_problems(report, official, release) == []  # the manifest's XSD
        assert not judge.ran(release, report)  # its own rules, not the CEN core
        assert check.policy == (POLICY[profile] if verdict is Verdict.ACCEPT else None)
        return
    assert check.verdict == [], report.findings
    assert check.rules == ([] if judge.ran(release, report) else None), check.rules


# ---------------------------------------------------------------- the comparisons can fail

@pytest.fixture(scope="module")
def accepted(judge: Corpus) -> Report:
    """An XRechnung UBL invoice both sides accept, with XRechnung and CEN findings compared."""
    report = judge.report("valid", XR_UBL, RELEASES[-1])
    assert report.verdict is Verdict.ACCEPT and judge.compare("valid", XR_UBL, RELEASES[-1]).agrees
    return report


def _first(judge: Corpus, folder: str, wanted: str) -> Iterator[tuple[str, Report]]:
    for name in names(judge.root, folder):
        report = judge.report(folder, name, RELEASES[0])
        if any(f.pack.startswith(wanted) for f in report.findings):
            yield name, report


def test_a_missing_or_an_extra_finding_disagrees(judge: Corpus, corpus: Path) -> None:
    name, report = next(_first(judge, "xr-rules", "xrechnung-"))
    found = next(f for f in report.findings if f.pack.startswith("xrechnung-"))
    key = f"{found.rule_id} {found.flag.value}×1"
    fewer = replace(report, findings=[f for f in report.findings if f is not found])
    more = replace(report, findings=[*report.findings, found])
    assert judge.judge("xr-rules", name, RELEASES[0], report).agrees
    assert any(f"-{key}" in r for r in judge.judge("xr-rules", name, RELEASES[0], fewer).rules
               or [])
    assert any(f"+{key}" in r for r in judge.judge("xr-rules", name, RELEASES[0], more).rules
               or [])
    other_flag = replace(found, flag=Flag.INFORMATION if found.flag is not Flag.INFORMATION
                         else Flag.WARNING)
    swapped = replace(report, findings=[other_flag if f is found else f
                                        for f in report.findings])
    assert not judge.judge("xr-rules", name, RELEASES[0], swapped).agrees  # the flag counts


def test_verdict_and_scenario_are_compared(judge: Corpus, accepted: Report) -> None:
    release = RELEASES[-1]
    assert judge.judge("valid", XR_UBL, release, replace(accepted, verdict=Verdict.REJECT)
                       ).verdict
    assert judge.judge("valid", XR_UBL, release, replace(accepted, verdict=Verdict.UNDEFINED)
                       ).verdict
    assert judge.judge("valid", XR_UBL, release, replace(accepted, scenario="EN16931 (UBL "
                                                                            "Invoice)")).verdict


def test_only_the_rules_that_differ_between_the_releases_are_left_out(
        judge: Corpus, accepted: Report) -> None:
    """A 2.6.0 change (BR-TMP-2 now fatal) disagrees exactly and agrees where the releases
    agree; any other fatal finding disagrees both ways."""
    release = RELEASES[-1]
    for rule, lenient in (("BR-TMP-2", True), ("BR-DE-15", False)):
        extra = Finding(rule, Flag.FATAL, "added", pack="xrechnung-ubl")
        report = replace(accepted, findings=[*accepted.findings, extra],
                         verdict=Verdict.REJECT)
        exact = judge.judge("valid", XR_UBL, release, report)
        assert exact.verdict and exact.rules, rule
        assert judge.judge("valid", XR_UBL, release, report, DIFFERING).agrees is lenient, rule


def test_the_official_verdict_follows_the_scenario_levels(judge: Corpus) -> None:
    """The extension case is accepted officially only because its scenario lowers BR-CL-10/21;
    an xr-rules instance with a fatal official finding is rejected officially."""
    official = judge.official("valid", EXT_CII)
    assert official.scenario == "EN16931 XRechnung Extension (CII)"
    assert {"BR-CL-10", "BR-CL-21"} <= {rule for rule, _ in official.rules["cen"]}
    assert official.errors() == [] and official.accepts()
    assert replace(official, levels={}).errors() == ["BR-CL-10", "BR-CL-21"]
    assert not replace(official, accept=None, levels={}).accepts()
    name, _ = next(_first(judge, "xr-rules", "en16931-"))
    rejected = judge.official("xr-rules", name)
    assert rejected.errors() and not rejected.accepts()


def test_the_zugferd_schema_outcome_is_compared(judge: Corpus) -> None:
    name = "mustang/library/EN16931_Einfach.pdf"
    release = RELEASES[-1]
    report = judge.report("zugferd", name, release)
    assert (report.scenario, report.verdict) == ("EN16931 (CII)", Verdict.ACCEPT)
    broken = replace(report, verdict=Verdict.REJECT, findings=[
        *report.findings, Finding("XSD", Flag.FATAL, "added", pack="cii-xsd")])
    reasons = judge.judge("zugferd", name, release, broken).verdict
    assert any(r.startswith("XSD invalid, official valid") for r in reasons), reasons
    assert any(r.startswith("verdict reject") for r in reasons), reasons


def test_the_cen_unit_expectation_and_oracle_are_compared(judge: Corpus) -> None:
    expected = load_json(judge.root, "cen-unit/expected.json")
    name = next(n for n, case in sorted(expected.items())
                if case["expect"] == "error" and isinstance(case["rule"], str))
    case, release = expected[name], RELEASES[-1]
    findings = judge.cen_findings(name, release)
    assert cen_unit_problems(case, findings) == []
    without_rule = [f for f in findings if f.rule_id != case["rule"]]
    problems = cen_unit_problems(case, without_rule)
    assert problems[0].startswith(f"{case['rule']} expected error, flags none")
    assert problems[1].startswith("oracle: -") and len(problems) == 2
    as_warning = [replace(f, flag=Flag.WARNING) if f.rule_id == case["rule"] else f
                  for f in findings]
    assert cen_unit_problems(case, as_warning)
