"""XPath 2.0 values over an lxml tree: nodes, atomisation, casts, comparisons and arithmetic.

The official rules are run by Saxon on untyped documents (no schema-aware processing), so every
node atomises to ``xs:untypedAtomic``; what a comparison or an operator then does with it is
fixed by XPath 2.0 (§3.5.2: cast to ``xs:double`` beside a number, to the other type beside a
boolean or date, compared as a string otherwise). Money stays exact: ``xs:decimal`` is
``Decimal``, and only what XPath itself makes a double (an untyped operand of ``+``, ``sum`` of
untyped nodes) is a ``float``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal, localcontext
from typing import Any

from lxml import etree

Element = etree._Element
Item = Any  # Element | Attr | DocNode | Untyped | str | bool | Decimal | float | dt.date
Seq = list[Item]


class XPathError(Exception):
    """A dynamic error (XPath's FORG0001, XPTY0004, ...): the assertion could not run."""


class Untyped(str):
    """``xs:untypedAtomic``: the value of a node of a document no schema typed."""


class DocNode:
    """The document node above the root element (what ``/`` selects)."""

    __slots__ = ("_attributes", "_descendants", "_order", "memo", "root")

    def __init__(self, root: Element) -> None:
        self.root = root
        self.memo: dict[Any, list[Any]] = {}  # sub-expression values (see ``compile``)
        self._order: dict[Element, int] | None = None
        self._descendants: dict[tuple[Any, ...], list[Element]] = {}
        self._attributes: dict[str, list[Attr]] | None = None

    def attributes(self, name: str) -> list[Attr]:
        """``//@name``: every attribute of the document indexed by name in one pass."""
        if self._attributes is None:
            self._attributes = {}
            for element in self.root.iter(etree.Element):
                for key, value in element.attrib.items():
                    self._attributes.setdefault(str(key), []).append(
                        Attr(element, str(key), str(value)))
        return self._attributes.get(name, [])

    def descendants(self, tags: tuple[Any, ...]) -> list[Element]:
        """``//name``: each name looked up once per document, since rules ask for the same
        ones again and again (every VAT category rule searches ``//cac:TaxCategory``)."""
        found = self._descendants.get(tags)
        if found is None:
            found = self._descendants[tags] = list(self.root.iter(*tags))
        return found

    def order(self) -> dict[Element, int]:
        """Document position of every element, built on the first sort that needs it."""
        if self._order is None:
            self._order = {node: index for index, node in enumerate(self.root.iter())}
        return self._order


class Attr:
    """An attribute node: lxml gives attribute values, XPath needs nodes with a parent."""

    __slots__ = ("name", "parent", "value")

    def __init__(self, parent: Element, name: str, value: str) -> None:
        self.parent, self.name, self.value = parent, name, value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Attr) and other.parent is self.parent and other.name == self.name

    def __hash__(self) -> int:
        return hash((id(self.parent), self.name))


NODE_TYPES = (etree._Element, Attr, DocNode)
_DOUBLE = re.compile(r"\s*([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|-?INF|NaN)\s*\Z")
_DECIMAL = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*\Z")
_DATE = re.compile(r"\s*(-?\d{4,})-(\d\d)-(\d\d)(Z|[+-]\d\d:\d\d)?\s*\Z")


def is_node(item: Item) -> bool:
    return isinstance(item, NODE_TYPES)


def string_value(item: Item) -> str:
    if isinstance(item, etree._Element):
        return "".join(str(text) for text in item.itertext())
    if isinstance(item, Attr):
        return item.value
    if isinstance(item, DocNode):
        return "".join(str(text) for text in item.root.itertext())
    return to_string(item)


def atomize(item: Item) -> Item:
    return Untyped(string_value(item)) if isinstance(item, NODE_TYPES) else item


