"""Who is told about an invoice.

Normally the sender of the mail it came in, else the seller's e-mail written in the invoice. An
invoice whose bank account the supplier master does not vouch for may come from someone posing
as the supplier ("please pay to our new account"), and every address in it or on its mail may
be theirs: a notice about it goes to the supplier's address on file (``supplier add --email``)
or, when there is none, to the finance office (setting ``finance_office_email``), which asks the
real supplier by a known way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from email.utils import parseaddr

from einvoice.lifecycle import iban_ok, normalise_iban
from einvoice.model import Invoice as InvoiceModel
from einvoice.store import tables as t

log = logging.getLogger(__name__)


def address(text: str | None) -> str | None:
    """The bare address in ``Name <addr>`` or ``addr``; None when it is not one."""
    addr = parseaddr(text or "")[1].strip()
    return addr if "@" in addr.strip("@") else None


def iban_suspicious(ibans: Iterable[str], known_ibans: Iterable[str]) -> bool:
    """One of the invoice's IBANs is invalid or not among the supplier's known ones (none when
    the supplier is not on file: then any IBAN is)."""
    known = {normalise_iban(i) for i in known_ibans}
    return any(not iban_ok(i) or normalise_iban(i) not in known for i in ibans)


def invoice_suspicious(inv: t.Invoice, supplier: t.Supplier | None) -> bool:
    """``iban_suspicious`` for a stored invoice and its supplier master entry."""
    return iban_suspicious([i for i in (inv.ibans or "").split(",") if i],
                           [] if supplier is None else supplier.ibans.split(","))


def recipient(sub: t.Submission, inv: t.Invoice, supplier: t.Supplier | None,
              finance_office: str | None) -> str | None:
    """Where a notice about ``inv`` goes; None when there is nobody to send it to."""
    if invoice_suspicious(inv, supplier):
        on_file = address(supplier.email) if supplier is not None else None
        if on_file is not None:
            return on_file
        if address(finance_office) is None:
            log.warning("invoice %s: its IBAN is not on file, so its notices go to the finance "
                        "office only, and `finance_office_email` is not set", inv.id)
        return address(finance_office)
    if sub.channel == "mail" and address(sub.sender):
        return address(sub.sender)
    if not inv.model_json:
        return None
    seller = InvoiceModel.model_validate_json(inv.model_json).seller
    electronic = seller.electronic_address
    for candidate in (seller.contact.email if seller.contact else None,
                      electronic.value if electronic and electronic.scheme == "EM" else None):
        if address(candidate):
            return address(candidate)
    return None
