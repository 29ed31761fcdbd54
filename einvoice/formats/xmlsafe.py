"""Hardened XML parsing: every byte from outside goes through here.

No DTD is loaded, no entity is expanded, nothing is fetched from the network, and a document
that declares a DTD at all is refused (invoices never need one; entity bombs and XXE need one).
"""

from __future__ import annotations

from lxml import etree

from einvoice.errors import ForbiddenXML, MalformedXML, TooLarge

DEFAULT_MAX_XML_BYTES = 64 * 1024 * 1024


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def parse_xml(data: bytes, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> etree._ElementTree:
    """Parse untrusted XML bytes into a tree, or raise a typed ``InputError``."""
    if len(data) > max_bytes:
        raise TooLarge(f"XML document of {len(data)} bytes exceeds the limit of {max_bytes} bytes")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise MalformedXML(f"not well-formed XML: {exc}") from exc
    if root is None:
        raise MalformedXML("empty XML document")
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise ForbiddenXML("XML with a DTD (DOCTYPE) is refused: entities and external references "
                           "are not allowed in invoices")
    return tree
