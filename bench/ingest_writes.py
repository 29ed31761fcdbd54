"""The write side of ingest alone: N invoices read and validated beforehand, then written in
batches as the drop folder writes them (archive, quota, one transaction per batch).

    python3 -m bench.ingest_writes [--count 600] [--database-url URL] [--json]

Prints milliseconds per invoice for reading and validating, and for writing (wall and CPU of
this process; PostgreSQL's own CPU is not in it): what is left of ingest when validation is free.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.ingest import make_folder
from einvoice.config import load_settings
from einvoice.context import open_context
from einvoice.intake.folder import BATCH_SIZE
from einvoice.pipeline import Submission, examine
from einvoice.pipeline.batch import ingest_batch


def measure(count: int, database_url: str | None) -> dict[str, float | str]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        inbox = base / "inbox"
        inbox.mkdir()
        make_folder(inbox, count)
        settings = load_settings(data_dir=base / "data", inbox_dir=inbox,
                                 database_url=database_url)
        ctx = open_context(settings)
        subs = [Submission(p.read_bytes(), "folder", filename=p.name)
                for p in sorted(inbox.iterdir())]
        examine(subs[0].data, settings)  # rule packs compiled before the clock starts
        start = time.perf_counter()
        items = [(sub, examine(sub.data, settings, sub.filename)) for sub in subs]
        validated = time.perf_counter() - start
        wall, cpu = time.perf_counter(), time.process_time()
        for at in range(0, len(items), BATCH_SIZE):
            ingest_batch(ctx, items[at:at + BATCH_SIZE])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        dialect = ctx.engine.dialect.name
        ctx.close()
    return {"dialect": dialect, "invoices": count,
            "validate_ms": 1000 * validated / count, "write_ms": 1000 * wall / count,
            "write_cpu_ms": 1000 * cpu / count}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=600)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--json", action="store_true", help="one JSON line")
    args = ap.parse_args()
    got = measure(args.count, args.database_url)
    if args.json:
        print(json.dumps(got))
        return
    print(f"{got['invoices']} invoices on {got['dialect']}: read and validate "
          f"{got['validate_ms']:.1f} ms, write {got['write_ms']:.1f} ms "
          f"(CPU {got['write_cpu_ms']:.1f} ms) per invoice")


if __name__ == "__main__":
    main()
