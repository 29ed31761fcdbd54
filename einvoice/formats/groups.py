"""Model groups from what a reader found: the same rules for every syntax.

No group is invented from nothing: a group whose fields are all empty stays ``None``, and a
repeated group without its key term (a credit transfer without an account, a note without
text) is left out, so that the UBL and the CII reader give equal models for one business case.
The official rules, run on the XML, report what is missing. Lines and allowances/charges are
kept in any case, so that no amount gets lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pydantic import ValidationError

from einvoice.formats.problems import note
from einvoice.formats.values import clean
from einvoice.formats.xmlwalk import Node
from einvoice.model import Attachment, Classification, Identifier, Note, Part, SupportingDocument

_Group = TypeVar("_Group", bound=Part)
_T = TypeVar("_T")

# XRechnung puts the note subject code (BT-21) in front of the note text: "#AAI#text".
_SUBJECT_PREFIX = re.compile(r"#(?P<code>[A-Z0-9]{3})#(?P<text>.*)", re.DOTALL)


# the terms of an allowance (BG-20, BG-27) or charge (BG-21, BG-28) by where it sits: amount,
# base amount, percentage, VAT rate (a line's carry no VAT category)
_ALLOWANCE_TERMS: dict[tuple[bool, bool], tuple[str, str, str, str | None]] = {
    (False, False): ("BT-92", "BT-93", "BT-94", "BT-96"),
    (False, True): ("BT-99", "BT-100", "BT-101", "BT-103"),
    (True, False): ("BT-136", "BT-137", "BT-138", None),
    (True, True): ("BT-141", "BT-142", "BT-143", None),
}


def allowance_terms(on_line: bool, is_charge: bool) -> tuple[str, str, str, str | None]:
    """The terms a reader problem of an allowance or charge names."""
    return _ALLOWANCE_TERMS[on_line, is_charge]


def group(cls: type[_Group], /, *, key: str | tuple[str, ...] = (), **fields: Any) -> _Group | None:
    """``cls`` of the fields, or None: when a ``key`` field is missing, or every field is empty."""
    keys = (key,) if isinstance(key, str) else key
    if keys:
        present = all(fields[name] is not None for name in keys)
    else:
        present = any(value is not None and value != [] for value in fields.values())
    return cls(**fields) if present else None


def each(read: Callable[[Node], _T | None], nodes: Iterable[Node]) -> list[_T]:
    """``read`` of each node, leaving out those it finds nothing in."""
    return [value for node in nodes if (value := read(node)) is not None]


def identifier(node: Node | None) -> Identifier | None:
    """An identifier with its ``schemeID``, or None without a value."""
    if node is None or (value := node.text) is None:
        return None
    return Identifier(value=value, scheme=node.attr("schemeID"))


def classification(node: Node) -> Classification | None:
    """BT-158 with its scheme (``listID``) and scheme version (``listVersionID``)."""
    return group(Classification, key="code", code=node.text, scheme=node.attr("listID"),
                 version=node.attr("listVersionID"))


def prefixed_note(text: str | None) -> Note | None:
    """BG-1 from a text that may start with an XRechnung ``#CODE#`` subject code (BT-21)."""
    match = None if text is None else _SUBJECT_PREFIX.fullmatch(text)
    if match is None:
        return group(Note, key="text", text=text)
    return group(Note, key="text", text=clean(match["text"]), subject_code=match["code"])


def supporting_document(
    reference: str | None, description: str | None, external_uri: str | None,
    attachment: Node | None,
) -> SupportingDocument | None:
    """BG-24, left out without its reference (BT-122); only then is the attachment decoded."""
    if reference is None:
        return None
    return SupportingDocument(reference=reference, description=description,
                              external_uri=external_uri, attachment=_attachment(attachment))


def _attachment(node: Node | None) -> Attachment | None:
    """BT-125; the model decodes the base64 text: text that is no base64 is a reader problem."""
    if node is None or (content := node.text) is None:
        return None
    try:
        return Attachment(content=content, mime_code=node.attr("mimeCode"),
                          filename=node.attr("filename"))
    except ValidationError:
        if not note(node.el, "BT-125", "not base64: the attached document cannot be decoded"):
            raise
        return None
