"""Does the channel an invoice came in on speak for the seller it names? The ingest decision
that keeps one supplier from invoicing in another's name.

Three checks, over the master data the caller looked up (``SupplierFacts``):

- **Upload token.** A token belongs to one supplier. When both the token's supplier and the
  invoice name a VAT id, they must be the same (compared as ``vat_key``). Otherwise the seller
  the master data finds for the invoice (by VAT id, else by name) must be the token's supplier;
  when the master data finds nobody, the seller cannot be checked: flagged, not held. (The
  master holds a VAT id and a name; a tax number or seller id in the invoice is not on file to
  compare with.)
- **IBAN on a known VAT id.** An invoice naming the VAT id of a supplier on file, with an IBAN
  that is not among that supplier's IBANs, is the classic fraud ("please pay to our new
  account"): held, whoever sent it. A supplier with no IBAN on file has no bank details a
  change could be checked against: its invoices keep the views' warning "IBAN not on file"
  (``supplier_flags``) and are not held, so that master data kept for booking only (accounts,
  cost centre) does not hold every invoice of that supplier.
- **Mail sender.** The seller on file has an e-mail address: the mail must come from that
  address's domain (a supplier sends from several mailboxes of its own; the From header can be
  forged anyway, so a stricter check would add holds, not safety). No address on file: flagged.

A held invoice is ``on_hold`` with its flags and ``unbound``; until a person releases it, it is
never the original a later invoice is a duplicate of (``UNCLEARED``), so a forgery cannot turn
the genuine supplier's invoice into a "duplicate". It may itself be a copy of an earlier invoice
(``duplicate_of`` is recorded) but stays held, so that a person sees the attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from einvoice.lifecycle.keys import vat_key
from einvoice.lifecycle.machine import Status
from einvoice.lifecycle.suppliers import normalise_iban

# statuses in which an unbound invoice has not been cleared by a person: no original for others
UNCLEARED: frozenset[Status] = frozenset({Status.RECEIVED, Status.ON_HOLD})


@dataclass(frozen=True)
class SupplierFacts:
    """A supplier as the master data knows it."""

    supplier_id: int
    name: str
    vat_id: str | None = None
    ibans: tuple[str, ...] = ()
    email: str | None = None

    def __str__(self) -> str:
        return f"{self.name} ({self.vat_id or 'keine USt-IdNr. / no VAT id'})"


@dataclass(frozen=True)
class SellerClaim:
    """Who the invoice says it is from and where it asks to be paid."""

    name: str | None
    vat_id: str | None
    ibans: Sequence[str] = ()

    def __str__(self) -> str:
        return f"{self.name or '?'} ({self.vat_id or 'keine USt-IdNr. / no VAT id'})"


MAIL_CHANNEL = "mail"  # the channel (``submission.channel``) whose sender is checked


@dataclass(frozen=True)
class Channel:
    """How the invoice came in: ``kind`` as ``submission.channel`` names it, ``token`` the
    upload token's supplier, ``sender`` the mail's sender address (None when it had none)."""

    kind: str
    token: SupplierFacts | None = None
    sender: str | None = None


@dataclass(frozen=True)
class Binding:
    """``held``: the invoice waits on hold for a person; ``flags``: what the clerk is told."""

    held: bool = False
    flags: tuple[str, ...] = field(default=())


def _token(seller: SellerClaim, token: SupplierFacts,
           claimed: SupplierFacts | None) -> Binding:
    own, theirs = vat_key(token.vat_id), vat_key(seller.vat_id)
    if own and theirs:
        matches = own == theirs
    elif claimed is not None:
        matches = claimed.supplier_id == token.supplier_id
    else:
        return Binding(False, (f"Rechnungssteller nicht geprüft / seller not checked: the "
                               f"upload token's supplier {token} and the seller {seller} "
                               f"cannot be compared (no VAT id on both sides, seller not on "
                               f"file)",))
    if matches:
        return Binding()
    return Binding(True, (f"Rechnungssteller passt nicht zum Upload-Zugang / seller does not "
                          f"match the upload token's supplier: token of {token}, invoice "
                          f"names {seller}",))


def _ibans(seller: SellerClaim, claimed: SupplierFacts | None) -> Binding:
    theirs = vat_key(seller.vat_id)
    if claimed is None or not claimed.ibans or theirs is None or vat_key(claimed.vat_id) != theirs:
        return Binding()
    known = {normalise_iban(i) for i in claimed.ibans}
    new = [i for i in seller.ibans if normalise_iban(i) not in known]
    if not new:
        return Binding()
    return Binding(True, (f"neue IBAN zu bekannter USt-IdNr. / IBAN not on file for a known "
                          f"VAT id: {', '.join(new)} for {claimed}",))


def _domain(address: str | None) -> str:
    """The domain of an address, compared case-insensitively; none for what is no address."""
    local, at, domain = (address or "").rpartition("@")
    return domain.strip().rstrip(".").casefold() if local and at else ""


def _sender(channel: Channel, claimed: SupplierFacts | None) -> Binding:
    if channel.kind != MAIL_CHANNEL or claimed is None:
        return Binding()
    sender = channel.sender or "(kein Absender / no sender)"
    if not claimed.email:
        return Binding(False, (f"keine Absenderadresse hinterlegt / no sender address on file "
                               f"for {claimed}: mail from {sender}",))
    if _domain(channel.sender) and _domain(channel.sender) == _domain(claimed.email):
        return Binding()
    return Binding(True, (f"Absender nicht für den Rechnungssteller hinterlegt / sender not "
                          f"registered for the seller: mail from {sender}, {claimed} is on file "
                          f"with {claimed.email}",))


def bind(seller: SellerClaim, channel: Channel, claimed: SupplierFacts | None) -> Binding:
    """Whether the channel speaks for the seller (see the module text). ``claimed``: the
    supplier on file the invoice names (by VAT id, else by name), None when there is none."""
    checks = [_ibans(seller, claimed), _sender(channel, claimed)]
    if channel.token is not None:
        checks.insert(0, _token(seller, channel.token, claimed))
    return Binding(any(b.held for b in checks), tuple(f for b in checks for f in b.flags))
