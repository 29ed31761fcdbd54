"""Supplier warnings a clerk must see before approving (unknown supplier, invalid or new
IBAN)."""

from __future__ import annotations

from collections.abc import Iterable


def normalise_iban(value: str) -> str:
    return value.replace(" ", "").upper()


def iban_ok(value: str) -> bool:
    from schwifty import IBAN  # its bank registry is large: loaded when an IBAN is checked
    from schwifty.exceptions import SchwiftyException

    try:
        IBAN(value)
    except (SchwiftyException, ValueError):
        return False
    return True


def supplier_flags(seller_name: str | None, ibans: Iterable[str],
                   known_ibans: Iterable[str] | None) -> list[str]:
    """Warnings a clerk must see before approving. ``known_ibans`` is None when the supplier is
    not on file. An IBAN the supplier never used before is the classic fraud pattern ("please
    pay to our new account")."""
    out: list[str] = []
    if known_ibans is None and seller_name:
        out.append("unbekannter Lieferant / unknown supplier")
    known = {normalise_iban(i) for i in known_ibans or ()}
    for iban in ibans:
        if not iban_ok(iban):
            out.append(f"ungültige IBAN / invalid IBAN {iban}")
        elif known_ibans is not None and normalise_iban(iban) not in known:
            out.append(f"neue IBAN / IBAN not on file {iban}")
    return out
