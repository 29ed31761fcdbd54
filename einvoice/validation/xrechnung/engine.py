"""A tiny Schematron-like engine: rules as data, run over the lxml tree.

Each rule names its context nodes with an XPath 1.0 expression and tests each context node
with either an XPath boolean expression or a Python predicate (for what XPath 1.0 cannot say:
regular expressions, exact decimals, check digits). Contexts may use the variables ``$ext``
(XRechnung extension) and ``$cvd`` (XRechnung CVD), which the pack sets per document; such a
context must select nothing while its variable is false (``[$ext]``, ``[@x and $ext]``), and
the pack then skips it. Document-level values that predicates need on every line (the invoice
currency) are read once per document (``checks.document_string``). A rule that raises (an XPath
type error, a predicate's exception) becomes an engine error for that rule alone, so one odd
value never hides the findings of the other rules. Where the official Schematron lets an earlier
rule of a pattern shadow a later one, the later rule's context excludes those nodes explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lxml import etree

from einvoice.validation.document import Doc
from einvoice.validation.findings import EngineError, Finding, Flag
from einvoice.validation.xrechnung.checks import per_document
from einvoice.validation.xrechnung.texts import MESSAGES

Predicate = Callable[[etree._Element], bool]

EXTENSION_ID = ("urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
                "#conformant#urn:xeinkauf.de:kosit:extension:xrechnung_3.0")
CVD_ID = ("urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
          "#compliant#urn:xeinkauf.de:kosit:xrechnung:cvd_0.9")


@dataclass(frozen=True)
class Rule:
    """One official assertion: id, flag, where it applies, what must hold, the BT/BG concerned.

    """

    id: str
    flag: Flag
    context: str
    test: str | Predicate
    term: str | None = None


def fatal(id_: str, context: str, test: str | Predicate, term: str | None = None) -> Rule:
    return Rule(id_, Flag.FATAL, context, test, term)


def warning(id_: str, context: str, test: str | Predicate, term: str | None = None) -> Rule:
    return Rule(id_, Flag.WARNING, context, test, term)


def one_of(expr: str, codes: tuple[str, ...]) -> str:
    """XPath 1.0 for the XPath 2.0 general comparison ``expr = (codes)``."""
    return "(" + " or ".join(f"{expr} = '{code}'" for code in codes) + ")"


def present(path: str) -> str:
    """XPath: ``path`` exists with non-blank content."""
    return f"{path}[normalize-space()]"


def qname(el: etree._Element) -> str:
    """The element's name as written in the document (XPath ``name()``)."""
    local = etree.QName(el).localname
    return f"{el.prefix}:{local}" if el.prefix else local


class _Compiled:
    """A rule with its XPath expressions compiled once."""

    def __init__(self, rule: Rule, namespaces: dict[str, str], text: str) -> None:
        self.rule = rule
        self.text = text
        self.context = etree.XPath(rule.context, namespaces=namespaces)
        # contexts guarded by $ext / $cvd select nothing without them: skip the evaluation
        self.needs_ext, self.needs_cvd = "$ext" in rule.context, "$cvd" in rule.context
        if isinstance(rule.test, str):
            xpath = etree.XPath(f"boolean({rule.test})", namespaces=namespaces)
            self.check: Predicate = lambda el: bool(xpath(el))
        else:
            self.check = rule.test

    def run(self, root: etree._Element, ext: bool, cvd: bool, pack: str) -> list[Finding]:
        if (self.needs_ext and not ext) or (self.needs_cvd and not cvd):
            return []
        nodes = self.context(root, ext=ext, cvd=cvd)
        assert isinstance(nodes, list)
        tree = root.getroottree()
        return [self._finding(el, tree, pack) for el in nodes
                if isinstance(el, etree._Element) and not self.check(el)]

    def _finding(self, el: etree._Element, tree: etree._ElementTree, pack: str) -> Finding:
        text = self.text.replace("<name/>", qname(el))
        text = text.replace("<mimeCode/>", el.get("mimeCode", ""))
        line = el.sourceline if isinstance(el.sourceline, int) else None
        return Finding(self.rule.id, self.rule.flag, text, tree.getpath(el), line,
                       self.rule.term, pack)


class Pack:
    """The XRechnung rules of one syntax, behind the rule-pack interface."""

    def __init__(self, name: str, rules: Sequence[Rule], namespaces: dict[str, str],
                 spec_id: str, wording: dict[str, str] | None = None) -> None:
        """``spec_id``: the XPath of BT-24; ``wording``: this syntax's own message texts."""
        self.name = name
        texts = MESSAGES | (wording or {})
        self._rules = [_Compiled(rule, namespaces, texts[rule.id]) for rule in rules]
        self._spec_ids = etree.XPath(f"{spec_id}/text()", namespaces=namespaces)

    def validate(self, doc: Doc) -> list[Finding]:
        ids = self._spec_ids(doc.root)
        assert isinstance(ids, list)
        ext, cvd = EXTENSION_ID in ids, CVD_ID in ids
        findings: list[Finding] = []
        with per_document():
            for rule in self._rules:
                try:
                    findings.extend(rule.run(doc.root, ext, cvd, self.name))
                except Exception as exc:  # an XPath or predicate error: this rule only
                    findings.append(EngineError(
                        rule.rule.id, Flag.FATAL, f"rule could not run: {type(exc).__name__}: "
                        f"{exc}", term=rule.rule.term, pack=self.name))
        return findings
