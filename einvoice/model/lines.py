"""Invoice lines (BG-25) with their period, allowances and charges, price and item; the period
and allowance/charge classes serve the document level too."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from einvoice.model.terms import Identifier, Part, required, term, terms_list


class Period(Part):
    """Invoicing period BG-14 (BT-73/74) or line period BG-26 (BT-134/135)."""

    start: date | None = term({"BG-14": "BT-73", "BG-26": "BT-134"})
    end: date | None = term({"BG-14": "BT-74", "BG-26": "BT-135"})


class AllowanceCharge(Part):
    """Document level BG-20 (allowance) / BG-21 (charge), line level BG-27 / BG-28."""

    is_charge: bool
    amount: Decimal | None = term({"BG-20": "BT-92", "BG-21": "BT-99", "BG-27": "BT-136",
                            "BG-28": "BT-141"})
    base_amount: Decimal | None = term({"BG-20": "BT-93", "BG-21": "BT-100", "BG-27": "BT-137",
                                        "BG-28": "BT-142"})
    percent: Decimal | None = term({"BG-20": "BT-94", "BG-21": "BT-101", "BG-27": "BT-138",
                                    "BG-28": "BT-143"})
    vat_category: str | None = term({"BG-20": "BT-95", "BG-21": "BT-102"})
    vat_rate: Decimal | None = term({"BG-20": "BT-96", "BG-21": "BT-103"})
    reason: str | None = term({"BG-20": "BT-97", "BG-21": "BT-104", "BG-27": "BT-139",
                               "BG-28": "BT-144"})
    reason_code: str | None = term({"BG-20": "BT-98", "BG-21": "BT-105", "BG-27": "BT-140",
                                    "BG-28": "BT-145"})


class Price(Part):
    """BG-29 Price details."""

    net: Decimal | None = term("BT-146")
    discount: Decimal | None = term("BT-147")
    gross: Decimal | None = term("BT-148")
    base_quantity: Decimal | None = term("BT-149")
    base_quantity_unit: str | None = term("BT-150")


class ItemAttribute(Part):
    """BG-32 Item attributes."""

    name: Annotated[str, required("BT-160")]
    value: Annotated[str, required("BT-161")]


class Classification(Part):
    """BT-158 Item classification identifier with scheme (BT-158-1) and version (BT-158-2)."""

    code: Annotated[str, required("BT-158")]
    scheme: str | None = term("BT-158-1")
    version: str | None = term("BT-158-2")


class Item(Part):
    """BG-31 Item information."""

    name: str | None = term("BT-153")
    description: str | None = term("BT-154")
    seller_id: str | None = term("BT-155")
    buyer_id: str | None = term("BT-156")
    standard_id: Identifier | None = term("BT-157")
    classifications: list[Classification] = terms_list("BT-158")
    origin_country: str | None = term("BT-159")
    attributes: list[ItemAttribute] = terms_list("BG-32")


class Line(Part):
    """BG-25 Invoice line."""

    id: str | None = term("BT-126")  # mandatory in EN 16931, absent in ZUGFeRD 1.0 lines
    note: str | None = term("BT-127")
    object_id: Identifier | None = term("BT-128")
    quantity: Decimal | None = term("BT-129")
    unit_code: str | None = term("BT-130")
    net_amount: Decimal | None = term("BT-131")
    order_line_reference: str | None = term("BT-132")
    accounting_reference: str | None = term("BT-133")
    period: Period | None = term("BG-26")
    allowances_charges: list[AllowanceCharge] = terms_list("BG-27/BG-28")
    price: Price = term("BG-29", default_factory=Price)
    vat_category: str | None = term("BT-151")
    vat_rate: Decimal | None = term("BT-152")
    item: Item = term("BG-31", default_factory=Item)
