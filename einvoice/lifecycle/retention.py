"""What the archive takes and how long it keeps what is not an invoice.

Pure decisions over values the caller looked up (no database, clock or settings object): how
much a sender may have archived on one local day, which submissions are junk (every case of
them of a kind that holds no invoice, and ended; a mail without attachments holds none at all),
and when a junk original has been kept long enough. An invoice,
even an unreadable or invalid one, and a PDF without invoice data (it may be a paper-style
invoice someone has to book) are never junk: their originals are kept as the law requires.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from einvoice.lifecycle.machine import Status

# document kinds that hold no invoice at all: anything neither XML, PDF nor ZIP, XML that is
# no invoice, and a ZIP that could not be taken apart (broken, or refused as a bomb)
JUNK_KINDS = frozenset({"not-an-invoice", "zip"})
JUNK_STATUSES = frozenset({Status.QUARANTINED.value, Status.CLOSED.value})


def quota_owner(supplier_id: int | None, sender: str | None,
                channel: str) -> tuple[str, int | str]:
    """Whose quota a submission uses, as ``(column, value)`` of the submission table: the
    upload token's supplier, else the mail sender (compared in lower case), else the channel
    (a drop folder)."""
    if supplier_id is not None:
        return "supplier_id", supplier_id
    if sender:
        return "sender", sender.strip().lower()
    return "channel", channel


def quota_day(moment: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The local calendar day of ``moment`` as a UTC interval [start, end)."""
    local = moment.astimezone(zone).date()
    start = datetime.combine(local, time(), zone)
    end = datetime.combine(local + timedelta(days=1), time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def quota_refusal(used: int, size: int, limit: int) -> str | None:
    """Why a submission of ``size`` bytes is refused when ``used`` bytes of the sender's
    originals were archived that day (None: it fits; ``limit`` 0: no quota)."""
    if limit <= 0 or used + size <= limit:
        return None
    return (f"archive quota used up: {used} of {limit} bytes archived today for this sender, "
            f"this submission of {size} bytes does not fit; send it again tomorrow")


def junk_cutoff(now: datetime, retention_days: int) -> datetime:
    """Junk received before this moment has been kept long enough."""
    return now - timedelta(days=retention_days)
