"""Large UBL invoices (``bench/validate.py``'s generator: the first line of a suite invoice
repeated): time and peak RSS per size, each measurement in a fresh process.

- einvoice: ``bench/bigfile.py`` ingests the file (read, validate, store in SQLite) after one
  small warm-up invoice; time of that ingest, peak RSS of the whole child.
- JVM: a fresh JVM, warmed on suite invoices, validates the file once; its peak RSS (VmHWM).

The two alternate per size and repeat, so both see the same machine.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from bench.measure import Row, Target
from bench.procs import bench_module, run
from bench.routes import Jvm, OfficialRoute, kind_of
from bench.validate import big_invoice
from bench.warm import suite_files

TARGETS = {7000: (Target("<=", 1.0, " s"), Target("<=", 250, " MB")),
           20000: (Target("<=", 3.0, " s"), Target("<=", 400, " MB"))}
JVM_WARM_UP_FILES = 12
JVM_WARM_UP_ROUNDS = 5


@dataclass
class Sized:
    lines: int
    einvoice_s: list[float]
    einvoice_mb: list[float]
    jvm_s: list[float]
    jvm_mb: list[float]
    statuses: list[str]


def einvoice_once(path: Path) -> tuple[float, float, list[str]]:
    child = run([*bench_module("bigfile"), str(path)])
    if child.status != 0:
        raise RuntimeError(f"bench.bigfile exited with {child.status}: {child.err.decode()}")
    answer = json.loads(child.out)
    return answer["seconds"], child.rss_mb, answer["statuses"]


def jvm_once(classes: Path, routes: dict[str, OfficialRoute], path: Path) -> tuple[float, float]:
    jvm = Jvm(classes, routes)
    try:
        for warm in suite_files()[:JVM_WARM_UP_FILES]:
            jvm.measure(kind_of(warm.read_bytes()), warm, JVM_WARM_UP_ROUNDS)
        answer = jvm.measure("ubl-invoice", path)
        return answer["wall_ms"][0] / 1000, jvm.peak_rss_mb()
    finally:
        jvm.close()


def measure(sizes: list[int], repeats: int, folder: Path, classes: Path | None,
            routes: dict[str, OfficialRoute]) -> list[Sized]:
    out = []
    for lines in sizes:
        path = folder / f"invoice-{lines}-lines.xml"
        path.write_bytes(big_invoice(lines))
        sized = Sized(lines, [], [], [], [], [])
        for repeat in range(repeats):
            steps = ["einvoice", "jvm"] if repeat % 2 == 0 else ["jvm", "einvoice"]
            for step in steps:
                if step == "einvoice":
                    seconds, mb, statuses = einvoice_once(path)
                    sized.einvoice_s.append(seconds)
                    sized.einvoice_mb.append(mb)
                    sized.statuses = statuses
                elif classes is not None:
                    seconds, mb = jvm_once(classes, routes, path)
                    sized.jvm_s.append(seconds)
                    sized.jvm_mb.append(mb)
        path.unlink()
        out.append(sized)
    return out


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def rows(results: list[Sized]) -> list[Row]:
    out = []
    for sized in results:
        time_target, rss_target = TARGETS.get(sized.lines, (None, None))
        label = f"{sized.lines:,} lines"
        note = f"einvoice: validate+ingest ({', '.join(sized.statuses)}); JVM: validate"
        out.append(Row("large UBL invoice", f"{label}: time", " s", _median(sized.einvoice_s),
                       jvm=_median(sized.jvm_s), target=time_target, note=note))
        out.append(Row("large UBL invoice", f"{label}: peak RSS", " MB",
                       _median(sized.einvoice_mb), jvm=_median(sized.jvm_mb),
                       target=rss_target))
    return out
