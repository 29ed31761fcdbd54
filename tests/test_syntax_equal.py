"""One business case, read from its UBL and from its CII file, gives one canonical model.

The XRechnung test suite writes each case in both syntaxes (``*_ubl.xml``, ``*_uncefact.xml``
with the same case number). Both readers must map the pair onto models that are equal field by
field, so a term that one reader leaves unread shows up here as a difference. Amounts compare as
numbers: ``19.00`` in one file and ``19`` in the other are the same rate (``Decimal`` equality is
numeric, and so is ``==`` of the models).

Where the two files of a case carry different data, the difference is listed in
``DIFFERENT_DATA`` with its reason; the readers are not bent to hide it. Every entry must still
differ, so that the list cannot outlive the data it excuses.

Differences by definition of the syntaxes:

- BT-13 in UBL: ``cac:OrderReference`` requires its ``cbc:ID`` (BT-13) even where only the sales
  order reference (BT-14) is meant; writers then put a placeholder there (``Dummywert`` in this
  suite), which the UBL reader maps like any order number.

Other terms the bindings write differently are normalised by the readers and must be equal:
the tax point date code (BT-8, UNTDID 2475 in CII, 2005 in UBL), the payment means text (BT-82,
an attribute in UBL), the SEPA creditor id (BT-90, a seller or payee id with scheme SEPA in UBL).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from einvoice.formats.cii import read_cii
from einvoice.formats.ubl import read_ubl
from einvoice.formats.xmlsafe import parse_xml
from einvoice.model import Invoice, Totals
from tests.conftest import CORPUS

SUITE = "valid/xrechnung-testsuite"
UBL_SUFFIX, CII_SUFFIX = "_ubl.xml", "_uncefact.xml"

_ORDER_PLACEHOLDER = "UBL needs an order id (BT-13) to carry BT-14: placeholder 'Dummywert'"
_ROUNDING = "CII writes a rounding amount (BT-114) of 0, UBL leaves it out"
_PAYEE_LEGAL_ID = "payee legal registration id (BT-61) only in the CII file"
_SELLER_IDS = "CII lists three seller ids (BT-29), UBL only the last of them"
_BUYER_NAMES = "the UBL file labels buyer name and trading name (BT-44, BT-45) the other way"
_BASE_QUANTITY = "base quantity (BT-149, BT-150) on the second line only in the UBL file"

# (cases, field path, reason): the two files of these cases carry different data. A path covers
# all that lies below it; a case is the file name without its syntax suffix.
DIFFERENT_DATA: list[tuple[tuple[str, ...], str, str]] = [
    (("01.02a-INVOICE", "01.08a-INVOICE", "01.09a-INVOICE", "01.10a-INVOICE", "01.11a-INVOICE",
      "01.12a-INVOICE", "01.13a-INVOICE"), "purchase_order_reference", _ORDER_PLACEHOLDER),
    (("01.20a-INVOICE",), "seller.address", "seller street and city: '[Seller city]' vs '[City]'"),
    (("01.20a-INVOICE", "01.21a-INVOICE"), "totals.allowances",
     "CII writes an allowance total (BT-107) of 0.00, UBL leaves it out"),
    (("01.20a-INVOICE",), "totals.charges", "CII writes a charge total (BT-108) of 0.00"),
    (("01.20a-INVOICE",), "totals.prepaid", "CII writes a prepaid amount (BT-113) of 0.00"),
    (("01.21a-INVOICE",), "payment.means_text", "payment means text 'Information' vs 'Rechnung'"),
    (("01.21a-INVOICE",), "seller.vat_id", "seller VAT id 'DE 123456789' vs 'DE152338654'"),
    (("01.21a-INVOICE",), "vat_breakdown[0].exemption_reason",
     "exemption reason text differs ('Umkehrung der Steuerschuldnerschaft' in UBL)"),
    (("02.01a-INVOICE", "02.02a-INVOICE", "02.03a-INVOICE", "02.04a-INVOICE", "03.07a-INVOICE",
      "01.01_comprehensive_test", "01.02_comprehensive_test", "01.03_comprehensive_test",
      "01.04_comprehensive_test", "02.01a-cvd_INVOICE"), "totals.rounding", _ROUNDING),
    (("03.01a-INVOICE",), "buyer.trading_name", "buyer trading name (BT-45) only in UBL"),
    (("03.06a-INVOICE",), "seller.address", "the UBL file swaps city and post code"),
    (("03.06a-INVOICE",), "buyer.address", "the UBL file swaps city and post code"),
    (("03.07a-INVOICE", "01.01_comprehensive_test", "01.02_comprehensive_test",
      "01.03_comprehensive_test", "01.04_comprehensive_test", "02.01a-cvd_INVOICE"),
     "payee.legal_registration_id", _PAYEE_LEGAL_ID),
    (("03.07a-INVOICE", "01.01_comprehensive_test", "02.01a-cvd_INVOICE"),
     "seller.identifiers", _SELLER_IDS),
    (("01.01_comprehensive_test", "01.02_comprehensive_test", "01.03_comprehensive_test",
      "01.04_comprehensive_test"), "buyer.name", _BUYER_NAMES),
    (("01.01_comprehensive_test", "01.02_comprehensive_test", "01.03_comprehensive_test",
      "01.04_comprehensive_test"), "buyer.trading_name", _BUYER_NAMES),
    (("01.01_comprehensive_test", "01.02_comprehensive_test", "01.03_comprehensive_test",
      "01.04_comprehensive_test"), "lines[1].price.base_quantity", _BASE_QUANTITY),
    (("01.01_comprehensive_test", "01.02_comprehensive_test", "01.03_comprehensive_test",
      "01.04_comprehensive_test"), "lines[1].price.base_quantity_unit", _BASE_QUANTITY),
    (("01.01_comprehensive_test",), "preceding_invoices[1]",
     "second preceding invoice (BG-3) only in the UBL file"),
    (("01.03_comprehensive_test", "01.04_comprehensive_test"), "seller.contact.name",
     "seller contact point (BT-41) 'Tim Tester' vs department 'Testorganisation'"),
    (("01.05_minimal_test",), "totals.vat", "UBL states a VAT total (BT-110) of 0, CII none"),
    (("02.01a-cvd_INVOICE",), "lines[0].item.attributes",
     "same item attributes (BG-32), 'cva' first in UBL and last in CII"),
    (("02.01a-cvd_INVOICE",), "lines[0].item.description",
     "item description 'Fahrzeug' vs 'Fahrzeugde' (typo in the CII file)"),
]


def known_differences(case: str) -> dict[str, str]:
    """The field paths (with their reason) in which the two files of ``case`` differ."""
    return {path: reason for cases, path, reason in DIFFERENT_DATA if case in cases}


def _cases(corpus: Path) -> list[str]:
    return sorted(path.name.removesuffix(UBL_SUFFIX)
                  for path in (corpus / SUITE).rglob(f"*{UBL_SUFFIX}")
                  if path.with_name(path.name.replace(UBL_SUFFIX, CII_SUFFIX)).exists())


CASES = _cases(CORPUS) if (CORPUS / SUITE).is_dir() else ["<corpus missing>"]


def read_pair(corpus: Path, case: str) -> tuple[Invoice, Invoice]:
    """The models of the UBL and the CII file of ``case``."""
    (ubl,) = (corpus / SUITE).rglob(f"{case}{UBL_SUFFIX}")
    cii = ubl.with_name(f"{case}{CII_SUFFIX}")
    return (read_ubl(parse_xml(ubl.read_bytes()).getroot()),
            read_cii(parse_xml(cii.read_bytes()).getroot()))


_ABSENT = object()


def differences(a: Any, b: Any, path: str = "") -> Iterator[str]:
    """The paths of the leaves in which two model dumps differ; a list element that only one
    side has is one difference, not one per field inside it."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            yield from differences(a.get(key, _ABSENT), b.get(key, _ABSENT),
                                   f"{path}.{key}" if path else key)
    elif isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            yield from differences(a[i] if i < len(a) else _ABSENT,
                                   b[i] if i < len(b) else _ABSENT, f"{path}[{i}]")
    elif a != b:
        yield path


