"""The archive quota: how many bytes of originals a sender had archived on the local day a
submission arrives, counted from the database (``lifecycle.retention`` decides whose quota it
is and whether the submission fits). A batch asks once per sender and day, and counts what it
admits itself as it goes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlmodel import col

from einvoice.context import Context
from einvoice.lifecycle.retention import quota_day, quota_owner, quota_refusal
from einvoice.store import records
from einvoice.store import tables as t


@dataclass(frozen=True)
class Arrival:
    """What the quota needs to know of one submission."""

    digest: str
    size: int
    supplier_id: int | None
    sender: str | None
    channel: str
    received_at: datetime


def refusal(ctx: Context, arrival: Arrival) -> str | None:
    """Why this submission may not be archived (None: it may). One already stored (a run
    again after a crash) always may: its bytes are counted already."""
    return refusals(ctx, [arrival])[0]


def refusals(ctx: Context, arrivals: Sequence[Arrival]) -> list[str | None]:
    """``refusal`` of each submission of a batch, in order: each one admitted counts against
    the quota of the ones after it."""
    limit = ctx.settings.max_archive_bytes_per_sender_day
    if limit <= 0 or not arrivals:
        return [None] * len(arrivals)
    with ctx.engine.connect() as conn:
        stored = records.submission_ids(conn, [a.digest for a in arrivals])
        used: dict[tuple[str, int | str, datetime], int] = {}
        found: list[str | None] = []
        for arrival in arrivals:
            if arrival.digest in stored:  # also a copy admitted earlier in the batch
                found.append(None)
                continue
            column, value = quota_owner(arrival.supplier_id, arrival.sender, arrival.channel)
            start, end = quota_day(arrival.received_at, ctx.settings.zone)
            if (column, value, start) not in used:
                used[column, value, start] = int(conn.execute(
                    _used(column, value, start, end)).scalar_one())
            why = quota_refusal(used[column, value, start], arrival.size, limit)
            if why is None:
                used[column, value, start] += arrival.size
                stored[arrival.digest] = 0
            found.append(why)
    return found


def _used(column: str, value: int | str, start: datetime, end: datetime) -> Select[Any]:
    """The bytes of originals this owner had archived in [start, end)."""
    owner = {"supplier_id": col(t.Submission.supplier_id) == value,
             "sender": (col(t.Submission.supplier_id).is_(None)
                        & (func.lower(col(t.Submission.sender)) == value)),
             "channel": (col(t.Submission.supplier_id).is_(None)
                         & col(t.Submission.sender).is_(None)
                         & (col(t.Submission.channel) == value))}[column]
    return (select(func.coalesce(func.sum(col(t.Submission.size)), 0))
            .where(owner, col(t.Submission.received_at) >= start,
                   col(t.Submission.received_at) < end,
                   col(t.Submission.archive_removed_at).is_(None)))
