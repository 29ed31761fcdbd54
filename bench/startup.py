"""What a user waits for at the command line, end to end, each run a fresh process measured by
``wait4``: start-up (``--help``, ``--version``, ``validate ONE.xml``, beside the official route
started cold: a JVM compiling its stylesheets and validating the same file), and
``einvoice list --json`` over a database of N invoices (``bench/inbox.py`` fills it with SQL,
not by ingest): time to the first complete row on standard output, total time, peak RSS.
"""

from __future__ import annotations

import json
import os
import statistics
from collections import defaultdict
from pathlib import Path

from bench.inbox import fill
from bench.measure import Row, Target
from bench.procs import Child, einvoice_command, run
from bench.routes import OfficialRoute, jvm_once
from bench.warm import SUITE
from einvoice.config import load_settings
from einvoice.context import open_context

ONE = SUITE / "business-cases" / "standard" / "01.01a-INVOICE_ubl.xml"
COMMANDS = {"--help": ["--help"], "--version": ["--version"], "validate ONE.xml":
            ["validate", str(ONE)]}
TARGETS = {"--help": (Target("<=", 0.3, " s"), None),
           "validate ONE.xml": (Target("<=", 0.5, " s"), Target("<=", 150, " MB"))}


def environment(data_dir: Path) -> dict[str, str]:
    """The caller's environment with a data folder of the bench's own."""
    return {**os.environ, "EINVOICE_DATA_DIR": str(data_dir)}


def measure_startup(repeats: int, data_dir: Path, classes: Path | None,
                    routes: dict[str, OfficialRoute]) -> dict[str, list[Child]]:
    """``repeats`` runs of each command, interleaved; ``jvm`` the cold official route."""
    env = environment(data_dir)
    runs: dict[str, list[Child]] = defaultdict(list)
    for _ in range(repeats):
        for name, args in COMMANDS.items():
            runs[name].append(run(einvoice_command() + args, env))
        if classes is not None:
            wall, mb, _ = jvm_once(classes, routes, "ubl-invoice", ONE)
            runs["jvm"].append(Child(wall, 0.0, mb, 0, b""))
    return runs


def startup_rows(runs: dict[str, list[Child]]) -> list[Row]:
    out = []
    jvm = runs.get("jvm", [])
    for name in COMMANDS:
        children = runs[name]
        wall_target, rss_target = TARGETS.get(name, (None, None))
        official = name == "validate ONE.xml" and jvm
        statuses = sorted({c.status for c in children})
        note = f"exit {', '.join(map(str, statuses))}; {len(children)} runs"
        if official:
            note += "; JVM: cold start, compile, validate"
        out.append(Row("start-up", f"einvoice {name}: wall", " s",
                       statistics.median(c.wall for c in children),
                       jvm=statistics.median(c.wall for c in jvm) if official else None,
                       target=wall_target, note=note))
        out.append(Row("start-up", f"einvoice {name}: peak RSS", " MB",
                       statistics.median(c.rss_mb for c in children),
                       jvm=statistics.median(c.rss_mb for c in jvm) if official else None,
                       target=rss_target))
    return out


def measure_list(count: int, data_dir: Path) -> tuple[Child, int]:
    """``einvoice list --json`` over ``count`` invoices; the child and the rows it printed.
    ``einvoice init`` makes the store and the account running the bench its first admin
    (reading needs a role)."""
    env = environment(data_dir)
    made = run([*einvoice_command(), "init"], env)
    if made.status != 0:
        raise RuntimeError(f"einvoice init failed: {made.err.decode()}")
    ctx = open_context(load_settings(data_dir=data_dir))
    try:
        fill(ctx.engine, count)
    finally:
        ctx.close()
    child = run([*einvoice_command(), "list", "--json"], env, first_row=True)
    rows = len(json.loads(child.out)) if child.status == 0 else 0
    return child, rows


def list_rows(child: Child, printed: int, count: int) -> list[Row]:
    section = "list --json"
    label = f"{count:,} invoices"
    note = f"exit {child.status}, {printed:,} rows printed"
    return [Row(section, f"{label}: first row", " s", child.first_row,
                target=Target("<=", 0.3, " s"), note=note),
            Row(section, f"{label}: total", " s", child.wall, target=Target("<=", 3.0, " s")),
            Row(section, f"{label}: peak RSS", " MB", child.rss_mb,
                target=Target("<=", 120, " MB"))]
