"""Values a reader could not take (an impossible date, a number that is none): the model keeps
None for them and the reading lists them, so that the validator rejects the document with a
finding naming each one, instead of the whole invoice being quarantined as unreadable.

Readers note problems while ``collecting`` (``reader.read_document`` does); a reader called
outside it keeps the strict behaviour and raises on a date it cannot read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from lxml import etree


@dataclass(frozen=True)
class ReaderProblem:
    """One value that could not be read: its term, the text as written, why, and where."""

    term: str | None
    value: str
    message: str
    path: str | None = None
    line: int | None = None


_PROBLEMS: ContextVar[list[ReaderProblem] | None] = ContextVar("reader_problems", default=None)


@contextmanager
def collecting() -> Iterator[list[ReaderProblem]]:
    """While reading one document: the problems noted so far."""
    problems: list[ReaderProblem] = []
    token = _PROBLEMS.set(problems)
    try:
        yield problems
    finally:
        _PROBLEMS.reset(token)


def note(el: etree._Element, term: str | None, message: str) -> bool:
    """Record that ``el``'s value could not be read; False when nobody collects."""
    problems = _PROBLEMS.get()
    if problems is None:
        return False
    line = el.sourceline if isinstance(el.sourceline, int) else None
    value = etree.tostring(el, method="text", encoding="unicode", with_tail=False).strip()
    problems.append(ReaderProblem(term, value, message, el.getroottree().getpath(el), line))
    return True
