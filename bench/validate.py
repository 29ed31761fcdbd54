"""Validation speed: start-up, ms per invoice (median, p95) for XRechnung UBL and CII, in one
process and with 2 worker processes, and a 7,000-line invoice.

    python bench/validate.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from lxml import etree
from rich.console import Console
from rich.table import Table

from einvoice.config import load_settings
from einvoice.validation.engine import validator_for

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "valid"
LIMIT = 256 * 1024 * 1024


def files(suffix: str) -> list[bytes]:
    root = CORPUS / "xrechnung-testsuite"
    return [p.read_bytes() for p in sorted(root.rglob(f"*{suffix}.xml"))]


def time_one(data: bytes) -> float:
    validator = validator_for(load_settings())
    start = time.perf_counter()
    validator.validate_bytes(data, "bench", LIMIT)
    return (time.perf_counter() - start) * 1000


def big_invoice(lines: int) -> bytes:
    """A UBL XRechnung invoice with ``lines`` copies of its first line (totals not adjusted:
    the point is the cost of the rules, not the verdict)."""
    tree = etree.parse(str(CORPUS / "xrechnung-testsuite/business-cases/standard/"
                                    "01.01a-INVOICE_ubl.xml"))
    root = tree.getroot()
    ns = "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}"
    first = root.find(f"{ns}InvoiceLine")
    assert first is not None
    for i in range(lines - 1):
        copy = etree.fromstring(etree.tostring(first))
        copy[0].text = str(i + 2)
        root.append(copy)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def row(table: Table, label: str, times: list[float]) -> None:
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    table.add_row(label, str(len(times)), f"{statistics.median(times):.1f}", f"{p95:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    ubl, cii = files("_ubl"), files("_uncefact")
    start = time.perf_counter()
    time_one(ubl[0])
    ubl_startup = time.perf_counter() - start
    start = time.perf_counter()
    time_one(cii[0])
    cii_startup = time.perf_counter() - start
    table = Table(title="validation, ms per invoice (warm)")
    for col in ("set", "n", "median ms", "p95 ms"):
        table.add_column(col, justify="right")
    row(table, "UBL XRechnung, 1 process", [time_one(d) for d in ubl * args.rounds])
    row(table, "CII XRechnung, 1 process", [time_one(d) for d in cii * args.rounds])
    both = (ubl + cii) * args.rounds
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(time_one, ubl[:2] + cii[:2]))  # warm both workers
        start = time.perf_counter()
        list(pool.map(time_one, both))
        wall = time.perf_counter() - start
    table.add_row("UBL+CII, 2 processes (wall / invoice)", str(len(both)),
                  f"{wall * 1000 / len(both):.1f}", "")
    big = big_invoice(7000)
    table.add_row("7,000-line UBL invoice", "1", f"{time_one(big):.0f}", "")
    console = Console()
    console.print(table)
    console.print(f"start-up (first UBL invoice incl. compiling its rules): {ubl_startup:.2f} s; "
                  f"first CII invoice afterwards: {cii_startup:.2f} s")


if __name__ == "__main__":
    main()
