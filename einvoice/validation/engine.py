"""The validation steps, in the order the KoSIT validator runs them: parse → identify →
pick scenario → schema → rule packs → effective levels → verdict.

A pack or rule that cannot run is an engine error on the report, the other packs still report:
with a schema or error-level finding the document is rejected, else it is ``undefined``, never
``accept`` (``verdict``). A document beyond what the rule engine's parser reads (nesting, many
attributes, long names: ``xmlsafe.beyond_limits``) is rejected at once with a finding naming
the limit: no pack could run on it, so it would stay undefined for ever.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from einvoice.errors import InputError
from einvoice.formats.detect import Kind, xml_kind
from einvoice.formats.reader import Reading, read_document
from einvoice.formats.xmlsafe import beyond_limits, parse_xml
from einvoice.validation.document import Doc
from einvoice.validation.findings import (
    ENGINE,
    EngineError,
    Finding,
    Flag,
    Level,
    Report,
    Verdict,
)
from einvoice.validation.leitweg import LeitwegPack
from einvoice.validation.packs import Registry
from einvoice.validation.policy import Policy
from einvoice.validation.scenarios import Scenario, load_scenarios, pick
from einvoice.validation.xsd import RULE_ID as SCHEMA_RULE

log = logging.getLogger(__name__)
READ = "EINVOICE-READ"  # a value of the invoice the reader could not take

UNKNOWN_TYPE = "EINVOICE-UNKNOWN"
LIMIT = "EINVOICE-LIMIT"  # beyond what the rule engine's parser reads
XML_KINDS = {Kind.UBL_INVOICE, Kind.UBL_CREDITNOTE, Kind.CII, Kind.ZUGFERD1}
_RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:"
_GUIDELINE = "{{{0}}}{1}/{{{2}}}GuidelineSpecifiedDocumentContextParameter/{{{2}}}ID"
SPEC_PATHS = (  # BT-24 of UBL, CII and ZUGFeRD 1.0
    "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}CustomizationID",
    _GUIDELINE.format("urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
                      "ExchangedDocumentContext", f"{_RAM}100"),
    _GUIDELINE.format("urn:ferd:CrossIndustryDocument:invoice:1p0",
                      "SpecifiedExchangedDocumentContext", f"{_RAM}12"),
)


def _reject(source: str, reading: Reading, message: str) -> Report:
    finding = Finding(UNKNOWN_TYPE, Flag.FATAL, message, pack="scenario")
    return Report(source, Verdict.REJECT, None, [finding], kind=reading.kind.value)


def verdict(findings: Iterable[Finding], engine_errors: Iterable[EngineError] = ()) -> Verdict:
    """Reject on any schema finding or any error-level finding of the rules that did run, even
    if others could not; else ``undefined`` when a rule could not run (validated again later,
    never "valid" by omission); else accept."""
    if any(f.rule_id == SCHEMA_RULE or f.effective is Level.ERROR for f in findings):
        return Verdict.REJECT
    return Verdict.UNDEFINED if any(True for _ in engine_errors) else Verdict.ACCEPT


def reader_findings(reading: Reading) -> list[Finding]:
    """Each value the reader could not take (kept as None in the model) as a fatal finding:
    the document is invalid, and the supplier learns which value to correct, and where."""
    return [Finding(READ, Flag.FATAL, f"Wert nicht lesbar / value cannot be read: {p.message}",
                    p.path, p.line, p.term, pack="reader") for p in reading.problems]


def engine_summary(errors: list[EngineError], shown: int = 3) -> str | None:
    """The report's ``error`` line: which packs and rules could not run, and why."""
    parts = [f"{e.pack}{'' if e.rule_id == ENGINE else ' ' + e.rule_id}: {e.message}"
             for e in errors[:shown]]
    more = f"; and {len(errors) - shown} more" if len(errors) > shown else ""
    return "; ".join(parts) + more if parts else None


