"""Schematron rule tables compiled to an XSLT 2.0 stylesheet the way the ISO skeleton does it.

The CEN CII rules are kept as Python data (context, id, flag, XPath 2.0 test, message) and run
by Saxon, so every test keeps its exact XPath 2.0 meaning (``upper-case``, ``matches``,
``xs:decimal`` casts, ``= false()`` comparisons) instead of being re-implemented by hand.
Skeleton semantics kept: one mode per pattern; within a pattern a node is claimed by the first
rule whose context matches (descending priorities); traversal continues into ``@*|*``.

Unlike the skeleton, each assertion runs in its own ``xsl:try``: a test that raises (a value
such as "no" cast to a boolean, two items where one is allowed) writes an ``engine-error``
naming the assertion instead of aborting the whole run, so every other rule still reports.
"""

from __future__ import annotations

import re

from lxml import etree

XSL = "http://www.w3.org/1999/XSL/Transform"
SVRL = "http://purl.oclc.org/dsdl/svrl"
XQT_ERRORS = "http://www.w3.org/2005/xqt-errors"
# an assertion that could not run: id, location and the processor's description as its text
ENGINE_ERROR = "{urn:einvoice:engine}engine-error"
CII_NAMESPACES = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ccts": "urn:un:unece:uncefact:documentation:standard:CoreComponentsTechnicalSpecification:2",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "xs": "http://www.w3.org/2001/XMLSchema",
}

Assert = tuple[str, str, str, str]  # rule id, flag, XPath test, message
Rule = tuple[str, tuple[Assert, ...]]  # context, its asserts
Pattern = tuple[Rule, ...]


def absent(rule_id: str, path: str, flag: str = "warning") -> Assert:
    """The most common syntax rule: ``not(path)``, "<last name> should not be present"."""
    name = re.split("[/@:]", path)[-1]
    return rule_id, flag, f"not({path})", f"[{rule_id}] - {name} should not be present"


def coded(rule_id: str, value: str, codes: str, message: str) -> Assert:
    """A code-list rule (BR-CL-*): the normalised value is one of the space-separated codes."""
    v = f"normalize-space({value})"
    test = f"((not(contains({v}, ' ')) and contains(' {codes} ', concat(' ', {v}, ' '))))"
    return rule_id, "fatal", test, message


def _x(parent: etree._Element, name: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{XSL}}}{name}", attrs)


def _rule_template(sheet: etree._Element, mode: str, priority: int, rule: Rule) -> None:
    context, asserts = rule
    template = _x(sheet, "template", match=context, mode=mode, priority=str(priority))
    for rule_id, flag, test, message in asserts:
        guard = _x(template, "try", version="3.0")
        choose = _x(guard, "choose")
        _x(choose, "when", test=test)
        failed = etree.SubElement(_x(choose, "otherwise"), f"{{{SVRL}}}failed-assert",
                                  id=rule_id, flag=flag, location="{path()}")
        etree.SubElement(failed, f"{{{SVRL}}}text").text = message
        caught = etree.SubElement(_x(guard, "catch"), ENGINE_ERROR, id=rule_id,
                                  location="{path()}")
        _x(caught, "value-of", select="$err:description")
    _x(template, "apply-templates", select="@*|*", mode=mode)


def to_xslt(patterns: tuple[Pattern, ...], namespaces: dict[str, str]) -> str:
    """The stylesheet text: SVRL with one ``failed-assert`` (id, flag, path()) per failure."""
    nsmap = {"xsl": XSL, "svrl": SVRL, "err": XQT_ERRORS, **namespaces}
    sheet = etree.Element(f"{{{XSL}}}stylesheet", version="2.0", nsmap=nsmap)
    root = etree.SubElement(_x(sheet, "template", match="/"), f"{{{SVRL}}}schematron-output")
    for number, rules in enumerate(patterns):
        mode = f"M{number}"
        _x(root, "apply-templates", select="/", mode=mode)
        for index, rule in enumerate(rules):
            _rule_template(sheet, mode, 1000 + len(rules) - index, rule)
        _x(sheet, "template", match="text()", mode=mode, priority="-1")
        fallback = _x(sheet, "template", match="@*|node()", mode=mode, priority="-2")
        _x(fallback, "apply-templates", select="@*|*", mode=mode)
    return etree.tostring(sheet, encoding="unicode")
