"""Syntax trees (``parse``) compiled to Python closures over an lxml tree.

A compiled expression is ``f(focus) -> list`` (an XPath sequence); ``truth`` gives
``f(focus) -> bool`` (the effective boolean value). Steps use lxml's C iterators
(``iterchildren(tag)``, ``iter(tag)``), so a rule costs a few microseconds per context node.
Path results keep document order without duplicates, as XPath requires: child and attribute
steps from non-nested nodes keep it by construction, every other step is sorted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from lxml import etree

from einvoice.validation.native import functions
from einvoice.validation.native.parse import Node, Unsupported
from einvoice.validation.native.values import (
    Attr,
    DocNode,
    Element,
    Item,
    Seq,
    XPathError,
    arithmetic,
    atomize,
    compare,
    effective_boolean,
    is_node,
)


class Focus:
    """The dynamic context: item, its document and the variables in scope."""

    __slots__ = ("doc", "item", "names")

    def __init__(self, item: Item, doc: DocNode, names: dict[str, Seq] | None = None) -> None:
        self.item, self.doc, self.names = item, doc, names or {}

    def at(self, item: Item) -> Focus:
        return Focus(item, self.doc, self.names)


Fn = Callable[[Focus], Seq]
StepFn = Callable[[Item, Focus], Seq]
FLAT, SORTED, ANY = "flat", "sorted", "any"
Test = Callable[[Focus], bool]


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
        if node not in self.shared or _has_variables(node):
            return built
        key = self._ids.setdefault((self.lenient, node), len(self._ids))
        if not _depends_on_focus(node):
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
            return lambda focus: [arithmetic("-", Decimal(0), v) for v in _one(operand(focus))]
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
            return _connective(node[1] == "and", left, right)
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
                a, b = _one(left(focus)), _one(right(focus))
                return [compare(op, a[0], b[0], general=False)] if a and b else []
            return value
        if op in {"+", "-", "*", "div", "idiv", "mod"}:
            def arith(focus: Focus) -> Seq:
                a, b = _one(left(focus)), _one(right(focus))
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
            return _child_path(root == "/", [self.tag(step[2]) for step in fused],
                               fused[-1][1] == "attribute")
        compiled = [self.step(step, bound) for step in fused]

        def run(focus: Focus) -> Seq:
            items: Seq = [focus.doc] if root else [focus.item]
            flat = True  # distinct, in document order, none inside another
            for step, order in compiled:
                if len(items) == 1:
                    items = step(items[0], focus)
                    if order == ANY:
                        items = _sorted(focus.doc, items)
                    flat = order == FLAT
                else:
                    found = [item for context in items for item in step(context, focus)]
                    flat = flat and order == FLAT
                    items = found if flat else _sorted(focus.doc, found)
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
            names = _child_names(step[1]) if step[0] == "filter" and not step[2] else None
            if after_any and step[0] == "step" and step[1] == "child" and all(
                    _never_numeric(predicate) for predicate in step[3]):
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
            return _filtered(lambda item, focus: inner(
                focus if item is focus.item else focus.at(item)), predicates), ANY
        axis, test = step[1], step[2]
        walk = _axis(axis, self.tag(test), test)
        order = FLAT if axis in {"child", "attribute", "self"} else (
            SORTED if axis in {"descendant", "descendant-or-self", "parent",
                               "document-attribute"} else ANY)
        return _filtered(lambda item, focus: list(walk(item, focus.doc)), predicates), order

    def predicate(self, node: Node, bound: frozenset[str]) -> Callable[[Focus, int], bool]:
        if node[0] == "lit" and isinstance(node[1], Decimal):
            position = node[1]
            return lambda focus, index: index == position
        value = self.seq(node, bound)
        lenient = self.lenient

        def keep(focus: Focus, index: int) -> bool:
            try:
                result = value(focus)
                if len(result) == 1 and isinstance(result[0], Decimal | float) and not isinstance(
                        result[0], bool):
                    return bool(result[0] == index)
                return effective_boolean(result)
            except XPathError:
                if lenient:
                    return False
                raise
        return keep


def _connective(conjunction: bool, left: Test, right: Test) -> Test:
    """``and``/``or``. XPath 2.0 (§3.6) leaves the order of the operands to the processor and
    lets one operand that decides the result mask an error in the other; Saxon does, so an
    error on the left stands only if the right operand does not decide."""
    def test(focus: Focus) -> bool:
        try:
            first = left(focus)
        except XPathError:
            if right(focus) != conjunction:
                return not conjunction
            raise
        if first != conjunction:
            return first
        return right(focus)
    return test


def repeated(trees: list[Node]) -> frozenset[Node]:
    """The paths and operations that occur more than once in these expressions."""
    seen: dict[Node, int] = {}

    def visit(part: Any) -> None:
        if isinstance(part, tuple) and part and isinstance(part[0], str):
            if part[0] in {"path", "op"}:
                seen[part] = seen.get(part, 0) + 1
            for child in part[1:]:
                visit(child)
        elif isinstance(part, tuple):
            for child in part:
                visit(child)
    for tree in trees:
        visit(tree)
    return frozenset(node for node, count in seen.items() if count > 1)


def _has_variables(node: Node) -> bool:
    return node[0] in {"var", "quant"} or any(
        isinstance(part, tuple) and part and _has_variables_in(part) for part in node[1:])


def _has_variables_in(part: tuple[Any, ...]) -> bool:
    if part and isinstance(part[0], str):
        return _has_variables(part)
    return any(isinstance(item, tuple) and _has_variables_in(item) for item in part)


def _depends_on_focus(node: Node) -> bool:
    """Whether the value can differ between context nodes of one document."""
    kind = node[0]
    if kind == "path":
        return not node[1]
    if kind in {"lit"}:
        return False
    if kind == "ctx":
        return True
    if kind == "call":
        return not node[2] or any(_depends_on_focus(arg) for arg in node[2])
    if kind == "op":
        return _depends_on_focus(node[2]) or _depends_on_focus(node[3])
    if kind == "seq":
        return any(_depends_on_focus(item) for item in node[1])
    return True


def _child_names(expression: Node) -> list[str] | None:
    """The names of a union of plain child steps, ``(a | b)``; None for anything else."""
    if expression[0] == "seq" and len(expression[1]) == 1:
        return _child_names(expression[1][0])
    if expression[0] == "op" and expression[1] == "|":
        left, right = _child_names(expression[2]), _child_names(expression[3])
        return left + right if left and right else None
    if expression[0] == "path" and not expression[1] and len(expression[2]) == 1:
        step = expression[2][0]
        if step[0] == "step" and step[1] == "child" and not step[3] and ":" in step[2]:
            return [step[2]]
    return None


_BOOLEAN_CALLS = {"not", "exists", "empty", "boolean", "contains", "starts-with", "ends-with",
                  "true", "false"}


def _never_numeric(predicate: Node) -> bool:
    """A predicate that can only be true or false, never a position: ``//x[p]`` then equals
    ``descendant::x[p]`` (for a position it does not: ``//x[1]`` is every first x child)."""
    return predicate[0] == "path" or (predicate[0] == "op" and predicate[1] in {
        "=", "!=", "<", "<=", ">", ">=", "eq", "ne", "lt", "le", "gt", "ge", "and", "or"}) or (
        predicate[0] == "call" and predicate[1] in _BOOLEAN_CALLS)


def _filtered(source: StepFn, predicates: list[Callable[[Focus, int], bool]]) -> StepFn:
    if not predicates:
        return source

    def run(item: Item, focus: Focus) -> Seq:
        items = source(item, focus)
        for keep in predicates:
            items = [item for index, item in enumerate(items, 1) if keep(focus.at(item), index)]
        return items
    return run


def _child_path(absolute: bool, tags: list[tuple[Any, ...]], attribute: bool) -> Fn:
    """A path of plain child steps, perhaps ending in ``@name`` (most rules), walked with
    lxml's child iterator alone."""
    name = tags.pop()[0] if attribute else None
    first, rest = (tags[0], tags[1:]) if absolute else ((), tags)

    def run(focus: Focus) -> Seq:
        if absolute:
            root = focus.doc.root
            items: Seq = [root] if _matches(root, first) else []
        else:
            items = [focus.item]
        for tag in rest:
            if len(items) == 1:
                only = items[0]
                items = list(only.iterchildren(*tag)) if isinstance(only, Element) else []
            else:
                items = [child for item in items if isinstance(item, Element)
                         for child in item.iterchildren(*tag)]
            if not items:
                return items
        if name is None:
            return items
        return [Attr(item, name, str(value)) for item in items if isinstance(item, Element)
                and (value := item.get(name)) is not None]
    return run


def _axis(axis: str, tag: tuple[Any, ...], test: str) -> Callable[[Item, DocNode], Iterator[Item]]:
    def child(item: Item, doc: DocNode) -> Iterator[Item]:
        if isinstance(item, Element):
            return item.iterchildren(*tag)
        if isinstance(item, DocNode):
            return iter([item.root] if _matches(item.root, tag) else [])
        return iter(())

    def attribute(item: Item, doc: DocNode) -> Iterator[Item]:
        if not isinstance(item, Element):
            return iter(())
        if test in {"*", "node()"}:
            return (Attr(item, str(name), str(value)) for name, value in item.attrib.items())
        value = item.get(tag[0])
        return iter(() if value is None else (Attr(item, tag[0], str(value)),))

    def descendant(item: Item, doc: DocNode, self_too: bool = False) -> Iterator[Item]:
        if isinstance(item, DocNode):
            return iter(item.descendants(tag))
        if not isinstance(item, Element):
            return iter([item] if self_too and test == "node()" else [])
        found = item.iter(*tag)
        return found if self_too else (node for node in found if node is not item)

    def parent(item: Item, doc: DocNode) -> Iterator[Item]:
        up = item.parent if isinstance(item, Attr) else (
            item.getparent() if isinstance(item, Element) else None)
        if up is None and isinstance(item, Element):
            return iter([doc] if test == "node()" else [])
        return iter([up] if up is not None and _matches(up, tag) else [])

    def self_axis(item: Item, doc: DocNode) -> Iterator[Item]:
        return iter([item] if (isinstance(item, Element) and _matches(item, tag)) or (
            test == "node()") else [])

    def preceding(item: Item, doc: DocNode) -> Iterator[Item]:
        node = item.parent if isinstance(item, Attr) else item
        if not isinstance(node, Element):
            return iter(())
        found: list[Item] = []
        for ancestor in [node, *node.iterancestors()]:
            for sibling in ancestor.itersiblings(preceding=True):
                found.extend(sibling.iter(*tag))
        return iter(found)

    def document_attribute(item: Item, doc: DocNode) -> Iterator[Item]:
        return iter(doc.attributes(tag[0]))

    axes: dict[str, Callable[[Item, DocNode], Iterator[Item]]] = {
        "document-attribute": document_attribute,
        "child": child, "attribute": attribute, "descendant": descendant,
        "descendant-or-self": lambda item, doc: descendant(item, doc, True), "parent": parent,
        "self": self_axis, "preceding": preceding,
        "ancestor": lambda item, doc: (node for node in _ancestors(item) if _matches(node, tag)),
    }
    if axis not in axes:
        raise Unsupported(f"axis {axis}")
    return axes[axis]


def _ancestors(item: Item) -> Iterator[Element]:
    node = item.parent if isinstance(item, Attr) else item
    if isinstance(item, Attr):
        yield node
    if isinstance(node, Element):
        yield from node.iterancestors()


def _matches(node: Element, tags: tuple[Any, ...]) -> bool:
    for tag in tags:
        if tag is etree.Element:
            if isinstance(node.tag, str):
                return True
        elif tag.startswith("{*}"):
            if isinstance(node.tag, str) and etree.QName(node).localname == tag[3:]:
                return True
        elif node.tag == tag:
            return True
    return False


def _one(seq: Seq) -> Seq:
    """An operand of an arithmetic or value comparison: empty or one atomic value."""
    if len(seq) > 1:
        raise XPathError("XPTY0004: a sequence of more than one item where one is allowed")
    return [atomize(seq[0])] if seq else seq


def _sorted(doc: DocNode, items: Seq) -> Seq:
    if len(items) < 2:
        return items
    if not all(is_node(item) for item in items):
        if any(is_node(item) for item in items):
            raise XPathError("XPTY0018: a path step mixes nodes and values")
        return items
    return in_document_order(doc, items)


def in_document_order(doc: DocNode, items: Seq) -> Seq:
    order = doc.order()
    unique = {(id(item.parent), item.name) if isinstance(item, Attr) else id(item): item
              for item in items}
    return sorted(unique.values(), key=lambda item: _position(order, item))


def _position(order: dict[Element, int], item: Item) -> tuple[int, str]:
    if isinstance(item, Attr):
        return order.get(item.parent, -1), item.name
    if isinstance(item, DocNode):
        return -1, ""
    return order.get(item, -1), ""
