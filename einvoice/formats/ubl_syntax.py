"""The UBL 2.1 vocabulary of the path walker, and the value getters all UBL modules share.

Paths are spelt with the binding's prefixes, ``cac:`` for aggregates and ``cbc:`` for basic
components: ``text(party, "cac:PartyName/cbc:Name")``.
"""

from __future__ import annotations

from datetime import date

from einvoice import model
from einvoice.errors import ReadError
from einvoice.formats.groups import group
from einvoice.formats.problems import note
from einvoice.formats.values import iso_date
from einvoice.formats.xmlwalk import Node, Paths

_UBL = Paths(
    cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
)

tags = _UBL.tags
find_all = _UBL.all
find = _UBL.find
text = _UBL.text
joined = _UBL.joined
decimal = _UBL.decimal
attr = _UBL.attr


def ubl_date(node: Node | None, path: str, term: str | None = None) -> date | None:
    """A date as UBL writes it (YYYY-MM-DD); one that cannot be read is a reader problem."""
    found = find(node, path)
    if found is None:
        return None
    try:
        return iso_date(found.text)
    except ReadError as exc:
        if not note(found.el, term, str(exc)):
            raise
        return None


def period(el: Node | None, terms: tuple[str, str] = ("BT-73", "BT-74")) -> model.Period | None:
    """BG-14 of the invoice or, with ``terms`` BT-134/135, BG-26 of a line."""
    return group(model.Period, start=ubl_date(el, "cbc:StartDate", terms[0]),
                 end=ubl_date(el, "cbc:EndDate", terms[1]))
