"""What makes two spellings of an identifier the same: the keys invoices and sellers are
compared by, never the raw text (which is kept for display).

A supplier's system, a copy from a PDF or a sender who wants an invoice paid twice can spell one
invoice number in ways that look alike: another case, fullwidth digits, a Unicode hyphen, a
zero-width space, a no-break space. Each key is the text after Unicode NFKC and case folding
(``NFKC(casefold(NFKC(text)))``, the Unicode "NFKC_Casefold" recipe: compatibility forms such as
fullwidth letters and ligatures become their plain letters, ß and SS meet), with what cannot be
seen removed (format characters, category Cf: zero-width space and joiner, BOM, soft hyphen, bidi
marks; control characters; the other default-ignorable code points listed below) and every dash
(category Pd) and minus sign unified to ``-``.
"""

from __future__ import annotations

import hashlib
import unicodedata

# default-ignorable code points that are not Cf (Unicode DerivedCoreProperties): combining
# grapheme joiner, Hangul fillers, Khmer inherent vowels, Mongolian variation selectors,
# variation selectors; invisible in print like a zero-width space
_IGNORABLE = frozenset(
    [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0, *range(0x180B, 0x1810),
     *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)])
# minus signs outside Pd that print as a dash (U+FE63 and U+FF0D become '-' by NFKC already)
_MINUS = frozenset([0x2212, 0x2796, 0x02D7])
KEY_LENGTH = 256  # a longer key is stored as its SHA-256 (see ``bounded``)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def _invisible(char: str) -> bool:
    return unicodedata.category(char) in ("Cf", "Cc") or ord(char) in _IGNORABLE


def _dash(char: str) -> bool:
    return unicodedata.category(char) == "Pd" or ord(char) in _MINUS


def _clean(text: str, space: str) -> str:
    """Folded, invisible characters removed, dashes unified, every run of whitespace (no-break,
    thin and ideographic spaces too) replaced by ``space``; composed again (NFKC) because a
    removed character may have stood between a letter and its accent."""
    kept = ("-" if _dash(c) else " " if c.isspace() else c
            for c in _fold(text) if not _invisible(c) or c.isspace())
    return unicodedata.normalize("NFKC", space.join("".join(kept).split()))


def bounded(key: str) -> str:
    """A key longer than ``KEY_LENGTH`` (NFKC may multiply a text's length) as ``sha256 <hex>``:
    a key never contains a space otherwise, so it cannot meet a real one."""
    if len(key) <= KEY_LENGTH:
        return key
    return "sha256 " + hashlib.sha256(key.encode("utf-8")).hexdigest()


def number_key(number: str | None) -> str | None:
    """The invoice number (BT-1) as duplicates are compared; None when nothing visible is left.

    Whitespace is removed, not collapsed: ``RE 2024-1``, ``RE2024-1`` and ``re 2024‐1`` are one
    number. A space inside an invoice number is typography (a supplier's ERP prints it, a clerk
    types it or not), and the duplicate key also needs the same seller, type and gross total, so
    two genuinely different invoices whose numbers differ only by a space are not a risk worth
    paying an invoice twice for. Dashes are unified, not removed: ``1-23`` and ``12-3`` differ.
    """
    if number is None:
        return None
    return bounded(_clean(number, "")) or None


def name_key(name: str | None) -> str | None:
    """A seller's name as the seller key without a VAT id: like ``number_key``, but a run of
    whitespace stays one space (``muster gmbh & co. kg``): in a name, spaces separate words."""
    if name is None:
        return None
    return bounded(_clean(name, " ")) or None


def vat_key(vat_id: str | None) -> str | None:
    """A VAT id (BT-31) as the supplier master and the seller key hold it: NFKC, letters and
    digits only, upper case (``de 123 456 789``, ``DE-123.456.789`` and fullwidth
    ``ＤＥ１２３４５６７８９`` are ``DE123456789``). A VAT id is a country code and up to twelve
    letters or digits; whatever else it is written with is layout."""
    if vat_id is None:
        return None
    kept = "".join(c for c in unicodedata.normalize("NFKC", vat_id) if c.isalnum())
    return bounded(kept.upper()) or None
