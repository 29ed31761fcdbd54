"""The case data above an invoice page, and all there is of a document that could not be read.

Every document has a case (DESIGN: nothing is lost), so every case can be viewed: a clerk looking
at an invalid invoice needs its findings, at a duplicate the invoice it repeats, at an
unreadable file what it was, where it came from and its SHA-256 to find the original in the
archive. The terminal view of ``show`` uses the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from einvoice.store import tables as t
from einvoice.validation.report import VERDICT_DE, finding_json
from einvoice.views.formatting import local_time, number, size
from einvoice.views.labels import CHANNEL_DE, KIND_DE, status_label, status_words
from einvoice.views.queries import Case
from einvoice.views.story import (
    NO_OFFICE,
    Event,
    Plan,
    approval_rows,
    event_rows,
    flag_reasons,
    workflow_facts,
)

UNREADABLE = ("Dieses Dokument konnte nicht als elektronische Rechnung gelesen werden. Das "
              "Original liegt unverändert im Archiv und ist an seiner SHA-256-Prüfsumme zu "
              "erkennen.")
__all__ = ["NO_OFFICE", "UNREADABLE", "CaseSection", "case_section"]


@dataclass(frozen=True)
class CaseSection:
    """What the page shows about the case; ``unreadable`` explains a page without invoice."""

    title: str
    facts: list[tuple[str, str]]
    findings: list[dict[str, Any]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    unreadable: str | None = None
    approvals: list[tuple[str, str]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def case_section(case: Case, zone: ZoneInfo, plan: Plan = ()) -> CaseSection:
    """The case's facts in German, times in ``zone``: status, why it was rejected, held or
    closed, where it is and when it must be paid, the check and its rules, the file; the
    approvals given and (by ``plan``, the approval it passes) still open, the supplier warnings
    with their reasons and the history."""
    inv, doc = case.invoice, case.document
    facts = [("Vorgang", str(inv.id)),
             ("Status", status_label(inv.status))]
    if inv.note:  # why it was rejected, held or closed
        facts.append(("Vermerk", inv.note))
    if case.model is not None:
        facts += workflow_facts(case, plan)
    if inv.verdict:
        facts.append(("Prüfergebnis", f"{VERDICT_DE.get(inv.verdict, inv.verdict)} "
                      f"({inv.verdict})" + (f", Szenario {inv.scenario}" if inv.scenario else "")))
    if inv.rule_release:
        facts.append(("Regelwerk", inv.rule_release))
    if inv.profile:
        facts.append(("Profil", inv.profile))
    if case.original is not None:
        facts.append(("Duplikat von", _original(case.original, zone)))
    facts += [("Datei", doc.filename or "–"),
              ("Art", f"{KIND_DE.get(doc.kind, doc.kind)} ({doc.kind})"),
              ("Größe", _bytes(doc.size)), ("SHA-256", doc.sha256),
              ("Eingang", _arrival(case.submission, doc, zone))]
    if inv.error:
        facts.append(("Fehler", inv.error))
    findings = [finding_json(f) for f in case.findings]
    title = (f"Vorgang {inv.id}: {status_words(inv.status).de}" if case.model is not None
             else f"Nicht lesbares Dokument {doc.filename or ''}".strip())
    return CaseSection(title, facts, findings, flag_reasons(case),
                       None if case.model is not None else UNREADABLE,
                       approval_rows(case, plan, zone),
                       event_rows(case.events, case.names, zone))


def _bytes(n: int) -> str:
    """``812 Byte``; above that rounded with the exact count: ``12,3 kB (12.345 Byte)``."""
    return size(n) if n < 1000 else f"{size(n)} ({number(Decimal(n))}\xa0Byte)"


def _arrival(sub: t.Submission, doc: t.Document, zone: ZoneInfo) -> str:
    """When and how: ``02.12.2026 14:05 per E-Mail von a@b.de, Betreff „…“, in r.zip``."""
    text = f"{local_time(sub.received_at, zone)} per {CHANNEL_DE.get(sub.channel, sub.channel)}"
    if sub.sender:
        text += f" von {sub.sender}"
    if sub.subject:
        text += f", Betreff „{sub.subject}“"
    if sub.filename and sub.filename != doc.filename:
        text += f", in {sub.filename}"
    return text


def _original(original: t.Invoice, zone: ZoneInfo) -> str:
    return (f"Vorgang {original.id} (Rechnung {original.number or '–'}, eingegangen "
            f"{local_time(original.received_at, zone)}, {status_words(original.status).de})")
