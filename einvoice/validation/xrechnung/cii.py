"""XRechnung CIUS rules for UN/CEFACT CII (``XRechnung-CII-validation.sch``): the core
pattern, the extension pattern (``$ext``) and the CVD pattern (``$cvd``)."""

from __future__ import annotations

from einvoice.validation.findings import Flag
from einvoice.validation.xrechnung import checks, codelists, cvd
from einvoice.validation.xrechnung.engine import Rule, fatal, one_of, present, warning

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
SPEC_ID = "/*/rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"

ROOT = "/rsm:CrossIndustryInvoice"
TRADE = f"{ROOT}/rsm:SupplyChainTradeTransaction"
AGREEMENT = f"{TRADE}/ram:ApplicableHeaderTradeAgreement"
SETTLEMENT = f"{TRADE}/ram:ApplicableHeaderTradeSettlement"
CONTACT = f"{AGREEMENT}/ram:SellerTradeParty/ram:DefinedTradeContact"
# BG-19 has no element of its own in CII: its three BTs stand for it
MANDATE = f"{SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:DirectDebitMandateID"
CREDITOR = f"{SETTLEMENT}/ram:CreditorReferenceID"
DEBTOR_IBAN = "ram:PayerPartyDebtorFinancialAccount/ram:IBANID"
ANY_DEBTOR_IBAN = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans/{DEBTOR_IBAN}"
DIRECT_DEBIT = f"({MANDATE} or {CREDITOR} or {DEBTOR_IBAN})"
LINE_TAX = ("rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem/"
            "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax")
HEADER_AC_TAX = ("rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
                 "ram:SpecifiedTradeAllowanceCharge/ram:CategoryTradeTax")
NET, GROSS = ("ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice",
              "ram:SpecifiedLineTradeAgreement/ram:GrossPriceProductTradePrice")


def means(*codes: str) -> str:
    return (f"{SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans"
            f"[{one_of('normalize-space(ram:TypeCode)', codes)}]")


def _vat_codes_used() -> str:
    codes = codelists.VAT_CODES_WITH_ID
    return (f"({LINE_TAX}/ram:TypeCode = 'VAT' and "
            f"{one_of(f'{LINE_TAX}/ram:CategoryCode', codes)}) or "
            f"({HEADER_AC_TAX} = 'VAT' and {one_of(f'{HEADER_AC_TAX}/ram:CategoryCode', codes)})")


def _both_present_and_equal(path: str) -> str:
    return f"{GROSS}/{path} = {NET}/{path}"


