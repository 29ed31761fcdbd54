"""Python predicates for what XPath 1.0 cannot test: XPath 2.0 regular expressions, exact
decimal arithmetic, IBAN check digits, code-list tokens. Each factory takes the paths of one
syntax and returns a predicate over the context element, so UBL and CII share the logic."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from functools import lru_cache

from lxml import etree

from einvoice.validation.xrechnung.texts import SKONTO_REGEX

Predicate = Callable[[etree._Element], bool]
Namespaces = dict[str, str]

_XML_SPACE = re.compile(r"[ \t\n\r]+")
# XPath regexes: "." excludes \n and \r, "\s" is [ \t\n\r], "$" is the very end
_SKONTO = re.compile(SKONTO_REGEX.replace("$", r"\Z"))
_SKONTO_TAIL = re.compile(r"#[^\n\r]+#")
_EMAIL = re.compile(r"[^@ \t\n\r]+@([^@. \t\n\r]+\.)+[^@. \t\n\r]+\Z")
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]+:")
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{0,30}\Z")
_CENT = Decimal(100)
_STRING = etree.XPath("string()")
# document-level values of the document under validation (see ``per_document``)
_DOCUMENT: ContextVar[dict[tuple[str, tuple[tuple[str, str], ...]], str] | None] = ContextVar(
    "xrechnung_document_values", default=None)


@lru_cache(maxsize=512)
def _compiled(path: str, namespaces: tuple[tuple[str, str], ...]) -> etree.XPath:
    return etree.XPath(path, namespaces=dict(namespaces))


def select(el: etree._Element, path: str, ns: Namespaces) -> Sequence[object]:
    """The nodes (or the value) at ``path``, with the expression compiled once per process."""
    found = _compiled(path, tuple(ns.items()))(el)
    return found if isinstance(found, list) else [found]


@contextmanager
def per_document() -> Iterator[None]:
    """While one document is checked: ``document_string`` evaluates each path once."""
    token = _DOCUMENT.set({})
    try:
        yield
    finally:
        _DOCUMENT.reset(token)


def document_string(el: etree._Element, path: str, ns: Namespaces) -> str:
    """``string(path)`` for an absolute ``path`` (a document-level value such as the invoice
    currency): the same for every context node of a document, so it is evaluated once per
    document instead of once per line (``/*/x`` scans all children of the root, every line
    among them)."""
    cache = _DOCUMENT.get()
    if cache is None:
        return string_of(el, path, ns)
    key = (path, tuple(ns.items()))
    value = cache.get(key)
    if value is None:
        value = cache[key] = string_of(el, path, ns)
    return value


def nspace(text: str) -> str:
    """XPath ``normalize-space``: only the four XML whitespace characters count."""
    return _XML_SPACE.sub(" ", text).strip(" ")


def string_of(el: etree._Element, path: str, ns: Namespaces) -> str:
    """The string value of the first node at ``path`` ("" if none), as XPath 1.0 ``string()``."""
    return str(select(el, f"string({path})", ns)[0])


def decimal(el: etree._Element, path: str, ns: Namespaces) -> Decimal | None:
    """``xs:decimal`` of the first node at ``path``; None if absent or not a number."""
    found = select(el, path, ns)
    if not found:
        return None
    try:
        return Decimal(nspace(string_value(found[0])))
    except InvalidOperation:
        return None


def string_value(node: object) -> str:
    """The XPath string value of a node found by ``xpath`` (element, attribute or text)."""
    return str(_STRING(node)) if isinstance(node, etree._Element) else str(node)


def decimals(el: etree._Element, path: str, ns: Namespaces) -> list[Decimal]:
    """All parseable decimals at ``path``."""
    values: list[Decimal] = []
    for node in select(el, path, ns):
        try:
            values.append(Decimal(nspace(string_value(node))))
        except InvalidOperation:
            continue
    return values


def xpath_round(value: Decimal) -> Decimal:
    """XPath ``round``: halves go up (towards positive infinity)."""
    return (value + Decimal("0.5")).to_integral_value(rounding=ROUND_FLOOR)


def cents(value: Decimal) -> Decimal:
    """``round(x * 10 * 10) div 100`` of the official rules."""
    return xpath_round(value * _CENT) / _CENT


def slack(expected: Decimal, value: Decimal, tolerance: Decimal) -> bool:
    """Peppol ``u:slack``: ``value`` within ``tolerance`` of ``expected``."""
    return expected - tolerance <= value <= expected + tolerance


def skonto(note_path: str, ns: Namespaces) -> Predicate:
    """BR-DE-18: every line of the first payment-terms note that starts with ``#`` is a
    well-formed Skonto line, and the last ``#…#`` segment is followed by a line break."""
    def check(el: etree._Element) -> bool:
        notes = [string_value(n) for n in select(el, note_path, ns)]
        lines = [line for note in notes for line in re.split(r"\r?\n", note)
                 if nspace(line).startswith("#")]
        if not lines:
            return True
        tails = [_SKONTO_TAIL.split(note)[-1] for note in notes]
        ends_ok = all(re.match(r"[ \t\n\r]*\n", tail) for tail in tails)
        return ends_ok and all(_SKONTO.search(nspace(line)) for line in lines)
    return check


def iban(code_path: str, account_path: str, code: str, ns: Namespaces) -> Predicate:
    """BR-DE-19/20: with payment means ``code`` the account is an IBAN with valid check digits."""
    def check(el: etree._Element) -> bool:
        if nspace(string_of(el, code_path, ns)) != code:
            return True
        value = re.sub(r"[ \t\n\r]", "", string_of(el, account_path, ns))
        if not _IBAN.match(value):
            return False
        moved = value[4:] + value[:2].upper() + value[2:4]
        digits = "".join(str(ord(c) - 55) if ord(c) > 64 else str(ord(c) - 48) for c in moved)
        return int(digits) % 97 == 1
    return check


def telephone(path: str, ns: Namespaces) -> Predicate:
    """BR-DE-27: at least three digits."""
    return lambda el: sum(c in "0123456789" for c in nspace(string_of(el, path, ns))) >= 3


def email(path: str, ns: Namespaces) -> Predicate:
    """BR-DE-28: one @, flanked by non-space, a dot-separated domain."""
    return lambda el: bool(_EMAIL.match(nspace(string_of(el, path, ns))))


def url(path: str, ns: Namespaces, optional: bool) -> Predicate:
    """BR-TMP-2: an absolute URL with a scheme (``optional``: absence is fine)."""
    def check(el: etree._Element) -> bool:
        if optional and not select(el, path, ns):
            return True
        return bool(_URL.match(string_of(el, path, ns)))
    return check


def code_in(codes: Iterable[str], attribute: str) -> Predicate:
    """The normalised attribute is one token of the code list (the official
    ``contains($LIST, concat(' ', normalize-space(@x), ' '))`` idiom)."""
    allowed = frozenset(codes)
    return lambda el: nspace(el.get(attribute, "")) in allowed


def value_in(codes: Iterable[str], path: str, ns: Namespaces) -> Predicate:
    """The normalised string value at ``path`` is one of ``codes``."""
    allowed = frozenset(codes)
    return lambda el: nspace(string_of(el, path, ns)) in allowed


def any_of(*predicates: Predicate) -> Predicate:
    return lambda el: any(p(el) for p in predicates)
