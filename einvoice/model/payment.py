"""Payment instructions (BG-16 … BG-19) and the XRechnung Skonto terms carried in BT-20."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from einvoice.model.terms import Part, required, term, terms_list


class CreditTransfer(Part):
    """BG-17 Credit transfer."""

    account_id: Annotated[str, required("BT-84")]
    account_name: str | None = term("BT-85")
    service_provider_id: str | None = term("BT-86")


class PaymentCard(Part):
    """BG-18 Payment card information."""

    primary_account_number: Annotated[str, required("BT-87")]
    holder_name: str | None = term("BT-88")


class DirectDebit(Part):
    """BG-19 Direct debit."""

    mandate_reference: str | None = term("BT-89")
    creditor_id: str | None = term("BT-90")
    debited_account_id: str | None = term("BT-91")


class PaymentInstructions(Part):
    """BG-16 Payment instructions."""

    means_code: str | None = term("BT-81")
    means_text: str | None = term("BT-82")
    remittance_information: str | None = term("BT-83")
    credit_transfers: list[CreditTransfer] = terms_list("BG-17")
    card: PaymentCard | None = term("BG-18")
    direct_debit: DirectDebit | None = term("BG-19")


class SkontoTerm(Part):
    """One XRechnung cash-discount line in BT-20:
    ``#SKONTO#TAGE=14#PROZENT=2.00#[BASISBETRAG=..#]``.

    Parsed because finance staff must pay within ``days`` to keep the discount.
    """

    days: int
    percent: Decimal
    base_amount: Decimal | None = None


_SKONTO = re.compile(
    r"#SKONTO#TAGE=(?P<days>\d+)#PROZENT=(?P<percent>\d+(?:\.\d+)?)#"
    r"(?:BASISBETRAG=(?P<base>-?\d+(?:\.\d+)?)#)?"
)


def parse_skonto(payment_terms: str | None) -> list[SkontoTerm]:
    """The Skonto lines of an XRechnung payment terms text (BT-20), in order of appearance."""
    if not payment_terms:
        return []
    return [
        SkontoTerm(
            days=int(m["days"]),
            percent=Decimal(m["percent"]),
            base_amount=Decimal(m["base"]) if m["base"] else None,
        )
        for m in _SKONTO.finditer(payment_terms)
    ]
