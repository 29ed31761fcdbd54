"""Foreign text in the staff terminal: always shown, never obeyed.

Seller names, invoice numbers, file names, mail subjects, notes and reasons come from outside.
Printed as rich markup, a ``[/]`` in them crashes a command and a ``[link=…]`` hides a link; printed
raw, an ESC starts a terminal escape sequence (clear the screen, set the window title, an OSC 8
link) and a bidi override (U+202E) reorders what a clerk reads. So every such string becomes a rich
``Text`` (never parsed as markup or emoji codes) in which every control, format, separator and
surrogate character is replaced by a visible stand-in: C0 controls and DEL by their Unicode control
pictures (ESC → ``␛``), everything else by its code point (``⟨U+202E⟩``).

By construction, not by care: ``SafeTable`` turns every ``str`` cell and title into such ``Text``,
``SafeConsole`` every ``str`` it prints, ``compose`` every ``str`` part; our own styling is written
as ``(text, style)`` or ``Text`` and so is the only thing that is ever styled. Line breaks are kept
in a cell or a message that may have lines; ``stack`` puts values on lines of their own and shows a
line break inside one of them as ``␊``, so that no value can pose as the next line.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})  # control, format, surrogate, separators
CONTROL_PICTURES, DELETE_PICTURE = 0x2400, "\u2421"  # ␀ … ␟, ␡
_SUSPECT = re.compile(r"[^\x20-\x7e]")  # what may be hidden: all but printable ASCII
_NOT_ASCII = re.compile(r"[^\x00-\x7e]")  # json.dumps escapes the C0 controls itself
Part = str | Text | tuple[str, str] | None  # foreign text, our Text, (our words, style), nothing


def _stand_in(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(CONTROL_PICTURES + code)
    if code == 0x7F:
        return DELETE_PICTURE
    return f"⟨U+{code:04X}⟩"


def _hidden(char: str) -> bool:
    return unicodedata.category(char) in HIDDEN


def _shown(match: re.Match[str]) -> str:
    char = match[0]
    return _stand_in(char) if _hidden(char) else char


def visible(value: object, *, lines: bool = True) -> str:
    """``value`` as plain text with every invisible or controlling character shown;
    ``lines``: a line break (``\\n``, ``\\r\\n``) stays one, else it shows as ``␊``."""
    text = "" if value is None else str(value)
    if not lines:
        return _SUSPECT.sub(_shown, text)
    return "\n".join(_SUSPECT.sub(_shown, line) for line in text.replace("\r\n", "\n")
                     .split("\n"))


def safe(value: object, style: str = "", *, lines: bool = True) -> Text:
    """Foreign text as a rich ``Text``: shown literally (``visible``), never as markup."""
    return Text(visible(value, lines=lines), style=style)


def compose(*parts: Part) -> Text:
    """One line of our words and foreign values: a ``str`` is foreign (``safe``), a
    ``(words, style)`` pair or a ``Text`` is ours; ``None`` is left out."""
    out = Text()
    for part in parts:
        if isinstance(part, tuple):
            out.append(visible(part[0]), style=part[1])
        elif part is not None:
            out.append(safe(part) if isinstance(part, str) else part)
    return out


def stack(*parts: Part) -> Text:
    """Values on lines of their own (empty ones left out); a line break inside a foreign
    value shows as ``␊``."""
    shown = [safe(p, lines=False) if isinstance(p, str) else compose(p) for p in parts if p]
    return Text("\n").join(shown)


def _safe_cell(cell: Any) -> Any:
    return safe(cell) if isinstance(cell, str) else cell


class SafeTable(Table):
    """A rich table whose ``str`` cells and title are foreign text, never markup."""

    def __init__(self, *columns: Any, title: Any = None, **options: Any) -> None:
        super().__init__(*columns, title=_safe_cell(title), **options)

    def add_row(self, *renderables: RenderableType | None, style: Any = None,
                end_section: bool = False) -> None:
        super().add_row(*(_safe_cell(r) for r in renderables), style=style,
                        end_section=end_section)


class SafeConsole(Console):
    """A rich console that prints a ``str`` as foreign text (``safe``): our own styling must
    come as ``Text`` (``compose``), so no message can turn a file name into markup."""

    def print(self, *objects: Any, **options: Any) -> None:
        super().print(*(_safe_cell(o) for o in objects), **options)


def _json_escape(char: str) -> str:
    code = ord(char)
    if code > 0xFFFF:  # as a UTF-16 surrogate pair, the only way JSON writes it
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def json_visible(text: str) -> str:
    """JSON text (``json.dumps(..., ensure_ascii=False)``) with the invisible and controlling
    characters it leaves raw written as ``\\uXXXX``: the same JSON to a parser, inert in a
    terminal (they can stand only inside strings, where an escape means the same)."""
    return _NOT_ASCII.sub(lambda m: _json_escape(m[0]) if _hidden(m[0]) else m[0], text)
