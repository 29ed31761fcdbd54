"""The archive quota: how many bytes of originals a sender had archived on the local day a
submission arrives, counted from the database (``lifecycle.retention`` decides whose quota it
is and whether the submission fits)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import col

from einvoice.context import Context
from einvoice.lifecycle.retention import quota_day, quota_owner, quota_refusal
from einvoice.store import records
from einvoice.store import tables as t


def refusal(ctx: Context, digest: str, size: int, supplier_id: int | None, sender: str | None,
            channel: str, received_at: datetime) -> str | None:
    """Why this submission may not be archived (None: it may). One already stored (a run
    again after a crash) always may: its bytes are counted already."""
    limit = ctx.settings.max_archive_bytes_per_sender_day
    if limit <= 0 or records.find_submission(ctx.engine, digest) is not None:
        return None
    column, value = quota_owner(supplier_id, sender, channel)
    start, end = quota_day(received_at, ctx.settings.zone)
    owner = {"supplier_id": col(t.Submission.supplier_id) == value,
             "sender": (col(t.Submission.supplier_id).is_(None)
                        & (func.lower(col(t.Submission.sender)) == value)),
             "channel": (col(t.Submission.supplier_id).is_(None)
                         & col(t.Submission.sender).is_(None)
                         & (col(t.Submission.channel) == value))}[column]
    query = (select(func.coalesce(func.sum(col(t.Submission.size)), 0))
             .where(owner, col(t.Submission.received_at) >= start,
                    col(t.Submission.received_at) < end,
                    col(t.Submission.archive_removed_at).is_(None)))
    with ctx.engine.connect() as conn:
        used = int(conn.execute(query).scalar_one())
    return quota_refusal(used, size, limit)
