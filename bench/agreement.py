"""Agreement with the official outcomes: every corpus folder under every installed rule release.

    python3 bench/agreement.py [--shown 10]

One table: per corpus folder and rule release the number of files, how many get the official
verdict, how many the official rule-level outcome (where the folder states rules), how many
agree in everything compared, and — for the newest release, whose official outcomes the corpus
does not hold (it holds those of 2.5) — how many agree once the rule ids that legitimately
differ between the releases (``DIFFERING``) are left out on both sides. Below the table, the
files that disagree (the first ``--shown`` per cell), each with the reason: which verdict, which
rule ids (``+`` we report and the official rules do not, ``-`` the other way round), or the
documented difference of our document policy that explains it.

What "official" means per folder (the same comparisons as the tests that check each pack):

- ``valid/``: the official validator's verdict and scenario (``kosit_emulation``, as
  tests/test_validate.py), the XSD outcome, and the failed assertions ``{id, flag, count}`` of
  the official CEN rules (``cen``) and, where stated, of the XRechnung rules (``xrechnung``), for
  the rule sets our scenario runs (tests/test_validation_cen.py, test_validation_xrechnung.py).
- ``xr-rules/``: the failed assertions of ``xrechnung`` + ``cen``, id + flag + count; the
  verdict is the official validator's, derived from them: the official scenario for the
  document (``rules/kosit-config/scenarios.xml``, its match evaluated on the document), its
  ``customLevel`` overrides, reject on no scenario or any finding of level error.
- ``cen-unit/``: the expectation of the rule under test (error: fires fatal, warning: fires as
  warning, success: does not fire) and the oracle (every CEN rule reported, id + flag + count),
  both for the release's CEN pack run on the document; the verdict as above (the unit tests carry
  no known BT-24, so the official validator has no scenario for them).
- ``zugferd/``: the verdict derived as above from the embedded XML the manifest names (a PDF
  without one: reject), its profile XSD outcome (``facturx_xsd_valid``, where our scenario runs
  a schema, as tests/test_kosit_scenarios.py) and, where our scenario runs the CEN rules, the
  official CEN findings.
- ``rules/xrechnung-next/``: every ``<?xmute?>`` expectation of the official 2.6.0 test
  instances (``einvoice.validation.xmute``), on the findings of ``book.validate``.

Documented differences of the document policy (README, "Validation"): Peppol BIS Billing 3.0 has
no official scenario (the official validator rejects it) and is validated by schema, CEN and
Peppol rules; Factur-X BASIC and EXTENDED have no official scenario either and get their own
profile schema and rules. They are counted apart ("policy") and listed with that reason.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from einvoice.formats.detect import xml_kind
from einvoice.formats.reader import read_document
from einvoice.formats.xmlsafe import parse_xml
from einvoice.validation import xmute
from einvoice.validation.document import Doc
from einvoice.validation.engine import Validator
from einvoice.validation.engine import verdict as engine_verdict
from einvoice.validation.findings import Finding, Flag, Level, Report, Verdict
from einvoice.validation.releases import installed
from einvoice.validation.rulebook import Rulebook
from einvoice.validation.scenarios import Scenario
from einvoice.validation.xsd import RULE_ID as SCHEMA_RULE

LIMIT = 64 * 1024 * 1024
RELEASES = ("xrechnung-2.5", "xrechnung-2.6.0")
OFFICIAL_RELEASE = "xrechnung-2.5"  # whose outcomes the corpus records
FOLDERS = ("valid", "cen-unit", "xr-rules", "zugferd", "xrechnung-next")
NEXT = "rules/xrechnung-next/test/instances"
# the rule ids whose outcome legitimately differs between 2.5 and 2.6.0 (README, "Rule releases"):
# BR-TMP-2 fatal instead of warning; BR-TMP-4/5/6/7 new; PEPPOL-EN16931-R008 no longer on an
# empty order reference ID; CII-SR-475/476 lowered to information in the CII XRechnung scenarios
DIFFERING = frozenset({"BR-TMP-2", "BR-TMP-4", "BR-TMP-5", "BR-TMP-6", "BR-TMP-7",
                       "PEPPOL-EN16931-R008", "CII-SR-475", "CII-SR-476"})
# profiles our document policy validates although the official validator has no scenario for them
POLICY = {
    "PEPPOL": "Peppol BIS Billing 3.0: no official scenario (rejected there); our policy "
              "validates it by schema, CEN and Peppol rules",
    "BASIC": "Factur-X BASIC: no official scenario (rejected there); our policy validates it "
             "by its profile schema and rules",
    "EXTENDED": "Factur-X EXTENDED: no official scenario (rejected there); our policy validates "
                "it by its profile schema and rules",
}

Key = tuple[str, str]  # rule id, flag


def find_corpus() -> Path:
    """EINVOICE_CORPUS, else the nearest ``shared/corpus`` above this file (as tests/conftest)."""
    if os.environ.get("EINVOICE_CORPUS"):
        return Path(os.environ["EINVOICE_CORPUS"])
    here = Path(__file__).resolve()
    return next((up / "shared" / "corpus" for up in here.parents
                 if (up / "shared" / "corpus").is_dir()), here.parents[2] / "shared" / "corpus")


@cache
def load_json(corpus: Path, rel: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((corpus / rel).read_text("utf-8"))
    return data


def names(corpus: Path, folder: str) -> list[str]:
    """The files of a corpus folder that have an official outcome, sorted."""
    if folder == "valid":
        return sorted(load_json(corpus, "valid/manifest.json"))
    if folder in ("xr-rules", "cen-unit"):
        return sorted(load_json(corpus, f"{folder}/expected.json"))
    if folder == "zugferd":
        return sorted(load_json(corpus, "zugferd/manifest.json"))
    if folder == "xrechnung-next":
        return sorted(p.relative_to(corpus / NEXT).as_posix()
                      for p in (corpus / NEXT).rglob("*.xml"))
    raise ValueError(f"unknown corpus folder {folder!r}")


def counts(failed: Iterable[dict[str, Any]]) -> Counter[Key]:
    """A folder's ``failed`` list as a multiset of (id, flag)."""
    out: Counter[Key] = Counter()
    for f in failed:
        out[(str(f["id"]), str(f["flag"]))] += int(f["count"])
    return out


