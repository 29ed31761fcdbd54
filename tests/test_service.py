"""The scheduled service: wiring, catch-up of a missed night, locks, SIGTERM, status."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import types
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from einvoice.cli import service as cli_service  # noqa: F401  (registers run / status / report)
from einvoice.cli.common import app
from einvoice.config import Settings
from einvoice.context import Context, open_context
from einvoice.scheduler.jobs import EXPORT, INTAKE, Service
from einvoice.scheduler.service import run_service, wait_for
from einvoice.scheduler.timing import is_due, missed_at_startup
from einvoice.store import tables as t

INVOICE = "valid/xrechnung-testsuite/technical-cases/cius/01.01_comprehensive_test_ubl.xml"
ROOT = Path(__file__).resolve().parents[1]
BERLIN = ZoneInfo("Europe/Berlin")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def test_missed_nightly_run_is_caught_up_only_when_a_night_passed() -> None:
    trigger = CronTrigger.from_crontab("0 2 * * *", timezone=BERLIN)
    last = _at("2024-05-01T02:00:03")
    assert not is_due(trigger, last, _at("2024-05-01T23:00:00"))
    assert not is_due(trigger, last, _at("2024-05-02T01:59:59"))
    assert is_due(trigger, last, _at("2024-05-02T02:00:00"))
    assert missed_at_startup(trigger, last, _at("2024-05-04T09:00:00"))  # machine was off
    # the run of 02:00 that started a moment late still counts for that night
    assert not missed_at_startup(trigger, _at("2024-05-02T02:00:00.5"), _at("2024-05-02T08:00"))
    # across the switch to summer time (31 March 2024, 02:00 does not exist)
    assert is_due(trigger, _at("2024-03-30T02:00:01"), _at("2024-04-01T03:00:00"))
    # never run: due at the scheduled time, but no catch-up at the first start
    assert is_due(trigger, None, _at("2024-05-02T02:00:00"))
    assert not missed_at_startup(trigger, None, _at("2024-05-02T02:00:00"))


def _runs(ctx: Context, job: str | None = None) -> list[t.JobRun]:
    with Session(ctx.engine) as s:
        q = select(t.JobRun).order_by(col(t.JobRun.id))
        return list(s.exec(q if job is None else q.where(col(t.JobRun.job) == job)).all())


def _invoices(ctx: Context) -> int:
    with Session(ctx.engine) as s:
        return len(s.exec(select(t.Invoice.id)).all())


def test_scheduler_scans_the_drop_folder_and_stops_cleanly(
        settings: Settings, ctx: Context, corpus: Path) -> None:
    settings = settings.model_copy(update={"settle_seconds": 0.0, "workers": 1})
    stop = threading.Event()
    ready = threading.Event()
    thread = threading.Thread(target=run_service, args=(settings,),
                              kwargs={"stop": stop, "interval_seconds": 1.0,
                                      "on_ready": lambda _svc: ready.set()})
    thread.start()
    try:
        assert ready.wait(30)
        settings.inbox_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(corpus / INVOICE, settings.inbox_dir / "a.xml")
        assert wait_for(lambda: _invoices(ctx) == 1, 30)
        assert wait_for(lambda: (settings.inbox_dir / "processed" / "a.xml").exists(), 10)
        assert wait_for(lambda: bool(_runs(ctx, "notify")), 30)  # its first run comes later
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    runs = _runs(ctx)
    assert {r.job for r in runs} >= {INTAKE, "notify"}
    assert all(r.finished_at is not None and r.ok for r in runs)
    assert any("1 files, 0 failed" in (r.detail or "") for r in runs if r.job == INTAKE)
    assert not _runs(ctx, EXPORT)  # fresh installation: no catch-up at start


def _fake_export(monkeypatch: pytest.MonkeyPatch, run_export: Any) -> None:
    """Stand in for the export module, so these tests do not depend on its state."""
    module = types.ModuleType("einvoice.export.batch")
    module.run_export = run_export  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "einvoice.export.batch", module)


def test_export_job_records_errors_and_runs_once_per_night(
        ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_ctx: Context, actor: str) -> None:
        raise RuntimeError("disk full")

    _fake_export(monkeypatch, broken)
    service = Service(ctx)
    assert service.export()
    [failed] = _runs(ctx, EXPORT)
    assert failed.ok is False and failed.finished_at is not None
    assert "disk full" in (failed.detail or "")
    calls: list[str] = []

    def works(_ctx: Context, actor: str) -> object:
        calls.append(actor)
        return types.SimpleNamespace(id=7, invoice_count=3, gross_total="100.00")

    _fake_export(monkeypatch, works)
    assert service.export()  # the failed run does not count as done
    assert not service.export()  # this night is done now
    assert calls == ["scheduler"]
    last = _runs(ctx, EXPORT)[-1]
    assert last.ok and last.detail == "batch id=7 invoice_count=3 gross_total=100.00"


@pytest.mark.postgres
def test_only_one_process_runs_the_nightly_export(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from einvoice.config import load_settings

    settings = load_settings(data_dir=tmp_path / "data", database_url=pg_url,
                             inbox_dir=tmp_path / "inbox")
    first, second = open_context(settings), open_context(settings)  # two engines: two sessions
    try:
        with first.lock("export", wait=False) as a, second.lock("export", wait=False) as b:
            assert a and not b
        with second.lock("export", wait=False) as b:
            assert b
        calls: list[int] = []
        gate = threading.Barrier(2)

        def slow(_ctx: Context, actor: str) -> None:
            calls.append(1)
            time.sleep(0.5)

        _fake_export(monkeypatch, slow)
        services = [Service(first), Service(second)]
        results: list[bool] = []

        def race(svc: Service) -> None:
            gate.wait()
            results.append(svc.export())

        threads = [threading.Thread(target=race, args=(s,)) for s in services]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        assert sorted(results) == [False, True]
        assert calls == [1]
        assert len(_runs(first, EXPORT)) == 1
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the file lock: SQLite's
def test_sqlite_file_lock_excludes_a_second_holder(ctx: Context) -> None:
    assert ctx.engine.dialect.name == "sqlite"
    with ctx.lock("folder:x", wait=False) as a, ctx.lock("folder:x", wait=False) as b:
        assert a and not b
    with ctx.lock("folder:x", wait=False) as c:
        assert c


def test_sigterm_stops_the_service_and_leaves_runs_finished(
        tmp_path: Path, corpus: Path) -> None:
    db = tmp_path / "data" / "einvoice.db"
    env = {**os.environ, "EINVOICE_DATA_DIR": str(tmp_path / "data"),
           "EINVOICE_INBOX_DIR": str(tmp_path / "inbox"), "EINVOICE_SETTLE_SECONDS": "0",
           "EINVOICE_WORKERS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("EINVOICE_DATABASE_URL", None)
    env.pop("EINVOICE_CONFIG", None)
    (tmp_path / "inbox").mkdir()
    for i in range(3):
        shutil.copy(corpus / INVOICE, tmp_path / "inbox" / f"{i}.xml")
    # `run` never creates the database (only `init` does)
    subprocess.run([sys.executable, "-m", "einvoice.cli", "init"], cwd=tmp_path, env=env,
                   check=True, capture_output=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "einvoice.cli", "run", "--log-json"], cwd=tmp_path, env=env,
        stderr=subprocess.PIPE, text=True)
    try:
        ctx = None
        assert wait_for(db.exists, 30)
        from einvoice.config import load_settings

        ctx = open_context(load_settings(data_dir=tmp_path / "data"))
        assert wait_for(lambda: any(r.finished_at for r in _safe_runs(ctx)), 60)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 0, stderr
        assert time.monotonic() - started < 15
        runs = _runs(ctx)
        assert runs and all(r.finished_at is not None for r in runs)
        logs = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
        assert any(e["message"] == "service stopped" for e in logs)
        assert any(e.get("job") == INTAKE for e in logs)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if ctx is not None:
            ctx.close()


def _safe_runs(ctx: Context) -> list[t.JobRun]:
    try:
        return _runs(ctx)
    except Exception:  # the schema may not be there yet
        return []


def test_status_json_shape(settings: Settings, ctx: Context, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    Service(ctx).notify()
    monkeypatch.setenv("EINVOICE_DATABASE_URL", settings.db_url)
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("EINVOICE_CONFIG", raising=False)
    result = CliRunner().invoke(app, ["status", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"jobs", "queues", "unassigned", "last_export", "notices_unsent",
                         "errors", "timezone", "waiting"}
    assert data["waiting"] == {"count": 0, "oldest": None}
    assert set(data["jobs"]) >= {"intake", "notify", "export"}
    notify = data["jobs"]["notify"]
    assert notify["ok"] is True and notify["finished_at"] and notify["last_ok_at"]
    assert data["jobs"]["export"] is None
    assert data["queues"] == {} and data["last_export"] is None and data["errors"] == []
    assert data["unassigned"] == 0
    text = CliRunner().invoke(app, ["status"], catch_exceptions=False)
    assert text.exit_code == 0 and "notify" in text.stdout
