"""What the cases look at after the fact: a stored case, everything stored as text, whether
anyone called out to the network, and what a terminal or a mail would show."""

from __future__ import annotations

import socket
import unicodedata
from dataclasses import dataclass
from email.message import EmailMessage

import lxml.html
from sqlalchemy import text
from sqlmodel import Session, col, select

from einvoice.context import Context
from einvoice.store import tables as t

HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}  # control, format, surrogate, line/paragraph separator


@dataclass(frozen=True)
class Stored:
    """One case as stored: the invoice row, its document and its findings' rule ids."""

    invoice: t.Invoice
    document: t.Document
    findings: list[t.Finding]

    @property
    def status(self) -> str:
        return self.invoice.status

    @property
    def rules(self) -> set[str]:
        return {f.rule_id for f in self.findings}

    def says(self) -> str:
        """The error and every finding message, for checks on what the clerk is told."""
        return " | ".join([self.invoice.error or "", *(f.message for f in self.findings)])


def stored(ctx: Context, invoice_id: int) -> Stored:
    with Session(ctx.engine) as s:
        inv = s.get(t.Invoice, invoice_id)
        assert inv is not None, invoice_id
        doc = s.get(t.Document, inv.document_id)
        assert doc is not None
        findings = list(s.exec(select(t.Finding).where(t.Finding.invoice_id == invoice_id)
                               .order_by(col(t.Finding.id))).all())
        return Stored(inv, doc, findings)


def count(ctx: Context, table: str) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def text_of(ctx: Context, invoice_ids: list[int]) -> str:
    """All that is stored of these cases (invoice, document, findings), as one string."""
    return "\n".join(repr(vars(row)) for invoice_id in invoice_ids
                     for case in [stored(ctx, invoice_id)]
                     for row in (case.invoice, case.document, *case.findings))


class Listener:
    """A loopback port nobody should connect to: an XXE or a DTD fetch would."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.setblocking(False)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/evil.dtd"

    def called(self) -> bool:
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True

    def close(self) -> None:
        self.sock.close()


def page_text(html: str) -> str:
    """What a browser shows of a page, roughly: its text, markup taken out."""
    return "".join(str(part) for part in lxml.html.document_fromstring(html).itertext())


def hidden(out: str, allowed: str = "\n") -> list[str]:
    """Raw control, format or separator characters in ``out`` (after the terminal's own SGR
    colour codes are taken out by the caller)."""
    return sorted({f"U+{ord(c):04X}" for c in out
                   if c not in allowed and unicodedata.category(c) in HIDDEN})


def one_line_headers(mail: EmailMessage) -> None:
    """Every header of a mail is one line without control or direction characters."""
    for name, value in mail.items():
        raw = str(value)
        assert "\r" not in raw and "\n" not in raw, (name, raw)
        assert not hidden(raw, allowed=""), (name, raw)