def without(found: Counter[Key], ignore: frozenset[str]) -> Counter[Key]:
    return Counter({key: n for key, n in found.items() if key[0] not in ignore})


def counter_diff(ours: Counter[Key], official: Counter[Key]) -> list[str]:
    """``+id flag×n``: we report it (n times more), ``-id flag×n``: the official rules do."""
    plus, minus = ours - official, official - ours
    return ([f"+{i} {f}×{n}" for (i, f), n in sorted(plus.items())]
            + [f"-{i} {f}×{n}" for (i, f), n in sorted(minus.items())])


# ------------------------------------------------------------------ the official scenarios

XR = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
TOKENS = {  # the build tokens of the KoSIT configuration (corpus README)
    "@xrechnung.spec.id@": XR,
    "@xrechnung.extension.id@":
        f"{XR}#conformant#urn:xeinkauf.de:kosit:extension:xrechnung_3.0",
    "@xrechnung.cvd.id@": f"{XR}#compliant#urn:xeinkauf.de:kosit:xrechnung:cvd_0.9",
}
_S = {"s": "http://www.xoev.de/de/validator/framework/1/scenarios"}
_RULE_SETS = {"EN16931-UBL-validation.xsl": "cen", "EN16931-CII-validation.xsl": "cen",
              "XRechnung-UBL-validation.xsl": "xrechnung",
              "XRechnung-CII-validation.xsl": "xrechnung"}


@dataclass(frozen=True)
class OfficialScenario:
    name: str
    match: etree.XPath
    rule_sets: frozenset[str]  # "cen", "xrechnung"
    levels: dict[str, Level]  # customLevel


@cache
def official_scenarios(corpus: Path) -> tuple[OfficialScenario, ...]:
    """The official validator's scenarios, in order. Their match is XPath 2.0 and uses only
    ``exists()``, which is XPath 1.0's ``boolean()``."""
    text = (corpus / "rules/kosit-config/scenarios.xml").read_text("utf-8")
    for token, value in TOKENS.items():
        text = text.replace(token, value)
    out = []
    for sc in etree.fromstring(text.encode()).iterfind("s:scenario", _S):
        namespaces = {str(ns.get("prefix")): (ns.text or "").strip()
                      for ns in sc.iterfind("s:namespace", _S)}
        match = re.sub(r"\bexists\(", "boolean(", sc.findtext("s:match", "", _S).strip())
        sets = frozenset(_RULE_SETS[Path((loc.text or "").strip()).name] for loc in sc.iterfind(
            "s:validateWithSchematron/s:resource/s:location", _S))
        levels = {str(c.text).strip(): Level(str(c.get("level")))
                  for c in sc.iterfind("s:createReport/s:customLevel", _S)}
        out.append(OfficialScenario(str(sc.findtext("s:name", "", _S)),
                                    etree.XPath(match, namespaces=namespaces), sets, levels))
    return tuple(out)


