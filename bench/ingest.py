"""Drop-folder ingest throughput: N invoices made from corpus files (unique numbers).

    python3 bench/ingest.py [--count 10000] [--database-url URL] [--workers N] [--json]

Prints invoices per second (whole run, and steady: without the first tenth) and peak memory
(RSS) of the ingesting process as a table, or as one JSON line (``bench/run.py`` reads it).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import itertools
import json
import resource
import tempfile
import time
from typing import Any

from lxml import etree
from rich.console import Console
from rich.table import Table

from bench.measure import steady_rate
from einvoice.config import load_settings
from einvoice.context import open_context
from einvoice.intake.folder import scan

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "valid"
NUMBER_PATHS = {
    "Invoice": "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}ID",
    "CreditNote": "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}ID",
    "CrossIndustryInvoice": "{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}"
                            "ExchangedDocument/{urn:un:unece:uncefact:data:standard:"
                            "ReusableAggregateBusinessInformationEntity:100}ID",
}


def templates() -> list[etree._ElementTree]:
    trees = []
    for path in sorted((CORPUS / "xrechnung-testsuite").rglob("*.xml")):
        tree = etree.parse(str(path))
        if etree.QName(tree.getroot()).localname in NUMBER_PATHS:
            trees.append(tree)
    return trees


def make_folder(folder: Path, count: int) -> None:
    for i, tree in zip(range(count), itertools.cycle(templates()), strict=False):
        root = tree.getroot()
        number = root.find(NUMBER_PATHS[etree.QName(root).localname])
        assert number is not None
        number.text = f"BENCH-{i:06d}"
        (folder / f"inv-{i:06d}.xml").write_bytes(etree.tostring(tree, xml_declaration=True,
                                                                  encoding="UTF-8"))


def measure(count: int, database_url: str | None, workers: int | None) -> dict[str, Any]:
    """Ingest ``count`` invoices from a fresh drop folder into a fresh store (SQLite in a temp
    folder, or ``database_url``), with ``workers`` reader processes (default: the setting).

    ``steady_per_s`` leaves out the first tenth of the invoices (rules compiled, workers
    started), from when each result was reported; ``per_s`` is the whole run."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        inbox = base / "inbox"
        inbox.mkdir()
        make_folder(inbox, count)
        overrides: dict[str, Any] = {} if workers is None else {"workers": workers}
        settings = load_settings(data_dir=base / "data", inbox_dir=inbox, settle_seconds=0,
                                 database_url=database_url, **overrides)
        ctx = open_context(settings)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        stamps, ok = [], 0
        for result in scan(ctx, settings.folders[0], settings.workers):
            stamps.append(time.perf_counter() - start)
            ok += result.ok
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        measured = {"invoices": len(stamps), "ok": ok, "seconds": stamps[-1],
                    "per_s": len(stamps) / stamps[-1], "steady_per_s": steady_rate(stamps),
                    "workers": settings.workers, "dialect": ctx.engine.dialect.name,
                    "peak_rss_mib": rss_peak / 1024,
                    "rss_growth_mib": (rss_peak - rss_before) / 1024}
        ctx.close()
        return measured


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--workers", type=int, default=None, help="default: the setting")
    ap.add_argument("--json", action="store_true", help="one JSON line instead of the table")
    args = ap.parse_args()
    got = measure(args.count, args.database_url, args.workers)
    if args.json:
        print(json.dumps(got))
        return
    table = Table(title=f"ingest from drop folder ({got['dialect']}, "
                        f"{got['workers']} reader processes)")
    for col in ("invoices", "ok", "seconds", "invoices/s", "steady invoices/s", "peak RSS MiB",
                "RSS growth MiB"):
        table.add_column(col, justify="right")
    table.add_row(str(got["invoices"]), str(got["ok"]), f"{got['seconds']:.1f}",
                  f"{got['per_s']:.0f}", f"{got['steady_per_s']:.0f}",
                  f"{got['peak_rss_mib']:.0f}", f"{got['rss_growth_mib']:.0f}")
    Console().print(table)

if __name__ == "__main__":
    main()
