"""The official engine (official Schematron, compiled here, run with Saxon) against the native
XRechnung packs: compile time, and time per document over the XRechnung rule test instances.

    python bench/official_engine.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from einvoice.errors import ReadError
from einvoice.formats.detect import Kind, xml_kind
from einvoice.formats.reader import map_xml
from einvoice.formats.xmlsafe import parse_xml
from einvoice.validation import xrechnung
from einvoice.validation.document import Doc
from einvoice.validation.official import pack as official
from einvoice.validation.official.compiler import compile_schematron
from einvoice.validation.packs import RulePack
from einvoice.validation.schematron import saxon

XR_RULES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "xr-rules"


def load(path: Path) -> Doc:
    data = path.read_bytes()
    root = parse_xml(data).getroot()
    kind = xml_kind(root)
    try:
        syntax, invoice = map_xml(kind, root)
    except (ReadError, ValueError):
        syntax, invoice = ("cii" if kind is Kind.CII else "ubl"), None
    return Doc(data, root, kind, syntax, invoice)


def timed(make: Callable[[], RulePack]) -> tuple[RulePack, float]:
    start = time.perf_counter()
    built = make()
    return built, (time.perf_counter() - start) * 1000


def per_doc(pack: RulePack, docs: list[Doc], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        for doc in docs:
            start = time.perf_counter()
            pack.validate(doc)
            times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    saxon()  # the processor starts once per process; not part of any pack's compile time
    docs = {"ubl": [load(p) for p in sorted(XR_RULES.glob("ubl-*/*.xml"))],
            "cii": [load(p) for p in sorted(XR_RULES.glob("cii/*.xml"))]}
    table = Table(title=f"official vs native XRechnung packs ({args.rounds} rounds)")
    for column in ("pack", "docs", "sch→xslt ms", "compile ms", "median ms/doc",
                   "mean ms/doc", "p95 ms/doc"):
        table.add_column(column, justify="left" if column == "pack" else "right")
    for syntax, sch in (("ubl", official.UBL_SCH), ("cii", official.CII_SCH)):
        start = time.perf_counter()
        compile_schematron(sch)
        translate = (time.perf_counter() - start) * 1000
        makers: list[tuple[str, Callable[[], RulePack]]] = [
            (f"official {syntax}", official.ubl if syntax == "ubl" else official.cii),
            (f"native {syntax}", xrechnung.ubl if syntax == "ubl" else xrechnung.cii)]
        for label, make in makers:
            built, compile_ms = timed(make)
            times = sorted(per_doc(built, docs[syntax], args.rounds))
            table.add_row(label, str(len(docs[syntax])),
                          f"{translate:.0f}" if label.startswith("official") else "-",
                          f"{compile_ms:.0f}", f"{statistics.median(times):.2f}",
                          f"{statistics.fmean(times):.2f}",
                          f"{times[int(len(times) * 0.95)]:.2f}")
    Console(width=110).print(table)
    print("native packs include the Peppol BIS rules XRechnung takes over; the official sources "
          "do not (the official compiled XSLT merges them from another source).")


if __name__ == "__main__":
    main()
