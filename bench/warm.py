"""Warm validation per invoice over the official XRechnung test suite (UBL and CII), the three
routes interleaved per file: every file is validated by each route in turn (the order rotating
from file to file and round to round), so a burst of load elsewhere on the machine hits all
routes alike.

Wall time: median and p95 per invoice. CPU time: the mean per invoice (total over all
samples ÷ samples), because the JVM reports its process CPU in 10 ms ticks, which only a sum
makes exact; Python's ``time.process_time`` is exact per sample. Both are process CPU: all
threads, garbage collection and (JVM) JIT compilation included.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.measure import ROUTES, Row, Target, summary
from bench.routes import CORPUS, Jvm, NativeRoute, SaxoncheRoute, kind_of

SUITE = CORPUS / "valid" / "xrechnung-testsuite"
FASTER = Target(">=", 3.0, "×", of="speedup")


def suite_files() -> list[Path]:
    return sorted(SUITE.rglob("*.xml"))


@dataclass
class Samples:
    """ms per sample, by syntax (``ubl``/``cii``) and route."""

    wall: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    cpu: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    outcomes: dict[str, dict[str, Any]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, syntax: str, route: str, wall: float, cpu: float) -> None:
        self.wall[syntax][route].append(wall)
        self.cpu[syntax][route].append(cpu)


def rotated(step: int, routes: tuple[str, ...] = ROUTES) -> tuple[str, ...]:
    shift = step % len(routes)
    return routes[shift:] + routes[:shift]


def measure(files: list[Path], native: NativeRoute, saxonche: SaxoncheRoute, jvm: Jvm | None,
            rounds: int, warmup: int) -> Samples:
    """``warmup`` untimed rounds, then ``rounds`` timed ones, all routes per file in turn."""
    docs = [(path, path.read_bytes(), kind_of(path.read_bytes())) for path in files]
    routes = ROUTES if jvm is not None else ROUTES[:2]
    samples = Samples()
    for lap in range(warmup + rounds):
        for index, (path, data, kind) in enumerate(docs):
            syntax = "cii" if kind == "cii" else "ubl"
            for route in rotated(lap + index, routes):
                if route == "jvm":
                    assert jvm is not None
                    answer = jvm.measure(kind, path)
                    wall, cpu = answer["wall_ms"][0], answer["cpu_ms"][0]
                    outcome: Any = answer["findings"]
                else:
                    run = native.validate if route == "einvoice" else saxonche.validate
                    w0, c0 = time.perf_counter(), time.process_time()
                    result = run(data)
                    wall = (time.perf_counter() - w0) * 1000
                    cpu = (time.process_time() - c0) * 1000
                    outcome = result[0] if route == "einvoice" else result[1]
                samples.outcomes[route][path.name] = outcome
                if lap >= warmup:
                    samples.add(syntax, route, wall, cpu)
    return samples


def _row(measure: str, per_route: dict[str, list[float]], stat: str,
         target: Target | None = None) -> Row:
    """A row of the ``stat`` of each route's samples (a route without samples: none)."""
    einvoice, saxonche, jvm = (
        float(getattr(summary(per_route[route]), stat)) if per_route.get(route) else None
        for route in ROUTES)
    return Row("warm validation", measure, " ms", einvoice, saxonche, jvm, target=target)


def rows(samples: Samples) -> list[Row]:
    """Per syntax and for all files: wall median (target), wall p95, CPU mean (target)."""
    out = []
    syntaxes = [(s, samples.wall[s], samples.cpu[s]) for s in ("ubl", "cii") if s in samples.wall]
    merged_wall: dict[str, list[float]] = defaultdict(list)
    merged_cpu: dict[str, list[float]] = defaultdict(list)
    for _, wall, cpu in syntaxes:
        for route, values in wall.items():
            merged_wall[route] += values
        for route, values in cpu.items():
            merged_cpu[route] += values
    for label, wall, cpu in [*((s.upper(), w, c) for s, w, c in syntaxes),
                             ("UBL+CII", merged_wall, merged_cpu)]:
        n = len(wall["einvoice"])
        out.append(_row(f"{label}: wall median ({n} samples)", wall, "median", FASTER))
        if label != "UBL+CII":
            out.append(_row(f"{label}: wall p95", wall, "p95"))
        out.append(_row(f"{label}: CPU mean", cpu, "mean", FASTER))
    return out


def agreement(samples: Samples) -> dict[str, Any]:
    """Sanity of the routes: einvoice's verdicts, and whether SaxonC and the JVM (same
    stylesheets) report the same number of findings per file."""
    native = samples.outcomes.get("einvoice", {})
    saxon, jvm = samples.outcomes.get("saxonche", {}), samples.outcomes.get("jvm", {})
    return {"einvoice_verdicts": {v: sum(1 for x in native.values() if x == v)
                                  for v in sorted(set(native.values()))},
            "saxonche_jvm_same_findings": sum(1 for f, n in jvm.items() if saxon.get(f) == n),
            "saxonche_jvm_differ": sorted(f for f, n in jvm.items() if saxon.get(f) != n),
            "files": len(native)}
