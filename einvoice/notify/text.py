"""The words of notices to suppliers: plain-text mails, German first and English below, from the
templates ``templates/notice_*.txt``. Times are shown in ``zone``, the ``timezone`` setting.

Invoice numbers, file names and mail subjects in them come from outside: a subject is one line
without control or direction characters (``one_line``: a line break in an invoice number must not
start a header of its own), and so is each such value in a body, where no line may pretend to be
something the template did not write; a body keeps the template's line breaks and tabs but shows
any other control character as U+FFFD (``plain_body``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

from einvoice.lifecycle import Status
from einvoice.notify.unprocessable import unprocessable
from einvoice.store import tables as t
from einvoice.validation.findings import Level
from einvoice.views.formatting import DEFAULT_ZONE, money, money_en
from einvoice.views.labels import LABELS, status_words

_env = Environment(loader=PackageLoader("einvoice", "templates"), autoescape=False,
                   trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                   undefined=StrictUndefined)

# how to send a corrected invoice, by channel (German, English)
RESEND: dict[str, tuple[str, str]] = {
    "mail": ("als neue E-Mail an dieselbe Adresse", "as a new e-mail to the same address"),
    "upload": ("über das Upload-Portal", "through the upload portal"),
}
RESEND_OTHER = ("auf demselben Weg wie diese Rechnung", "the same way as this invoice")


SUBJECT_LIMIT = 512  # ``Notice.subject``
VALUE_LIMIT = 1024  # a file name or mail subject quoted in a body: as long as their columns
# C0 and C1 controls but tab and line feed, DEL, and the characters that reorder or separate text
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                      "\u202a-\u202e\u2066-\u2069]")


def one_line(value: str, limit: int = SUBJECT_LIMIT) -> str:
    """A header value: every control, line or direction character a space, blanks folded, at most
    ``limit`` characters."""
    return " ".join(_CONTROL.sub(" ", value).split())[:limit]


def plain_body(value: str) -> str:
    """Mail text: line breaks and tabs kept (CRLF as LF), any other control character U+FFFD."""
    return _CONTROL.sub("\ufffd", value.replace("\r\n", "\n"))


@dataclass(frozen=True)
class Text:
    subject: str
    body: str

    @classmethod
    def of(cls, subject: str, body: str) -> Text:
        """A notice's text, made safe to send (see the module's docstring)."""
        return cls(one_line(subject), plain_body(body))


@dataclass(frozen=True)
class Rule:
    """One failed rule as the supplier reads it."""

    rule_id: str
    term: str | None
    label: str | None
    message: str


def receipt(sub: t.Submission, cases: list[tuple[t.Document, t.Invoice]], *,
            zone: ZoneInfo = DEFAULT_ZONE) -> Text:
    """Acknowledges a submission, with what became of each document in it (an invalid one
    gets its own notice naming the rules, which the receipt points to; one that could not be
    read is said to be unprocessable, why, and what to send instead)."""
    documents = [{"name": one_line(doc.filename or f"Dokument {i}", VALUE_LIMIT),
                  "number": inv.number and _number(inv),
                  "status": status_words(inv.status), "invalid": inv.status == Status.INVALID,
                  "unprocessable": unprocessable(inv.status, doc.kind, doc.error or inv.error)}
                 for i, (doc, inv) in enumerate(cases, 1)]
    body = _env.get_template("notice_receipt.txt").render(
        documents=documents, subject=sub.subject and one_line(sub.subject, VALUE_LIMIT),
        submission_id=sub.id, sha256=sub.sha256,
        **_received(sub.received_at, zone))
    return Text.of(f"Eingangsbestätigung / Receipt {sub.id}", body)


def invalid(sub: t.Submission, inv: t.Invoice, findings: list[t.Finding], *,
            zone: ZoneInfo = DEFAULT_ZONE, redirected: Sequence[str] = ()) -> Text:
    """Names the rules an invoice breaks (the findings of level error). ``redirected``: the
    supplier warnings for which the notice goes to the finance office, said at its top."""
    rules = [Rule(f.rule_id, f.term, LABELS.get(f.term or ""), _official(f))
             for f in findings if f.level == Level.ERROR]
    if not rules:  # rejected without a rule (no scenario matched, schema not found, ...)
        rules = [Rule("-", None, None, inv.error or "Die Rechnung entspricht keinem "
                      "unterstützten Format. / The invoice matches no supported format.")]
    body = _env.get_template("notice_invalid.txt").render(rules=rules, redirected=redirected,
                                                         **_about(sub, inv, zone))
    return Text.of(f"Rechnung abgewiesen / Invoice rejected: {_number(inv)}", body)


def rejected(sub: t.Submission, inv: t.Invoice, reason: str, *,
             zone: ZoneInfo = DEFAULT_ZONE, redirected: Sequence[str] = ()) -> Text:
    """Tells the supplier that a person rejected the invoice, and why (``redirected`` as in
    ``invalid``)."""
    body = _env.get_template("notice_rejected.txt").render(reason=reason.strip(),
                                                          redirected=redirected,
                                                          **_about(sub, inv, zone))
    return Text.of(f"Rechnung abgelehnt / Invoice rejected: {_number(inv)}", body)


def _official(f: t.Finding) -> str:
    """The rule's official text without the ``[rule id]`` it often starts with."""
    return re.sub(rf"^\[{re.escape(f.rule_id)}\]\s*", "", f.message.strip())


def _number(inv: t.Invoice) -> str:
    return one_line(inv.number, VALUE_LIMIT) if inv.number else f"#{inv.id}"


def _about(sub: t.Submission, inv: t.Invoice, zone: ZoneInfo) -> dict[str, str]:
    """Which invoice this is and how to resend it, in both languages."""
    de, en = [f"Rechnung {_number(inv)}"], [f"invoice {_number(inv)}"]
    if inv.issue_date:
        de.append(f"vom {inv.issue_date:%d.%m.%Y}")
        en.append(f"of {inv.issue_date.isoformat()}")
    if inv.gross_total is not None:
        de.append(f"über {money(inv.gross_total, inv.currency)}")
        en.append(f"for {money_en(inv.gross_total, inv.currency)}")
    resend_de, resend_en = RESEND.get(sub.channel, RESEND_OTHER)
    return {"invoice_de": " ".join(de), "invoice_en": " ".join(en), "resend_de": resend_de,
            "resend_en": resend_en, **_received(inv.received_at, zone)}


def _received(at: datetime, zone: ZoneInfo) -> dict[str, str]:
    """When it arrived, in local time: the German line the way a letter says it, the English
    one in ISO order with the zone named."""
    local = at.astimezone(zone)
    return {"received_de": f"{local:%d.%m.%Y, %H:%M} Uhr",
            "received_en": f"{local:%Y-%m-%d %H:%M} ({zone.key} time)"}
