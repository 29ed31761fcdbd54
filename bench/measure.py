"""The bench's numbers and verdicts: summaries of samples, rows with an issue target, the table.

Pure functions only (no einvoice imports, no processes), so the test can pin them on tiny input.
A row holds one measure for up to three routes — ``einvoice`` (the product, default engine),
``saxonche`` (the official stylesheets in SaxonC) and ``jvm`` (the official route on a warm JVM)
— and the issue's target for it, checked against the einvoice value or, where the target is a
speed-up, against JVM ÷ einvoice.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any, Literal

from rich.table import Table

ROUTES = ("einvoice", "saxonche", "jvm")


@dataclass(frozen=True)
class Stats:
    n: int
    median: float
    p95: float
    mean: float


def summary(samples: list[float]) -> Stats:
    """Median, p95 (nearest rank) and mean; a summary of nothing is an error, not zeros."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(0.95 * len(ordered)))
    return Stats(len(ordered), statistics.median(ordered), ordered[rank - 1],
                 statistics.fmean(ordered))


def steady_rate(stamps: list[float], skip_share: float = 0.1) -> float:
    """Items per second from the completion times of items (seconds, ascending, one per item),
    leaving out the first ``skip_share`` of them (compiling the rules, starting workers)."""
    if len(stamps) < 2:
        raise ValueError("need at least two completion times")
    first = min(int(len(stamps) * skip_share), len(stamps) - 2)
    elapsed = stamps[-1] - stamps[first]
    if elapsed <= 0:
        raise ValueError("completion times do not advance")
    return (len(stamps) - 1 - first) / elapsed


@dataclass(frozen=True)
class Target:
    """The issue's bound for a row: ``op`` is ``<=`` or ``>=``."""

    op: Literal["<=", ">="]
    bound: float
    unit: str
    of: Literal["einvoice", "speedup"] = "einvoice"  # what the bound applies to

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value <= self.bound if self.op == "<=" else value >= self.bound

    def text(self) -> str:
        subject = "JVM ÷ einvoice " if self.of == "speedup" else ""
        return f"{subject}{'≤' if self.op == '<=' else '≥'} {self.bound:g}{self.unit}"


@dataclass(frozen=True)
class Row:
    section: str
    measure: str
    unit: str  # of the route columns: " ms", " s", " MB", "/s", "×"
    einvoice: float | None = None
    saxonche: float | None = None
    jvm: float | None = None
    target: Target | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """einvoice ÷ JVM (below 1: einvoice is faster or smaller)."""
        if self.einvoice is None or not self.jvm:
            return None
        return self.einvoice / self.jvm

    @property
    def speedup(self) -> float | None:
        """JVM ÷ einvoice (above 1: einvoice is faster)."""
        if not self.einvoice or self.jvm is None:
            return None
        return self.jvm / self.einvoice

    @property
    def checked(self) -> float | None:
        """The value the target applies to."""
        if self.target is None:
            return None
        return self.speedup if self.target.of == "speedup" else self.einvoice

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.target.met(self.checked)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["target"] = None if self.target is None else {**asdict(self.target),
                                                           "text": self.target.text()}
        data.update(ratio_einvoice_jvm=self.ratio, speedup_jvm_einvoice=self.speedup,
                    met=self.met)
        return data


def number(value: float) -> str:
    """Three significant digits at most, no exponent, thousands separated."""
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{digits}f}"


def cell(value: float | None, unit: str) -> str:
    return "–" if value is None else f"{number(value)}{unit}"


def verdict(met: bool | None) -> str:
    return {True: "[green]yes[/]", False: "[red]no[/]", None: "–"}[met]


def table(rows: list[Row], title: str) -> Table:
    """One rich table: every measure, its routes, einvoice ÷ JVM, the target and whether met."""
    grid = Table(title=title, title_justify="left")
    for name, justify in (("section", "left"), ("measure", "left"), ("einvoice", "right"),
                          ("saxonche", "right"), ("JVM", "right"), ("einvoice ÷ JVM", "right"),
                          ("target", "left"), ("met", "center"), ("note", "left")):
        grid.add_column(name, justify=justify)  # type: ignore[arg-type]
    last = None
    for row in rows:
        grid.add_row(row.section if row.section != last else "", row.measure,
                     cell(row.einvoice, row.unit), cell(row.saxonche, row.unit),
                     cell(row.jvm, row.unit), cell(row.ratio, "×"),
                     row.target.text() if row.target else "", verdict(row.met), row.note)
        last = row.section
    return grid


def report(rows: list[Row], meta: dict[str, Any]) -> dict[str, Any]:
    """The JSON document: how it was measured, then every row with its verdict."""
    return {"meta": meta, "rows": [row.as_json() for row in rows],
            "targets": {"met": sum(row.met is True for row in rows),
                        "missed": sum(row.met is False for row in rows)}}
