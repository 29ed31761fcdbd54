"""Drop-folder ingest throughput: N invoices made from corpus files (unique numbers).

    python bench/ingest.py [--count 10000] [--database-url URL]

Prints invoices per second and peak memory (RSS) as a table.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import tempfile
import time
from pathlib import Path

from lxml import etree
from rich.console import Console
from rich.table import Table

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        inbox = base / "inbox"
        inbox.mkdir()
        make_folder(inbox, args.count)
        settings = load_settings(data_dir=base / "data", inbox_dir=inbox, settle_seconds=0,
                                 database_url=args.database_url)
        ctx = open_context(settings)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        results = list(scan(ctx, settings.folders[0], settings.workers))
        elapsed = time.perf_counter() - start
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        ok = sum(r.ok for r in results)
        table = Table(title=f"ingest from drop folder ({ctx.engine.dialect.name}, "
                            f"{settings.workers} reader processes)")
        for col in ("invoices", "ok", "seconds", "invoices/s", "peak RSS MiB",
                    "RSS growth MiB"):
            table.add_column(col, justify="right")
        table.add_row(str(len(results)), str(ok), f"{elapsed:.1f}",
                      f"{len(results) / elapsed:.0f}", f"{rss_peak / 1024:.0f}",
                      f"{(rss_peak - rss_before) / 1024:.0f}")
        Console().print(table)
        ctx.close()


if __name__ == "__main__":
    main()
