"""Syntax trees (``parse``) compiled to Python closures over an lxml tree.

A compiled expression is ``f(focus) -> list`` (an XPath sequence); ``truth`` gives
``f(focus) -> bool`` (the effective boolean value). Steps use lxml's C iterators
(``iterchildren(tag)``, ``iter(tag)``), so a rule costs a few microseconds per context node.
Path steps and document order are ``axes``'; what is worth remembering per document,
``shapes``'.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from lxml import etree

from einvoice.validation.native import functions
from einvoice.validation.native.axes import (
    ANY,
    FLAT,
    SORTED,
    axis_walk,
    child_path,
    filtered,
    in_document_order,
    sorted_nodes,
)
from einvoice.validation.native.focus import Fn, Focus, StepFn, Test, connective
from einvoice.validation.native.parse import Node, Unsupported
from einvoice.validation.native.shapes import (
    child_names,
    depends_on_focus,
    has_variables,
    never_numeric,
)
from einvoice.validation.native.values import (
    Seq,
    XPathError,
    arithmetic,
    atomize,
    compare,
    effective_boolean,
    is_node,
    one_atom,
)


class Compiler:
    """Compiles expressions with the namespace prefixes of one rule source."""

    def __init__(self, namespaces: dict[str, str], shared: frozenset[Node] = frozenset()) -> None:
        self.namespaces = namespaces
        self.shared = shared  # sub-expressions worth remembering: they occur more than once
        # compiling a match pattern: a predicate that raises does not match (XSLT 3.0 §5.5.4;
        # what Saxon does for the official stylesheets)
        self.lenient = False
        self._ids: dict[tuple[bool, Node], int] = {}  # one memo key per distinct sub-expression

    # -- names ---------------------------------------------------------------------------------
    def tag(self, test: str) -> tuple[Any, ...]:
        """lxml tag filters of a name test (``etree.Element`` for ``*`` and ``node()``);
        ``a|b`` (a fused ``//(a|b)``) gives both."""
        if "|" in test:
            return tuple(tag for name in test.split("|") for tag in self.tag(name))
        if test in {"*", "node()"}:
            return (etree.Element,)
        if test == "text()":
            raise Unsupported("text() steps")
        prefix, _, local = test.rpartition(":")
        if prefix == "*":
            return (f"{{*}}{local}",)
        if prefix and prefix not in self.namespaces:
            raise Unsupported(f"unknown prefix {prefix}")
        uri = self.namespaces.get(prefix, "")
        return (f"{{{uri}}}{local}" if uri else local,)

    # -- expressions -----------------------------------------------------------------------------
    def seq(self, node: Node, bound: frozenset[str] = frozenset()) -> Fn:
        """The expression; a path or operator is remembered per document (and context node,
        where it depends on one): the official sources repeat the same sub-expressions across
        many rules (``//cac:TaxCategory[cac:TaxScheme/...='VAT']`` in forty of them)."""
        built = self._build(node, bound)
        if node not in self.shared or has_variables(node):
            return built
        key = self._ids.setdefault((self.lenient, node), len(self._ids))
        if not depends_on_focus(node):
            def per_document(focus: Focus) -> Seq:
                memo = focus.doc.memo
                found = memo.get(key)
                if found is None:
                    found = memo[key] = built(focus)
                return found
            return per_document

        def per_node(focus: Focus) -> Seq:
            memo, at = focus.doc.memo, (key, focus.item)
            found = memo.get(at)
            if found is None:
                found = memo[at] = built(focus)
            return found
        return per_node

    def _build(self, node: Node, bound: frozenset[str]) -> Fn:
        kind = node[0]
        if kind == "lit":
            value = [node[1]]
            return lambda focus: value
        if kind == "ctx":
            return lambda focus: [focus.item]
        if kind == "var":
            name = node[1]
            if name not in bound:
                raise Unsupported(f"variable ${name}")
            return lambda focus: focus.names[name]
        if kind == "seq":
            parts = [self.seq(item, bound) for item in node[1]]
            if len(parts) == 1:
                return parts[0]
            return lambda focus: [item for part in parts for item in part(focus)]
        if kind == "call":
            return functions.call(self, node[1], node[2], bound)
        if kind == "path":
            return self.path(node[1], node[2], bound)
        if kind == "neg":
            operand = self.seq(node[1], bound)
            return lambda focus: [arithmetic("-", Decimal(0), v) for v in one_atom(operand(focus))]
        if kind == "op":
            return self.operator(node[1], node[2], node[3], bound)
        if kind in {"quant", "if"}:
            test = self.truth(node, bound)
            return lambda focus: [test(focus)]
        raise Unsupported(f"{kind} expressions")

    def truth(self, node: Node, bound: frozenset[str] = frozenset()) -> Test:
        """The effective boolean value, without building sequences where it need not."""
        kind = node[0]
        if kind == "op" and node[1] in {"and", "or"}:
            left, right = self.truth(node[2], bound), self.truth(node[3], bound)
            return connective(node[1] == "and", left, right)
        if kind == "call" and node[1] == "not" and len(node[2]) == 1:
            inner = self.truth(node[2][0], bound)
            return lambda focus: not inner(focus)
        if kind == "quant":
            return self.quantified(node[1], node[2], node[3], bound)
        if kind == "if":
            test, then, other = (self.truth(part, bound) for part in node[1:])
            return lambda focus: then(focus) if test(focus) else other(focus)
        if kind == "seq" and len(node[1]) == 1:
            return self.truth(node[1][0], bound)
        if kind == "call" and node[1] in {"exists", "empty"} and len(node[2]) == 1:
            items = self.seq(node[2][0], bound)
            if node[1] == "exists":
                return lambda focus: bool(items(focus))
            return lambda focus: not items(focus)
        value = self.seq(node, bound)
        if kind == "path" and node[2] and node[2][-1][0] == "step":  # nodes: true if any
            return lambda focus: bool(value(focus))
        return lambda focus: effective_boolean(value(focus))

    def quantified(self, quantifier: str, bindings: tuple[tuple[str, Node], ...],
                   condition: Node, bound: frozenset[str]) -> Test:
        name, domain_node = bindings[0]
        domain = self.seq(domain_node, bound)
        rest = (self.quantified(quantifier, bindings[1:], condition, bound | {name})
                if len(bindings) > 1 else self.truth(condition, bound | {name}))
        every = quantifier == "every"

        def test(focus: Focus) -> bool:
            for item in domain(focus):
                inner = Focus(focus.item, focus.doc, {**focus.names, name: [item]})
                if rest(inner) != every:
                    return not every
            return every
        return test

    def operator(self, op: str, left_node: Node, right_node: Node, bound: frozenset[str]) -> Fn:
        if op in {"and", "or"}:
            test = self.truth(("op", op, left_node, right_node), bound)
            return lambda focus: [test(focus)]
        left, right = self.seq(left_node, bound), self.seq(right_node, bound)
        if op in {"=", "!=", "<", "<=", ">", ">="}:
            def general(focus: Focus) -> Seq:
                lefts = [atomize(item) for item in left(focus)]
                if not lefts:  # false whatever the right side is (Saxon does not look at it)
                    return [False]
                rights = [atomize(item) for item in right(focus)]
                return [any(compare(op, a, b) for a in lefts for b in rights)]
            return general
        if op in {"eq", "ne", "lt", "le", "gt", "ge"}:
            def value(focus: Focus) -> Seq:
                a, b = one_atom(left(focus)), one_atom(right(focus))
                return [compare(op, a[0], b[0], general=False)] if a and b else []
            return value
        if op in {"+", "-", "*", "div", "idiv", "mod"}:
            def arith(focus: Focus) -> Seq:
                a, b = one_atom(left(focus)), one_atom(right(focus))
                return [arithmetic(op, a[0], b[0])] if a and b else []
            return arith
        if op == "|":
            def union(focus: Focus) -> Seq:
                items = left(focus) + right(focus)
                if not all(is_node(item) for item in items):
                    raise XPathError("XPTY0004: union of values that are not nodes")
                return in_document_order(focus.doc, items)
            return union
        raise Unsupported(f"operator {op}")

    # -- paths -----------------------------------------------------------------------------------
    def path(self, root: str, steps: tuple[Node, ...], bound: frozenset[str]) -> Fn:
        fused = self._fused(root, steps)
        if root != "//" and all(step[0] == "step" and step[1] == "child" and not step[3]
                                for step in fused[:-1]) and fused and fused[-1][0] == "step" and (
                fused[-1][1] in {"child", "attribute"} and not fused[-1][3]
                and "*" not in fused[-1][2] and "(" not in fused[-1][2]):
            return child_path(root == "/", [self.tag(step[2]) for step in fused],
                               fused[-1][1] == "attribute")
        compiled = [self.step(step, bound) for step in fused]

        def run(focus: Focus) -> Seq:
            items: Seq = [focus.doc] if root else [focus.item]
            flat = True  # distinct, in document order, none inside another
            for step, order in compiled:
                if len(items) == 1:
                    items = step(items[0], focus)
                    if order == ANY:
                        items = sorted_nodes(focus.doc, items)
                    flat = order == FLAT
                else:
                    found = [item for context in items for item in step(context, focus)]
                    flat = flat and order == FLAT
                    items = found if flat else sorted_nodes(focus.doc, found)
            return items
        return run

    def _fused(self, root: str, steps: tuple[Node, ...]) -> list[Node]:
        """``//name`` as one descendant step (``descendant-or-self::node()/child::name``)."""
        out: list[Node] = []
        if root == "//":
            steps = (("step", "descendant-or-self", "node()", ()), *steps)
        for step in steps:
            previous = out[-1] if out else None
            after_any = previous is not None and previous[:3] == (
                "step", "descendant-or-self", "node()") and not previous[3]
            names = child_names(step[1]) if step[0] == "filter" and not step[2] else None
            if after_any and step[0] == "step" and step[1] == "child" and all(
                    never_numeric(predicate) for predicate in step[3]):
                out[-1] = ("step", "descendant", step[2], step[3])
            elif after_any and names:  # //(a|b)
                out[-1] = ("step", "descendant", "|".join(names), ())
            elif after_any and step[0] == "step" and step[1] == "attribute" and not step[3] and (
                    previous is out[0] and root == "//" and "*" not in step[2]):  # //@name
                out[-1] = ("step", "document-attribute", step[2], ())
            else:
                out.append(step)
        return out

    def step(self, step: Node, bound: frozenset[str]) -> tuple[StepFn, str]:
        """The step, and what one context's results are: FLAT (distinct, in document order,
        none inside another), SORTED (distinct, in document order) or ANY."""
        predicates = [self.predicate(node, bound) for node in step[-1]]
        if step[0] == "filter":
            inner = self.seq(step[1], bound)
            return filtered(lambda item, focus: inner(
                focus if item is focus.item else focus.at(item)), predicates), ANY
        axis, test = step[1], step[2]
        walk = axis_walk(axis, self.tag(test), test)
        order = FLAT if axis in {"child", "attribute", "self"} else (
            SORTED if axis in {"descendant", "descendant-or-self", "parent",
                               "document-attribute"} else ANY)
        return filtered(lambda item, focus: list(walk(item, focus.doc)), predicates), order

    def predicate(self, node: Node, bound: frozenset[str]) -> Callable[[Focus, int], bool]:
        if node[0] == "lit" and isinstance(node[1], Decimal):
            position = node[1]
            return lambda focus, index: index == position
        if never_numeric(node):  # true or false, never a position: no sequence to build
            test = self.truth(node, bound)

            def decide(focus: Focus, index: int) -> bool:
                return test(focus)
        else:
            value = self.seq(node, bound)

            def decide(focus: Focus, index: int) -> bool:
                result = value(focus)
                if len(result) == 1 and isinstance(result[0], Decimal | float) and not isinstance(
                        result[0], bool):
                    return bool(result[0] == index)
                return effective_boolean(result)
        if not self.lenient:
            return decide

        def forgiving(focus: Focus, index: int) -> bool:
            try:
                return decide(focus, index)
            except XPathError:
                return False
        return forgiving
