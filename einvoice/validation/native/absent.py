"""Assertions of the form ``not(a/b/@c)`` checked together, in one walk under the context node.

Two thirds of the CEN UBL rules are such "should not be present" syntax rules (UBL-CR-*), 500
of them on the document element alone. One by one they cost a path walk each; together they
are a tree of names (a trie) walked once along the document's own children, and an assertion
fails exactly when its path reaches a node — which is what ``not(path)`` tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from lxml import etree

from einvoice.validation.native.parse import Node
from einvoice.validation.native.shapes import child_names

T = TypeVar("T")


def absent_paths(test: Node) -> list[list[tuple[str, str]]] | None:
    """The (axis, name) steps of ``not(path)`` for a path of plain child steps, perhaps ending in
    an attribute or starting with a union of names (``not((a|b)/c)``: one path per name); None
    for any other test."""
    if test[0] == "seq" and len(test[1]) == 1:
        return absent_paths(test[1][0])
    if test[0] != "call" or test[1] != "not" or len(test[2]) != 1:
        return None
    path = test[2][0]
    while path[0] == "seq" and len(path[1]) == 1:
        path = path[1][0]
    if path[0] != "path" or path[1]:
        return None
    heads: list[list[tuple[str, str]]] = [[]]
    steps = path[2]
    if steps and steps[0][0] == "filter" and not steps[0][2]:
        names = child_names(steps[0][1])
        if names is None or any("*" in name for name in names):
            return None
        heads, steps = [[("child", name)] for name in names], steps[1:]
    tail = []
    for index, step in enumerate(steps):
        last = index == len(steps) - 1
        if step[0] != "step" or step[3] or step[1] not in {"child", "attribute"} or (
                step[1] == "attribute" and not last) or "*" in step[2] or "(" in step[2]:
            return None
        tail.append((step[1], step[2]))
    return [head + tail for head in heads]


class Trie(Generic[T]):
    """Paths of tags to the items (assertions) whose path ends there."""

    def __init__(self) -> None:
        self.children: dict[str, Trie[T]] = {}
        self.attributes: dict[str, list[T]] = {}
        self.items: list[T] = []

    def add(self, tags: list[tuple[str, Any]], item: T) -> None:
        node = self
        for axis, tag in tags:
            if axis == "attribute":
                node.attributes.setdefault(tag, []).append(item)
                return
            node = node.children.setdefault(tag, Trie())
        node.items.append(item)

    def present(self, element: etree._Element) -> Iterable[T]:
        """The items whose path reaches at least one node under ``element`` (each once)."""
        found: dict[int, T] = {}
        self._walk(element, found)
        return found.values()

    def _walk(self, element: etree._Element, found: dict[int, T]) -> None:
        for name, items in self.attributes.items():
            if element.get(name) is not None:
                found.update((id(item), item) for item in items)
        children = self.children
        for child in element.iterchildren(etree.Element):
            below = children.get(child.tag)
            if below is not None:
                found.update((id(item), item) for item in below.items)
                below._walk(child, found)
