"""CSV cells a spreadsheet reads as text, never as a formula: the one cell writer of every export.

Accounting opens the export files in a spreadsheet, and a spreadsheet takes a cell that starts with
``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return before one) for a formula: a seller
named ``=HYPERLINK("http://…")`` would become a live link, ``=cmd|' /C calc'!A0`` a command. So,
as OWASP's "CSV Injection" advises, a text cell whose first character is a trigger gets a leading
``'`` and is written in double quotes (quotes inside doubled, RFC 4180). Beyond OWASP's list
(``= + - @``, tab, CR) this also catches NUL (ASVS 1.2.10), the full-width forms of the four
signs, and a trigger behind leading blanks or invisible characters, which some spreadsheets trim
on import.

Two kinds of cell:

- :meth:`Cells.text` — anything that came from outside (names, numbers, references, notes from the
  invoice, cost centres staff typed): neutralised as above.
- :meth:`Cells.typed` — what we format ourselves (amounts, dates, ids, digit-only accounts): written
  as it is, because a typed value never starts with a trigger, except a negative number such as
  ``-5.00``, which a spreadsheet reads as the number it is. Should a typed value ever not be a
  number but start like a formula (a mistyped account in the settings, say), it is neutralised
  like text all the same.

``guard=False`` writes cells as before this module existed: only to write a batch recorded before
then again byte for byte (``export --rewrite``), never for a new one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

TRIGGERS = frozenset("=+-@\t\r\0＝＋－＠")
_NUMBER = re.compile(r"-?[0-9]+(?:[.,][0-9]+)?")
_NEEDS_QUOTES = re.compile(r'[";\r\n]')  # besides the separator, which is checked apart


def _skipped(ch: str) -> bool:
    """Blank or invisible: a spreadsheet may drop it in front of a formula."""
    return ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zs", "Zl", "Zp")


def formula_like(value: str) -> bool:
    """True when a spreadsheet could take ``value`` for a formula: its first character, or its
    first one after blanks and invisible characters, is a trigger."""
    if value[:1] in TRIGGERS:
        return True
    first = next((ch for ch in value if not _skipped(ch)), "")
    return first in TRIGGERS


def defused(value: str) -> str:
    """``value`` with a leading ``'`` when it is ``formula_like``, else unchanged."""
    return "'" + value if formula_like(value) else value


def quoted(value: str) -> str:
    """In double quotes, quotes inside doubled (RFC 4180 2.6, 2.7)."""
    return '"' + value.replace('"', '""') + '"'


@dataclass(frozen=True)
class Cells:
    """How one file writes its cells: the separator, whether every text cell is quoted (DATEV
    quotes all text; the neutral CSV only where RFC 4180 needs it), and the formula guard."""

    separator: str = ";"
    quote_all_text: bool = False
    guard: bool = True

    def text(self, value: str, limit: int | None = None) -> str:
        """A cell of outside text, at most ``limit`` characters (the ``'`` included)."""
        safe = defused(value) if self.guard else value
        if limit is not None:
            safe = safe[:limit]
        if (self.quote_all_text or safe != value or self.separator in safe
                or _NEEDS_QUOTES.search(safe)):
            return quoted(safe)
        return safe

    def typed(self, value: str) -> str:
        """A cell we formatted ourselves: as it is (see the module's docstring)."""
        if not self.guard or _NUMBER.fullmatch(value) or not formula_like(value):
            return value
        return quoted(defused(value))

    def row(self, cells: Iterable[str]) -> str:
        """One line of cells already written by ``text`` or ``typed`` (no line end)."""
        return self.separator.join(cells)
