"""Leitweg-ID (BT-10): syntax and ISO 7064 MOD 97-10 check digits, the office it routes to, and
whether it is ours.

Findings are warnings: the official rules only require BT-10 to be present (BR-DE-15), and the
official test invoices carry made-up IDs; a wrong or foreign ID is for routing to sort out, with
the reason in the report.
"""

from __future__ import annotations

from collections.abc import Mapping

from stdnum.de import leitweg

from einvoice.validation.document import Doc
from einvoice.validation.findings import Finding, Flag

FORMAT = "EINVOICE-LEITWEG-1"
UNKNOWN = "EINVOICE-LEITWEG-2"


def office_for(leitweg_id: str | None, routes: Mapping[str, str]) -> str | None:
    """The receiving office in a routing table: the exact ID first, then the longest
    configured prefix (a fine address beats the coarse address of the whole city). A prefix
    is whole parts of the ID: ``05117000-TIEFBAU`` takes ``05117000-TIEFBAU-12`` but not
    ``05117000-TIEFBAU2-60``."""
    if not leitweg_id:
        return None
    if leitweg_id in routes:
        return routes[leitweg_id]
    prefixes = [p for p in routes if leitweg_id.startswith(p.rstrip("-") + "-")]
    return routes[max(prefixes, key=len)] if prefixes else None


class LeitwegPack:
    """Checks BT-10; with a routing table, also that the ID (or a prefix of it) is ours."""

    name = "leitweg"

    def __init__(self, routes: dict[str, str] | None = None) -> None:
        self.routes = routes or {}

    def validate(self, doc: Doc) -> list[Finding]:
        value = doc.invoice.buyer_reference if doc.invoice else None
        if not value:
            return []
        if not leitweg.is_valid(value):
            return [Finding(
                FORMAT, Flag.WARNING, term="BT-10", pack=self.name,
                message=f"Die Käuferreferenz (BT-10) '{value}' ist keine gültige Leitweg-ID "
                        "(Aufbau oder Prüfziffer nach ISO 7064 MOD 97-10). / Buyer reference "
                        f"(BT-10) '{value}' is not a valid Leitweg-ID (format or check digits).")]
        if self.routes and office_for(value, self.routes) is None:
            return [Finding(
                UNKNOWN, Flag.WARNING, term="BT-10", pack=self.name,
                message=f"Die Leitweg-ID '{value}' gehört zu keiner Stelle dieser Verwaltung. / "
                        f"Leitweg-ID '{value}' does not belong to this administration.")]
        return []


def pack() -> LeitwegPack:
    """Format and check digits only; the engine registers a routing-aware pack from settings."""
    return LeitwegPack()
