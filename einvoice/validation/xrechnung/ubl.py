"""XRechnung CIUS rules for UBL Invoice and CreditNote (``XRechnung-UBL-validation.sch``):
the core pattern, the extension pattern (``$ext``) and the CVD pattern (``$cvd``)."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from einvoice.validation.findings import Flag
from einvoice.validation.xrechnung import checks, codelists, cvd
from einvoice.validation.xrechnung.engine import Rule, fatal, one_of, present, warning

NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "ubl": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cn": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}
SPEC_ID = "/*/cbc:CustomizationID"

ROOT = "/ubl:Invoice | /cn:CreditNote"
SELLER = "/*/cac:AccountingSupplierParty"
CONTACT = f"{SELLER}/cac:Party/cac:Contact"
LINES = "(cac:InvoiceLine | cac:CreditNoteLine)"
ALLOWANCE_OR_CHARGE = ("cac:AllowanceCharge[cbc:ChargeIndicator = 'false' or "
                       "cbc:ChargeIndicator = 'true']")


def means(*codes: str) -> str:
    return f"/*/cac:PaymentMeans[{one_of('normalize-space(cbc:PaymentMeansCode)', codes)}]"


def _vat_codes_used() -> str:
    category_ids = (f"{ALLOWANCE_OR_CHARGE}/cac:TaxCategory/cbc:ID"
                    f" | {LINES}/cac:Item/cac:ClassifiedTaxCategory/cbc:ID")
    return f"({category_ids})[{one_of('.', codelists.VAT_CODES_WITH_ID)}]"


def _sub_line_sums(el: etree._Element) -> bool:
    """BR-DEX-02: a line's net amount is the sum of its direct sub lines' net amounts."""
    parents = el.xpath("cac:InvoiceLine[cac:SubInvoiceLine] | //cac:SubInvoiceLine"
                       "[cac:SubInvoiceLine]", namespaces=NS)
    for line in parents if isinstance(parents, list) else []:
        assert isinstance(line, etree._Element)
        total = checks.decimal(line, "cbc:LineExtensionAmount", NS)
        parts = checks.decimals(line, "cac:SubInvoiceLine/cbc:LineExtensionAmount", NS)
        if total is None or total != sum(parts, Decimal(0)):
            return False
    return True


def _amount_due(el: etree._Element) -> bool:
    """BR-DEX-09: BT-115 = BT-112 - BT-113 + BT-114 + third party payments."""
    payable = checks.decimal(el, "cbc:PayableAmount", NS)
    total = checks.decimal(el, "cbc:TaxInclusiveAmount", NS)
    if payable is None or total is None:
        return False
    rounding = checks.decimal(el, "cbc:PayableRoundingAmount", NS) or Decimal(0)
    prepaid = checks.decimal(el, "cbc:PrepaidAmount", NS) or Decimal(0)
    third = sum(checks.decimals(el, "../cac:PrepaidPayment/cbc:PaidAmount", NS), Decimal(0))
    return checks.cents(payable - rounding) == checks.cents(total - prepaid + third)


CORE: tuple[Rule, ...] = (
    fatal("BR-DE-1", ROOT, "cac:PaymentMeans", "BG-16"),
    fatal("BR-DE-15", ROOT, present("cbc:BuyerReference"), "BT-10"),
    fatal("BR-DE-16", ROOT, f"not({_vat_codes_used()}) or cac:TaxRepresentativeParty or "
          + present("cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID"),
          "BT-31"),
    warning("BR-DE-17", ROOT,
            f"{one_of('normalize-space(cbc:InvoiceTypeCode)', codelists.INVOICE_TYPE_CODES)} or "
            + one_of("normalize-space(cbc:CreditNoteTypeCode)", codelists.INVOICE_TYPE_CODES),
            "BT-3"),
    fatal("BR-DE-18", ROOT, checks.skonto("cac:PaymentTerms/cbc:Note[1]", NS), "BT-20"),
    warning("BR-DE-21", ROOT, one_of("cbc:CustomizationID", codelists.XR_SPEC_IDS), "BT-24"),
    fatal("BR-DE-22", ROOT,
          "count(cac:AdditionalDocumentReference) = count(cac:AdditionalDocumentReference[not("
          "cac:Attachment/cbc:EmbeddedDocumentBinaryObject/@filename = preceding-sibling::"
          "cac:AdditionalDocumentReference/cac:Attachment/cbc:EmbeddedDocumentBinaryObject"
          "/@filename)])", "BT-125"),
    warning("BR-DE-26", ROOT,
            "not(normalize-space(cbc:InvoiceTypeCode) = '384' or normalize-space("
            "cbc:CreditNoteTypeCode) = '384') or cac:BillingReference/cac:InvoiceDocumentReference",
            "BG-3"),
    fatal("BR-DE-30", ROOT,
          "not(cac:PaymentMeans/cac:PaymentMandate) or "
          "cac:AccountingSupplierParty/cac:Party/cac:PartyIdentification/cbc:ID[@schemeID='SEPA']"
          " | cac:PayeeParty/cac:PartyIdentification/cbc:ID[@schemeID='SEPA']", "BT-90"),
    fatal("BR-DE-31", ROOT,
          "not(cac:PaymentMeans/cac:PaymentMandate) or "
          "cac:PaymentMeans/cac:PaymentMandate/cac:PayerFinancialAccount/cbc:ID", "BT-91"),
    Rule("BR-DE-TMP-32", Flag.INFORMATION, ROOT,
         f"cac:Delivery/cbc:ActualDeliveryDate or cac:InvoicePeriod or "
         f"not({LINES}[not(cac:InvoicePeriod)])", "BT-72"),
    warning("BR-TMP-2", "/*/cac:AdditionalDocumentReference/cac:Attachment/cac:ExternalReference",
            checks.url("cbc:URI", NS, optional=False), "BT-124"),
    fatal("BR-DE-2", SELLER, "cac:Party/cac:Contact", "BG-6"),
    fatal("BR-DE-3", f"{SELLER}/cac:Party/cac:PostalAddress", present("cbc:CityName"), "BT-37"),
    fatal("BR-DE-4", f"{SELLER}/cac:Party/cac:PostalAddress", present("cbc:PostalZone"), "BT-38"),
    fatal("BR-DE-5", CONTACT, present("cbc:Name"), "BT-41"),
    fatal("BR-DE-6", CONTACT, present("cbc:Telephone"), "BT-42"),
    fatal("BR-DE-7", CONTACT, present("cbc:ElectronicMail"), "BT-43"),
    warning("BR-DE-27", CONTACT, checks.telephone("cbc:Telephone", NS), "BT-42"),
    warning("BR-DE-28", CONTACT, checks.email("cbc:ElectronicMail", NS), "BT-43"),
    fatal("BR-DE-8", "/*/cac:AccountingCustomerParty/cac:Party/cac:PostalAddress",
          present("cbc:CityName"), "BT-52"),
    fatal("BR-DE-9", "/*/cac:AccountingCustomerParty/cac:Party/cac:PostalAddress",
          present("cbc:PostalZone"), "BT-53"),
    fatal("BR-DE-10", "/*/cac:Delivery/cac:DeliveryLocation/cac:Address",
          present("cbc:CityName"), "BT-77"),
    fatal("BR-DE-11", "/*/cac:Delivery/cac:DeliveryLocation/cac:Address",
          present("cbc:PostalZone"), "BT-78"),
    warning("BR-DE-19", means("30", "58"),
            checks.iban("cbc:PaymentMeansCode", "cac:PayeeFinancialAccount/cbc:ID", "58", NS),
            "BT-84"),
    fatal("BR-DE-23-a", means("30", "58"), "cac:PayeeFinancialAccount", "BG-17"),
    fatal("BR-DE-23-b", means("30", "58"), "not(cac:CardAccount) and not(cac:PaymentMandate)",
          "BG-17"),
    fatal("BR-DE-24-a", means("48", "54", "55"), "cac:CardAccount", "BG-18"),
    fatal("BR-DE-24-b", means("48", "54", "55"),
          "not(cac:PayeeFinancialAccount) and not(cac:PaymentMandate)", "BG-18"),
    warning("BR-DE-20", means("59"),
            checks.iban("cbc:PaymentMeansCode",
                        "cac:PaymentMandate/cac:PayerFinancialAccount/cbc:ID", "59", NS), "BT-91"),
    fatal("BR-DE-25-a", means("59"), "cac:PaymentMandate", "BG-19"),
    fatal("BR-DE-25-b", means("59"), "not(cac:PayeeFinancialAccount) and not(cac:CardAccount)",
          "BG-19"),
    fatal("BR-DE-14", "/*/cac:TaxTotal/cac:TaxSubtotal", present("cac:TaxCategory/cbc:Percent"),
          "BT-119"),
)

EXTENSION: tuple[Rule, ...] = (
    fatal("BR-DEX-01", "//cbc:EmbeddedDocumentBinaryObject[$ext]",
          checks.code_in(codelists.MIME_CODES_EXT, "mimeCode"), "BT-125"),
    warning("BR-DEX-02", "/ubl:Invoice[$ext]", _sub_line_sums, "BT-131"),
    fatal("BR-DEX-03", "/ubl:Invoice[$ext]",
          "not(//cac:SubInvoiceLine/cac:Item[count(cac:ClassifiedTaxCategory) != 1])"),
    fatal("BR-DEX-09", "//cac:LegalMonetaryTotal[$ext]", _amount_due, "BT-115"),
    fatal("BR-DEX-04", "//cac:PartyIdentification/cbc:ID[@schemeID and $ext]",
          checks.any_of(checks.code_in(codelists.ICD_EXT, "schemeID"), lambda el: bool(
              checks.code_in({"SEPA"}, "schemeID")(el) and el.xpath(
                  "ancestor::cac:AccountingSupplierParty or ancestor::cac:PayeeParty",
                  namespaces=NS)))),
    fatal("BR-DEX-05", "//cac:PartyLegalEntity/cbc:CompanyID[@schemeID and $ext]",
          checks.code_in(codelists.ICD_EXT, "schemeID"), "BT-30"),
    fatal("BR-DEX-06", "//cac:StandardItemIdentification/cbc:ID[@schemeID and $ext]",
          checks.code_in(codelists.ICD_EXT, "schemeID"), "BT-157"),
    fatal("BR-DEX-07", "//cbc:EndpointID[@schemeID and $ext]",
          checks.code_in(codelists.EAS_EXT, "schemeID")),
    fatal("BR-DEX-08", "//cac:DeliveryLocation/cbc:ID[@schemeID and $ext]",
          checks.code_in(codelists.ICD_EXT, "schemeID"), "BT-71"),
    fatal("BR-DEX-10", "/ubl:Invoice/cac:PrepaidPayment[$ext]", present("cbc:ID"), "BT-DEX-001"),
    fatal("BR-DEX-11", "/ubl:Invoice/cac:PrepaidPayment[$ext]", present("cbc:PaidAmount"),
          "BT-DEX-002"),
    fatal("BR-DEX-12", "/ubl:Invoice/cac:PrepaidPayment[$ext]", present("cbc:InstructionID"),
          "BT-DEX-003"),
    fatal("BR-DEX-13", "/ubl:Invoice/cac:PrepaidPayment[$ext]",
          "string-length(substring-after(cbc:PaidAmount, '.')) <= 2", "BT-DEX-002"),
    fatal("BR-DEX-14", "/ubl:Invoice/cac:PrepaidPayment[$ext]",
          "cbc:PaidAmount/@currencyID = ../cbc:DocumentCurrencyCode", "BT-DEX-002"),
)

CVD_ITEM = "/*[$cvd]/cac:InvoiceLine/cac:Item | /*[$cvd]/cac:CreditNoteLine/cac:Item"
CVD_CODE = "cac:CommodityClassification/cbc:ItemClassificationCode[@listID = 'CVD']"

CVD: tuple[Rule, ...] = (
    fatal("BR-DE-CVD-02", "/*[$cvd]", present("cac:OriginatorDocumentReference/cbc:ID"), "BT-17"),
    fatal("BR-DE-CVD-01", "/*[$cvd]", present("cac:ContractDocumentReference/cbc:ID"), "BT-12"),
    fatal("BR-DE-CVD-03", "/*[$cvd]",
          f"{LINES}/cac:Item[{CVD_CODE} and cac:AdditionalItemProperty/cbc:Name = 'cva']",
          "BT-158"),
    fatal("BR-DE-CVD-06-a", CVD_ITEM,
          f"not({CVD_CODE}) or count(cac:AdditionalItemProperty[cbc:Name = 'cva']) = 1", "BT-160"),
    fatal("BR-DE-CVD-06-b", CVD_ITEM,
          f"not(cac:AdditionalItemProperty[cbc:Name = 'cva']) or count({CVD_CODE}) = 1", "BT-158"),
    *cvd.code_rules(f"({CVD_ITEM})/cac:CommodityClassification/cbc:ItemClassificationCode",
                    f"({CVD_ITEM})/cac:AdditionalItemProperty[cbc:Name = 'cva']", "cbc:Value", NS),
)
