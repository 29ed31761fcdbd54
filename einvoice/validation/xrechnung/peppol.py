"""The Peppol BIS Billing 3.0 rules that XRechnung takes over (``rule-list.xml``), as the
XRechnung build merges them: per syntax, with the HUF slack of R040/R120, CII-specific
contexts and tests, and R008 (empty elements) for both syntaxes."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from lxml import etree

from einvoice.validation.findings import Flag
from einvoice.validation.xrechnung import checks, cii, ubl
from einvoice.validation.xrechnung.engine import Rule, fatal

Predicate = Callable[[etree._Element], bool]
R = "PEPPOL-EN16931-R"
ZERO = Decimal(0)


_NS = ubl.NS | cii.NS
_HUF_SLACK, _SLACK = Decimal("0.5"), Decimal("0.02")


def _tolerance(el: etree._Element, currency_path: str) -> Decimal:
    """``$slackValue``: 0.5 for Hungarian forint, else 0.02 (the invoice currency is read once
    per document)."""
    currency = checks.document_string(el, currency_path, _NS)
    return _HUF_SLACK if currency == "HUF" else _SLACK


def _dates(within: str, own: str, ns: dict[str, str], later: bool) -> Predicate:
    """R110/R111: the line period date is not before the invoice period start (``later``)
    or not after its end; any of the invoice period dates may satisfy it (XPath ``>=``)."""
    def check(el: etree._Element) -> bool:
        value = checks.string_of(el, own, ns)
        bounds = [checks.string_value(b) for b in checks.select(el, within, ns)]
        return any((value >= b) if later else (value <= b) for b in bounds)
    return check


def _percentage(amount: str, base: str, percent: str, currency: str,
                ns: dict[str, str]) -> Predicate:
    """R040: with base and percentage, amount = base * percentage / 100 (within the slack)."""
    def check(el: etree._Element) -> bool:
        base_value, rate = checks.decimal(el, base, ns), checks.decimal(el, percent, ns)
        if base_value is None or rate is None:
            return not (checks.select(el, base, ns) and checks.select(el, percent, ns))
        actual = checks.decimal(el, amount, ns) or ZERO
        return checks.slack(actual, base_value * rate / 100, _tolerance(el, currency))
    return check


def _line_sum(paths: dict[str, str], ns: dict[str, str]) -> Predicate:
    """R120: line net amount = quantity * (net price / base quantity) + charges - allowances."""
    def check(el: etree._Element) -> bool:
        net = checks.decimal(el, paths["net"], ns) or ZERO
        quantity = checks.decimal(el, paths["quantity"], ns)
        price = checks.decimal(el, paths["price"], ns) or ZERO
        base = next((b for b in (checks.decimal(el, p, ns) for p in paths["base"].split("|"))
                     if b), Decimal(1))
        allowances = checks.cents(sum(checks.decimals(el, paths["allowances"], ns), ZERO))
        charges = checks.cents(sum(checks.decimals(el, paths["charges"], ns), ZERO))
        expected = (Decimal(1) if quantity is None else quantity) * (price / base)
        return checks.slack(net, expected + charges - allowances,
                            _tolerance(el, paths["currency"]))
    return check


def _price_difference(net: str, gross: str, allowance: str, ns: dict[str, str],
                      allowance_optional: bool) -> Predicate:
    """R046: net price = gross price - price allowance (when a gross price is given)."""
    def check(el: etree._Element) -> bool:
        if not checks.select(el, gross, ns):
            return True
        net_value, gross_value = checks.decimal(el, net, ns), checks.decimal(el, gross, ns)
        discount = checks.decimal(el, allowance, ns)
        if discount is None and allowance_optional:
            discount = ZERO
        if None in (net_value, gross_value, discount):
            return False
        return net_value == gross_value - discount  # type: ignore[operator]
    return check


UBL_AC = ("/*/cac:AllowanceCharge{0} | /*/cac:InvoiceLine/cac:AllowanceCharge{0}"
          " | /*/cac:CreditNoteLine/cac:AllowanceCharge{0}")
UBL_UNSHADOWED = ("[cbc:MultiplierFactorNumeric and cbc:BaseAmount or "
                  "not(cbc:MultiplierFactorNumeric or cbc:BaseAmount)]")
UBL_TAX = "cac:TaxTotal/cbc:TaxAmount[@currencyID=normalize-space(../../cbc:TaxCurrencyCode)]"
UBL_VAT = ("cac:TaxTotal/cbc:TaxAmount"
           "[@currencyID=normalize-space(../../cbc:DocumentCurrencyCode)]")
UBL_LINE_AC = "cac:AllowanceCharge[normalize-space(cbc:ChargeIndicator) = '{}']/cbc:Amount"

# R008 (no empty elements) by Peppol BIS release: 3.0.21 (inside XRechnung Schematron 2.6.0)
# allows an empty order reference ID where the order reference has other content (cbc:ID is
# mandatory in UBL, BT-13 is not). The releases say which Peppol BIS they carry (``peppol_bis``).
R008_UBL = {
    "3.0.20": fatal(f"{R}008", "//*[not(*) and not(normalize-space())]", "false()"),
    "3.0.21": fatal(f"{R}008", "//*[not(*) and not(normalize-space()) and not(self::cbc:ID["
                    "parent::cac:OrderReference/*[normalize-space()]])]", "false()"),
}
LATEST = "3.0.21"

UBL_REST: tuple[Rule, ...] = (
    fatal(f"{R}001", ubl.ROOT, "cbc:ProfileID", "BT-23"),
    fatal(f"{R}053", ubl.ROOT, "count(cac:TaxTotal[cac:TaxSubtotal]) = 1", "BT-110"),
    fatal(f"{R}054", ubl.ROOT, "count(cac:TaxTotal[not(cac:TaxSubtotal)]) = "
          "number(boolean(cbc:TaxCurrencyCode))", "BT-111"),
    fatal(f"{R}055", ubl.ROOT, f"not(cbc:TaxCurrencyCode) or ({UBL_TAX} <= 0 and {UBL_VAT} <= 0)"
          f" or ({UBL_TAX} >= 0 and {UBL_VAT} >= 0)", "BT-111"),
    fatal(f"{R}005", "//cbc:TaxCurrencyCode",
          "not(normalize-space(text()) = normalize-space(../cbc:DocumentCurrencyCode/text()))",
          "BT-6"),
    fatal(f"{R}010", "//cac:AccountingCustomerParty/cac:Party", "cbc:EndpointID", "BT-49"),
    fatal(f"{R}020", "//cac:AccountingSupplierParty/cac:Party", "cbc:EndpointID", "BT-34"),
    fatal(f"{R}041", UBL_AC.format("[cbc:MultiplierFactorNumeric and not(cbc:BaseAmount)]"),
          "false()"),
    fatal(f"{R}042", UBL_AC.format("[not(cbc:MultiplierFactorNumeric) and cbc:BaseAmount]"),
          "false()"),
    # the two rules above shadow this one for their nodes
    *(fatal(id_, UBL_AC.format(UBL_UNSHADOWED), test) for id_, test in (
        (f"{R}040", _percentage("cbc:Amount", "cbc:BaseAmount", "cbc:MultiplierFactorNumeric",
                                "/*/cbc:DocumentCurrencyCode", ubl.NS)),
        (f"{R}043", "normalize-space(cbc:ChargeIndicator/text()) = 'true' or "
                    "normalize-space(cbc:ChargeIndicator/text()) = 'false'"))),
    fatal(f"{R}061", ubl.means("49", "59"), "cac:PaymentMandate/cbc:ID", "BT-89"),
    fatal(f"{R}110", "/*[cac:InvoicePeriod/cbc:StartDate]/*[self::cac:InvoiceLine or "
          "self::cac:CreditNoteLine]/cac:InvoicePeriod/cbc:StartDate",
          _dates("../../../cac:InvoicePeriod/cbc:StartDate", ".", ubl.NS, later=True), "BT-134"),
    fatal(f"{R}111", "/*[cac:InvoicePeriod/cbc:EndDate]/*[self::cac:InvoiceLine or "
          "self::cac:CreditNoteLine]/cac:InvoicePeriod/cbc:EndDate",
          _dates("../../../cac:InvoicePeriod/cbc:EndDate", ".", ubl.NS, later=False), "BT-135"),
    fatal(f"{R}120", "//cac:InvoiceLine | //cac:CreditNoteLine", _line_sum({
        "net": "cbc:LineExtensionAmount", "quantity": "cbc:InvoicedQuantity | cbc:CreditedQuantity",
        "price": "cac:Price/cbc:PriceAmount", "base": "cac:Price/cbc:BaseQuantity",
        "allowances": UBL_LINE_AC.format("false"), "charges": UBL_LINE_AC.format("true"),
        "currency": "/*/cbc:DocumentCurrencyCode"}, ubl.NS), "BT-131"),
    fatal(f"{R}121", "//cac:InvoiceLine | //cac:CreditNoteLine",
          "not(cac:Price/cbc:BaseQuantity) or cac:Price/cbc:BaseQuantity > 0", "BT-149"),
    fatal(f"{R}101", "//cac:InvoiceLine | //cac:CreditNoteLine",
          "not(cac:DocumentReference) or cac:DocumentReference/cbc:DocumentTypeCode='130'",
          "BT-128"),
    fatal(f"{R}044", "//cac:Price/cac:AllowanceCharge",
          "normalize-space(cbc:ChargeIndicator) = 'false'", "BT-147"),
    fatal(f"{R}046", "//cac:Price/cac:AllowanceCharge", _price_difference(
        "../cbc:PriceAmount", "cbc:BaseAmount", "cbc:Amount", ubl.NS, allowance_optional=False),
          "BT-146"),
    fatal(f"{R}130", "//cac:Price/cbc:BaseQuantity[@unitCode]",
          "not(../../cbc:InvoicedQuantity or ../../cbc:CreditedQuantity) or "
          "(/ubl:Invoice and @unitCode = ../../cbc:InvoicedQuantity/@unitCode) or "
          "(/cn:CreditNote and @unitCode = ../../cbc:CreditedQuantity/@unitCode)", "BT-150"),
)


def ubl_rules(peppol_bis: str = LATEST) -> tuple[Rule, ...]:
    """The UBL rules of one Peppol BIS release (``KeyError`` for one we do not know)."""
    return (R008_UBL[peppol_bis], *UBL_REST)


UBL = ubl_rules()

CII_CURRENCY = f"{cii.SETTLEMENT}/ram:InvoiceCurrencyCode"
CII_TAX_CURRENCY = f"{cii.SETTLEMENT}/ram:TaxCurrencyCode"
TAX_TOTAL = "ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:TaxTotalAmount"
CII_AC = "//ram:SpecifiedTradeAllowanceCharge"
CII_INDICATOR = ("normalize-space(ram:ChargeIndicator/udt:Indicator/text()) = 'true' or "
                 "normalize-space(ram:ChargeIndicator/udt:Indicator/text()) = 'false'")
CII_LINE_AC = ("ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeAllowanceCharge"
               "[normalize-space(ram:ChargeIndicator/udt:Indicator) = '{}']/ram:ActualAmount")
LINE_PERIOD = ("//rsm:SupplyChainTradeTransaction[ram:ApplicableHeaderTradeSettlement/"
               "ram:BillingSpecifiedPeriod/ram:{0}]/ram:IncludedSupplyChainTradeLineItem/"
               "ram:SpecifiedLineTradeSettlement/ram:BillingSpecifiedPeriod/ram:{0}")
HEADER_PERIOD = ("../../../../ram:ApplicableHeaderTradeSettlement/ram:BillingSpecifiedPeriod/"
                 "ram:{}/udt:DateTimeString")

CII: tuple[Rule, ...] = (
    fatal(f"{R}001", "//rsm:ExchangedDocumentContext",
          "ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID", "BT-23"),
    fatal(f"{R}005", "//ram:ApplicableHeaderTradeSettlement", "not(ram:TaxCurrencyCode) or "
          "normalize-space(ram:TaxCurrencyCode/text()) != "
          "normalize-space(ram:InvoiceCurrencyCode/text())", "BT-6"),
    fatal(f"{R}053", "//ram:ApplicableHeaderTradeSettlement",
          f"count({TAX_TOTAL}[@currencyID = {CII_CURRENCY}]) <= 1", "BT-110"),
    fatal(f"{R}054", "//ram:ApplicableHeaderTradeSettlement",
          f"count({TAX_TOTAL}[@currencyID != {CII_CURRENCY}]) = "
          "number(boolean(ram:TaxCurrencyCode))", "BT-111"),
    fatal(f"{R}055", "//ram:ApplicableHeaderTradeSettlement",
          f"not({CII_TAX_CURRENCY} and {TAX_TOTAL}[@currencyID = {CII_CURRENCY}]) or "
          f"({TAX_TOTAL}[@currencyID = {CII_TAX_CURRENCY}] < 0 and "
          f"{TAX_TOTAL}[@currencyID = {CII_CURRENCY}] < 0) or "
          f"({TAX_TOTAL}[@currencyID = {CII_TAX_CURRENCY}] >= 0 and "
          f"{TAX_TOTAL}[@currencyID = {CII_CURRENCY}] >= 0)", "BT-111"),
    fatal(f"{R}010", "//ram:BuyerTradeParty", "ram:URIUniversalCommunication/ram:URIID", "BT-49"),
    fatal(f"{R}020", "//ram:SellerTradeParty", "ram:URIUniversalCommunication/ram:URIID",
          "BT-34"),
    fatal(f"{R}041", f"{CII_AC}[ram:CalculationPercent and not(ram:BasisAmount)]", "false()"),
    fatal(f"{R}042", f"{CII_AC}[not(ram:CalculationPercent) and ram:BasisAmount]", "false()"),
    # the two rules above shadow this one for their nodes
    *(fatal(id_, f"{CII_AC}[ram:CalculationPercent and ram:BasisAmount or "
                 "not(ram:CalculationPercent or ram:BasisAmount)]", test) for id_, test in (
        (f"{R}040", _percentage("ram:ActualAmount", "ram:BasisAmount", "ram:CalculationPercent",
                                CII_CURRENCY, cii.NS)),
        (f"{R}043-1", CII_INDICATOR))),
    fatal(f"{R}043-2", "//ram:AppliedTradeAllowanceCharge", CII_INDICATOR),
    fatal(f"{R}061", cii.means("49", "59"),
          "../ram:SpecifiedTradePaymentTerms/ram:DirectDebitMandateID", "BT-89"),
    fatal(f"{R}110", LINE_PERIOD.format("StartDateTime"), _dates(
        HEADER_PERIOD.format("StartDateTime"), "udt:DateTimeString", cii.NS, later=True),
          "BT-134"),
    fatal(f"{R}111", LINE_PERIOD.format("EndDateTime"), _dates(
        HEADER_PERIOD.format("EndDateTime"), "udt:DateTimeString", cii.NS, later=False),
          "BT-135"),
    Rule(f"{R}120", Flag.WARNING, "//ram:IncludedSupplyChainTradeLineItem", _line_sum({
        "net": "ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation"
               "/ram:LineTotalAmount",
        "quantity": "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity",
        "price": f"{cii.NET}/ram:ChargeAmount",
        "base": f"{cii.NET}/ram:BasisQuantity|{cii.GROSS}/ram:BasisQuantity",
        "allowances": CII_LINE_AC.format("false"), "charges": CII_LINE_AC.format("true"),
        "currency": CII_CURRENCY}, cii.NS), "BT-131"),
    fatal(f"{R}101", "//ram:IncludedSupplyChainTradeLineItem",
          "not(ram:SpecifiedLineTradeSettlement/ram:AdditionalReferencedDocument) or "
          "ram:SpecifiedLineTradeSettlement/ram:AdditionalReferencedDocument/ram:TypeCode='130'",
          "BT-128"),
    fatal(f"{R}121", "//ram:NetPriceProductTradePrice | //ram:GrossPriceProductTradePrice",
          "not(ram:BasisQuantity) or ram:BasisQuantity > 0", "BT-149"),
    fatal(f"{R}130", "//ram:NetPriceProductTradePrice/ram:BasisQuantity[@unitCode] | "
          "//ram:GrossPriceProductTradePrice/ram:BasisQuantity[@unitCode]",
          "@unitCode = ../../../ram:SpecifiedLineTradeDelivery/ram:BilledQuantity/@unitCode",
          "BT-150"),
    fatal(f"{R}008", "//*[not(name() = 'ram:ApplicableHeaderTradeDelivery') and not(*) and "
          "not(normalize-space())]", "false()"),
    fatal(f"{R}044", "//rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem/"
          "ram:SpecifiedLineTradeAgreement/ram:GrossPriceProductTradePrice",
          "not(ram:AppliedTradeAllowanceCharge/ram:ActualAmount) or "
          "ram:AppliedTradeAllowanceCharge/ram:ChargeIndicator/udt:Indicator = 'false'", "BT-147"),
    fatal(f"{R}046", "//rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem/"
          "ram:SpecifiedLineTradeAgreement/ram:GrossPriceProductTradePrice", _price_difference(
              "../ram:NetPriceProductTradePrice/ram:ChargeAmount", "ram:ChargeAmount",
              "ram:AppliedTradeAllowanceCharge/ram:ActualAmount", cii.NS,
              allowance_optional=True), "BT-146"),
)