def official_scenario(corpus: Path, xml: bytes) -> OfficialScenario | None:
    """The first official scenario whose match holds for the document; None: there is none."""
    root = parse_xml(xml, LIMIT).getroot()
    return next((s for s in official_scenarios(corpus) if s.match(root)), None)


# ------------------------------------------------------------------ the two sides

@dataclass(frozen=True)
class Official:
    """One file's official outcome as its folder states it (or as it follows from that)."""

    scenario: str | None  # None: the official validator has no scenario for it
    accept: bool | None  # as stated (valid/); None: derived from the rest
    rules: dict[str, Counter[Key]]  # rule set -> failed (id, flag) -> count, as stated
    levels: dict[str, Level] = field(default_factory=dict)  # the scenario's customLevel
    xsd_valid: bool | None = None  # None: not stated

    def level(self, rule: str, flag: str) -> Level:
        return self.levels.get(rule) or {"fatal": Level.ERROR, "warning": Level.WARNING}.get(
            flag, Level.INFORMATION)

    def errors(self, ignore: frozenset[str] = frozenset()) -> list[str]:
        """The stated rules that reject (level error), without ``ignore``."""
        return sorted({rule for found in self.rules.values() for (rule, flag) in found
                       if rule not in ignore and self.level(rule, flag) is Level.ERROR})

    def accepts(self, ignore: frozenset[str] = frozenset()) -> bool:
        """The official verdict: as stated unless an ignored rule is among its errors; else
        the KoSIT verdict rule: reject without a scenario, on a schema error or on any
        finding of level error."""
        if self.accept is not None and not (set(self.errors()) & ignore):
            return self.accept
        return (self.scenario is not None and self.xsd_valid is not False
                and not self.errors(ignore))


@dataclass
class Check:
    """How one file's report compares: each list holds the reasons it differs ([]: agrees);
    ``rules`` is None where the folder states no rules our scenario runs."""

    verdict: list[str]
    rules: list[str] | None
    policy: str | None = None  # the documented difference that explains the disagreement

    @property
    def agrees(self) -> bool:
        return not self.verdict and not self.rules


PACK_SETS = {"en16931-ubl": "cen", "en16931-cii": "cen", "xrechnung-ubl": "xrechnung",
             "xrechnung-cii": "xrechnung"}


def our_rules(findings: Iterable[Finding]) -> dict[str, Counter[Key]]:
    """Our findings per official rule set (by the pack that reported them)."""
    out: dict[str, Counter[Key]] = {}
    for f in findings:
        if f.pack in PACK_SETS:
            out.setdefault(PACK_SETS[f.pack], Counter())[(f.rule_id, f.flag.value)] += 1
    return out


def our_errors(report: Report, ignore: frozenset[str] = frozenset()) -> list[str]:
    return sorted({f.rule_id for f in report.findings if f.rule_id not in ignore
                   and (f.rule_id == SCHEMA_RULE or f.effective is Level.ERROR)})


def our_verdict(report: Report, ignore: frozenset[str] = frozenset()) -> Verdict:
    """The report's verdict, or, with ``ignore``, the one its other findings give."""
    if not ignore:
        return report.verdict
    return engine_verdict([f for f in report.findings if f.rule_id not in ignore],
                          report.engine_errors)


