"""The assertions of an official Schematron source, each with a fingerprint.

A native rule records the fingerprint of the official assertion it implements. When a newer
release changes that assertion's context, test or flag, the fingerprint no longer matches and
the rule runs on the official engine instead of natively. Whitespace is normalised, so
re-indenting a source changes nothing; any other character does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from einvoice.validation.official.compiler import SCH, load


@dataclass(frozen=True)
class Assertion:
    """One ``assert`` (or ``report``) of the source, in the rule that gives its context."""

    id: str
    context: str
    test: str
    flag: str
    fingerprint: str


def fingerprint(context: str, test: str, flag: str) -> str:
    """First 16 hex digits of SHA-256 over context, test and flag, each whitespace-normalised,
    joined by a newline."""
    text = "\n".join(" ".join(part.split()) for part in (context, test, flag))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def assertions(sch: Path) -> dict[str, Assertion]:
    """Every assertion with an id (includes resolved), by id; an id used twice is an error,
    since a fingerprint must name one assertion."""
    found: dict[str, Assertion] = {}
    for rule in load(sch).iter(f"{{{SCH}}}rule"):
        context = rule.get("context") or ""
        for node in rule.iterchildren(f"{{{SCH}}}assert", f"{{{SCH}}}report"):
            assertion = _assertion(node, context)
            if not assertion.id:
                continue  # nothing could refer to it
            if assertion.id in found:
                raise ValueError(f"{sch.name}: assertion id {assertion.id} is used twice")
            found[assertion.id] = assertion
    return found


def _assertion(node: etree._Element, context: str) -> Assertion:
    test, flag = node.get("test") or "", node.get("flag") or ""
    return Assertion(node.get("id") or "", context, test, flag,
                     fingerprint(context, test, flag))
