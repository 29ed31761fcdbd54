"""The CEN EN 16931 rules for UBL on the native engine, and the engine choice around them.

Engines (setting ``rule_engine``): ``native`` compiles each official assertion to Python
(``pack``); ``official`` runs the release's Schematron on Saxon, as before; ``both`` runs the two
and reports any difference in (rule id, flag) as an engine error (the document is then
``undefined``, never accepted on one engine's word): for audits and for new rule releases.

The native pack compiles one fixed source, the CEN release 1.3.16 shipped with the built-in
release; ``fingerprints.toml`` records each assertion it compiles, as the native XRechnung rules
do, so a rule release whose assertion differs runs that assertion on its official engine.

    python -m einvoice.validation.native.cen > einvoice/validation/native/fingerprints.toml

rewrites the record after a differential run (``tests/test_native_cen.py``) agreed on a new
source.
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

from einvoice.validation.document import Doc
from einvoice.validation.findings import ENGINE, EngineError, Finding, Flag
from einvoice.validation.native.pack import NativePack
from einvoice.validation.official.assertions import assertions
from einvoice.validation.packs import RulePack

SOURCE = (Path(__file__).resolve().parents[3] / "schemas" / "releases" / "xrechnung-2.5"
          / "official" / "en16931" / "EN16931-UBL-validation.sch")
FINGERPRINTS = Path(__file__).resolve().parent / "fingerprints.toml"
ENGINES = ("native", "official", "both")


@functools.cache
def en16931_ubl() -> NativePack:
    """The native pack (compiled once per process, ~0.2 s)."""
    return NativePack("en16931-ubl", SOURCE)


def record() -> str:
    """The fingerprints file for the native source: every assertion the engine compiles."""
    skipped = en16931_ubl().unsupported
    rows = sorted((rule, a.fingerprint) for rule, a in assertions(SOURCE).items()
                  if rule not in skipped)
    head = ("# The official assertions the native engine compiles (einvoice.validation.native),"
            "\n# as fingerprints (einvoice.validation.official.assertions.fingerprint), written by"
            "\n# `python -m einvoice.validation.native.cen` from the source it compiles.\n"
            f'source = "{SOURCE.relative_to(SOURCE.parents[5]).as_posix()}"\n\n[en16931-ubl]\n')
    return head + "".join(f'"{rule}" = "{fingerprint}"\n' for rule, fingerprint in rows)


class BothEngines:
    """Native and official side by side: the official findings, plus an engine error naming
    every (rule id, flag) on which they differ."""

    def __init__(self, native: RulePack, official: RulePack) -> None:
        self.name = native.name
        self._native, self._official = native, official

    def validate(self, doc: Doc) -> list[Finding]:
        official = self._official.validate(doc)
        return official + disagreement(self._native.validate(doc), official)


def disagreement(native: list[Finding], official: list[Finding]) -> list[Finding]:
    ours, theirs = _tally(native), _tally(official)
    if ours == theirs:
        return []
    only_native = sorted((ours - theirs).elements())
    only_official = sorted((theirs - ours).elements())
    text = "; ".join(part for part in (
        "native only: " + ", ".join(f"{rule} ({flag})" for rule, flag in only_native)
        if only_native else "",
        "official only: " + ", ".join(f"{rule} ({flag})" for rule, flag in only_official)
        if only_official else "") if part)
    return [EngineError(ENGINE, Flag.FATAL, f"native and official engines disagree: {text}",
                        pack="en16931-ubl")]


def _tally(findings: list[Finding]) -> Counter[tuple[str, str]]:
    return Counter((f.rule_id, f.flag.value) for f in findings if not isinstance(f, EngineError))


if __name__ == "__main__":
    print(record(), end="")