class Corpus:
    """The rulebook of the installed releases and the corpus; each file is validated once per
    release."""

    def __init__(self, corpus: Path, book: Rulebook | None = None) -> None:
        self.root = corpus
        self.book = book or Rulebook(installed())
        self._reports: dict[tuple[str, str, str], Report] = {}
        self._cen: dict[tuple[str, str], list[Finding]] = {}
        self._xmute: dict[tuple[str, str], list[tuple[xmute.Case, frozenset[str]]]] = {}

    def report(self, folder: str, name: str, release: str) -> Report:
        """``book.validate`` of one corpus file under one release."""
        key = (folder, name, release)
        if key not in self._reports:
            data = (self.root / folder / name).read_bytes()
            self._reports[key] = self.book.validate(read_document(data, LIMIT), name, LIMIT,
                                                    release=release)
        return self._reports[key]

    def cen_findings(self, name: str, release: str) -> list[Finding]:
        """The release's CEN pack run on a CEN unit test directly: no scenario takes them
        (they carry no known BT-24), so ``book.validate`` runs no rules on them."""
        key = (name, release)
        if key not in self._cen:
            reading = read_document((self.root / "cen-unit" / name).read_bytes(), LIMIT)
            if reading.xml is None:
                raise ValueError(f"cen-unit/{name}: not an XML document")
            root = parse_xml(reading.xml, LIMIT).getroot()
            doc = Doc(reading.xml, root, xml_kind(root), reading.syntax or "", reading.invoice)
            pack = "en16931-cii" if doc.syntax == "cii" else "en16931-ubl"
            self._cen[key] = self.validator(release).registry.get(pack).validate(doc)
        return self._cen[key]

    def xmute_fired(self, name: str, release: str) -> list[tuple[xmute.Case, frozenset[str]]]:
        """Every mutant of one 2.6.0 test instance with the rule ids ``book.validate`` reports."""
        key = (name, release)
        if key not in self._xmute:
            self._xmute[key] = [
                (case, frozenset(f.rule_id for f in self.book.validate(
                    read_document(case.xml, LIMIT), case.id, LIMIT, release=release).findings))
                for case in xmute.cases((self.root / NEXT / name).read_bytes())]
        return self._xmute[key]

    def validator(self, release: str) -> Validator:
        return self.book.validator(self.book.release_for(release=release))

    def scenario(self, release: str, name: str | None) -> Scenario | None:
        return next((s for s in self.validator(release).scenarios if s.name == name), None)

    def ran(self, release: str, report: Report) -> frozenset[str]:
        """The official rule sets (``cen``, ``xrechnung``) our scenario for a report runs."""
        scenario = self.scenario(release, report.scenario)
        return frozenset(PACK_SETS[p] for p in scenario.packs if p in PACK_SETS) \
            if scenario else frozenset()

    def schema_ran(self, release: str, report: Report) -> bool:
        scenario = self.scenario(release, report.scenario)
        return bool(scenario and scenario.schema)

    # -------------------------------------------------------------- the official outcomes

    def names(self, folder: str) -> list[str]:
        return names(self.root, folder)

    def official(self, folder: str, name: str) -> Official:
        """A file's official outcome; cen-unit: its verdict only (its rules: ``cen_unit``)."""
        if folder == "valid":
            entry = load_json(self.root, "valid/manifest.json")[name]
            emulation = entry["kosit_emulation"]
            rules = {"cen": counts(entry["cen"]["failed"])}
            if "xrechnung" in entry:
                rules["xrechnung"] = counts(entry["xrechnung"]["failed"])
            return self._with_scenario(self.root / "valid" / name, rules, entry["xsd"]["valid"],
                                       emulation["scenario"], bool(emulation["accept"]))
        if folder == "xr-rules":
            entry = load_json(self.root, "xr-rules/expected.json")[name]
            return self._with_scenario(self.root / "xr-rules" / name,
                                       {"cen": counts(entry["cen"]["failed"]),
                                        "xrechnung": counts(entry["xrechnung"]["failed"])})
        if folder == "cen-unit":
            entry = load_json(self.root, "cen-unit/expected.json")[name]
            official = self._with_scenario(self.root / "cen-unit" / name,
                                           {"cen": counts(entry["oracle"]["failed"])})
            if official.scenario is not None:  # then its verdict would need the XRechnung rules
                raise ValueError(f"cen-unit/{name}: an official scenario takes it")
            return Official(None, None, {})
        if folder == "zugferd":
            entry = load_json(self.root, "zugferd/manifest.json")[name]
            extracted = entry["embedded_xml"].get("extracted_to")
            if not extracted:  # no invoice XML: nothing the official validator could take
                return Official(None, False, {})
            rules = {"cen": counts(entry["cen"]["failed"])} if "cen" in entry else {}
            return self._with_scenario(self.root / "zugferd" / extracted, rules,
                                       entry.get("facturx_xsd_valid"))
        raise ValueError(f"no official outcome per file in {folder}")

    def _with_scenario(self, path: Path, rules: dict[str, Counter[Key]],
                       xsd_valid: bool | None = None, stated: str | None = None,
                       accept: bool | None = None) -> Official:
        scenario = official_scenario(self.root, path.read_bytes())
        name = scenario.name if scenario else None
        if accept is not None and stated != name:
            raise ValueError(f"{path}: the stated scenario {stated!r} is not the one the "
                             f"official configuration picks ({name!r})")
        if scenario:  # the rule sets the official scenario runs are the ones that speak
            rules = {k: v for k, v in rules.items() if k in scenario.rule_sets}
        return Official(name, accept, rules, scenario.levels if scenario else {}, xsd_valid)

    # -------------------------------------------------------------- the comparisons

    def compare(self, folder: str, name: str, release: str,
                ignore: frozenset[str] = frozenset()) -> Check:
        """One file under one release against its official outcome, leaving out the rule ids
        in ``ignore`` on both sides."""
        if folder == "xrechnung-next":
            return Check([], xmute_problems(self.xmute_fired(name, release), ignore))
        cen = self.cen_findings(name, release) if folder == "cen-unit" else None
        return self.judge(folder, name, release, self.report(folder, name, release), ignore,
                          cen)

    def judge(self, folder: str, name: str, release: str, report: Report,
              ignore: frozenset[str] = frozenset(), cen: list[Finding] | None = None) -> Check:
        """``report`` (cen-unit: and the CEN pack's ``cen`` findings) against the official
        outcome of ``folder/name``."""
        official = self.official(folder, name)
        check = Check(self._verdict(report, official, release, folder, ignore), None)
        if folder == "cen-unit":
            check.rules = cen_unit_problems(load_json(self.root, "cen-unit/expected.json")[name],
                                            cen or [], ignore)
        else:
            check.rules = self._rules(report, official, release, ignore)
            if folder == "valid" and check.rules is not None:
                check.rules += self.schema_problems(report, official, release)
        if not check.agrees and report.profile in POLICY and official.scenario is None \
                and report.scenario is not None:
            check.policy = POLICY[report.profile]
        return check

    def _verdict(self, report: Report, official: Official, release: str, folder: str,
                 ignore: frozenset[str]) -> list[str]:
        reasons = []
        ours = our_verdict(report, ignore)
        theirs = official.accepts(ignore)
        if (ours is Verdict.ACCEPT) != theirs or ours is Verdict.UNDEFINED:
            why_ours = ", ".join(our_errors(report, ignore)) or report.error or "-"
            why_theirs = ("no scenario" if official.scenario is None
                          else ", ".join(official.errors(ignore)) or "-")
            reasons.append(f"verdict {ours.value} (errors: {why_ours}), official "
                           f"{'accept' if theirs else 'reject'} (errors: {why_theirs})")
        if folder != "zugferd" and report.scenario != official.scenario:
            reasons.append(f"scenario {report.scenario!r}, official {official.scenario!r}")
        if folder == "zugferd":
            reasons += self.schema_problems(report, official, release)
        return reasons

    def schema_problems(self, report: Report, official: Official, release: str) -> list[str]:
        """The XSD outcome, where the folder states it and our scenario runs a schema."""
        if official.xsd_valid is None or not self.schema_ran(release, report):
            return []
        ours = not any(f.rule_id == SCHEMA_RULE for f in report.findings)
        if ours == official.xsd_valid:
            return []
        return [f"XSD {'valid' if ours else 'invalid'}, official "
                f"{'valid' if official.xsd_valid else 'invalid'}"]

    def _rules(self, report: Report, official: Official, release: str,
               ignore: frozenset[str]) -> list[str] | None:
        """Per official rule set the folder states and our scenario runs: the failed
        assertions, id + flag + count. None: there is no such rule set."""
        ran = self.ran(release, report)
        stated = {k: v for k, v in official.rules.items() if k in ran}
        if not stated:
            return None
        ours = our_rules(report.findings)
        reasons = []
        for rule_set, theirs in sorted(stated.items()):
            diff = counter_diff(without(ours.get(rule_set, Counter()), ignore),
                                without(theirs, ignore))
            if diff:
                reasons.append(f"{rule_set}: {' '.join(diff)}")
        return reasons


