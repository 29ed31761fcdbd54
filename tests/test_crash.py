"""kill -9 in the middle of an ingest loses nothing and half-writes nothing."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlmodel import Session, select

from einvoice.config import load_settings
from einvoice.context import open_context
from einvoice.model import Invoice as InvoiceModel
from einvoice.store import tables as t


def _ingest_cmd(folder: Path) -> list[str]:
    return [sys.executable, "-m", "einvoice.cli", "ingest", "--json", str(folder)]


def test_kill_during_ingest_then_rerun_is_complete_and_consistent(
        tmp_path: Path, db_url: str, corpus: Path) -> None:
    folder = corpus / "valid"
    files = [p for p in folder.rglob("*") if p.is_file()]  # manifest.json: quarantined
    env = {**os.environ, "EINVOICE_DATA_DIR": str(tmp_path / "data"),
           "EINVOICE_DATABASE_URL": db_url}
    subprocess.run([sys.executable, "-m", "einvoice.cli", "init"], env=env, check=True,
                   capture_output=True)
    rng = random.Random(4711)
    for _ in range(5):
        proc = subprocess.Popen(_ingest_cmd(folder), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = subprocess.run(_ingest_cmd(folder), env=env, capture_output=True, check=True)
    assert len(json.loads(done.stdout)) == len(files)

    ctx = open_context(load_settings(data_dir=tmp_path / "data", database_url=db_url))
    with Session(ctx.engine) as s:
        docs = s.exec(select(t.Document)).all()
        invoices = s.exec(select(t.Invoice)).all()
        lines = s.exec(select(t.InvoiceLine)).all()
    ctx.close()
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    assert {d.sha256 for d in docs} == digests
    assert sorted(i.document_id for i in invoices) == sorted(d.id for d in docs)
    per_invoice: dict[int, int] = {}
    for line in lines:
        per_invoice[line.invoice_id] = per_invoice.get(line.invoice_id, 0) + 1
    assert sum(i.status == "quarantined" for i in invoices) == 1
    for inv in invoices:
        if inv.status == "quarantined":
            continue
        assert inv.model_json is not None
        model = InvoiceModel.model_validate_json(inv.model_json)
        assert per_invoice.get(inv.id or 0, 0) == len(model.lines)
