"""Walking a parsed invoice by plain child paths, shared by the UBL and CII readers.

A reader makes a few hundred lookups per invoice, mostly on the same few aggregates. lxml's
``find`` parses its path again whenever it falls out of a small cache and costs microseconds per
call; a ``Node`` indexes its children by tag on the first lookup, so that every later step is a
dict lookup. Paths are child paths only (``cac:Party/cbc:ID``), spelt in the vocabulary of one
``Paths``; texts are read whole even where a comment splits them (``values.text_of``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from decimal import Decimal

from lxml import etree

from einvoice.formats.problems import note
from einvoice.formats.values import clean, text_of, to_decimal


class Node:
    """An element whose children are indexed by tag on the first lookup.

    The index lives as long as the node: a reader wraps each invoice line in a node of its own,
    so that an invoice with thousands of lines never holds all their indexes at once.
    """

    __slots__ = ("_children", "el")

    def __init__(self, el: etree._Element) -> None:
        self.el = el
        self._children: dict[str, list[Node]] | None = None

    def children(self, tag: str) -> list[Node]:
        """The child elements with a Clark-notation ``tag``, in document order."""
        if self._children is None:
            self._children = {}
            for child in self.el:
                if isinstance(child.tag, str):  # comments and PIs have no tag
                    self._children.setdefault(child.tag, []).append(Node(child))
        return self._children.get(tag, [])

    def each(self, tag: str) -> Iterator[Node]:
        """The child elements with ``tag``, one at a time, each in a fresh node that this one's
        index does not keep: its own index goes once the caller is done with it."""
        return (Node(child) for child in self.el.iterchildren(tag))

    def first_element(self) -> Node | None:
        """The first child element whatever its tag (CII wraps dates in a udt element)."""
        return next((Node(child) for child in self.el.iterchildren(etree.Element)), None)

    @property
    def text(self) -> str | None:
        return text_of(self.el)

    def attr(self, name: str) -> str | None:
        return clean(self.el.get(name))


class Paths:
    """The child paths of one vocabulary: ``prefix:Name`` steps in the namespace ``prefixes``
    names, bare ``Name`` steps in the ``default`` namespace. Each path is translated once."""

    def __init__(self, default: str | None = None, **prefixes: str) -> None:
        self._default = default
        self._prefixes = prefixes
        self.tags = functools.cache(self._tags)

    def _tags(self, path: str) -> tuple[str, ...]:
        """``"cac:Party/cbc:ID"`` as Clark-notation tags (``tags``, cached, is what to call)."""
        return tuple(self._tag(step) for step in path.split("/"))

    def _tag(self, step: str) -> str:
        prefix, _, name = step.rpartition(":")
        return f"{{{self._prefixes[prefix] if prefix else self._default}}}{name}"

    def all(self, node: Node | None, path: str) -> list[Node]:
        """All matches of ``path`` below ``node`` in document order; none below an absent one."""
        nodes = [] if node is None else [node]
        for tag in self.tags(path):
            nodes = [child for parent in nodes for child in parent.children(tag)]
        return nodes

    def find(self, node: Node | None, path: str) -> Node | None:
        """The first match of ``path``, e.g. the card of whichever PaymentMeans has one."""
        return None if node is None else _first(node, self.tags(path), 0)

    def text(self, node: Node | None, path: str) -> str | None:
        found = None if node is None else _first(node, self.tags(path), 0)
        return None if found is None else text_of(found.el)

    def joined(self, node: Node | None, path: str) -> str | None:
        """Repeated texts for one term, one per line (e.g. several payment terms)."""
        return "\n".join(t for found in self.all(node, path) if (t := found.text)) or None

    def decimal(self, node: Node | None, path: str, term: str | None = None) -> Decimal | None:
        return number(self.find(node, path), term)

    def attr(self, node: Node | None, path: str, name: str) -> str | None:
        found = self.find(node, path)
        return None if found is None else found.attr(name)


def number(node: Node | None, term: str | None = None) -> Decimal | None:
    """The decimal of an element; text that is no number is a reader problem, kept as None."""
    text = None if node is None else node.text
    value = to_decimal(text)
    if value is None and node is not None and text is not None:
        note(node.el, term, f"not a number: {text!r}")
    return value


def _first(node: Node, tags: tuple[str, ...], depth: int) -> Node | None:
    """Depth-first ``Paths.find`` that stops at the first match instead of collecting all."""
    last = depth == len(tags) - 1
    for child in node.children(tags[depth]):
        found = child if last else _first(child, tags, depth + 1)
        if found is not None:
            return found
    return None
