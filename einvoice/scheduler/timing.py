"""When the nightly export is due: its cron schedule against the last successful run, so a night
missed while the machine was off is caught up and a night already done is never done twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from sqlmodel import Session, col, select

from einvoice.config import Settings
from einvoice.context import Context
from einvoice.errors import ConfigError
from einvoice.store.tables import JobRun


def export_trigger(settings: Settings) -> Any:
    try:
        return CronTrigger.from_crontab(settings.export_time, timezone=settings.zone)
    except ValueError as exc:
        raise ConfigError(f"export_time is not a cron expression: {settings.export_time!r}: "
                          f"{exc}") from exc


def is_due(trigger: Any, last_ok_start: datetime | None, now: datetime) -> bool:
    """True when the schedule fired after the last successful run started, at or before
    ``now``: that night's export has not been done yet. Without any successful run it is due."""
    if last_ok_start is None:
        return True
    fire = trigger.get_next_fire_time(None, last_ok_start + timedelta(microseconds=1))
    return fire is not None and fire <= now


def missed_at_startup(trigger: Any, last_ok_start: datetime | None, now: datetime) -> bool:
    """Catch up at start-up only when the export has run before and a night was missed since
    (a fresh installation waits for its first scheduled night)."""
    return last_ok_start is not None and is_due(trigger, last_ok_start, now)


def last_ok_start(ctx: Context, job: str) -> datetime | None:
    with Session(ctx.engine) as s:
        return s.exec(select(JobRun.started_at)
                      .where(col(JobRun.job) == job, col(JobRun.ok).is_(True))
                      .order_by(col(JobRun.started_at).desc()).limit(1)).first()