CORE: tuple[Rule, ...] = (
    fatal("BR-DE-30", ROOT, f"(({MANDATE} or {ANY_DEBTOR_IBAN}) and {CREDITOR}) or "
          f"not({MANDATE} or {CREDITOR} or {ANY_DEBTOR_IBAN})", "BT-90"),
    fatal("BR-DE-31", ROOT, f"(({MANDATE} or {CREDITOR}) and {ANY_DEBTOR_IBAN}) or "
          f"not({MANDATE} or {CREDITOR} or {ANY_DEBTOR_IBAN})", "BT-91"),
    fatal("BR-DE-1", ROOT, f"{SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans", "BG-16"),
    fatal("BR-DE-15", ROOT, present(f"{AGREEMENT}/ram:BuyerReference"), "BT-10"),
    fatal("BR-DE-16", ROOT,
          f"not({_vat_codes_used()}) or "
          f"{AGREEMENT}/ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID["
          "normalize-space(@schemeID)='VA' or normalize-space(@schemeID)='FC'][normalize-space()]"
          f" or {AGREEMENT}/ram:SellerTaxRepresentativeTradeParty", "BT-31"),
    warning("BR-DE-17", ROOT, one_of("normalize-space(rsm:ExchangedDocument/ram:TypeCode)",
                                     codelists.INVOICE_TYPE_CODES), "BT-3"),
    fatal("BR-DE-18", ROOT,
          checks.skonto(f"{SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:Description[1]", NS),
          "BT-20"),
    fatal("BR-DE-22", ROOT,
          "count(//ram:AdditionalReferencedDocument) = count(//ram:AdditionalReferencedDocument["
          "not(ram:AttachmentBinaryObject/@filename = preceding-sibling::"
          "ram:AdditionalReferencedDocument/ram:AttachmentBinaryObject/@filename)])", "BT-125"),
    warning("BR-DE-26", ROOT, "not(normalize-space(rsm:ExchangedDocument/ram:TypeCode) = '384')"
            f" or {SETTLEMENT}/ram:InvoiceReferencedDocument", "BG-3"),
    warning("BR-DE-21", f"{ROOT}/rsm:ExchangedDocumentContext",
            one_of("ram:GuidelineSpecifiedDocumentContextParameter/ram:ID",
                   codelists.XR_SPEC_IDS), "BT-24"),
    fatal("BR-DE-2", f"{AGREEMENT}/ram:SellerTradeParty", "ram:DefinedTradeContact", "BG-6"),
    fatal("BR-DE-3", f"{AGREEMENT}/ram:SellerTradeParty/ram:PostalTradeAddress",
          present("ram:CityName"), "BT-37"),
    fatal("BR-DE-4", f"{AGREEMENT}/ram:SellerTradeParty/ram:PostalTradeAddress",
          present("ram:PostcodeCode"), "BT-38"),
    fatal("BR-DE-5", CONTACT, present("ram:PersonName | ram:DepartmentName"), "BT-41"),
    fatal("BR-DE-6", CONTACT, present("ram:TelephoneUniversalCommunication/ram:CompleteNumber"),
          "BT-42"),
    fatal("BR-DE-7", CONTACT, present("ram:EmailURIUniversalCommunication/ram:URIID"), "BT-43"),
    warning("BR-DE-27", CONTACT,
            checks.telephone("ram:TelephoneUniversalCommunication/ram:CompleteNumber", NS),
            "BT-42"),
    warning("BR-DE-28", CONTACT,
            checks.email("ram:EmailURIUniversalCommunication/ram:URIID", NS), "BT-43"),
    fatal("BR-DE-8", f"{AGREEMENT}/ram:BuyerTradeParty/ram:PostalTradeAddress",
          present("ram:CityName"), "BT-52"),
    fatal("BR-DE-9", f"{AGREEMENT}/ram:BuyerTradeParty/ram:PostalTradeAddress",
          present("ram:PostcodeCode"), "BT-53"),
    warning("BR-TMP-2", f"{AGREEMENT}/ram:AdditionalReferencedDocument[ram:TypeCode = '916']",
            checks.url("ram:URIID", NS, optional=True), "BT-124"),
    fatal("BR-DE-10", f"{TRADE}/ram:ApplicableHeaderTradeDelivery/ram:ShipToTradeParty"
          "/ram:PostalTradeAddress", present("ram:CityName"), "BT-77"),
    fatal("BR-DE-11", f"{TRADE}/ram:ApplicableHeaderTradeDelivery/ram:ShipToTradeParty"
          "/ram:PostalTradeAddress", present("ram:PostcodeCode"), "BT-78"),
    warning("BR-DE-19", means("30", "58"),
            checks.iban("ram:TypeCode", "ram:PayeePartyCreditorFinancialAccount/ram:IBANID",
                        "58", NS), "BT-84"),
    fatal("BR-DE-23-a", means("30", "58"), "ram:PayeePartyCreditorFinancialAccount", "BG-17"),
    fatal("BR-DE-23-b", means("30", "58"),
          f"not(ram:ApplicableTradeSettlementFinancialCard) and not{DIRECT_DEBIT}", "BG-17"),
    fatal("BR-DE-24-a", means("48", "54", "55"), "ram:ApplicableTradeSettlementFinancialCard",
          "BG-18"),
    fatal("BR-DE-24-b", means("48", "54", "55"),
          f"not(ram:PayeePartyCreditorFinancialAccount) and not{DIRECT_DEBIT}", "BG-18"),
    warning("BR-DE-20", means("59"), checks.iban("ram:TypeCode", DEBTOR_IBAN, "59", NS), "BT-91"),
    fatal("BR-DE-25-a", means("59"), DIRECT_DEBIT, "BG-19"),
    fatal("BR-DE-25-b", means("59"),
          "not(ram:PayeePartyCreditorFinancialAccount) and "
          "not(ram:PayeeSpecifiedCreditorFinancialInstitution) and "
          "not(ram:PayerSpecifiedDebtorFinancialInstitution) and "
          "not(ram:ApplicableTradeSettlementFinancialCard)", "BG-19"),
    fatal("BR-DE-14", f"{SETTLEMENT}/ram:ApplicableTradeTax",
          present("ram:RateApplicablePercent"), "BT-119"),
    Rule("BR-DE-TMP-32", Flag.INFORMATION, TRADE,
         "ram:ApplicableHeaderTradeDelivery/ram:ActualDeliverySupplyChainEvent/"
         "ram:OccurrenceDateTime or ram:ApplicableHeaderTradeSettlement/ram:BillingSpecifiedPeriod"
         " or not(ram:IncludedSupplyChainTradeLineItem[not(ram:SpecifiedLineTradeSettlement/"
         "ram:BillingSpecifiedPeriod)])", "BT-72"),
    fatal("BR-TMP-3", f"{TRADE}/ram:IncludedSupplyChainTradeLineItem",
          f"not({GROSS}/ram:BasisQuantity and {NET}/ram:BasisQuantity) or "
          f"({_both_present_and_equal('ram:BasisQuantity')} and "
          f"(not({NET}/ram:BasisQuantity/@unitCode and {GROSS}/ram:BasisQuantity/@unitCode) or "
          f"{_both_present_and_equal('ram:BasisQuantity/@unitCode')}))", "BT-149"),
)

