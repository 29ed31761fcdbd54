"""The XPath 2.0 functions the official rule sources call, with XPath's own argument rules.

A function argument that expects one string or number and receives more than one item is a
dynamic error (XPTY0004), as in Saxon: the assertion cannot run, it does not silently use the
first item as XPath 1.0 would. A function no official source uses is refused at compile time
(``Unsupported``), so its rule runs on the official engine.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from lxml import etree

from einvoice.validation.native.parse import Node, Unsupported
from einvoice.validation.native.values import (
    Attr,
    Item,
    Seq,
    Untyped,
    XPathError,
    arithmetic,
    atomize,
    effective_boolean,
    round_half_up,
    to_date,
    to_decimal,
    to_double,
    to_string,
)

if TYPE_CHECKING:
    from einvoice.validation.native.focus import Fn, Focus, Test


class Compiles(Protocol):
    """The compiler, as a function call needs it (its arguments compiled)."""

    def seq(self, node: Node, bound: frozenset[str] = ...) -> Fn: ...

    def truth(self, node: Node, bound: frozenset[str] = ...) -> Test: ...


def _optional(seq: Seq) -> Item | None:
    if len(seq) > 1:
        raise XPathError("XPTY0004: a sequence of more than one item where one is allowed")
    return atomize(seq[0]) if seq else None


def _text(seq: Seq) -> str:
    value = _optional(seq)
    return "" if value is None else to_string(value)


def _number(value: Item) -> Item:
    """A numeric argument: untyped values are doubles (function conversion rules)."""
    return to_double(value) if isinstance(value, Untyped) else value


def _sum(seq: Seq) -> Seq:
    total: Item = Decimal(0)
    for item in seq:
        total = arithmetic("+", total, _number(atomize(item)))
    return [total]


def _substring(text: str, start: Item, length: Item | None = None) -> str:
    first = round_half_up(to_double(start))
    if math.isnan(first):
        return ""
    last = math.inf if length is None else first + round_half_up(to_double(length))
    return "".join(char for position, char in enumerate(text, 1) if first <= position < last)


def _name(seq: Seq, local: bool) -> str:
    if not seq:
        return ""
    node = seq[0]
    if isinstance(node, Attr):
        qname = etree.QName(node.name)
        return qname.localname if local or not qname.namespace else node.name
    if not isinstance(node, etree._Element):
        return ""
    qname = etree.QName(node)
    if local or not node.prefix:
        return qname.localname
    return f"{node.prefix}:{qname.localname}"


# name -> (arity range, implementation over the evaluated argument sequences)
_SIMPLE: dict[str, tuple[tuple[int, int], Callable[..., Seq]]] = {
    "true": ((0, 0), lambda: [True]),
    "false": ((0, 0), lambda: [False]),
    "exists": ((1, 1), lambda seq: [bool(seq)]),
    "empty": ((1, 1), lambda seq: [not seq]),
    "count": ((1, 1), lambda seq: [Decimal(len(seq))]),
    "boolean": ((1, 1), lambda seq: [effective_boolean(seq)]),
    "string": ((1, 1), lambda seq: [_text(seq)]),
    "normalize-space": ((1, 1), lambda seq: [" ".join(_text(seq).split())]),
    "string-length": ((1, 1), lambda seq: [Decimal(len(_text(seq)))]),
    "upper-case": ((1, 1), lambda seq: [_text(seq).upper()]),
    "lower-case": ((1, 1), lambda seq: [_text(seq).lower()]),
    "contains": ((2, 2), lambda a, b: [_text(b) in _text(a)]),
    "starts-with": ((2, 2), lambda a, b: [_text(a).startswith(_text(b))]),
    "ends-with": ((2, 2), lambda a, b: [_text(a).endswith(_text(b))]),
    "substring-after": ((2, 2), lambda a, b: [
        _text(a).partition(_text(b))[2] if _text(b) in _text(a) else ""]),
    "substring-before": ((2, 2), lambda a, b: [_text(a).partition(_text(b))[0] if _text(b) in
                                                _text(a) else ""]),
    "substring": ((2, 3), lambda text, *rest: [_substring(
        _text(text), *(_optional(part) for part in rest))]),
    "concat": ((2, 99), lambda *parts: ["".join(_text(part) for part in parts)]),
    "sum": ((1, 1), _sum),
    "abs": ((1, 1), lambda seq: [] if (v := _optional(seq)) is None else [abs(_number(v))]),
    "round": ((1, 1), lambda seq: [] if (v := _optional(seq)) is None else [
        round_half_up(_number(v))]),
    "xs:decimal": ((1, 1), lambda seq: [] if (v := _optional(seq)) is None else [
        to_decimal(v)]),
    "xs:double": ((1, 1), lambda seq: [] if (v := _optional(seq)) is None else [to_double(v)]),
    "xs:date": ((1, 1), lambda seq: [] if (v := _optional(seq)) is None else [to_date(v)]),
    "xs:string": ((1, 1), lambda seq: [] if (v := _optional(seq)) is None else [to_string(v)]),
    "name": ((1, 1), lambda seq: [_name(seq, local=False)]),
    "local-name": ((1, 1), lambda seq: [_name(seq, local=True)]),
}
# functions whose argument defaults to the context item when it is left out
_CONTEXT_DEFAULT = {"string", "normalize-space", "string-length", "name", "local-name"}


def call(compiler: Compiles, name: str, args: tuple[Node, ...], bound: frozenset[str]) -> Fn:
    if name == "not" and len(args) == 1:
        test = compiler.truth(args[0], bound)
        return lambda focus: [not test(focus)]
    if name not in _SIMPLE:
        raise Unsupported(f"function {name}()")
    (low, high), implementation = _SIMPLE[name]
    if not args and name in _CONTEXT_DEFAULT:
        args = (("ctx",),)
    if not low <= len(args) <= high:
        raise Unsupported(f"{name}() with {len(args)} arguments")
    compiled = [compiler.seq(arg, bound) for arg in args]
    if not compiled:
        return lambda focus: implementation()
    if len(compiled) == 1:
        only = compiled[0]
        return lambda focus: implementation(only(focus))

    def run(focus: Focus) -> Seq:
        return implementation(*(arg(focus) for arg in compiled))
    return run

