"""What a rule pack gets to see: the XML (bytes and parsed tree) and the canonical model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from einvoice.formats.detect import Kind
from einvoice.model import Invoice


@dataclass(frozen=True)
class Doc:
    """One invoice XML under validation.

    ``root`` comes from the hardened parser (no DTD, no entities); ``invoice`` is the canonical
    model when the reader could map the document, else None.
    """

    xml: bytes
    root: etree._Element
    kind: Kind
    syntax: str
    invoice: Invoice | None
    # what rule packs derive from the document once for all of them (Saxon's tree)
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def specification_id(self) -> str | None:
        return self.invoice.specification_id if self.invoice else None
