"""What the compiler needs to know about a syntax tree before compiling it."""

from __future__ import annotations

from typing import Any

from einvoice.validation.native.parse import Node


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


def has_variables(node: Node) -> bool:
    return node[0] in {"var", "quant"} or any(
        isinstance(part, tuple) and part and _has_variables_in(part) for part in node[1:])


def _has_variables_in(part: tuple[Any, ...]) -> bool:
    if part and isinstance(part[0], str):
        return has_variables(part)
    return any(isinstance(item, tuple) and _has_variables_in(item) for item in part)


def depends_on_focus(node: Node) -> bool:
    """Whether the value can differ between context nodes of one document."""
    kind = node[0]
    if kind == "path":
        return not node[1]
    if kind in {"lit"}:
        return False
    if kind == "ctx":
        return True
    if kind == "call":
        return not node[2] or any(depends_on_focus(arg) for arg in node[2])
    if kind == "op":
        return depends_on_focus(node[2]) or depends_on_focus(node[3])
    if kind == "seq":
        return any(depends_on_focus(item) for item in node[1])
    return True


def child_names(expression: Node) -> list[str] | None:
    """The names of a union of plain child steps, ``(a | b)``; None for anything else."""
    if expression[0] == "seq" and len(expression[1]) == 1:
        return child_names(expression[1][0])
    if expression[0] == "op" and expression[1] == "|":
        left, right = child_names(expression[2]), child_names(expression[3])
        return left + right if left and right else None
    if expression[0] == "path" and not expression[1] and len(expression[2]) == 1:
        step = expression[2][0]
        if step[0] == "step" and step[1] == "child" and not step[3] and ":" in step[2]:
            return [step[2]]
    return None


_BOOLEAN_CALLS = {"not", "exists", "empty", "boolean", "contains", "starts-with", "ends-with",
                  "true", "false"}


def never_numeric(predicate: Node) -> bool:
    """A predicate that can only be true or false, never a position: ``//x[p]`` then equals
    ``descendant::x[p]`` (for a position it does not: ``//x[1]`` is every first x child)."""
    return predicate[0] == "path" or (predicate[0] == "op" and predicate[1] in {
        "=", "!=", "<", "<=", ">", ">=", "eq", "ne", "lt", "le", "gt", "ge", "and", "or"}) or (
        predicate[0] == "call" and predicate[1] in _BOOLEAN_CALLS)


