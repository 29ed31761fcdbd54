"""ISO Schematron → XSLT 2.0, as the ISO skeleton does it, for the features official sources use.

Issue 12 wants each rule release to have a reference engine that runs the official artefacts
themselves. No Schematron compiler library runs here (pyschematron needs Python 3.12, the
skeleton XSLTs are not shipped), so this is a small one that mirrors the skeleton's semantics:

- each active pattern walks the whole document in its own mode; within a pattern the first
  matching rule wins (templates of descending priority), and a default template walks on;
- schema-level lets become global parameters, pattern-level lets global variables, rule-level
  lets local variables in document order (before the assertions that follow them);
- ``xsl:function``/``xsl:key``/``xsl:param`` on schema level are copied through;
- ``failed-assert``/``successful-report`` carry id, flag, role, test and ``location`` (XPath 3
  ``path()``), and the message text with ``name`` and ``value-of`` evaluated.

Constructs it does not implement (abstract rules or patterns, ``extends``, ``@documents``)
raise ``ValueError`` rather than compile to something that judges differently.
"""

from __future__ import annotations

import copy
from pathlib import Path

from lxml import etree

from einvoice.validation.schematron import SVRL, XSL

SCH = "http://purl.oclc.org/dsdl/schematron"
XS = "http://www.w3.org/2001/XMLSchema"
# the skeleton's traversal (attributes on): rule contexts may be attributes, comments or PIs
WALK = "@*|*|comment()|processing-instruction()"
_COPIED = {"function", "key", "param", "variable"}
_TEXT_WRAPPERS = {"emph", "dir", "span"}


def _sch(name: str) -> str:
    return f"{{{SCH}}}{name}"


def _xsl(name: str) -> str:
    return f"{{{XSL}}}{name}"


def _parse(path: Path) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             remove_comments=True, remove_pis=True)
    return etree.parse(str(path), parser).getroot()


def load(sch: Path) -> etree._Element:
    """The schema of ``sch`` with every ``include`` replaced by the element it names (relative
    to the including file, as ``include href="../common.sch"`` expects)."""
    root = _parse(sch)
    _resolve(root, sch.resolve(), (sch.resolve(),))
    return root


def _resolve(element: etree._Element, base: Path, stack: tuple[Path, ...]) -> None:
    for include in list(element.iter(_sch("include"))):
        href = include.get("href") or ""
        if not href or "#" in href:
            raise ValueError(f"{base.name}: unsupported include href {href!r}")
        target = (base.parent / href).resolve()
        if target in stack:
            raise ValueError(f"{base.name}: include cycle through {href}")
        included = _parse(target)
        _resolve(included, target, (*stack, target))
        included.tail = include.tail
        parent = include.getparent()
        if parent is None:
            raise ValueError(f"{base.name}: include as document element")
        parent.replace(include, included)


def active_patterns(schema: etree._Element, phase: str | None = None) -> list[etree._Element]:
    """The patterns a phase runs (``#ALL`` unless a phase or ``defaultPhase`` names one)."""
    phase = phase or schema.get("defaultPhase") or "#ALL"
    patterns = schema.findall(_sch("pattern"))
    if phase == "#ALL":
        return patterns
    chosen = schema.find(f"{_sch('phase')}[@id='{phase}']")
    if chosen is None:
        raise ValueError(f"no phase {phase!r} in the schema")
    ids = {active.get("pattern") for active in chosen.findall(_sch("active"))}
    return [pattern for pattern in patterns if pattern.get("id") in ids]


def compile_schematron(sch: Path, phase: str | None = None,
                       only: frozenset[str] | None = None) -> str:
    """The XSLT 2.0 text for the schema at ``sch``; with ``only``, assertions whose id is not in
    it are left out (their rules still fire, so they still shadow later rules of a pattern)."""
    schema = load(sch)
    if schema.tag != _sch("schema"):
        raise ValueError(f"{sch.name}: not an ISO Schematron schema")
    for unsupported in ("extends", "rule[@abstract='true']", "pattern[@abstract='true']",
                        "pattern[@is-a]", "pattern[@documents]"):
        if schema.find(f".//{{{SCH}}}{unsupported}") is not None:
            raise ValueError(f"{sch.name}: unsupported Schematron construct {unsupported}")
    nsmap = {p: u for p, u in schema.nsmap.items() if p and u != SCH}
    nsmap.update({"xsl": XSL, "xs": XS, "svrl": SVRL})
    for ns in schema.findall(_sch("ns")):
        prefix, uri = ns.get("prefix"), ns.get("uri")
        if not prefix or uri is None:
            raise ValueError(f"{sch.name}: <ns> needs a prefix and a uri")
        nsmap[prefix] = uri
    sheet = etree.Element(_xsl("stylesheet"), nsmap=nsmap, version="2.0")
    etree.SubElement(sheet, _xsl("output"), method="xml", indent="no")
    for child in schema:
        if isinstance(child.tag, str) and etree.QName(child).namespace == XSL \
                and etree.QName(child).localname in _COPIED:
            sheet.append(copy.deepcopy(child))
    for let in schema.findall(_sch("let")):
        _let(sheet, let, "param")
    patterns = active_patterns(schema, phase)
    chosen = phase or schema.get("defaultPhase")
    for let in schema.findall(f"{_sch('phase')}[@id='{chosen}']/{_sch('let')}"):
        _let(sheet, let, "variable")
    for pattern in patterns:
        for let in pattern.findall(_sch("let")):
            _let(sheet, let, "variable")
    _root_template(sheet, schema, patterns)
    for pattern in patterns:
        _pattern(sheet, pattern, f"M{_position(pattern)}", only)
    return etree.tostring(sheet, encoding="unicode")


