"""Validation speed: start-up, ms per invoice (median, p95) for XRechnung UBL and CII, in one
process and with 2 worker processes (throughput), and a 7,000-line invoice with the time of
each step and rule pack.

    python bench/validate.py [--rounds 5] [--lines 7000]

The worker processes come from a ``forkserver`` context (never a fork of this process, which
has already started SaxonC) and are warmed by their initializer (every rule pack compiled)
before the clock starts.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from lxml import etree
from rich.console import Console
from rich.table import Table

from einvoice.config import load_settings
from einvoice.formats.detect import xml_kind
from einvoice.formats.reader import read_document
from einvoice.formats.xmlsafe import parse_xml
from einvoice.validation.document import Doc
from einvoice.validation.engine import Validator
from einvoice.validation.rulebook import rulebook_for
from einvoice.validation.scenarios import pick

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "valid"
LIMIT = 256 * 1024 * 1024


def files(suffix: str) -> list[bytes]:
    root = CORPUS / "xrechnung-testsuite"
    return [p.read_bytes() for p in sorted(root.rglob(f"*{suffix}.xml"))]


def validator_in_force() -> Validator:
    """The validator of the rule release in force today, built once per process."""
    book = rulebook_for(load_settings())
    return book.validator(book.release_for())


def time_one(data: bytes) -> float:
    validator = validator_in_force()
    start = time.perf_counter()
    validator.validate_bytes(data, "bench", LIMIT)
    return (time.perf_counter() - start) * 1000


def validate_one(data: bytes) -> None:
    validator_in_force().validate_bytes(data, "bench", LIMIT)


def warm(samples: list[bytes]) -> None:
    """Pool initializer: compile every rule pack the samples need before any timed work."""
    for data in samples:
        validate_one(data)


def worker_pid(pause: float) -> int:
    time.sleep(pause)
    return os.getpid()


def two_processes(samples: list[bytes], invoices: list[bytes]) -> float:
    """Wall seconds for ``invoices`` on 2 warmed worker processes."""
    context = multiprocessing.get_context("forkserver")
    with context.Pool(2, initializer=warm, initargs=(samples,)) as pool:
        # a worker takes tasks only after its initializer: once both answered, both are warm
        while len(set(pool.map(worker_pid, [0.05, 0.05], chunksize=1))) < 2:
            pass
        start = time.perf_counter()
        pool.map(validate_one, invoices, chunksize=4)
        return time.perf_counter() - start


def steps(data: bytes) -> list[tuple[str, float]]:
    """Seconds per step for one invoice: read, parse, then each pack of its scenario."""
    validator = validator_in_force()
    timings = []
    start = time.perf_counter()
    reading = read_document(data, LIMIT)
    timings.append(("read (reader, canonical model)", time.perf_counter() - start))
    assert reading.xml is not None
    start = time.perf_counter()
    root = parse_xml(reading.xml, LIMIT).getroot()
    timings.append(("parse (hardened)", time.perf_counter() - start))
    doc = Doc(reading.xml, root, xml_kind(root), reading.syntax or "", reading.invoice)
    scenario = pick(validator.scenarios, doc.kind.value, doc.specification_id)
    assert scenario is not None
    schema = scenario.schema_for(doc.kind.value)
    for name in ([schema] if schema else []) + list(scenario.packs):
        start = time.perf_counter()
        validator.registry.get(name).validate(doc)
        timings.append((f"pack {name}", time.perf_counter() - start))
    return timings


def big_invoice(lines: int) -> bytes:
    """A valid UBL XRechnung invoice with ``lines`` lines: the suite invoice's lines, then
    copies of its first one, with the VAT breakdown and the totals made to match."""
    tree = etree.parse(str(CORPUS / "xrechnung-testsuite/business-cases/standard/"
                                    "01.01a-INVOICE_ubl.xml"))
    root = tree.getroot()
    cac = "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}"
    cbc = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
    present = root.findall(f"{cac}InvoiceLine")
    first = present[0]
    last = present[-1]
    for i in range(len(present), lines):
        copy = etree.fromstring(etree.tostring(first))
        copy[0].text = str(i + 1)
        copy.tail = first.tail
        last.addnext(copy)
        last = copy
    net = sum((Decimal(line.findtext(f"{cbc}LineExtensionAmount") or "0")
               for line in root.iterfind(f"{cac}InvoiceLine")), Decimal(0))
    (subtotal,) = root.findall(f"{cac}TaxTotal/{cac}TaxSubtotal")  # the template has one rate
    rate = Decimal(subtotal.findtext(f"{cac}TaxCategory/{cbc}Percent") or "0")
    tax = (net * rate / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
    amounts = {f"{cac}TaxTotal/{cbc}TaxAmount": tax,
               f"{cac}TaxTotal/{cac}TaxSubtotal/{cbc}TaxableAmount": net,
               f"{cac}TaxTotal/{cac}TaxSubtotal/{cbc}TaxAmount": tax,
               f"{cac}LegalMonetaryTotal/{cbc}LineExtensionAmount": net,
               f"{cac}LegalMonetaryTotal/{cbc}TaxExclusiveAmount": net,
               f"{cac}LegalMonetaryTotal/{cbc}TaxInclusiveAmount": net + tax,
               f"{cac}LegalMonetaryTotal/{cbc}PayableAmount": net + tax}
    for path, amount in amounts.items():
        element = root.find(path)
        assert element is not None, path
        element.text = str(amount)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def row(table: Table, label: str, times: list[float]) -> None:
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    table.add_row(label, str(len(times)), f"{statistics.median(times):.1f}", f"{p95:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--lines", type=int, default=7000)
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
    ubl_times = [time_one(d) for d in ubl * args.rounds]
    cii_times = [time_one(d) for d in cii * args.rounds]
    row(table, "UBL XRechnung, 1 process", ubl_times)
    row(table, "CII XRechnung, 1 process", cii_times)
    both = (ubl + cii) * args.rounds
    one = sum(ubl_times + cii_times) / 1000
    table.add_row("UBL+CII, 1 process (time / invoice)", str(len(both)),
                  f"{one * 1000 / len(both):.1f}", "")
    wall = two_processes(ubl[:1] + cii[:1], both)
    table.add_row("UBL+CII, 2 processes (wall / invoice)", str(len(both)),
                  f"{wall * 1000 / len(both):.1f}", "")
    big = big_invoice(args.lines)
    table.add_row(f"{args.lines:,}-line UBL invoice", "1", f"{time_one(big):.0f}", "")
    console = Console()
    console.print(table)
    console.print(f"throughput: 1 process {len(both) / one:.0f} invoices/s, "
                  f"2 processes {len(both) / wall:.0f} invoices/s ({os.cpu_count()} CPUs)")
    detail = Table(title=f"{args.lines:,}-line UBL invoice, by step")
    detail.add_column("step")
    detail.add_column("s", justify="right")
    for name, seconds in steps(big):
        detail.add_row(name, f"{seconds:.2f}")
    console.print(detail)
    console.print(f"start-up (first UBL invoice incl. compiling its rules): {ubl_startup:.2f} s; "
                  f"first CII invoice afterwards: {cii_startup:.2f} s")


if __name__ == "__main__":
    main()
