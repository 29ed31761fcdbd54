"""Who is told about an invoice.

Only addresses we know by a way of our own, never one read from the invoice (its seller contact
BT-43 or electronic address BT-34 could name anyone, and the service would mail a third party
on a stranger's word): the sender of the mail it came in, the supplier whose token uploaded it,
else the address in the supplier master (``supplier add --email``) of the supplier the invoice
names. An invoice whose bank account the supplier master does not vouch for may come from
someone posing as the supplier ("please pay to our new account"), and every address on its mail
or upload may be theirs: a notice about it goes to the supplier's address on file or, when
there is none, to the finance office (setting ``finance_office_email``), which asks the real
supplier by a known way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from email.utils import parseaddr

from einvoice.lifecycle import iban_ok, normalise_iban
from einvoice.store import tables as t

log = logging.getLogger(__name__)

ADDRESS_LIMIT = 320  # RFC 5321: 64 characters before the @, 255 after


def address(text: str | None) -> str | None:
    """The bare address in ``Name <addr>`` or ``addr``; None when it is not one (no @ between
    two parts, blanks or control characters inside, longer than an address can be)."""
    addr = parseaddr(text or "")[1].strip()
    if "@" not in addr.strip("@") or len(addr) > ADDRESS_LIMIT:
        return None
    return None if any(ch.isspace() or not ch.isprintable() for ch in addr) else addr


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
              finance_office: str | None, uploader: t.Supplier | None = None) -> str | None:
    """Where a notice about ``inv`` goes; None when there is nobody to send it to. ``supplier``:
    the master entry of the seller the invoice names; ``uploader``: the supplier whose token
    uploaded it (``sub.supplier_id``)."""
    on_file = address(supplier.email) if supplier is not None else None
    if invoice_suspicious(inv, supplier):
        if on_file is not None:
            return on_file
        if address(finance_office) is None:
            log.warning("invoice %s: its IBAN is not on file, so its notices go to the finance "
                        "office only, and `finance_office_email` is not set", inv.id)
        return address(finance_office)
    if sub.channel == "mail":
        return address(sub.sender) or on_file
    return (address(uploader.email) if uploader is not None else None) or on_file
