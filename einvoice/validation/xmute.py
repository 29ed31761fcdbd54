"""The official test instances' expectations: ``<?xmute?>`` processing instructions (KoSIT
xml-mutate), turned into test cases a release must meet before it is installed.

A PI names a mutator for the element that follows it — ``identity`` (unchanged), ``empty``
(content removed), ``remove`` (element, or its ``attribute``, removed), ``code`` /
``change-text-content`` (text, or ``attribute``, set to each of ``values``), ``whitespace``
(text padded) — and the rules that must fire (``schematron-invalid``) or must not fire
(``schematron-valid``) in every mutant. Rule names carry a prefix naming the Schematron file
(``xrubl:BR-TMP-6``); rule ids are unique across the packs, so the prefix is dropped.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from einvoice.formats.xmlsafe import parse_xml

_ATTR = re.compile(r'([\w-]+)\s*=\s*"([^"]*)"')
MAX_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Case:
    id: str
    description: str
    xml: bytes
    must_fire: frozenset[str]
    must_not_fire: frozenset[str]

    def problem(self, fired: set[str]) -> str | None:
        """What this case's expectation says of the rules that fired, or None when met."""
        missing = sorted(self.must_fire - fired)
        unexpected = sorted(self.must_not_fire & fired)
        if not missing and not unexpected:
            return None
        return (f"{self.id} ({self.description}): "
                + "; ".join(f"{label} {', '.join(rules)}" for label, rules in
                            (("did not fire:", missing), ("fired:", unexpected)) if rules))


def _rules(value: str | None) -> frozenset[str]:
    return frozenset(r.strip().split(":")[-1] for r in (value or "").split(",") if r.strip())


def _variants(target: etree._Element, spec: dict[str, str]) -> Iterator[None]:
    """Apply each mutation of ``spec`` to ``target`` in place, yielding after each."""
    mutator, attribute = spec.get("mutator", ""), spec.get("attribute")
    if mutator in ("identity", "noop"):
        yield
    elif mutator == "empty":
        for child in list(target):
            target.remove(child)
        target.text = None
        yield
    elif mutator == "remove":
        if attribute:
            if attribute in target.attrib:
                del target.attrib[attribute]
        else:
            parent = target.getparent()
            if parent is None:
                raise ValueError("xmute: cannot remove the root element")
            parent.remove(target)
        yield
    elif mutator in ("code", "change-text-content", "ch-txt"):
        for value in spec.get("values", "").split(spec.get("separator", ",")):
            if attribute:
                target.set(attribute, value.strip())
            else:
                target.text = value.strip()
            yield
    elif mutator == "whitespace":
        target.text = f"  \n{target.text or ''}\n  "
        yield
    else:
        raise ValueError(f"xmute: unknown mutator {mutator!r}")


def _annotations(tree: etree._ElementTree) -> list[etree._Element]:
    return [pi for pi in tree.iter(etree.ProcessingInstruction)
            if isinstance(pi, etree._ProcessingInstruction) and pi.target == "xmute"]


def cases(xml: bytes) -> Iterator[Case]:
    """Every mutant of an annotated test instance, with its expectation."""
    tree = parse_xml(xml, MAX_BYTES)
    for index in range(len(_annotations(tree))):
        work = copy.deepcopy(tree)
        pi = _annotations(work)[index]
        spec = dict(_ATTR.findall(pi.text or ""))
        target = pi.getnext()
        while target is not None and not isinstance(target.tag, str):
            target = target.getnext()
        if target is None:
            raise ValueError(f"xmute {spec.get('id', index)}: no element follows")
        for number, _ in enumerate(_variants(target, spec)):
            yield Case(f"{spec.get('id', f'#{index}')}/{number + 1}",
                       spec.get("description", ""),
                       etree.tostring(work, encoding="UTF-8", xml_declaration=True),
                       _rules(spec.get("schematron-invalid")),
                       _rules(spec.get("schematron-valid")))
