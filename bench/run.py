"""Issue 15's measurements in one run: one table (and JSON) with einvoice beside the official
route, in SaxonC and on a warm JVM, measured side by side, each row with its target.

    python3 bench/run.py [--quick] [--json out.json] [--only warm,large,startup,list,ingest]

Sections (bench/README.md says what each measures and how): warm validation per invoice over
the XRechnung test suite (``warm``), large UBL invoices (``large``), CLI start-up
(``startup``), ``list --json`` over many invoices (``list``), ingest throughput (``ingest``).
``--quick`` (under 3 minutes) uses fewer rounds and smaller counts than the full run.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, replace
from typing import Any

from rich.console import Console

from bench import large, startup, throughput, warm
from bench.measure import Row, report, table
from bench.procs import ROOT
from bench.routes import (
    Jvm,
    NativeRoute,
    OfficialRoute,
    SaxoncheRoute,
    compile_driver,
    jvm_missing,
    kind_of,
    official_routes,
)
from einvoice.config import load_settings

SECTIONS = ("warm", "large", "startup", "list", "ingest")


@dataclass(frozen=True)
class Mode:
    rounds: int  # timed rounds over the suite
    warmup: int  # untimed rounds over the suite, all routes
    jit_rounds: int  # extra rounds per file for the JVM alone, before anything is timed
    sizes: tuple[int, ...]  # lines of the large invoices
    large_repeats: int
    startup_repeats: int
    list_count: int
    ingest_count: int


MODES = {"quick": Mode(2, 1, 2, (7000,), 1, 2, 5_000, 100),
         "full": Mode(5, 2, 10, (1000, 7000, 20000), 2, 5, 100_000, 1_000)}


def git_commit() -> str:
    """The commit measured, ``+dirty`` when tracked files differ from it."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                          capture_output=True).stdout.strip() or "unknown"
    changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                             cwd=ROOT, text=True, capture_output=True).stdout.strip()
    return f"{head}+dirty" if changed else head


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds, smaller counts")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--only", default=",".join(SECTIONS), help="sections, comma-separated")
    ap.add_argument("--list-count", type=int, help="invoices for list --json")
    ap.add_argument("--ingest-count", type=int, help="invoices per ingest run")
    args = ap.parse_args()
    mode = MODES["quick" if args.quick else "full"]
    if args.list_count is not None:
        mode = replace(mode, list_count=args.list_count)
    if args.ingest_count is not None:
        mode = replace(mode, ingest_count=args.ingest_count)
    only = [s for s in args.only.split(",") if s]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections: {', '.join(sorted(unknown))}")
    console = Console(stderr=True)
    meta: dict[str, Any] = {
        "mode": "quick" if args.quick else "full", "settings": asdict(mode),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": git_commit(), "cpus": os.cpu_count(), "load_before": os.getloadavg(),
        "python": platform.python_version(), "seconds": {}}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="einvoice-bench-") as tmp:
        folder = Path(tmp)
        native = NativeRoute(load_settings(data_dir=folder / "data"))
        routes = official_routes(native.release, folder)
        meta["release"] = native.release.id
        meta["jvm_missing"] = jvm_missing()
        classes = None
        if meta["jvm_missing"] is None:
            (folder / "classes").mkdir()
            classes = compile_driver(folder / "classes")
        for section in only:
            console.log(f"section {section} …")
            start = time.perf_counter()
            try:
                rows += measure_section(section, native, routes, classes, mode, folder, meta)
            except Exception as exc:  # one broken section must not cost the others' numbers
                meta.setdefault("errors", {})[section] = traceback.format_exc()
                console.log(f"section {section} failed: {exc!r}")
                rows.append(Row(section, "not measured", "", note=f"failed: {exc!r}"[:120]))
            meta["seconds"][section] = round(time.perf_counter() - start, 1)
    meta["load_after"] = os.getloadavg()
    title = (f"einvoice {meta['commit']} vs the official route ({meta['mode']} run, release "
             f"{meta['release']}, {meta['cpus']} CPUs, load {meta['load_before'][0]:.1f} → "
             f"{meta['load_after'][0]:.1f})")
    Console(width=200).print(table(rows, title))
    if "agreement" in meta:
        agreed = meta["agreement"]
        Console().print(f"agreement: einvoice's verdicts {agreed['einvoice_verdicts']} on "
                        f"{agreed['files']} suite files; SaxonC and the JVM report the same "
                        f"number of findings on {agreed['saxonche_jvm_same_findings']}")
    if meta["jvm_missing"]:
        Console().print(f"JVM route not measured: {meta['jvm_missing']}")
    for section, error in meta.get("errors", {}).items():
        Console(stderr=True).print(f"section {section} failed:\n{error}")
    if meta.get("errors"):
        sys.exit(1)
    if args.json:
        args.json.write_text(json.dumps(report(rows, meta), indent=2) + "\n", encoding="utf-8")


def measure_section(section: str, native: NativeRoute, routes: dict[str, OfficialRoute],
                    classes: Path | None, mode: Mode, folder: Path,
                    meta: dict[str, Any]) -> list[Row]:
    if section == "warm":
        return warm_section(native, routes, classes, mode, meta)
    if section == "large":
        return large.rows(large.measure(list(mode.sizes), mode.large_repeats, folder, classes,
                                        routes))
    if section == "startup":
        return startup.startup_rows(startup.measure_startup(
            mode.startup_repeats, folder / "data", classes, routes))
    if section == "list":
        child, printed = startup.measure_list(mode.list_count, folder / "list")
        return startup.list_rows(child, printed, mode.list_count)
    runs = throughput.measure(mode.ingest_count)
    meta["ingest"] = runs
    return throughput.rows(runs, mode.ingest_count)


def warm_section(native: NativeRoute, routes: dict[str, OfficialRoute], classes: Path | None,
                 mode: Mode, meta: dict[str, Any]) -> list[Row]:
    files = warm.suite_files()
    saxonche = SaxoncheRoute(routes)
    jvm = Jvm(classes, routes) if classes is not None else None
    try:
        if jvm is not None:
            meta["jvm"] = jvm.ready
            for path in files:  # let the JIT compile the hot code before any clock runs
                jvm.measure(kind_of(path.read_bytes()), path, mode.jit_rounds)
        samples = warm.measure(files, native, saxonche, jvm, mode.rounds, mode.warmup)
        if jvm is not None:
            meta["jvm"]["peak_rss_mb"] = jvm.peak_rss_mb()
    finally:
        if jvm is not None:
            jvm.close()
    meta["agreement"] = warm.agreement(samples)
    return warm.rows(samples)


if __name__ == "__main__":
    main()
