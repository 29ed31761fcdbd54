"""Which office receives an invoice: the Leitweg-ID (BT-10) looked up in the routing table."""

from __future__ import annotations


def office_for(leitweg_id: str | None, routes: dict[str, str]) -> str | None:
    """The receiving office: exact ID first, then the longest configured prefix."""
    if not leitweg_id:
        return None
    if leitweg_id in routes:
        return routes[leitweg_id]
    prefixes = [p for p in routes if leitweg_id.startswith(p)]
    return routes[max(prefixes, key=len)] if prefixes else None
