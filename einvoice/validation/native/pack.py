"""An official Schematron source run natively: every assertion compiled to Python (``compile``).

Semantics follow the ISO skeleton the official XSLT is built with: per pattern, each node is
claimed by the first rule whose context matches it; lets are evaluated per context node before
the assertions; a failed ``assert`` (or a true ``report``) is a finding with the assertion's
id, flag and message. An assertion that raises a dynamic error is an engine error for that rule
on that document; every other rule still reports. Assertions the compiler does not support are
listed in ``unsupported``; the caller runs them on the official engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from einvoice.validation.document import Doc
from einvoice.validation.findings import TERM, EngineError, Finding, Flag
from einvoice.validation.native.absent import Trie, absent_paths
from einvoice.validation.native.compile import Compiler
from einvoice.validation.native.focus import Fn, Focus, Test
from einvoice.validation.native.parse import Node, Unsupported, parse
from einvoice.validation.native.shapes import repeated
from einvoice.validation.native.values import Attr, DocNode, Item, XPathError, string_value
from einvoice.validation.official.compiler import SCH, active_patterns, load


@dataclass(frozen=True)
class Assertion:
    id: str
    flag: Flag
    report: bool  # a ``report``: fires when the test is true
    test: Test
    message: Callable[[Focus], str]
    absent: list[list[tuple[str, str]]] | None  # the paths of a ``not(path)`` test (``absent``)


@dataclass(frozen=True)
class Rule:
    context: Fn
    lets: tuple[tuple[str, Fn], ...]
    assertions: tuple[Assertion, ...]
    absent: Trie[Assertion] | None  # the ``not(a/b/@c)`` assertions, checked in one walk


class NativePack:
    """The assertions of one Schematron source, compiled once; ``only``/``skip`` narrow which
    assertions report (rules still claim their nodes, as in the official schema)."""

    def __init__(self, name: str, sch: Path, skip: frozenset[str] = frozenset()) -> None:
        self.name = name
        schema = load(sch)
        namespaces = {ns.get("prefix") or "": ns.get("uri") or ""
                      for ns in schema.iter(f"{{{SCH}}}ns")}
        self._compiler = Compiler(namespaces, repeated(list(_expressions(schema))))
        self.unsupported: dict[str, str] = {}
        self._globals = self._lets(schema.findall(f"{{{SCH}}}let"), frozenset())
        bound = frozenset(name for name, _ in self._globals)
        self._patterns: list[list[Rule]] = []
        for pattern in active_patterns(schema):
            lets = self._lets(pattern.findall(f"{{{SCH}}}let"), bound)
            self._globals += lets
            pattern_bound = bound | {name for name, _ in lets}
            self._patterns.append([self._rule(rule, pattern_bound, skip)
                                   for rule in pattern.findall(f"{{{SCH}}}rule")])

    def _lets(self, lets: list[etree._Element], bound: frozenset[str]) -> tuple[
            tuple[str, Fn], ...]:
        compiled = []
        for let in lets:
            name = let.get("name") or ""
            compiled.append((name, self._compiler.seq(parse(let.get("value") or ""), bound)))
            bound |= {name}
        return tuple(compiled)

    def _rule(self, rule: etree._Element, bound: frozenset[str], skip: frozenset[str]) -> Rule:
        context = rule.get("context") or ""
        lets: list[tuple[str, Fn]] = []
        assertions: list[Assertion] = []
        for child in rule:
            kind = etree.QName(child).localname if isinstance(child.tag, str) else ""
            if kind == "let":
                lets += self._lets([child], bound)
                bound |= {lets[-1][0]}
            elif kind in {"assert", "report"}:
                rule_id = child.get("id") or ""
                try:
                    assertions.append(self._assertion(child, kind == "report", bound))
                except Unsupported as reason:
                    self.unsupported[rule_id] = str(reason)
        kept = [a for a in assertions if a.id not in skip]
        trie: Trie[Assertion] = Trie()
        walked = [a for a in kept if a.absent is not None and not lets]
        for assertion in walked:
            for path in assertion.absent or []:
                trie.add([(axis, self._compiler.tag(name)[0]) for axis, name in path], assertion)
        return Rule(self._context(context), tuple(lets),
                    tuple(a for a in kept if a not in walked), trie if walked else None)

    def _context(self, context: str) -> Fn:
        """A rule context is an XSLT match pattern: nodes it selects from anywhere."""
        self._compiler.lenient = True
        try:
            return self._compiler.seq(_union([_rooted(branch) for branch in _branches(
                parse(context))]))
        finally:
            self._compiler.lenient = False

    def _assertion(self, node: etree._Element, report: bool, bound: frozenset[str]) -> Assertion:
        tree = parse(node.get("test") or "")
        test = self._compiler.truth(tree, bound)
        return Assertion(node.get("id") or "", Flag(node.get("flag") or Flag.FATAL), report,
                         test, self._message(node, bound), None if report else absent_paths(tree))

    def _message(self, node: etree._Element, bound: frozenset[str]) -> Callable[[Focus], str]:
        parts: list[str | Fn] = [node.text or ""]
        for child in node:
            kind = etree.QName(child).localname if isinstance(child.tag, str) else ""
            if kind == "value-of":
                parts.append(self._compiler.seq(parse(child.get("select") or ""), bound))
            elif kind == "name":
                parts.append(self._compiler.seq(parse(child.get("path") or "name()"), bound))
            elif kind:
                raise Unsupported(f"<{kind}> in a message")
            parts.append(child.tail or "")

        def text(focus: Focus) -> str:
            pieces = [part if isinstance(part, str) else " ".join(
                string_value(item) for item in part(focus)) for part in parts]
            return " ".join("".join(pieces).split())
        return text

    def validate(self, doc: Doc) -> list[Finding]:
        root = DocNode(doc.root)
        names: dict[str, list[Item]] = {}
        focus = Focus(root, root, names)
        for name, value in self._globals:
            names[name] = value(focus)
        findings: list[Finding] = []
        failed: set[str] = set()
        for rules in self._patterns:
            claimed: set[Item] = set()  # the nodes themselves: an id() of a freed proxy recurs
            for rule in rules:
                for node in rule.context(focus):
                    if node in claimed:
                        continue
                    claimed.add(node)
                    self._check(rule, focus.at(node), findings, failed)
        return findings

    def _check(self, rule: Rule, focus: Focus, findings: list[Finding], failed: set[str]) -> None:
        if rule.lets:
            focus = Focus(focus.item, focus.doc, dict(focus.names))
            for name, value in rule.lets:
                focus.names[name] = value(focus)
        if rule.absent is not None and isinstance(focus.item, etree._Element):
            for assertion in rule.absent.present(focus.item):
                self._found(assertion, focus, findings)
        for assertion in rule.assertions:
            try:
                fired = assertion.test(focus) == assertion.report
                message = assertion.message(focus) if fired else ""
            except (XPathError, ArithmeticError) as error:
                if assertion.id not in failed:
                    failed.add(assertion.id)
                    findings.append(EngineError(
                        assertion.id, Flag.FATAL, f"rule could not run: {error}",
                        location(focus.item), _line(focus.item), pack=self.name))
                continue
            if fired:
                self._found(assertion, focus, findings, message)

    def _found(self, assertion: Assertion, focus: Focus, findings: list[Finding],
               message: str | None = None) -> None:
        text = assertion.message(focus) if message is None else message
        term = TERM.search(text)
        findings.append(Finding(assertion.id, assertion.flag, text, location(focus.item),
                                _line(focus.item), term.group(1) if term else None,
                                pack=self.name))


def _expressions(schema: etree._Element) -> Iterator[Node]:
    """Every rule context and assertion test that parses (the rest is ``unsupported``)."""
    for node in schema.iter(f"{{{SCH}}}rule", f"{{{SCH}}}assert", f"{{{SCH}}}report"):
        try:
            yield parse(node.get("context") or node.get("test") or "")
        except Unsupported:
            continue


def _branches(tree: Node) -> list[Node]:
    if tree[0] == "op" and tree[1] == "|":
        return _branches(tree[2]) + _branches(tree[3])
    if tree[0] == "seq" and len(tree[1]) == 1:
        return _branches(tree[1][0])
    return [tree]


def _rooted(branch: Node) -> Node:
    """A relative match pattern selects from anywhere: ``a/b`` matches what ``//a/b`` gives."""
    if branch[0] != "path":
        raise Unsupported("a rule context that is not a path")
    return branch if branch[1] else ("path", "//", branch[2])


def _union(branches: list[Node]) -> Node:
    tree = branches[0]
    for branch in branches[1:]:
        tree = ("op", "|", tree, branch)
    return tree


def location(item: Item) -> str:
    """XPath 3 ``path()`` of a node, as the official reports give it: /Q{uri}name[n]/..."""
    attribute = ""
    if isinstance(item, Attr):
        name = etree.QName(item.name)
        attribute = f"/@{f'Q{{{name.namespace}}}' if name.namespace else ''}{name.localname}"
        item = item.parent
    if not isinstance(item, etree._Element):
        return "/"
    steps = []
    node: etree._Element | None = item
    while node is not None:
        qname = etree.QName(node)
        parent = node.getparent()
        index = 1 if parent is None else 1 + sum(1 for _ in node.itersiblings(
            node.tag, preceding=True))
        steps.append(f"Q{{{qname.namespace or ''}}}{qname.localname}[{index}]")
        node = parent
    return "/" + "/".join(reversed(steps)) + attribute


def _line(item: Item) -> int | None:
    node = item.parent if isinstance(item, Attr) else item
    line = node.sourceline if isinstance(node, etree._Element) else None
    return line if isinstance(line, int) else None