def cen_unit_problems(case: dict[str, Any], findings: list[Finding],
                      ignore: frozenset[str] = frozenset()) -> list[str]:
    """A CEN unit test's rule under test as it expects it (error: fires, flag fatal; warning:
    fires, flag warning; success: does not fire), and every CEN rule as the oracle reports
    it (id, flag, count)."""
    reasons = []
    wanted = {"error": {Flag.FATAL}, "warning": {Flag.WARNING}, "success": set()}
    tested = case["rule"] if isinstance(case["rule"], list) else [case["rule"]]
    for rule in tested:  # a list: a test of several rules, each as expected
        flags = {f.flag for f in findings if f.rule_id == rule}
        if rule not in ignore and flags != wanted[case["expect"]]:
            reasons.append(f"{rule} expected {case['expect']}, flags "
                           f"{sorted(f.value for f in flags) or 'none'}")
    diff = counter_diff(without(Counter((f.rule_id, f.flag.value) for f in findings), ignore),
                        without(counts(case["oracle"]["failed"]), ignore))
    if diff:
        reasons.append(f"oracle: {' '.join(diff)}")
    return reasons


def xmute_problems(fired: Iterable[tuple[xmute.Case, frozenset[str]]],
                   ignore: frozenset[str] = frozenset()) -> list[str]:
    """Every ``<?xmute?>`` expectation not met, given the rule ids fired per mutant."""
    problems = []
    for case, rules in fired:
        kept = xmute.Case(case.id, case.description, case.xml, case.must_fire - ignore,
                          case.must_not_fire - ignore)
        problem = kept.problem(set(rules - ignore))
        if problem:
            problems.append(problem)
    return problems


