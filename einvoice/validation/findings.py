"""Findings and reports: the vocabulary every rule pack and every renderer shares."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum

# the business term a rule message names first ("... Buyer reference (BT-10) ...")
TERM = re.compile(r"\b(B[TG]-\d+)\b")


class Flag(StrEnum):
    """Severity as the rule source states it (Schematron ``flag``)."""

    FATAL = "fatal"
    WARNING = "warning"
    INFORMATION = "information"


class Level(StrEnum):
    """Effective level after the scenario's overrides (KoSIT ``customLevel``)."""

    ERROR = "error"
    WARNING = "warning"
    INFORMATION = "information"


class Verdict(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    UNDEFINED = "undefined"  # processing failed: not the same as invalid


DEFAULT_LEVEL = {Flag.FATAL: Level.ERROR, Flag.WARNING: Level.WARNING,
                 Flag.INFORMATION: Level.INFORMATION}


@dataclass(frozen=True)
class Finding:
    """One failed rule: id, flag, message, and where (XPath, line) and what (BT/BG) it concerns."""

    rule_id: str
    flag: Flag
    message: str
    location: str | None = None
    line: int | None = None
    term: str | None = None
    pack: str = ""
    level: Level | None = None

    def at_level(self, level: Level) -> Finding:
        return replace(self, level=level)

    @property
    def effective(self) -> Level:
        return self.level or DEFAULT_LEVEL[self.flag]


ENGINE = "EINVOICE-ENGINE"  # the rule id of an engine error that no single rule caused


@dataclass(frozen=True)
class EngineError(Finding):
    """A rule (``rule_id``) or a whole pack (``ENGINE``) that could not run on this document;
    ``message`` says why. Packs return it among their findings so that wrappers pass it on; the
    engine moves it to ``Report.engine_errors``, where it neither rejects nor accepts: the
    document was not fully checked. Flagged fatal so that a reader unaware of it never takes
    the rule as passed."""


@dataclass
class Report:
    """The result of validating one document."""

    source: str
    verdict: Verdict
    scenario: str | None
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    kind: str | None = None
    specification_id: str | None = None
    engine_errors: list[EngineError] = field(default_factory=list)  # rules that could not run
    release: str | None = None  # the rule release that checked it
    profile: str | None = None  # XRECHNUNG, EN16931, PEPPOL, EXTENDED, ... (document policy)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.effective is Level.ERROR]
