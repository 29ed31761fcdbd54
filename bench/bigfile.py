"""Child of the bench: one large invoice validated and ingested in a fresh process.

    python3 -m bench.bigfile FILE

The process first ingests one small invoice of the suite (rules compiled, database made), then
ingests FILE into a fresh SQLite store under a temporary data folder and prints one JSON line:
seconds and CPU seconds of that ingest, the peak RSS before it, and the outcome. The caller
takes the child's peak RSS from ``wait4``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.procs import peak_rss_mb
from bench.warm import SUITE
from einvoice.config import load_settings
from einvoice.context import open_context
from einvoice.pipeline.ingest import Submission, ingest

# another invoice than the one the large ones are made of (same number: a duplicate)
WARM_UP = SUITE / "business-cases" / "standard" / "01.02a-INVOICE_ubl.xml"


def main() -> None:
    data = Path(sys.argv[1]).read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        ctx = open_context(load_settings(data_dir=Path(tmp)))
        ingest(ctx, Submission(WARM_UP.read_bytes(), "bench", filename=WARM_UP.name))
        before = peak_rss_mb(os.getpid())
        w0, c0 = time.perf_counter(), time.process_time()
        result = ingest(ctx, Submission(data, "bench", filename=Path(sys.argv[1]).name))
        seconds, cpu = time.perf_counter() - w0, time.process_time() - c0
        ctx.close()
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rss_before_mb": before,
                      "statuses": [o.status for o in result.outcomes]}))


if __name__ == "__main__":
    main()