def _position(element: etree._Element) -> int:
    return sum(1 for sibling in element.itersiblings(preceding=True)
               if isinstance(sibling.tag, str))


def _avt(text: str) -> str:
    """Text as the value of a literal result attribute (an attribute value template)."""
    return text.replace("{", "{{").replace("}", "}}")


def _let(parent: etree._Element, let: etree._Element, kind: str) -> None:
    variable = etree.SubElement(parent, _xsl(kind), name=let.get("name") or "")
    if let.get("value") is not None:
        variable.set("select", let.get("value") or "")
    else:
        variable.text = let.text
        for child in let:
            variable.append(copy.deepcopy(child))


def _root_template(sheet: etree._Element, schema: etree._Element,
                   patterns: list[etree._Element]) -> None:
    template = etree.SubElement(sheet, _xsl("template"), match="/")
    output = etree.SubElement(template, f"{{{SVRL}}}schematron-output")
    title = schema.find(_sch("title"))
    if title is not None:
        output.set("title", _avt(" ".join("".join(map(str, title.itertext())).split())))
    for ns in schema.findall(_sch("ns")):
        etree.SubElement(output, f"{{{SVRL}}}ns-prefix-in-attribute-values",
                         prefix=ns.get("prefix") or "", uri=_avt(ns.get("uri") or ""))
    for pattern in patterns:
        active = etree.SubElement(output, f"{{{SVRL}}}active-pattern")
        if pattern.get("id"):
            active.set("id", _avt(pattern.get("id") or ""))
        etree.SubElement(output, _xsl("apply-templates"), select="/",
                         mode=f"M{_position(pattern)}")


def _pattern(sheet: etree._Element, pattern: etree._Element, mode: str,
             only: frozenset[str] | None) -> None:
    for rule in pattern.findall(_sch("rule")):
        following = sum(1 for s in rule.itersiblings() if isinstance(s.tag, str))
        template = etree.SubElement(sheet, _xsl("template"), match=rule.get("context") or "",
                                    priority=str(1000 + following), mode=mode)
        for child in rule:
            if not isinstance(child.tag, str):
                continue
            name = etree.QName(child).localname if etree.QName(child).namespace == SCH else ""
            if name == "let":
                _let(template, child, "variable")
            elif name in ("assert", "report") and (only is None or child.get("id") in only):
                _assertion(template, child, name == "report")
        etree.SubElement(template, _xsl("apply-templates"), select=WALK, mode=mode)
    etree.SubElement(sheet, _xsl("template"), match="text()", priority="-1", mode=mode)
    walk = etree.SubElement(sheet, _xsl("template"), match="@*|node()", priority="-2",
                            mode=mode)
    etree.SubElement(walk, _xsl("apply-templates"), select=WALK, mode=mode)


def _assertion(template: etree._Element, assertion: etree._Element, report: bool) -> None:
    test = assertion.get("test") or ""
    if report:
        holder = etree.SubElement(template, _xsl("if"), test=test)
    else:
        choose = etree.SubElement(template, _xsl("choose"))
        etree.SubElement(choose, _xsl("when"), test=test)
        holder = etree.SubElement(choose, _xsl("otherwise"))
    result = etree.SubElement(
        holder, f"{{{SVRL}}}{'successful-report' if report else 'failed-assert'}")
    result.set("test", _avt(test))
    for attribute in ("id", "flag", "role"):
        value = assertion.get(attribute)
        if value is not None:
            result.set(attribute, _avt(value))
    etree.SubElement(result, _xsl("attribute"), name="location", select="path()")
    _message(etree.SubElement(result, f"{{{SVRL}}}text"), assertion)


def _message(target: etree._Element, source: etree._Element) -> None:
    """The mixed content of an assertion as XSLT: text kept, ``name``/``value-of`` evaluated."""
    if source.text:
        etree.SubElement(target, _xsl("text")).text = source.text
    for child in source:
        if isinstance(child.tag, str):
            name = etree.QName(child).localname if etree.QName(child).namespace == SCH else ""
            if name == "name":
                select = f"name({child.get('path') or '.'})"
                etree.SubElement(target, _xsl("value-of"), select=select)
            elif name == "value-of":
                etree.SubElement(target, _xsl("value-of"), select=child.get("select") or ".")
            elif name in _TEXT_WRAPPERS:
                _message(target, child)
        if child.tail:
            etree.SubElement(target, _xsl("text")).text = child.tail
