"""The parties of a UBL invoice (BG-4 .. BG-13) and how the payee is paid (BG-16 .. BG-19)."""

from __future__ import annotations

from einvoice import model
from einvoice.formats.groups import each, group, identifier
from einvoice.formats.ubl_syntax import attr, find, find_all, text, ubl_date
from einvoice.formats.xmlwalk import Node

_LEGAL_ID = "cac:PartyLegalEntity/cbc:CompanyID"


def _address(el: Node | None) -> model.Address | None:
    return group(
        model.Address,
        line1=text(el, "cbc:StreetName"),
        line2=text(el, "cbc:AdditionalStreetName"),
        line3=text(el, "cac:AddressLine/cbc:Line"),
        city=text(el, "cbc:CityName"),
        post_code=text(el, "cbc:PostalZone"),
        subdivision=text(el, "cbc:CountrySubentity"),
        country=text(el, "cac:Country/cbc:IdentificationCode"),
    )


def _contact(el: Node | None) -> model.Contact | None:
    return group(model.Contact, name=text(el, "cbc:Name"), phone=text(el, "cbc:Telephone"),
                 email=text(el, "cbc:ElectronicMail"))


def _is_sepa(el: Node) -> bool:
    """The SEPA creditor id (BT-90) hides among party ids, marked by scheme SEPA."""
    return (el.attr("schemeID") or "").upper() == "SEPA"


def _party_ids(party: Node | None) -> list[model.Identifier]:
    """Party identifiers (BT-29, BT-46, BT-60), without the SEPA creditor id."""
    ids = find_all(party, "cac:PartyIdentification/cbc:ID")
    return each(identifier, [el for el in ids if not _is_sepa(el)])


def sepa_creditor_id(party: Node | None) -> str | None:
    return next((el.text for el in find_all(party, "cac:PartyIdentification/cbc:ID")
                 if _is_sepa(el)), None)


def _tax_ids(party: Node | None) -> tuple[str | None, str | None]:
    """(VAT id, other tax registration id): PartyTaxScheme told apart by its TaxScheme/ID."""
    vat = other = None
    for scheme in find_all(party, "cac:PartyTaxScheme"):
        company_id = text(scheme, "cbc:CompanyID")
        if (text(scheme, "cac:TaxScheme/cbc:ID") or "").upper() == "VAT":
            vat = vat or company_id
        else:
            other = other or company_id
    return vat, other


def seller(party: Node | None) -> model.Seller:
    vat_id, tax_registration_id = _tax_ids(party)
    return model.Seller(
        name=text(party, "cac:PartyLegalEntity/cbc:RegistrationName"),
        trading_name=text(party, "cac:PartyName/cbc:Name"),
        identifiers=_party_ids(party),
        legal_registration_id=identifier(find(party, _LEGAL_ID)),
        vat_id=vat_id,
        tax_registration_id=tax_registration_id,
        additional_legal_info=text(party, "cac:PartyLegalEntity/cbc:CompanyLegalForm"),
        electronic_address=identifier(find(party, "cbc:EndpointID")),
        address=_address(find(party, "cac:PostalAddress")),
        contact=_contact(find(party, "cac:Contact")),
    )


def buyer(party: Node | None) -> model.Buyer:
    ids = _party_ids(party)
    return model.Buyer(
        name=text(party, "cac:PartyLegalEntity/cbc:RegistrationName"),
        trading_name=text(party, "cac:PartyName/cbc:Name"),
        identifier=ids[0] if ids else None,
        legal_registration_id=identifier(find(party, _LEGAL_ID)),
        vat_id=_tax_ids(party)[0],
        electronic_address=identifier(find(party, "cbc:EndpointID")),
        address=_address(find(party, "cac:PostalAddress")),
        contact=_contact(find(party, "cac:Contact")),
    )


def payee(party: Node | None) -> model.Payee | None:
    ids = _party_ids(party)
    return group(model.Payee, name=text(party, "cac:PartyName/cbc:Name"),
                 identifier=ids[0] if ids else None,
                 legal_registration_id=identifier(find(party, _LEGAL_ID)))


def tax_representative(party: Node | None) -> model.TaxRepresentative | None:
    return group(model.TaxRepresentative, name=text(party, "cac:PartyName/cbc:Name"),
                 vat_id=_tax_ids(party)[0],
                 address=_address(find(party, "cac:PostalAddress")))


def delivery(el: Node | None) -> model.Delivery | None:
    return group(
        model.Delivery,
        party_name=text(el, "cac:DeliveryParty/cac:PartyName/cbc:Name"),
        location_id=identifier(find(el, "cac:DeliveryLocation/cbc:ID")),
        actual_date=ubl_date(el, "cbc:ActualDeliveryDate", "BT-72"),
        address=_address(find(el, "cac:DeliveryLocation/cac:Address")),
    )


# ---------------------------------------------------------------- payment

def _credit_transfer(account: Node) -> model.CreditTransfer | None:
    return group(model.CreditTransfer, key="account_id", account_id=text(account, "cbc:ID"),
                 account_name=text(account, "cbc:Name"),
                 service_provider_id=text(account, "cac:FinancialInstitutionBranch/cbc:ID"))


def payment(root: Node, creditor_id: str | None) -> model.PaymentInstructions | None:
    """BG-16 over all PaymentMeans: code, text and remittance from the first, accounts from all."""
    first = find(root, "cac:PaymentMeans")
    card = find(root, "cac:PaymentMeans/cac:CardAccount")
    mandate = find(root, "cac:PaymentMeans/cac:PaymentMandate")
    return group(
        model.PaymentInstructions,
        means_code=text(first, "cbc:PaymentMeansCode"),
        means_text=attr(first, "cbc:PaymentMeansCode", "name"),
        remittance_information=text(first, "cbc:PaymentID"),
        credit_transfers=each(_credit_transfer,
                              find_all(root, "cac:PaymentMeans/cac:PayeeFinancialAccount")),
        card=group(model.PaymentCard, key="primary_account_number",
                   primary_account_number=text(card, "cbc:PrimaryAccountNumberID"),
                   holder_name=text(card, "cbc:HolderName")),
        direct_debit=group(
            model.DirectDebit,
            mandate_reference=text(mandate, "cbc:ID"),
            creditor_id=creditor_id,
            debited_account_id=text(mandate, "cac:PayerFinancialAccount/cbc:ID"),
        ),
    )
