"""The lines of a CII invoice (BG-25 with BG-26 .. BG-32), and the allowances and charges that
lines and the document alike carry (BG-20/21, BG-27/28)."""

from __future__ import annotations

from decimal import Decimal

from einvoice import model
from einvoice.formats.cii_syntax import CiiPaths
from einvoice.formats.groups import allowance_terms, classification, each, group, identifier
from einvoice.formats.xmlwalk import Node, number

# UNTDID 1001 code of the AdditionalReferencedDocument that holds BT-18 and BT-128.
INVOICED_OBJECT = "130"


def allowances_charges(cii: CiiPaths, settlement: Node | None,
                       on_line: bool = False) -> list[model.AllowanceCharge]:
    """BG-20/21 below the header settlement, BG-27/28 below a line settlement; kept even
    without an amount, which the official rules then report."""
    return [_allowance_charge(cii, ac, on_line)
            for ac in cii.all(settlement, "SpecifiedTradeAllowanceCharge")]


def _allowance_charge(cii: CiiPaths, ac: Node, on_line: bool) -> model.AllowanceCharge:
    is_charge = cii.indicator(ac)
    amount, base, percent, rate = allowance_terms(on_line, is_charge)
    return model.AllowanceCharge(
        is_charge=is_charge,
        amount=cii.decimal(ac, "ActualAmount", amount),
        base_amount=cii.decimal(ac, "BasisAmount", base),
        percent=cii.decimal(ac, "CalculationPercent", percent),
        vat_category=cii.text(ac, "CategoryTradeTax/CategoryCode"),
        vat_rate=cii.decimal(ac, "CategoryTradeTax/" + cii.d.rate, rate),
        reason=cii.text(ac, "Reason"),
        reason_code=cii.text(ac, "ReasonCode"),
    )


def lines(cii: CiiPaths, transaction: Node | None) -> list[model.Line]:
    """BG-25 of each line item, read from a node of its own (``Node.each``); XRechnung
    sub-lines (those with a ParentLineID) are detail, not BG-25."""
    if transaction is None:
        return []
    (tag,) = cii.tags("IncludedSupplyChainTradeLineItem")
    return [_line(cii, item) for item in transaction.each(tag)
            if cii.text(item, "AssociatedDocumentLineDocument/ParentLineID") is None]


def _line(cii: CiiPaths, item: Node) -> model.Line:
    """A line is kept even without its id (BT-126): ZUGFeRD 1.0 lines need not have one."""
    trade = cii.d.line_trade
    agreement = cii.find(item, trade + "Agreement")
    quantity = cii.find(item, trade + "Delivery/BilledQuantity")
    settlement = cii.find(item, trade + "Settlement")
    document = cii.find(item, "AssociatedDocumentLineDocument")
    return model.Line(
        id=cii.text(document, "LineID"),
        note=cii.joined(document, "IncludedNote/Content"),
        object_id=cii.referenced_object(cii.typed_reference(settlement, INVOICED_OBJECT)),
        quantity=number(quantity, "BT-129"),
        unit_code=None if quantity is None else quantity.attr("unitCode"),
        net_amount=cii.decimal(settlement, cii.d.line_summation + "/LineTotalAmount", "BT-131"),
        order_line_reference=cii.text(agreement, "BuyerOrderReferencedDocument/LineID"),
        accounting_reference=cii.text(settlement, cii.d.accounting_account + "/ID"),
        period=cii.period(cii.find(settlement, "BillingSpecifiedPeriod"), ("BT-134", "BT-135")),
        allowances_charges=allowances_charges(cii, settlement, on_line=True),
        price=_price(cii, agreement),
        vat_category=cii.text(settlement, "ApplicableTradeTax/CategoryCode"),
        vat_rate=cii.decimal(settlement, "ApplicableTradeTax/" + cii.d.rate, "BT-152"),
        item=_item(cii, cii.find(item, "SpecifiedTradeProduct")),
    )


def _price(cii: CiiPaths, agreement: Node | None) -> model.Price:
    """BG-29; BT-149/150 belong to the net price, but writers also put them on the gross."""
    gross = cii.find(agreement, "GrossPriceProductTradePrice")
    net = cii.find(agreement, "NetPriceProductTradePrice")
    base = cii.find(net, "BasisQuantity")
    if base is None:
        base = cii.find(gross, "BasisQuantity")
    return model.Price(
        net=cii.decimal(net, "ChargeAmount", "BT-146"),
        discount=_price_discount(cii, gross),
        gross=cii.decimal(gross, "ChargeAmount", "BT-148"),
        base_quantity=number(base, "BT-149"),
        base_quantity_unit=None if base is None else base.attr("unitCode"),
    )


def _price_discount(cii: CiiPaths, gross: Node | None) -> Decimal | None:
    """BT-147. EN 16931 has one price allowance, EXTENDED profiles may list several
    allowances and charges: then their net reduction of the gross price is the discount."""
    signed = [-amount if cii.indicator(el) else amount
              for el in cii.all(gross, "AppliedTradeAllowanceCharge")
              if (amount := cii.decimal(el, "ActualAmount", "BT-147")) is not None]
    return sum(signed[1:], start=signed[0]) if signed else None


def _attribute(cii: CiiPaths, el: Node) -> model.ItemAttribute | None:
    return group(model.ItemAttribute, key=("name", "value"), name=cii.text(el, "Description"),
                 value=cii.text(el, "Value"))


def _item(cii: CiiPaths, product: Node | None) -> model.Item:
    return model.Item(
        name=cii.text(product, "Name"),
        description=cii.text(product, "Description"),
        seller_id=cii.text(product, "SellerAssignedID"),
        buyer_id=cii.text(product, "BuyerAssignedID"),
        standard_id=identifier(cii.find(product, "GlobalID")),
        classifications=each(
            classification, cii.all(product, "DesignatedProductClassification/ClassCode")),
        origin_country=cii.text(product, "OriginTradeCountry/ID"),
        attributes=[attribute for el in cii.all(product, "ApplicableProductCharacteristic")
                    if (attribute := _attribute(cii, el)) is not None],
    )
