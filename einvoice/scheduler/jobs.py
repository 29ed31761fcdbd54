"""The service's jobs (intake, notify, export; after each intake: revalidate what is due, and once
a day remove junk past its retention) over one context, each run recorded as a ``JobRun`` row,
each folder, mailbox and the export taken under a named lock."""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from einvoice.context import Context
from einvoice.scheduler.timing import export_trigger, is_due, last_ok_start
from einvoice.store.db import session_scope
from einvoice.store.tables import JobRun
from einvoice.store.types import utcnow

log = logging.getLogger("einvoice.scheduler")

INTAKE, NOTIFY, EXPORT, REVALIDATE = "intake", "notify", "export", "revalidate"
RETENTION = "retention"
RETENTION_EVERY = timedelta(days=1)
ACTOR = "scheduler"


class Stopped(Exception):
    """The service is stopping: raised between units of work, not an error."""


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
        self.revalidate()
        self.retention()

    def revalidate(self) -> None:
        """Validate again what the engine could not decide (received, verdict undefined) and
        is due (with back-off), so that nothing waits in received for ever; notices as ingest
        queues them (mail)."""
        from einvoice.intake.mail import CHANNEL as MAIL
        from einvoice.notify.outbox import queue_for_ingest
        from einvoice.pipeline.revalidate import any_due, revalidate_received

        if not any_due(self.ctx.engine):
            return
        with self.ctx.lock(REVALIDATE, wait=False) as got:
            if not got:
                return  # another process is at it
            with recorded(self.ctx, REVALIDATE) as run:
                done = revalidate_received(self.ctx, self.check)
                for submission_id, channel in sorted(done.rejected_submissions.items()):
                    if channel == MAIL:
                        queue_for_ingest(self.ctx, submission_id)
                run.note(f"{len(done.moved)} decided, {len(done.waiting)} still undefined")

    def retention(self) -> None:
        """Remove the originals of junk past ``junk_retention_days``, at most once a day."""
        from einvoice.pipeline.junk import remove_junk

        last = last_ok_start(self.ctx, RETENTION)
        if last is not None and utcnow() - last < RETENTION_EVERY:
            return
        with self.ctx.lock(RETENTION, wait=False) as got:
            if not got:
                return  # another process is at it
            with recorded(self.ctx, RETENTION) as run:
                done = remove_junk(self.ctx, self.check)
                run.note(f"{len(done.submissions)} junk submissions removed, {done.bytes} bytes")

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
                if batch is None:
                    run.note("nothing to export")
                elif getattr(batch, "id", None) is not None:  # else: every invoice refused
                    run.note(f"batch {_describe(batch)}")
                for refusal in getattr(batch, "refused", ()):  # a person must look: failed
                    run.note(f"invoice {refusal.invoice_id} not exported: {refusal.reason}",
                             ok=False)
            return True


def _describe(batch: object) -> str:
    parts = [f"{name}={getattr(batch, name)}" for name in ("id", "invoice_count", "gross_total")
             if hasattr(batch, name)]
    return " ".join(parts) or repr(batch)


def lock_folder(path: Path) -> str:
    """The lock name of a drop folder (tests and tools use the same one)."""
    return f"folder:{path.resolve()}"
