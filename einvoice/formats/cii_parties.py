"""The parties of a CII invoice (BG-4 .. BG-13) and how the payee is paid (BG-16 .. BG-19)."""

from __future__ import annotations

from einvoice import model
from einvoice.formats.cii_syntax import CiiPaths
from einvoice.formats.groups import each, group, identifier
from einvoice.formats.xmlwalk import Node

_LEGAL_ID = "SpecifiedLegalOrganization/ID"
_TRADING_NAME = "SpecifiedLegalOrganization/TradingBusinessName"
_ELECTRONIC_ADDRESS = "URIUniversalCommunication/URIID"


def _party_ids(cii: CiiPaths, party: Node | None) -> list[model.Identifier]:
    """Party identifiers (BT-29, BT-46, BT-60, BT-71): plain IDs, then GlobalIDs."""
    return each(identifier, cii.all(party, "ID") + cii.all(party, "GlobalID"))


def _tax_id(cii: CiiPaths, party: Node | None, scheme: str) -> str | None:
    """The tax registration of a scheme: VA = VAT id, FC = other tax registration."""
    return next((el.text for el in cii.all(party, "SpecifiedTaxRegistration/ID")
                 if el.attr("schemeID") == scheme), None)


def _address(cii: CiiPaths, el: Node | None) -> model.Address | None:
    return group(
        model.Address,
        line1=cii.text(el, "LineOne"),
        line2=cii.text(el, "LineTwo"),
        line3=cii.text(el, "LineThree"),
        city=cii.text(el, "CityName"),
        post_code=cii.text(el, "PostcodeCode"),
        subdivision=cii.text(el, "CountrySubDivisionName"),
        country=cii.text(el, "CountryID"),
    )


def _contact(cii: CiiPaths, el: Node | None) -> model.Contact | None:
    """BG-6 / BG-9; the binding takes the contact point from a person or a department."""
    return group(model.Contact, name=cii.text(el, "PersonName") or cii.text(el, "DepartmentName"),
                 phone=cii.text(el, "TelephoneUniversalCommunication/CompleteNumber"),
                 email=cii.text(el, "EmailURIUniversalCommunication/URIID"))


def seller(cii: CiiPaths, party: Node | None) -> model.Seller:
    return model.Seller(
        name=cii.text(party, "Name"),
        trading_name=cii.text(party, _TRADING_NAME),
        identifiers=_party_ids(cii, party),
        legal_registration_id=identifier(cii.find(party, _LEGAL_ID)),
        vat_id=_tax_id(cii, party, "VA"),
        tax_registration_id=_tax_id(cii, party, "FC"),
        additional_legal_info=cii.text(party, "Description"),
        electronic_address=identifier(cii.find(party, _ELECTRONIC_ADDRESS)),
        address=_address(cii, cii.find(party, "PostalTradeAddress")),
        contact=_contact(cii, cii.find(party, "DefinedTradeContact")),
    )


def buyer(cii: CiiPaths, party: Node | None) -> model.Buyer:
    ids = _party_ids(cii, party)
    return model.Buyer(
        name=cii.text(party, "Name"),
        trading_name=cii.text(party, _TRADING_NAME),
        identifier=ids[0] if ids else None,
        legal_registration_id=identifier(cii.find(party, _LEGAL_ID)),
        vat_id=_tax_id(cii, party, "VA"),
        electronic_address=identifier(cii.find(party, _ELECTRONIC_ADDRESS)),
        address=_address(cii, cii.find(party, "PostalTradeAddress")),
        contact=_contact(cii, cii.find(party, "DefinedTradeContact")),
    )


def payee(cii: CiiPaths, party: Node | None) -> model.Payee | None:
    ids = _party_ids(cii, party)
    return group(model.Payee, name=cii.text(party, "Name"), identifier=ids[0] if ids else None,
                 legal_registration_id=identifier(cii.find(party, _LEGAL_ID)))


def tax_representative(cii: CiiPaths, party: Node | None) -> model.TaxRepresentative | None:
    return group(model.TaxRepresentative, name=cii.text(party, "Name"),
                 vat_id=_tax_id(cii, party, "VA"),
                 address=_address(cii, cii.find(party, "PostalTradeAddress")))


def delivery(cii: CiiPaths, trade_delivery: Node | None) -> model.Delivery | None:
    """BG-13: the ship-to party and the actual delivery date."""
    ship_to = cii.find(trade_delivery, "ShipToTradeParty")
    ids = _party_ids(cii, ship_to)
    return group(
        model.Delivery,
        party_name=cii.text(ship_to, "Name"),
        location_id=ids[0] if ids else None,
        actual_date=cii.date(trade_delivery, "ActualDeliverySupplyChainEvent/OccurrenceDateTime",
                             "BT-72"),
        address=_address(cii, cii.find(ship_to, "PostalTradeAddress")),
    )


# ---------------------------------------------------------------- payment

def payment(cii: CiiPaths, settlement: Node | None) -> model.PaymentInstructions | None:
    """BG-16 over all payment means: code and text from the first, accounts from all."""
    means = cii.all(settlement, "SpecifiedTradeSettlementPaymentMeans")
    first = means[0] if means else None
    return group(
        model.PaymentInstructions,
        means_code=cii.text(first, "TypeCode"),
        means_text=cii.joined(first, "Information"),
        remittance_information=cii.text(settlement, "PaymentReference"),
        credit_transfers=[transfer for el in means
                          if (transfer := _credit_transfer(cii, el)) is not None],
        card=next((card for el in means if (card := _card(cii, el)) is not None), None),
        direct_debit=group(
            model.DirectDebit,
            mandate_reference=cii.text(settlement,
                                       "SpecifiedTradePaymentTerms/DirectDebitMandateID"),
            creditor_id=cii.text(settlement, "CreditorReferenceID"),
            debited_account_id=next(
                (iban for el in means
                 if (iban := cii.text(el, "PayerPartyDebtorFinancialAccount/IBANID"))), None),
        ),
    )


def _credit_transfer(cii: CiiPaths, means: Node) -> model.CreditTransfer | None:
    """BG-17 of one payment means; the account is an IBAN or a proprietary id."""
    account = cii.find(means, "PayeePartyCreditorFinancialAccount")
    return group(
        model.CreditTransfer, key="account_id",
        account_id=cii.text(account, "IBANID") or cii.text(account, "ProprietaryID"),
        account_name=cii.text(account, "AccountName"),
        service_provider_id=cii.text(means, "PayeeSpecifiedCreditorFinancialInstitution/BICID"),
    )


def _card(cii: CiiPaths, means: Node) -> model.PaymentCard | None:
    card = cii.find(means, "ApplicableTradeSettlementFinancialCard")
    return group(model.PaymentCard, key="primary_account_number",
                 primary_account_number=cii.text(card, "ID"),
                 holder_name=cii.text(card, "CardholderName"))
