"""Path steps over lxml: the axes, child-only paths, predicates and document order.

Results keep document order without duplicates, as XPath requires: child and attribute steps
from non-nested nodes keep it by construction (FLAT), descendant and parent steps from one node
give it (SORTED), every other step is sorted (ANY).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from lxml import etree

from einvoice.validation.native.focus import Fn, Focus, StepFn
from einvoice.validation.native.parse import Unsupported
from einvoice.validation.native.values import Attr, DocNode, Element, Item, Seq, XPathError, is_node

FLAT, SORTED, ANY = "flat", "sorted", "any"


def filtered(source: StepFn, predicates: list[Callable[[Focus, int], bool]]) -> StepFn:
    if not predicates:
        return source

    def run(item: Item, focus: Focus) -> Seq:
        items = source(item, focus)
        for keep in predicates:
            items = [item for index, item in enumerate(items, 1) if keep(focus.at(item), index)]
        return items
    return run


def child_path(absolute: bool, tags: list[tuple[Any, ...]], attribute: bool) -> Fn:
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


Walk = Callable[[Item, DocNode], Iterator[Item]]


def axis_walk(axis: str, tag: tuple[Any, ...], test: str) -> Walk:
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

    axes: dict[str, Walk] = {
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



def sorted_nodes(doc: DocNode, items: Seq) -> Seq:
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

