"""Native against official CEN UBL rules on large generated invoices, in one process.

    python -m bench.native [LINES ...]      (default: 1000 7000 20000)

Per size: seconds of the native pack and of the official compiled XSLT (saxonche) on the same
parsed document, their ratio, and whether both give the same multiset of (rule id, flag).
The generator is ``bench/validate.py``'s (the first line of a suite invoice repeated).
"""

from __future__ import annotations

import sys
import time
from collections import Counter

from lxml import etree

from bench.validate import big_invoice
from einvoice.validation.document import Doc
from einvoice.validation.findings import Finding
from einvoice.validation.native.cen import en16931_ubl
from einvoice.validation.schematron import en16931_ubl as official_xslt


def tally(findings: list[Finding]) -> Counter[tuple[str, str]]:
    return Counter((f.rule_id, f.flag.value) for f in findings)


def main(argv: list[str]) -> None:
    sizes = [int(arg) for arg in argv] or [1000, 7000, 20000]
    native, official = en16931_ubl(), official_xslt()
    print(f"{'lines':>7} {'native s':>9} {'official s':>11} {'native/official':>16} agree")
    for lines in sizes:
        data = big_invoice(lines)
        root = etree.fromstring(data, etree.XMLParser(huge_tree=True))
        start = time.perf_counter()
        ours = native.validate(Doc(data, root, "ubl-invoice", "ubl", None))  # type: ignore[arg-type]
        mid = time.perf_counter()
        theirs = official.validate(Doc(data, root, "ubl-invoice", "ubl", None))  # type: ignore[arg-type]
        end = time.perf_counter()
        print(f"{lines:>7} {mid - start:>9.2f} {end - mid:>11.2f} "
              f"{(mid - start) / (end - mid):>15.2f}x {tally(ours) == tally(theirs)}")


if __name__ == "__main__":
    main(sys.argv[1:])
