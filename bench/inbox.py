"""`einvoice inbox` and `einvoice list` on a database of 100,000 invoices.

    python bench/inbox.py [--count 100000] [--database-url URL]

Fills a fresh database with synthetic invoice cases (bulk insert, not ingest), then prints the
query time in-process and the wall time of the real command (interpreter start included).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import insert

from einvoice.config import load_settings
from einvoice.context import open_context
from einvoice.store import tables as t
from einvoice.views.queries import ListFilter, inbox, list_invoices

STATUSES = ["pending"] * 3 + ["approved", "exported", "exported", "invalid", "rejected"]


def fill(engine: object, count: int) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(insert(t.Submission), [
            {"id": i, "sha256": f"{i:064x}", "size": 1000, "channel": "folder",
             "filename": f"inv-{i}.xml", "received_at": now} for i in range(1, count + 1)])
        conn.execute(insert(t.Document), [
            {"id": i, "submission_id": i, "sha256": f"{i:064x}", "size": 1000,
             "filename": f"inv-{i}.xml", "kind": "ubl-invoice", "created_at": now}
            for i in range(1, count + 1)])
        rows = []
        for i in range(1, count + 1):
            issued = date(2026, 1, 1) + timedelta(days=rng.randrange(330))
            rows.append({
                "id": i, "document_id": i, "status": rng.choice(STATUSES), "number": f"R-{i}",
                "type_code": "380", "issue_date": issued, "currency": "EUR",
                "seller_name": f"Lieferant {i % 3000}", "seller_key": f"DE{i % 3000:09d}",
                "gross_total": Decimal(rng.randrange(100, 10_000_000)) / 100,
                "office": rng.choice(["Kämmerei", "Tiefbauamt", "Schulamt"]),
                "pay_by": issued + timedelta(days=30),
                "skonto_until": issued + timedelta(days=10) if i % 4 == 0 else None,
                "received_at": now, "updated_at": now, "version": 0})
        conn.execute(insert(t.Invoice), rows)


def timed(fn: object, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp), database_url=args.database_url)
        env = {**os.environ, "EINVOICE_DATA_DIR": tmp,
               "EINVOICE_DATABASE_URL": settings.db_url}
        # the store, and the account running this as its first admin (reading needs a role)
        subprocess.run([sys.executable, "-m", "einvoice.cli", "init"], env=env, check=True,
                       capture_output=True)
        ctx = open_context(settings)
        fill(ctx.engine, args.count)
        table = Table(title=f"{args.count:,} invoices ({ctx.engine.dialect.name})")
        for col in ("what", "median ms"):
            table.add_column(col, justify="right")
        table.add_row("inbox query (office, 50 rows)",
                      f"{timed(lambda: inbox(ctx, 'Kämmerei', 50)):.0f}")
        table.add_row("inbox query (all offices)", f"{timed(lambda: inbox(ctx, None, 50)):.0f}")
        table.add_row("list query (100 rows)",
                      f"{timed(lambda: list_invoices(ctx, ListFilter(limit=100))):.0f}")
        for cmd in (["inbox", "--office", "Kämmerei"], ["list"]):
            wall = timed(lambda c=cmd: subprocess.run(
                [sys.executable, "-m", "einvoice.cli", *c], env=env, check=True,
                capture_output=True), repeat=5)
            table.add_row(f"`einvoice {' '.join(cmd)}` wall, incl. start-up", f"{wall:.0f}")
        Console().print(table)
        ctx.close()


if __name__ == "__main__":
    main()
