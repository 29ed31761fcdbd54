"""XPath 2.0 expressions, as the official Schematron writes them, parsed into a small syntax tree.

Native rules are the official assertions themselves, compiled (``compile``) instead of
re-written by hand, so a rule keeps its exact text and a new release needs no new code. The
grammar is XPath 2.0's, less what no rule source uses (``for``, ``instance of``, ``treat``,
``intersect``/``except``, kind tests other than ``node()``/``text()``): such an expression is
refused with ``Unsupported``, and its rule runs on the official engine.

Nodes are tuples whose first item names the kind:
``("lit", value)``, ``("var", name)``, ``("ctx",)``, ``("seq", items)``, ``("call", name, args)``,
``("path", root, steps)`` with root ``""``, ``"/"`` or ``"//"`` and steps
``("step", axis, test, predicates)`` or ``("filter", expression, predicates)``,
``("op", operator, left, right)``, ``("neg", operand)``,
``("quant", "some"|"every", bindings, condition)``, ``("if", test, then, else)``,
``("cast", operand, type, castable)``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

Node = tuple[Any, ...]


class Unsupported(ValueError):
    """An expression outside the grammar the native engine implements."""


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<num>\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)
    | (?P<str>"(?:[^"]|"")*"|'(?:[^']|'')*')
    | (?P<name>(?:[A-Za-z_][\w.\-]*:)?(?:[A-Za-z_][\w.\-]*|\*)|\*:[A-Za-z_][\w.\-]*)
    | (?P<sym>//|::|\.\.|!=|<=|>=|[/()\[\],|=<>+\-*@$.])
    )""", re.VERBOSE)

_AXES = {"child", "descendant", "descendant-or-self", "self", "parent", "ancestor",
         "ancestor-or-self", "attribute", "following", "following-sibling", "preceding",
         "preceding-sibling"}
_GENERAL = {"=", "!=", "<", "<=", ">", ">="}
_VALUE = {"eq", "ne", "lt", "le", "gt", "ge"}
_ENDS_OPERAND = {"num", "str", ")", "]", ".", "..", "name", "*"}