# ------------------------------------------------------------------ the table

@dataclass
class Cell:
    files: int = 0
    verdict: int = 0
    rules: int = 0
    rules_of: int = 0
    exact: int = 0
    policy: int = 0
    agreeing: int = 0  # where the releases agree
    wrong: list[tuple[str, Check, bool]] = field(default_factory=list)  # name, check, agrees
    seconds: float = 0.0


def cell(corpus: Corpus, folder: str, release: str) -> Cell:
    out = Cell()
    start = time.perf_counter()
    for name in corpus.names(folder):
        check = corpus.compare(folder, name, release)
        lenient = corpus.compare(folder, name, release, DIFFERING)
        out.files += 1
        out.verdict += not check.verdict
        if check.rules is not None:
            out.rules_of += 1
            out.rules += not check.rules
        out.exact += check.agrees
        out.policy += check.policy is not None
        out.agreeing += lenient.agrees
        if not check.agrees:
            out.wrong.append((name, check, lenient.agrees))
    out.seconds = time.perf_counter() - start
    return out


def rows(corpus: Corpus) -> Iterator[tuple[str, str, Cell]]:
    for folder in FOLDERS:
        for release in RELEASES:
            yield folder, release, cell(corpus, folder, release)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shown", type=int, default=10, help="disagreeing files per cell")
    args = parser.parse_args(argv)
    corpus = Corpus(find_corpus())
    if not corpus.root.is_dir():
        print(f"corpus missing at {corpus.root}", file=sys.stderr)
        return 2
    table = list(rows(corpus))
    head = ("folder", "release", "files", "verdict", "rules", "exact", "policy",
            "releases agree", "s")
    lines = [head]
    for folder, release, c in table:
        lines.append((
            folder, release, str(c.files),
            "-" if folder == "xrechnung-next" else f"{c.verdict}/{c.files}",
            f"{c.rules}/{c.rules_of}" if c.rules_of else "-", f"{c.exact}/{c.files}",
            str(c.policy) if c.policy else "-",
            f"{c.agreeing}/{c.files}" if release != OFFICIAL_RELEASE else "",
            f"{c.seconds:.1f}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for number, line in enumerate(lines):
        print("| " + " | ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) + " |")
        if number == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print(f"\nofficial outcomes: {OFFICIAL_RELEASE} (xrechnung-next: the 2.6.0 expectations); "
          f"'releases agree' leaves out {', '.join(sorted(DIFFERING))}\n")
    listed: dict[str, list[tuple[str, list[str]]]] = {}
    for folder, release, c in table:
        if not c.wrong:
            continue
        same = [(name, check.verdict + (check.rules or [])) for name, check, _ in c.wrong]
        if listed.get(folder) == same:
            print(f"{folder} under {release}: the same {len(c.wrong)} files, for the same "
                  "reasons")
            continue
        listed[folder] = same
        print(f"{folder} under {release}: {len(c.wrong)} disagree")
        for name, check, lenient in c.wrong[:args.shown]:
            tag = (f"policy: {check.policy}" if check.policy else
                   "only rules that differ between the releases" if lenient else "DISAGREES")
            reasons = check.verdict + (check.rules or [])
            more = f"; and {len(reasons) - 3} more" if len(reasons) > 3 else ""
            print(f"  {name} [{tag}]\n      {'; '.join(reasons[:3])}{more}")
        if len(c.wrong) > args.shown:
            print(f"  ... and {len(c.wrong) - args.shown} more")
    return 0


if __name__ == "__main__":
    sys.exit(main())