def covered(path: str, known: str) -> bool:
    """True when ``path`` is ``known`` or lies below it."""
    return path == known or path.startswith((f"{known}.", f"{known}["))


@pytest.mark.corpus
@pytest.mark.parametrize("case", CASES)
def test_ubl_and_cii_give_the_same_model(corpus: Path, case: str) -> None:
    ubl, cii = read_pair(corpus, case)
    found = list(differences(ubl.model_dump(), cii.model_dump()))
    known = known_differences(case)
    unexplained = [path for path in found if not any(covered(path, k) for k in known)]
    assert not unexplained, f"{case}: UBL and CII models differ in {unexplained}"
    stale = [k for k in known if not any(covered(path, k) for path in found)]
    assert not stale, f"{case}: listed as different but equal now: {stale}"
    if not known:
        assert ubl == cii


@pytest.mark.corpus
def test_every_case_is_paired(corpus: Path) -> None:
    cases = _cases(corpus)
    assert len(cases) >= 40
    assert cases == CASES
    listed = {case for cases_, _, _ in DIFFERENT_DATA for case in cases_}
    assert listed <= set(cases), f"unknown cases in DIFFERENT_DATA: {listed - set(cases)}"


@pytest.mark.corpus
def test_a_term_one_reader_misses_is_a_difference(corpus: Path) -> None:
    ubl, cii = read_pair(corpus, "01.07a-INVOICE")
    assert ubl == cii
    missing = cii.model_copy(deep=True)
    address = missing.seller.address
    assert address is not None and missing.lines
    missing.buyer_reference = None
    address.city = None
    missing.lines[0].note = "not in the UBL file"
    missing.lines.append(missing.lines[0].model_copy())
    assert ubl != missing
    assert list(differences(ubl.model_dump(), missing.model_dump())) == [
        "buyer_reference", "lines[0].note", f"lines[{len(cii.lines)}]", "seller.address.city"]


def test_amounts_compare_as_numbers() -> None:
    assert Totals(vat=Decimal("19.00")) == Totals(vat=Decimal("19"))
    assert Totals(vat=Decimal("19.00")) != Totals(vat=Decimal("19.01"))
    assert list(differences({"rate": Decimal("19.00")}, {"rate": Decimal("19")})) == []
