"""Parties of an invoice: seller, buyer, payee, tax representative, their addresses and contacts
(BG-4 … BG-12)."""

from __future__ import annotations

from einvoice.model.terms import Identifier, Part, term, terms_list


class Address(Part):
    """Postal address: BG-5 (seller), BG-8 (buyer), BG-12 (tax representative), BG-15 (deliver
    to)."""

    line1: str | None = term({"BG-5": "BT-35", "BG-8": "BT-50", "BG-12": "BT-64", "BG-15": "BT-75"})
    line2: str | None = term({"BG-5": "BT-36", "BG-8": "BT-51", "BG-12": "BT-65", "BG-15": "BT-76"})
    line3: str | None = term({"BG-5": "BT-162", "BG-8": "BT-163", "BG-12": "BT-164",
                              "BG-15": "BT-165"})
    city: str | None = term({"BG-5": "BT-37", "BG-8": "BT-52", "BG-12": "BT-66", "BG-15": "BT-77"})
    post_code: str | None = term({"BG-5": "BT-38", "BG-8": "BT-53", "BG-12": "BT-67",
                                  "BG-15": "BT-78"})
    subdivision: str | None = term({"BG-5": "BT-39", "BG-8": "BT-54", "BG-12": "BT-68",
                                    "BG-15": "BT-79"})
    country: str | None = term({"BG-5": "BT-40", "BG-8": "BT-55", "BG-12": "BT-69",
                                "BG-15": "BT-80"})


class Contact(Part):
    """Contact: BG-6 (seller), BG-9 (buyer)."""

    name: str | None = term({"BG-6": "BT-41", "BG-9": "BT-56"})
    phone: str | None = term({"BG-6": "BT-42", "BG-9": "BT-57"})
    email: str | None = term({"BG-6": "BT-43", "BG-9": "BT-58"})


class Seller(Part):
    """BG-4 Seller."""

    name: str | None = term("BT-27")
    trading_name: str | None = term("BT-28")
    identifiers: list[Identifier] = terms_list("BT-29")
    legal_registration_id: Identifier | None = term("BT-30")
    vat_id: str | None = term("BT-31")
    tax_registration_id: str | None = term("BT-32")
    additional_legal_info: str | None = term("BT-33")
    electronic_address: Identifier | None = term("BT-34")
    address: Address | None = term("BG-5")
    contact: Contact | None = term("BG-6")


class Buyer(Part):
    """BG-7 Buyer."""

    name: str | None = term("BT-44")
    trading_name: str | None = term("BT-45")
    identifier: Identifier | None = term("BT-46")
    legal_registration_id: Identifier | None = term("BT-47")
    vat_id: str | None = term("BT-48")
    electronic_address: Identifier | None = term("BT-49")
    address: Address | None = term("BG-8")
    contact: Contact | None = term("BG-9")


class Payee(Part):
    """BG-10 Payee (when different from the seller)."""

    name: str | None = term("BT-59")
    identifier: Identifier | None = term("BT-60")
    legal_registration_id: Identifier | None = term("BT-61")


class TaxRepresentative(Part):
    """BG-11 Seller tax representative party."""

    name: str | None = term("BT-62")
    vat_id: str | None = term("BT-63")
    address: Address | None = term("BG-12")
