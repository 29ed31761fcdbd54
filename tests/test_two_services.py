"""Two `einvoice run` processes on one PostgreSQL database: 1,000 queued documents and a nightly
export in the same minute — every document ingested once, one export batch.

The export is due when both services start: the last successful one started two minutes before,
so a time of ``export_time = "* * * * *"`` has passed since (a missed night). Both start it at
once, beside the intake, instead of at the next minute boundary (up to 60 s of waiting, by which
time the intake was long over). That a fresh installation does not catch up at start is
``test_service``'s business."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from einvoice.approval import workflow
from einvoice.config import load_settings
from einvoice.context import open_context
from einvoice.pipeline import Submission, ingest
from einvoice.scheduler.jobs import EXPORT
from einvoice.store import tables as t
from einvoice.store.types import utcnow
from tests.conftest import register

MINIMAL = "valid/xrechnung-testsuite/technical-cases/cius/01.05_minimal_test_ubl.xml"


def _count(engine: Engine, table: type) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(table)).one())


def test_two_services_share_the_work_without_doing_anything_twice(
        tmp_path: Path, pg_url: str, corpus: Path) -> None:
    data = (corpus / MINIMAL).read_bytes()
    number = b"<cbc:ID>1234567</cbc:ID>"
    assert number in data
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(1000):
        (inbox / f"q-{i:04d}.xml").write_bytes(data.replace(number, f"<cbc:ID>Q-{i}</cbc:ID>"
                                                            .encode(), 1))
    config = tmp_path / "einvoice.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\ndatabase_url = "{pg_url}"\n'
                      f'inbox_dir = "{inbox}"\nsettle_seconds = 0\npoll_minutes = 1\n'
                      'export_time = "* * * * *"\nfour_eyes_threshold = "1000000"\n')
    settings = load_settings(config)
    ctx = open_context(settings)
    register(ctx, "alice")
    for i in range(3):  # approved before the services start: the export has work to do
        sub = Submission(data.replace(number, f"<cbc:ID>A-{i}</cbc:ID>".encode(), 1), "cli")
        workflow.approve(ctx, ingest(ctx, sub).outcomes[0].invoice_id, "alice")
    with Session(ctx.engine) as s:  # the last export: one missed since
        ran = utcnow() - timedelta(minutes=2)
        s.add(t.JobRun(job=EXPORT, started_at=ran, finished_at=ran, ok=True))
        s.commit()
    env = {**os.environ, "EINVOICE_CONFIG": str(config),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    services = [subprocess.Popen([sys.executable, "-m", "einvoice.cli", "run"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for _ in range(2)]
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if _count(ctx.engine, t.Invoice) == 1003 and _count(ctx.engine, t.ExportBatch):
                break
            time.sleep(0.2)
    finally:
        for proc in services:
            proc.send_signal(signal.SIGTERM)
        for proc in services:
            assert proc.wait(timeout=120) == 0
    assert _count(ctx.engine, t.Invoice) == 1003
    assert _count(ctx.engine, t.Document) == 1003
    assert _count(ctx.engine, t.ExportBatch) == 1
    with Session(ctx.engine) as s:
        exported = s.exec(select(t.Invoice).where(t.Invoice.status == "exported")).all()
    assert sorted(inv.number or "" for inv in exported) == ["A-0", "A-1", "A-2"]
    assert not [p for p in inbox.iterdir() if p.is_file()]
    assert sum(1 for _ in (inbox / "processed").iterdir()) == 1000
    assert settings.four_eyes_threshold == Decimal("1000000")
    ctx.close()
