"""The dynamic context of an evaluation, and the shapes of compiled expressions."""

from __future__ import annotations

from collections.abc import Callable

from einvoice.validation.native.values import DocNode, Item, Seq, XPathError


class Focus:
    """The dynamic context: item, its document and the variables in scope."""

    __slots__ = ("doc", "item", "names")

    def __init__(self, item: Item, doc: DocNode, names: dict[str, Seq] | None = None) -> None:
        self.item, self.doc, self.names = item, doc, names or {}

    def at(self, item: Item) -> Focus:
        return Focus(item, self.doc, self.names)


Fn = Callable[[Focus], Seq]
StepFn = Callable[[Item, Focus], Seq]
Test = Callable[[Focus], bool]


def connective(conjunction: bool, left: Test, right: Test) -> Test:
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