def to_string(value: Item) -> str:
    """The canonical lexical form XPath's ``string()`` gives an atomic value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return str(value.quantize(Decimal(1)))
        return format(value.normalize(), "f")
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "INF" if value > 0 else "-INF"
        return str(int(value)) if value.is_integer() and abs(value) < 1e6 else repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def to_double(value: Item) -> float:
    if isinstance(value, float):
        return value
    if isinstance(value, (Decimal, bool)):
        return float(value)
    if isinstance(value, str):
        match = _DOUBLE.match(value)
        if match is None:
            raise XPathError(f"FORG0001: {value!r} is not a number")
        text = match.group(1)
        return {"INF": math.inf, "-INF": -math.inf, "NaN": math.nan}.get(text) or float(text)
    raise XPathError(f"XPTY0004: {type(value).__name__} is not a number")


def to_decimal(value: Item) -> Decimal:
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise XPathError(f"FOCA0002: {to_string(value)} is no decimal")
        return Decimal(repr(value))
    if isinstance(value, str) and _DECIMAL.match(value):
        return Decimal(value.strip())
    raise XPathError(f"FORG0001: {value!r} is not a decimal")


def to_boolean(value: Item) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text in {"true", "1"}:
        return True
    if text in {"false", "0"}:
        return False
    raise XPathError(f"FORG0001: {value!r} is not a boolean")


def to_date(value: Item) -> dt.date:
    if isinstance(value, dt.date):
        return value
    match = _DATE.match(str(value)) if isinstance(value, str) else None
    try:
        if match is None:
            raise ValueError
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise XPathError(f"FORG0001: {value!r} is not a date") from None


def _numeric(value: Item) -> bool:
    return isinstance(value, (Decimal, float)) and not isinstance(value, bool)


def _pair(left: Item, right: Item, general: bool) -> tuple[Item, Item]:
    """Both operands of one comparison brought to a common type (XPath 2.0 §3.5.1-2)."""
    if isinstance(left, Untyped) or isinstance(right, Untyped):
        if not general:  # a value comparison compares untyped values as strings
            return (str(left) if isinstance(left, Untyped) else left,
                    str(right) if isinstance(right, Untyped) else right)
        if isinstance(left, Untyped) and isinstance(right, Untyped):
            return str(left), str(right)
        typed, untyped, swap = (right, left, False) if isinstance(left, Untyped) else (
            left, right, True)
        if isinstance(typed, str):
            cast: Item = str(untyped)
        elif _numeric(typed):
            cast = to_double(untyped)
        elif isinstance(typed, bool):
            cast = to_boolean(untyped)
        else:
            cast = to_date(untyped)
        return (typed, cast) if swap else (cast, typed)
    return left, right


_TEXT = (str, Untyped)


def compare(operator: str, left: Item, right: Item, general: bool = True) -> bool:
    if operator == "=" and type(left) in _TEXT and type(right) in _TEXT:
        return bool(str.__eq__(left, right))  # the common case: a node's text against a string
    left, right = _pair(left, right, general)
    if _numeric(left) and _numeric(right):
        if isinstance(left, float) or isinstance(right, float):
            left, right = float(left), float(right)
    elif type(left) is not type(right) and not (isinstance(left, str) and isinstance(right, str)):
        raise XPathError(f"XPTY0004: cannot compare {type(left).__name__} with "
                         f"{type(right).__name__}")
    if operator in {"=", "eq"}:
        return bool(left == right)
    if operator in {"!=", "ne"}:
        return bool(left != right)
    if operator in {"<", "lt"}:
        return bool(left < right)
    if operator in {"<=", "le"}:
        return bool(left <= right)
    if operator in {">", "gt"}:
        return bool(left > right)
    return bool(left >= right)


def arithmetic(operator: str, left: Item, right: Item) -> Item:
    left = to_double(left) if isinstance(left, Untyped) else left
    right = to_double(right) if isinstance(right, Untyped) else right
    if not (_numeric(left) and _numeric(right)):
        raise XPathError(f"XPTY0004: {operator} needs numbers")
    if isinstance(left, float) or isinstance(right, float):
        a, b = float(left), float(right)
        if operator in {"+", "-", "*"}:
            return a + b if operator == "+" else a - b if operator == "-" else a * b
        if not b:
            return math.copysign(math.inf, a) if operator == "div" and a else math.nan
        return a / b if operator == "div" else math.fmod(a, b)
    with localcontext() as context:
        context.prec = 40
        if operator in {"div", "idiv", "mod"} and not right:
            raise XPathError("FOAR0001: division by zero")
        if operator == "+":
            return left + right
        if operator == "-":
            return left - right
        if operator == "*":
            return left * right
        if operator == "div":
            return left / right
        if operator == "idiv":
            return Decimal(int(left / right))
        return left % right


def round_half_up(value: Item) -> Item:
    """XPath ``round``: to the nearest integer, halves towards positive infinity."""
    if isinstance(value, float):
        return value if math.isnan(value) or math.isinf(value) else float(math.floor(value + 0.5))
    return (value + Decimal("0.5")).to_integral_value(rounding="ROUND_FLOOR")


def effective_boolean(seq: Seq) -> bool:
    if not seq:
        return False
    first = seq[0]
    if isinstance(first, NODE_TYPES):
        return True
    if len(seq) > 1:
        raise XPathError("FORG0006: no effective boolean value of a sequence of values")
    if isinstance(first, bool):
        return first
    if isinstance(first, str):
        return first != ""
    if isinstance(first, (Decimal, float)):
        return bool(first) and not (isinstance(first, float) and math.isnan(first))
    raise XPathError(f"FORG0006: no effective boolean value of a {type(first).__name__}")


def one_atom(seq: Seq) -> Seq:
    """An operand of an arithmetic or value comparison: empty or one atomic value."""
    if len(seq) > 1:
        raise XPathError("XPTY0004: a sequence of more than one item where one is allowed")
    return [atomize(seq[0])] if seq else seq