EXTENSION: tuple[Rule, ...] = (
    warning("BR-DEX-15", f"{TRADE}/ram:IncludedSupplyChainTradeLineItem"
            "/ram:AssociatedDocumentLineDocument[$ext]", "not(//ram:ParentLineID)"),
    fatal("BR-DEX-04", "//ram:GlobalID[@schemeID and $ext][not(ancestor::ram:SpecifiedTradeProduct)"
          " and not(ancestor::ram:ShipToTradeParty)]",
          checks.code_in(codelists.ICD_EXT, "schemeID")),
    fatal("BR-DEX-05", "//ram:ID[@schemeID and $ext][not(ancestor::ram:SpecifiedTaxRegistration)]",
          checks.code_in(codelists.ICD_EXT, "schemeID")),
    fatal("BR-DEX-06", "//ram:SpecifiedTradeProduct/ram:GlobalID[@schemeID and $ext]",
          checks.code_in(codelists.ICD_EXT, "schemeID"), "BT-157"),
    fatal("BR-DEX-07", "//ram:URIUniversalCommunication/ram:URIID[@schemeID and $ext]",
          checks.code_in(codelists.EAS_EXT, "schemeID")),
    fatal("BR-DEX-08", "//ram:ApplicableHeaderTradeDelivery/ram:ShipToTradeParty"
          "/ram:GlobalID[@schemeID and $ext]", checks.code_in(codelists.ICD_EXT, "schemeID"),
          "BT-71"),
    fatal("BR-DEX-01", "//ram:AttachmentBinaryObject[$ext]",
          checks.code_in(codelists.MIME_CODES_EXT, "mimeCode"), "BT-125"),
)

PRODUCT = f"{ROOT}[$cvd]/rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem" \
    "/ram:SpecifiedTradeProduct"
CVA = "ram:ApplicableProductCharacteristic[ram:Description = 'cva']"

CVD: tuple[Rule, ...] = (
    fatal("BR-DE-CVD-03", f"{ROOT}[$cvd]/rsm:SupplyChainTradeTransaction",
          "ram:IncludedSupplyChainTradeLineItem/ram:SpecifiedTradeProduct[ram:Designated"
          "ProductClassification/ram:ClassCode/@listID = 'CVD' and ram:ApplicableProduct"
          "Characteristic/ram:Description = 'cva']", "BT-158"),
    fatal("BR-DE-CVD-06-b", PRODUCT, f"not({CVA}) or count(ram:DesignatedProductClassification"
          "/ram:ClassCode[@listID = 'CVD']) = 1", "BT-158"),
    fatal("BR-DE-CVD-06-a", PRODUCT, "not(ram:DesignatedProductClassification/ram:ClassCode"
          f"/@listID = 'CVD') or count({CVA}) = 1", "BT-160"),
    *cvd.code_rules(f"{PRODUCT}/ram:DesignatedProductClassification/ram:ClassCode",
                    f"{PRODUCT}/{CVA}", "ram:Value", NS),
    fatal("BR-DE-CVD-01", f"{ROOT}[$cvd]/rsm:SupplyChainTradeTransaction"
          "/ram:ApplicableHeaderTradeAgreement",
          present("ram:ContractReferencedDocument/ram:IssuerAssignedID"), "BT-12"),
    fatal("BR-DE-CVD-02", f"{ROOT}[$cvd]/rsm:SupplyChainTradeTransaction"
          "/ram:ApplicableHeaderTradeAgreement",
          "ram:AdditionalReferencedDocument[normalize-space(ram:TypeCode) = '50' and "
          "normalize-space(ram:IssuerAssignedID)]", "BT-17"),
)