def tokenize(text: str) -> list[tuple[str, str]]:
    """(kind, text) pairs; ``*`` and keyword-like names become operators where an operand ended."""
    tokens: list[tuple[str, str]] = []
    position, end = 0, len(text.rstrip())
    while position < end:
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise Unsupported(f"cannot read {text[position:position + 20]!r}")
        position = match.end()
        kind = match.lastgroup or ""
        value = match.group(kind)
        after_operand = bool(tokens) and tokens[-1][0] in _ENDS_OPERAND
        if (kind == "name" and value == "*") or (kind == "sym" and value == "*"):
            kind = "op" if after_operand else "name"
        elif kind == "name" and after_operand and value in {
                "and", "or", "div", "idiv", "mod", "eq", "ne", "lt", "le", "gt", "ge", "to",
                "union", "intersect", "except", "instance", "treat", "castable", "cast",
                "satisfies", "in", "then", "else", "as", "of"}:
            kind = "op"
        elif kind == "sym" and value in {".", "..", ")", "]"}:
            kind = value
        tokens.append((kind, value))
    return tokens


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.at = 0

    def parse(self) -> Node:
        node = self.expr()
        if self.at != len(self.tokens):
            raise Unsupported(f"unexpected {self.peek()[1]!r} in {self.text!r}")
        return node

    # -- token helpers -----------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> tuple[str, str]:
        index = self.at + ahead
        return self.tokens[index] if index < len(self.tokens) else ("end", "")

    def take(self, *values: str) -> str | None:
        kind, value = self.peek()
        if value in values and kind != "str":
            self.at += 1
            return value
        return None

    def expect(self, value: str) -> None:
        if self.take(value) is None:
            raise Unsupported(f"expected {value!r}, found {self.peek()[1]!r} in {self.text!r}")

    # -- grammar -------------------------------------------------------------------------------
    def expr(self) -> Node:
        items = [self.single()]
        while self.take(","):
            items.append(self.single())
        return items[0] if len(items) == 1 else ("seq", tuple(items))

    def single(self) -> Node:
        kind, value = self.peek()
        if kind == "name" and value in {"some", "every"} and self.peek(1) == ("sym", "$"):
            self.at += 1
            bindings = []
            while True:
                self.expect("$")
                name = self.peek()[1]
                self.at += 1
                self.expect("in")
                bindings.append((name, self.single()))
                if not self.take(","):
                    break
            self.expect("satisfies")
            return ("quant", value, tuple(bindings), self.single())
        if kind == "name" and value == "if" and self.peek(1) == ("sym", "("):
            self.at += 2
            test = self.expr()
            self.expect(")")
            self.expect("then")
            then = self.single()
            self.expect("else")
            return ("if", test, then, self.single())
        if kind == "name" and value == "for" and self.peek(1) == ("sym", "$"):
            raise Unsupported("for expressions")
        return self.binary(0)

    _LEVELS: tuple[frozenset[str], ...] = (
        frozenset({"or"}), frozenset({"and"}), frozenset(_GENERAL | _VALUE), frozenset({"to"}),
        frozenset({"+", "-"}), frozenset({"*", "div", "idiv", "mod"}),
        frozenset({"|", "union"}))

    def binary(self, level: int) -> Node:
        if level == len(self._LEVELS):
            return self.cast()
        left = self.binary(level + 1)
        while True:
            kind, value = self.peek()
            if value not in self._LEVELS[level] or kind == "str" or kind == "name":
                return left
            self.at += 1
            operator = "|" if value == "union" else value
            left = ("op", operator, left, self.binary(level + 1))
            if level == 2:  # comparisons do not chain
                return left

    def cast(self) -> Node:
        operand = self.unary()
        keyword = self.take("castable", "cast")
        if keyword is None:
            return operand
        self.expect("as")
        type_name = self.peek()[1]
        self.at += 1
        if self.take("?") is not None:
            raise Unsupported("optional cast types")
        return ("cast", operand, type_name, keyword == "castable")

    def unary(self) -> Node:
        if self.take("-"):
            return ("neg", self.unary())
        if self.take("+"):
            return self.unary()
        return self.path()

    def path(self) -> Node:
        root = self.take("//", "/") or ""
        if root == "/" and not self._starts_step():
            return ("path", "/", ())
        steps = [self.step()]
        while True:
            separator = self.take("//", "/")
            if separator is None:
                break
            if separator == "//":
                steps.append(("step", "descendant-or-self", "node()", ()))
            steps.append(self.step())
        if not root and len(steps) == 1 and steps[0][0] == "filter" and not steps[0][2]:
            primary: Node = steps[0][1]  # a plain primary expression
            return primary
        return ("path", root, tuple(steps))

    def _starts_step(self) -> bool:
        kind, value = self.peek()
        return kind in {"name", ".", ".."} or value in {"@", "(", "$"} or kind in {"num", "str"}

    def step(self) -> Node:
        kind, value = self.peek()
        if kind == "..":
            self.at += 1
            return ("step", "parent", "node()", self.predicates())
        if kind == ".":
            self.at += 1
            return ("filter", ("ctx",), self.predicates())
        if value == "@":
            self.at += 1
            return ("step", "attribute", self.node_test(), self.predicates())
        if kind == "name" and self.peek(1) == ("sym", "::"):
            if value not in _AXES:
                raise Unsupported(f"axis {value}")
            self.at += 2
            return ("step", value, self.node_test(), self.predicates())
        if kind == "name" and self.peek(1) == ("sym", "(") and value not in {"node", "text"}:
            return ("filter", self.primary(), self.predicates())
        if kind == "name":
            return ("step", "child", self.node_test(), self.predicates())
        return ("filter", self.primary(), self.predicates())

    def node_test(self) -> str:
        kind, value = self.peek()
        if kind != "name":
            raise Unsupported(f"node test {value!r}")
        self.at += 1
        if value in {"node", "text"} and self.take("("):
            self.expect(")")
            return f"{value}()"
        return value

    def predicates(self) -> tuple[Node, ...]:
        found = []
        while self.take("["):
            found.append(self.expr())
            self.expect("]")
        return tuple(found)

    def primary(self) -> Node:
        kind, value = self.peek()
        self.at += 1
        if kind == "num":
            return ("lit", float(value) if "e" in value.lower() else Decimal(value))
        if kind == "str":
            quote = value[0]
            return ("lit", value[1:-1].replace(quote * 2, quote))
        if value == "$":
            name = self.peek()[1]
            self.at += 1
            return ("var", name)
        if value == "(":
            if self.take(")"):
                return ("seq", ())
            inner = self.expr()
            self.expect(")")
            return inner if inner[0] == "seq" else ("seq", (inner,))
        if kind == "name" and self.take("("):
            args = []
            if not self.take(")"):
                args.append(self.single())
                while self.take(","):
                    args.append(self.single())
                self.expect(")")
            return ("call", value, tuple(args))
        raise Unsupported(f"unexpected {value!r} in {self.text!r}")


def parse(text: str) -> Node:
    """The syntax tree of one XPath 2.0 expression (raises ``Unsupported``)."""
    return Parser(text).parse()
