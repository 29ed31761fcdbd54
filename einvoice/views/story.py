"""The workflow story of a case in words, for the page (``view``) and the terminal (``show``,
``history``): who did what, when and why (the audit trail, people by their register names,
local times, details in words instead of stored JSON), the approvals given and still open, and
the supplier warnings with their reasons."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from einvoice import lifecycle
from einvoice.lifecycle import Signature, Status
from einvoice.store import tables as t
from einvoice.validation.report import VERDICT_DE
from einvoice.views.formatting import day, iban, local_time, money, number
from einvoice.views.labels import ACTION_DE, STEP_DE, status_words
from einvoice.views.queries import UNASSIGNED, Case, Signed

NO_OFFICE = f"keine: die Leitweg-ID passt zu keiner Stelle ({UNASSIGNED})"
AWAITING = (Status.PENDING, Status.ON_HOLD)
OPEN = "offen / open"
Plan = Sequence[tuple[str, int]]  # (step, signatures it needs), as approval.steps.plan gives


@dataclass(frozen=True)
class Event:
    """One line of the history: local time, person, action, status change, reason/details."""

    when: str
    who: str
    what: str
    change: str
    why: str


def person(login: str | None, names: Mapping[str, str]) -> str:
    """``Alice Adler (alice)``; a login the register does not know stands for itself."""
    if not login:
        return ""
    name = names.get(login)
    return f"{name} ({login})" if name and name != login else login


def _status_change(before: str | None, after: str | None) -> str:
    if before == after or after is None:
        return ""
    start = status_words(before).de if before else ""
    return f"{start} → {status_words(after).de}".strip()


def _office(value: Any) -> str:
    return str(value) if value else "keiner Stelle"


def _details(action: str, detail: dict[str, Any]) -> list[str]:
    """A stored event detail in words (hashes and the approved values stay in ``--json``)."""
    if action == "approve":
        return ([f"über {money(Decimal(detail['gross_total']), detail.get('currency'))}"]
                if detail.get("gross_total") else [])
    if action == "reassign" and isinstance(detail.get("office"), list):
        old, new = (detail["office"] + [None, None])[:2]
        return [f"von {_office(old)} an {_office(new)}"]
    if action == "pay":
        return _paid(detail)
    if action == "revalidate":
        verdict = detail.get("verdict")
        return [p for p in (f"Ergebnis: {VERDICT_DE.get(verdict, verdict)}" if verdict else "",
                            f"Regelwerk {detail['release']}" if detail.get("release") else "")
                if p]
    words = {"batch": "Stapel", "creditor": "Kreditor", "account": "Konto",
             "cost_centre": "Kostenstelle", "line": "Position", "eur_rate": "Kurs"}
    return [f"{words.get(key, key)} {_plain(value)}" for key, value in detail.items()
            if value not in (None, "", [], {}) and not key.endswith("sha256")]


def _paid(detail: dict[str, Any]) -> list[str]:
    """``am 01.07.2026, von Hand erfasst`` or ``…, Kontoauszug S-1: 1.234,56 €``."""
    words = [f"am {day(date.fromisoformat(detail['paid_on']))}"] if detail.get("paid_on") else []
    if detail.get("source") == "manual":
        return [*words, "von Hand erfasst"]
    amount = detail.get("amount")
    seen = f"Kontoauszug {detail.get('statement') or ''}".strip()
    if amount:
        seen += f": {money(Decimal(amount), detail.get('currency'))}"
    return [*words, seen]


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items())
    return str(value)


def event_rows(events: Sequence[t.AuditEvent], names: Mapping[str, str],
               zone: ZoneInfo) -> list[Event]:
    """The audit trail of one invoice as people read it, times in ``zone``."""
    rows = []
    for ev in events:
        detail = json.loads(ev.detail) if ev.detail else {}
        detail = detail if isinstance(detail, dict) else {"": detail}
        who = person(ev.actor, names)
        colleague = detail.pop("on_behalf_of", None)
        deputy = detail.pop("on_behalf_reason", None)
        if colleague:
            who += f" für {person(colleague, names)}"
        step = detail.pop("step", None)
        what = (f"{STEP_DE.get(step, step)} gezeichnet" if step
                else ACTION_DE.get(ev.action, ev.action))
        why = [ev.reason or "", *_details(ev.action, detail),
               f"Vertretung: {deputy}" if deputy else ""]
        rows.append(Event(local_time(ev.at, zone, seconds=True), who, what,
                          _status_change(ev.before, ev.after), "; ".join(w for w in why if w)))
    return rows


def _signer(sig: Signed, names: Mapping[str, str]) -> str:
    text = person(sig.login, names)
    return text + (f" für {person(sig.for_login, names)}" if sig.for_login else "")


def approval_rows(case: Case, plan: Plan, zone: ZoneInfo) -> list[tuple[str, str]]:
    """(step, who and when) for every signature given and, while the invoice awaits a
    decision, every one still open under ``plan``."""
    given: dict[str, list[Signed]] = {}
    for sig in case.signed:
        given.setdefault(sig.step, []).append(sig)
    awaiting = case.invoice.status in AWAITING
    steps = [*plan, *((s, 0) for s in given if s not in dict(plan))]
    rows = []
    for step, needed in steps:
        signed = given.get(step, [])
        label = STEP_DE.get(step, step)
        total = max(needed, len(signed))
        for i in range(total if awaiting else len(signed)):
            numbered = f"{label} {i + 1} von {total}" if total > 1 else label
            rows.append((numbered, f"{_signer(signed[i], case.names)}, "
                         f"{local_time(signed[i].at, zone)}" if i < len(signed) else OPEN))
    return rows


def next_step(case: Case, plan: Plan) -> str | None:
    """The step the invoice waits for, in words (None: it awaits no approval)."""
    if case.invoice.status not in AWAITING or not plan:
        return None
    step = lifecycle.next_step(plan, [Signature(s.step, s.login, s.for_login)
                                      for s in case.signed])
    return None if step is None else STEP_DE.get(step, step)


def workflow_facts(case: Case, plan: Plan) -> list[tuple[str, str]]:
    """Where the invoice is, when it must be paid, what it waits for, how it is booked."""
    inv = case.invoice
    facts = [("Stelle", inv.office or NO_OFFICE)]
    waits = next_step(case, plan)
    if waits:
        facts.append(("Wartet auf", waits))
    if inv.pay_by:
        facts.append(("Zahlen bis", day(inv.pay_by)))
    if inv.paid_on:
        facts.append(("Bezahlt am", day(inv.paid_on)))
    if inv.skonto_until:
        rate = f"{number(inv.skonto_percent)} % " if inv.skonto_percent is not None else ""
        facts.append(("Skonto", f"{rate}bei Zahlung bis {day(inv.skonto_until)}"))
    booked = ", ".join(f"{label} {value}" for label, value in (
        ("Konto", inv.account), ("Kostenstelle", inv.cost_centre)) if value)
    if booked:
        facts.append(("Kontierung", booked))
    return facts


def flag_reasons(case: Case) -> list[str]:
    """Each supplier warning with why it was raised and what to do."""
    inv, supplier = case.invoice, case.supplier
    out = []
    for flag in case.flags:
        if flag.startswith("unbekannter Lieferant"):
            reason = (f"weder USt-IdNr. {inv.seller_vat_id or '–'} noch der Name "
                      f"„{inv.seller_name or ''}“ stehen in den Lieferantenstammdaten; keine "
                      "IBAN lässt sich mit bekannten vergleichen / not in the supplier master, "
                      "no IBAN can be checked against known ones")
        elif flag.startswith("ungültige IBAN"):
            reason = ("Prüfziffer, Länge oder Ländercode stimmen nicht (ISO 13616) / check "
                      "digits, length or country code are wrong")
        elif flag.startswith("neue IBAN") and supplier is not None:
            known = ", ".join(iban(i) for i in supplier.ibans.split(",") if i) or "keine"
            reason = (f"nicht unter den IBANs von „{supplier.name}“ in den Stammdaten "
                      f"({known}); vor der Zahlung beim Lieferanten unter einer bekannten "
                      "Nummer nachfragen / not among the supplier's IBANs on file: confirm "
                      "with the supplier before paying")
        else:
            reason = ""
        out.append(f"{flag} – {reason}" if reason else flag)
    return out
