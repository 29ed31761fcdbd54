"""Anchors: the audit chain's head kept outside the database.

The chain has no secret, so whoever can write the audit table can delete, reorder or edit
events and recompute every hash after them; the chain then checks out. An anchor (the number of
events and the newest event's id and hash at one moment) kept where that person cannot reach,
such as an export manifest at accounting or a file mailed to the auditors by
``einvoice audit anchor``, pins everything up to it: the event it names must still stand at its
place with its hash. A recomputed chain can only be placed between two anchors: the check names
the first event after the newest anchor that still holds.

The file is ``{"format": "einvoice-audit-anchor/1", "events", "event_id", "hash", "at",
"taken_at"}`` (``at`` is the newest event's time); an export manifest (its ``audit_anchor``) is
read as an anchor too.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from einvoice.errors import EinvoiceError
from einvoice.store import chain
from einvoice.store.types import utcnow

FORMAT = "einvoice-audit-anchor/1"


class AnchorError(EinvoiceError):
    """An anchor file that cannot be read."""


@dataclass(frozen=True)
class Anchor:
    source: str  # where it was kept: a file, an export manifest
    head: chain.Head


def take(engine: Engine) -> dict[str, Any]:
    """The anchor file's content for the chain as it is now."""
    with engine.connect() as conn:
        head = chain.head(conn)
    return {"format": FORMAT, **head.to_json(), "taken_at": utcnow().isoformat()}


def load(path: Path) -> Anchor:
    """An anchor file, or an export manifest carrying one."""
    try:
        data = json.loads(path.read_bytes())
        if isinstance(data, dict) and "audit_anchor" in data:
            data = data["audit_anchor"]
        elif not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"neither an anchor ({FORMAT}) nor an export manifest")
        return Anchor(str(path), chain.Head.from_json(data))
    except (OSError, ValueError) as exc:
        raise AnchorError(f"{path}: not a readable anchor ({exc})") from exc


@dataclass(frozen=True)
class Broken:
    """Where the trail stopped matching an anchor."""

    position: int  # of the first event no holding anchor vouches for (1 = oldest)
    event_id: int | None  # its id (None: there is no such event left)
    anchor: str
    problem: str


class Anchored:
    """Compares the events of a walk in chain order with the anchors."""

    def __init__(self, anchors: Sequence[Anchor]) -> None:
        self.count = len(anchors)
        self.held = 0  # events vouched for by the anchors that held so far
        self._open: int | None = None  # id of the first event after them
        self._by_id: dict[int | None, list[Anchor]] = defaultdict(list)
        self._at: dict[int, list[Anchor]] = defaultdict(list)
        for a in anchors:
            self._by_id[a.head.event_id].append(a)
            self._at[a.head.events].append(a)

    def event(self, position: int, event_id: int, digest: str) -> Broken | None:
        """Check the event at ``position``; the first anchor it contradicts, else None."""
        if position == self.held + 1:
            self._open = event_id
        for a in self._by_id.get(event_id, []) + self._at.get(position, []):
            h = a.head
            if (h.events, h.event_id, h.hash) == (position, event_id, digest):
                continue
            if h.event_id == event_id and h.events > position:
                what = (f"event {event_id} is #{position} of the trail, but #{h.events} by "
                        f"anchor {a.source}: {h.events - position} events before it were "
                        "deleted")
            elif h.event_id != event_id:  # at the anchor's place (reached it first otherwise)
                what = (f"#{position} of the trail is event {event_id}, but event {h.event_id} "
                        f"by anchor {a.source}: events were inserted, deleted or reordered")
            else:
                what = (f"event {event_id} (#{position}) has another hash than anchor "
                        f"{a.source} recorded: it or an event before it was changed, "
                        "reordered or replaced")
            return self._broken(a, what)
        if position in self._at:
            self.held, self._open = position, None
        return None

    def end(self, total: int) -> Broken | None:
        """After the walk of ``total`` events: an anchor vouching for more events than are left."""
        beyond = [events for events in self._at if events > total]
        if not beyond:
            return None
        a = self._at[min(beyond)][0]
        h = a.head
        kept = "the audit trail is empty" if total == 0 else f"the trail ends at #{total}"
        return self._broken(a, f"{kept}, but anchor {a.source} vouches for {h.events} events up "
                               f"to event {h.event_id}: events were deleted")

    def _broken(self, anchor: Anchor, what: str) -> Broken:
        first = self.held + 1
        where = (f"the first event no anchor vouches for any more is #{first}"
                 + (f" (event {self._open})" if self._open is not None else ""))
        return Broken(first, self._open, anchor.source, f"{what}; {where}")
