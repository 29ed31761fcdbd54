"""The scheduled service behind ``einvoice run``: one process, three jobs.

- ``intake``: scan every drop folder, then poll every mailbox (every ``poll_minutes``);
- ``notify``: send pending notices to suppliers (same interval);
- ``export``: the nightly export at ``export_time`` (cron, in the ``timezone`` setting).

Each job never overlaps itself (``max_instances=1``, ``coalesce``), and every run is recorded
as a ``JobRun`` row. Several processes may run against one PostgreSQL database: each folder,
mailbox and the export are guarded by a PostgreSQL advisory lock (on SQLite, which serves one
machine, by a file lock), so two processes never work on the same file and only one runs the
export. The export runs only when it is *due*: when a fire time of its cron schedule lies after
the start of the last successful export run. The same test at start-up catches up a nightly run
missed while the machine was off, and makes a second process that gets the lock a moment later
skip a night that is already done. SIGTERM / SIGINT set a stop flag that the jobs check between
files (and between mail batches); the process then waits for the running job to finish.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]
from sqlmodel import Session, col, select

from einvoice.config import Settings
from einvoice.context import Context, open_context
from einvoice.errors import ConfigError
from einvoice.store.db import session_scope
from einvoice.store.tables import JobRun
from einvoice.store.types import utcnow

log = logging.getLogger("einvoice.scheduler")

INTAKE, NOTIFY, EXPORT = "intake", "notify", "export"
ACTOR = "scheduler"


class Stopped(Exception):
    """The service is stopping: raised between units of work, not an error."""


# ------------------------------------------------------------------ logging

class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    _plain = frozenset(vars(logging.makeLogRecord({})))

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created).astimezone().isoformat(
                timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        data.update({k: v for k, v in vars(record).items()
                     if k not in self._plain and not k.startswith("_")})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def configure_logging(as_json: bool = False, level: int = logging.INFO) -> None:
    """Log to stderr, as text or as JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter(
        "%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


# ------------------------------------------------------------------ job runs and locks

@dataclass
class Run:
    """What a job reports about one run; ``detail`` ends up in the ``JobRun`` row."""

    job: str
    detail: list[str] = field(default_factory=list)
    ok: bool = True

    def note(self, text: str, ok: bool = True) -> None:
        self.detail.append(text)
        self.ok = self.ok and ok


@contextlib.contextmanager
def recorded(ctx: Context, job: str) -> Iterator[Run]:
    """Record one run of ``job``: a row when it starts, end time and outcome when it ends.
    An exception marks the run failed and is logged, not raised (the scheduler carries on)."""
    with session_scope(ctx.engine) as s:
        row = JobRun(job=job, started_at=utcnow())
        s.add(row)
        s.flush()
        run_id = row.id
    run = Run(job)
    log.info("job %s started", job, extra={"job": job, "run_id": run_id})
    try:
        yield run
    except Stopped:
        run.note("stopped before the end (service shutting down)")
    except Exception as exc:
        log.exception("job %s failed", job, extra={"job": job, "run_id": run_id})
        run.note(f"error: {type(exc).__name__}: {exc}", ok=False)
    with session_scope(ctx.engine) as s:
        done = s.get(JobRun, run_id)
        assert done is not None
        done.finished_at = utcnow()
        done.ok = run.ok
        done.detail = "; ".join(run.detail) or None
    log.log(logging.INFO if run.ok else logging.ERROR, "job %s finished: %s", job,
            "; ".join(run.detail) or "ok", extra={"job": job, "run_id": run_id, "ok": run.ok})


# ------------------------------------------------------------------ the nightly schedule

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


# ------------------------------------------------------------------ the jobs

class Service:
    """The jobs over one context, and the stop flag they check."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.stop = threading.Event()
        self.trigger = export_trigger(ctx.settings)

    def check(self) -> None:
        if self.stop.is_set():
            raise Stopped

    def intake(self) -> None:
        """Scan every drop folder, then poll every mailbox."""
        from einvoice.intake.folder import scan

        with recorded(self.ctx, INTAKE) as run:
            for folder in self.ctx.settings.folders:
                self.check()
                with self.ctx.lock(lock_folder(folder.path), wait=False) as got:
                    if not got:
                        run.note(f"{folder.path}: busy in another process")
                        continue
                    files = failed = 0
                    results = scan(self.ctx, folder, self.ctx.settings.workers)
                    try:
                        for res in results:
                            files += 1
                            failed += not res.ok
                            log.info("file %s: %s", res.path, "ok" if res.ok else res.problem,
                                     extra={"job": INTAKE, "file": str(res.path), "ok": res.ok})
                            self.check()
                    finally:
                        getattr(results, "close", lambda: None)()  # ends a worker pool
                        if files:
                            run.note(f"{folder.path}: {files} files, {failed} failed")
            for box in self.ctx.settings.mailboxes:
                self.check()
                self._mailbox(run, box)

    def _mailbox(self, run: Run, box: Any) -> None:
        from einvoice.intake.mail import poll

        def progress(done: int, total: int) -> None:
            self.check()

        with self.ctx.lock(f"mail:{box.name}", wait=False) as got:
            if not got:
                run.note(f"mailbox {box.name}: busy in another process")
                return
            report = poll(self.ctx, box, progress)
        msgs = report.messages
        bad = sum(not m.ok for m in msgs)
        if msgs or report.error:
            run.note(f"mailbox {box.name}: {len(msgs)} messages, {bad} failed"
                     + (f", error: {report.error}" if report.error else ""),
                     ok=report.error is None)

    def notify(self) -> None:
        from einvoice.notify.outbox import send_pending

        with recorded(self.ctx, NOTIFY) as run:
            rep = send_pending(self.ctx)
            if not rep.configured:
                run.note(f"SMTP not configured, {rep.pending} notices waiting")
            elif rep.sent or rep.failed:
                run.note(f"{rep.sent} sent, {rep.failed} failed", ok=not rep.failed)
                run.detail.extend(rep.errors[:5])

    def export(self) -> bool:
        """The nightly export, if due and if no other process runs it; True when it ran."""
        with self.ctx.lock("export", wait=False) as got:
            if not got:
                log.info("export: another process runs it", extra={"job": EXPORT})
                return False
            if not is_due(self.trigger, last_ok_start(self.ctx, EXPORT), utcnow()):
                log.info("export: already done for this night", extra={"job": EXPORT})
                return False
            with recorded(self.ctx, EXPORT) as run:
                # imported late: the export stack loads only here (and may be absent)
                batch = importlib.import_module("einvoice.export.batch").run_export(
                    self.ctx, ACTOR)
                run.note("nothing to export" if batch is None else f"batch {_describe(batch)}")
            return True


def _describe(batch: object) -> str:
    parts = [f"{name}={getattr(batch, name)}" for name in ("id", "invoice_count", "gross_total")
             if hasattr(batch, name)]
    return " ".join(parts) or repr(batch)


# ------------------------------------------------------------------ the process

def build_scheduler(service: Service, interval_seconds: float) -> Any:
    """The three jobs on a background scheduler (not started); intake runs at once."""
    zone = service.ctx.settings.zone
    now = datetime.now(zone)
    sched = BackgroundScheduler(timezone=zone, job_defaults={
        "max_instances": 1, "coalesce": True, "misfire_grace_time": None})
    every = IntervalTrigger(seconds=interval_seconds, timezone=zone)
    sched.add_job(service.intake, every, id=INTAKE, name=INTAKE, next_run_time=now)
    sched.add_job(service.notify, every, id=NOTIFY, name=NOTIFY,
                  next_run_time=now + timedelta(seconds=min(interval_seconds / 2, 5)))
    missed = missed_at_startup(service.trigger, last_ok_start(service.ctx, EXPORT), utcnow())
    if missed:
        log.info("export: a nightly run was missed; running it now", extra={"job": EXPORT})
    sched.add_job(service.export, service.trigger, id=EXPORT, name=EXPORT,
                  **({"next_run_time": now} if missed else {}))
    return sched


def _serve_http(settings: Settings) -> tuple[Any, threading.Thread]:
    import uvicorn

    from einvoice.intake.http import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(settings), host=settings.http_host,
                                           port=settings.http_port, log_config=None))
    thread = threading.Thread(target=server.run, name="http", daemon=True)
    thread.start()
    return server, thread


def run_service(settings: Settings, *, stop: threading.Event | None = None,
                interval_seconds: float | None = None,
                on_ready: Callable[[Service], None] | None = None) -> None:
    """Run until SIGTERM / SIGINT (or ``stop`` is set), then stop after the current unit of
    work of each running job. ``interval_seconds`` overrides ``poll_minutes`` (tests)."""
    ctx = open_context(settings)
    service = Service(ctx)
    if stop is not None:
        service.stop = stop
    if threading.current_thread() is threading.main_thread():
        def on_signal(signum: int, _frame: Any) -> None:
            log.info("signal %s: stopping after the current unit of work",
                     signal.Signals(signum).name)
            service.stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    interval = interval_seconds or settings.poll_minutes * 60.0
    sched = build_scheduler(service, interval)
    http: tuple[Any, threading.Thread] | None = None
    try:
        sched.start()
        if settings.serve_http:
            http = _serve_http(settings)
        log.info("service running", extra={"poll_seconds": interval,
                                           "export_time": settings.export_time,
                                           "serve_http": settings.serve_http})
        if on_ready is not None:
            on_ready(service)
        while not service.stop.wait(0.5):
            pass
    finally:
        service.stop.set()
        if http is not None:
            http[0].should_exit = True
        sched.shutdown(wait=True)
        if http is not None:
            http[1].join(timeout=10)
        ctx.close()
        log.info("service stopped")


def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds passed (tests, tools)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def lock_folder(path: Path) -> str:
    """The lock name of a drop folder (tests and tools use the same one)."""
    return f"folder:{path.resolve()}"
