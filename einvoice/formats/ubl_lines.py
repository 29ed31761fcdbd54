"""The lines of a UBL invoice or credit note (BG-25 with BG-26 .. BG-32), and the allowances and
charges that lines and the document alike carry (BG-20/21, BG-27/28)."""

from __future__ import annotations

from einvoice import model
from einvoice.formats.groups import allowance_terms, classification, each, group, identifier
from einvoice.formats.ubl_syntax import attr, decimal, find, find_all, joined, period, tags, text
from einvoice.formats.values import to_bool
from einvoice.formats.xmlwalk import Node


def allowances_charges(el: Node, on_line: bool = False) -> list[model.AllowanceCharge]:
    """BG-20/21 on the document, BG-27/28 on a line (lines carry no tax category); kept even
    without an amount, which the official rules then report."""
    return [_allowance_charge(ac, on_line) for ac in find_all(el, "cac:AllowanceCharge")]


def _allowance_charge(ac: Node, on_line: bool) -> model.AllowanceCharge:
    is_charge = to_bool(text(ac, "cbc:ChargeIndicator"))
    amount, base, percent, rate = allowance_terms(on_line, is_charge)
    return model.AllowanceCharge(
        is_charge=is_charge,
        amount=decimal(ac, "cbc:Amount", amount),
        base_amount=decimal(ac, "cbc:BaseAmount", base),
        percent=decimal(ac, "cbc:MultiplierFactorNumeric", percent),
        vat_category=text(ac, "cac:TaxCategory/cbc:ID"),
        vat_rate=decimal(ac, "cac:TaxCategory/cbc:Percent", rate),
        reason=text(ac, "cbc:AllowanceChargeReason"),
        reason_code=text(ac, "cbc:AllowanceChargeReasonCode"),
    )


def lines(root: Node, line_path: str, quantity_path: str) -> list[model.Line]:
    """BG-25 of each InvoiceLine or CreditNoteLine, read from a node of its own (``Node.each``).
    XRechnung sub-invoice lines below a line are not EN 16931 and stay unread."""
    (tag,) = tags(line_path)
    return [_line(line, quantity_path) for line in root.each(tag)]


def _line(line: Node, quantity_path: str) -> model.Line:
    """A line is kept even without its id (BT-126): no amount gets lost."""
    item = find(line, "cac:Item")
    return model.Line(
        id=text(line, "cbc:ID"),
        note=joined(line, "cbc:Note"),
        object_id=_object_id(line),
        quantity=decimal(line, quantity_path, "BT-129"),
        unit_code=attr(line, quantity_path, "unitCode"),
        net_amount=decimal(line, "cbc:LineExtensionAmount", "BT-131"),
        order_line_reference=text(line, "cac:OrderLineReference/cbc:LineID"),
        accounting_reference=text(line, "cbc:AccountingCost"),
        period=period(find(line, "cac:InvoicePeriod"), ("BT-134", "BT-135")),
        allowances_charges=allowances_charges(line, on_line=True),
        price=_price(find(line, "cac:Price")),
        vat_category=text(item, "cac:ClassifiedTaxCategory/cbc:ID"),
        vat_rate=decimal(item, "cac:ClassifiedTaxCategory/cbc:Percent", "BT-152"),
        item=_item(item),
    )


def _object_id(line: Node) -> model.Identifier | None:
    """BT-128: the line DocumentReference of type 130."""
    return next((identifier(find(ref, "cbc:ID"))
                 for ref in find_all(line, "cac:DocumentReference")
                 if text(ref, "cbc:DocumentTypeCode") == "130"), None)


def _price(price: Node | None) -> model.Price:
    """BG-29; the price discount (BT-147) and gross price (BT-148) sit in its AllowanceCharge."""
    allowance = find(price, "cac:AllowanceCharge")
    return model.Price(
        net=decimal(price, "cbc:PriceAmount", "BT-146"),
        discount=decimal(allowance, "cbc:Amount", "BT-147"),
        gross=decimal(allowance, "cbc:BaseAmount", "BT-148"),
        base_quantity=decimal(price, "cbc:BaseQuantity", "BT-149"),
        base_quantity_unit=attr(price, "cbc:BaseQuantity", "unitCode"),
    )


def _attribute(el: Node) -> model.ItemAttribute | None:
    return group(model.ItemAttribute, key=("name", "value"), name=text(el, "cbc:Name"),
                 value=text(el, "cbc:Value"))


def _item(item: Node | None) -> model.Item:
    return model.Item(
        name=text(item, "cbc:Name"),
        description=text(item, "cbc:Description"),
        seller_id=text(item, "cac:SellersItemIdentification/cbc:ID"),
        buyer_id=text(item, "cac:BuyersItemIdentification/cbc:ID"),
        standard_id=identifier(find(item, "cac:StandardItemIdentification/cbc:ID")),
        classifications=each(
            classification, find_all(item, "cac:CommodityClassification/cbc:ItemClassificationCode")
        ),
        origin_country=text(item, "cac:OriginCountry/cbc:IdentificationCode"),
        attributes=each(_attribute, find_all(item, "cac:AdditionalItemProperty")),
    )
