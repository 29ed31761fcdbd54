"""Hardened XML parsing: every byte from outside goes through here.

No DTD is loaded, no entity is expanded, nothing is fetched from the network, and a document
that declares a DTD at all is refused (invoices never need one; entity bombs and XXE need one).
The byte cap bounds everything else, so libxml2's own caps for honest documents are lifted
(``huge_tree``): a valid invoice with a 9 MB PDF embedded as one 12 MB base64 text node is read.

``beyond_limits`` names what the rule engine's parser (Saxon, under the JDK's JAXP limits) cannot
read: deeper nesting, more attributes on one element, longer names. A rule pack could not run
on such a document at all, so it is refused by name of the limit instead of waiting undecided.
"""

from __future__ import annotations

import re

from lxml import etree

from einvoice.errors import ForbiddenXML, MalformedXML, TooLarge

DEFAULT_MAX_XML_BYTES = 64 * 1024 * 1024
DTD_REFUSED = ("XML with a DTD (DOCTYPE) is refused: entities and external references are not "
               "allowed in invoices")
_FIRST_ELEMENT = re.compile(r"<[^?!]")
MAX_DEPTH = 100  # levels of elements, the root being the first
MAX_ATTRIBUTES = 200  # attributes and namespaces in scope of one element
MAX_NAME = 1000  # characters of a name: element, attribute, prefix, namespace URI, PI target
# each limit as an XPath that finds a node beyond it (the namespace axis adds ``xml``)
_LIMITS = (
    (f"//*[count(ancestor::*) >= {MAX_DEPTH}]", f"elements nested deeper than {MAX_DEPTH} levels"),
    (f"//*[count(@*) + count(namespace::*) - 1 > {MAX_ATTRIBUTES}]",
     f"an element with more than {MAX_ATTRIBUTES} attributes and namespaces"),
    (f"//*[string-length(local-name()) > {MAX_NAME}]"
     f" | //@*[string-length(local-name()) > {MAX_NAME}]"
     f" | //processing-instruction()[string-length(name()) > {MAX_NAME}]"
     f" | //namespace::*[string-length(name()) > {MAX_NAME} or string-length(.) > {MAX_NAME}]",
     f"a name, prefix or namespace longer than {MAX_NAME} characters"),
)


def _declares_dtd(data: bytes) -> bool:
    """True when a DOCTYPE stands before the root element.

    Checked on the text before libxml2 sees it: libxml2 evaluates entity declarations while
    parsing even when told not to substitute them.
    """
    head = data[:65536]
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            text = head[2:].decode(codec, errors="ignore")
            break
    else:
        text = head.decode("latin-1")
    match = _FIRST_ELEMENT.search(text)
    prolog = text[: match.start()] if match else text
    return "<!DOCTYPE" in prolog


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=True,  # bounded by the byte cap, which ``parse_xml`` checks first
        remove_blank_text=False,
    )


def parse_xml(data: bytes, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> etree._ElementTree:
    """Parse untrusted XML bytes into a tree, or raise a typed ``InputError``."""
    if len(data) > max_bytes:
        raise TooLarge(f"XML document of {len(data)} bytes exceeds the limit of {max_bytes} bytes")
    if _declares_dtd(data):
        raise ForbiddenXML(DTD_REFUSED)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise MalformedXML(f"not well-formed XML: {exc}") from exc
    if root is None:
        raise MalformedXML("empty XML document")
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None:  # a DOCTYPE hidden beyond the scanned prolog
        raise ForbiddenXML(DTD_REFUSED)
    return tree


def beyond_limits(root: etree._Element) -> str | None:
    """The first limit of the rule engine's parser the document goes beyond, in words."""
    for path, words in _LIMITS:
        if root.xpath(f"boolean({path})"):
            return words
    return None
