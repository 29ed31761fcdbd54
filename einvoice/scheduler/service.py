"""The ``einvoice run`` process: the jobs on a background scheduler, SIGTERM / SIGINT handling,
and the upload app in the same process when ``serve_http`` is set."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

from einvoice.config import Settings
from einvoice.context import open_context
from einvoice.scheduler.jobs import EXPORT, INTAKE, NOTIFY, Service
from einvoice.scheduler.timing import last_ok_start, missed_at_startup
from einvoice.store.types import utcnow

log = logging.getLogger("einvoice.scheduler")


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