class Validator:
    """Scenarios and rule packs, loaded once per process and reused for every document."""

    def __init__(self, scenarios: list[Scenario] | None = None,
                 leitweg_routes: dict[str, str] | None = None,
                 policy: Policy | None = None) -> None:
        self.scenarios = scenarios if scenarios is not None else load_scenarios()
        self.policy = policy or Policy()
        self.registry = Registry()
        if leitweg_routes:
            self.registry.register("leitweg", lambda: LeitwegPack(leitweg_routes))

    def validate_bytes(self, data: bytes, source: str, max_xml_bytes: int) -> Report:
        """Validate a file as given (XML or PDF with embedded XML), like the KoSIT CLI."""
        return self.validate(read_document(data, max_xml_bytes), source, max_xml_bytes)

    def validate(self, reading: Reading, source: str, max_xml_bytes: int) -> Report:
        """Validate what the reader found; the reading's canonical model is reused."""
        if reading.xml is None or reading.kind not in XML_KINDS | {Kind.FACTURX_PDF}:
            return _reject(source, reading, "Unbekannter Dokumenttyp / unknown document type"
                           + (f": {reading.error}" if reading.error else ""))
        try:
            root = parse_xml(reading.xml, max_xml_bytes).getroot()
        except InputError as exc:
            return _reject(source, reading, f"Unbekannter Dokumenttyp / unknown document type: "
                                            f"{exc}")
        beyond = beyond_limits(root)
        if beyond is not None:
            finding = Finding(LIMIT, Flag.FATAL, "Verarbeitungsgrenze überschritten / beyond "
                              f"the processing limits: {beyond}", pack="limits")
            return Report(source, Verdict.REJECT, None, [*reader_findings(reading), finding],
                          kind=reading.kind.value)
        doc = Doc(reading.xml, root, xml_kind(root), reading.syntax or "", reading.invoice)
        specs = _specs_from_xml(doc)  # as written: scenarios match them exactly, like KoSIT
        spec = doc.specification_id or next((s.strip() for s in specs if s.strip()), None)
        decision = self.policy.decide(doc.kind.value, spec)
        scenario = None if decision.reason else pick(self.scenarios, doc.kind.value, specs)
        if scenario is None:
            finding = (self.policy.rejection(decision, spec) if decision.reason else
                       self.policy.no_scenario(doc, specs, decision, self.scenarios))
            return Report(source, Verdict.REJECT, None,
                          [*reader_findings(reading), finding], kind=reading.kind.value,
                          specification_id=spec, profile=decision.profile)
        report = Report(source, Verdict.UNDEFINED, scenario.name, kind=reading.kind.value,
                        specification_id=spec, profile=decision.profile)
        try:
            found = self._run(scenario, doc)
        except Exception as exc:  # outside any pack: an engine failure never looks "valid"
            log.exception("validation engine failed on %s", source)
            found = [EngineError(ENGINE, Flag.FATAL, f"{type(exc).__name__}: {exc}",
                                 pack="engine")]
        report.findings = reader_findings(reading) + [
            f for f in found if not isinstance(f, EngineError)]
        report.engine_errors = [f for f in found if isinstance(f, EngineError)]
        report.verdict = verdict(report.findings, report.engine_errors)
        report.error = engine_summary(report.engine_errors)
        return report

    def _run(self, scenario: Scenario, doc: Doc) -> list[Finding]:
        """Each pack on its own: one that cannot load or run becomes an engine error naming it,
        and the others still report (one crash must not hide every finding)."""
        schema = scenario.schema_for(doc.kind.value)
        names = ([schema] if schema else []) + list(scenario.packs)
        findings: list[Finding] = []
        for name in names:
            try:
                findings += self.registry.get(name).validate(doc)
            except Exception as exc:
                log.exception("rule pack %s failed", name)
                findings.append(EngineError(ENGINE, Flag.FATAL, f"rule pack {name} could not "
                                            f"run: {type(exc).__name__}: {exc}", pack=name))
        return [f.at_level(scenario.levels[f.rule_id])
                if f.rule_id in scenario.levels and not isinstance(f, EngineError) else f
                for f in findings]


def _specs_from_xml(doc: Doc) -> list[str]:
    """Every BT-24 value of the document, untrimmed (CII may repeat the parameter)."""
    return ["".join(str(t) for t in el.itertext())
            for path in SPEC_PATHS for el in doc.root.iterfind(path)]
