"""The mail intake's world: raw messages handed to ``intake.mail.handle`` as an IMAP poll
would, and a real SMTP server (aiosmtpd on loopback, without SMTPUTF8) the notices go to; the
genuine supplier on file with its address."""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlmodel import Session, col, select

from einvoice.approval.suppliers import SupplierData, save_supplier
from einvoice.config import Smtp
from einvoice.context import Context
from einvoice.intake import mail
from einvoice.notify.outbox import send_pending
from einvoice.store import tables as t
from tests.hostile import documents as d
from tests.hostile.facts import Listener, one_line_headers, text_of
from tests.hostile.harness import Cases, Env
from tests.hostile.http_env import GENUINE_VAT, SAMPLE_IBANS

cases = Cases()
SENDER = "lieferant@seller.example"  # the genuine supplier's domain is seller.example
VICTIM = "victim@third.example"


class Sink:
    """What the SMTP server accepted: each mail with its envelope recipients."""

    def __init__(self) -> None:
        self.mails: list[tuple[EmailMessage, list[str]]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.mails.append((parsed, list(envelope.rcpt_tos)))
        return "250 OK"


@dataclass
class MailEnv(Env):
    sink: Sink = field(default_factory=Sink)
    controller: Any = None
    listener: Listener | None = None
    uid: int = 0

    def deliver(self, raw: bytes) -> mail.MessageResult:
        """The message handled and its notices sent (measured); the SMTP log starts empty."""
        self.uid += 1
        self.sink.mails.clear()
        with self.timed():
            result = mail.handle(self.ctx, raw, self.uid, None)
            report = send_pending(self.ctx)
        assert report.failed == 0, report.errors
        for sent, _ in self.sink.mails:
            one_line_headers(sent)
        return result

    def invoice(self, number: str) -> bytes:
        return d.renumber(d.corpus_bytes(self.corpus, d.COMPREHENSIVE), number)

    def invalid(self, number: str) -> bytes:
        """The sample without its buyer reference (BR-DE-15)."""
        data = re.sub(rb"<cbc:BuyerReference>.*?</cbc:BuyerReference>", b"",
                      d.corpus_bytes(self.corpus, d.COMPREHENSIVE))
        return d.renumber(data, number)

    @property
    def recipients(self) -> list[str]:
        return sorted(r for _, rcpts in self.sink.mails for r in rcpts)


def letter(*attachments: tuple[str, bytes, str], sender: str = SENDER,
           subject: str = "Rechnung", **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Lieferant <{sender}>"
    msg["To"] = "rechnungseingang@stadt.example"
    msg["Subject"] = subject
    msg["Message-ID"] = headers.pop("message_id", f"<{id(attachments)}@seller.example>")
    msg.set_content("Anbei die Rechnung.")
    for name, data, ctype in attachments:
        main, sub = ctype.split("/")
        msg.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return msg.as_bytes()


def make(ctx: Context, corpus: Path, work: Path) -> MailEnv:
    env = MailEnv(ctx, corpus, work, listener=Listener())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env.controller = Controller(env.sink, hostname="127.0.0.1", port=port,
                                enable_SMTPUTF8=False)
    env.controller.start()
    ctx.settings.smtp = Smtp(host="127.0.0.1", port=port, sender="rechnungseingang@stadt.example")
    save_supplier(ctx, SupplierData("[Seller name]", GENUINE_VAT, ibans=SAMPLE_IBANS,
                                    email="rechnung@seller.example"))
    return env


def alive(env: MailEnv) -> None:
    number = env.unique("OK")
    data = d.renumber(d.corpus_bytes(env.corpus, d.MINIMAL), number)
    env.uid += 1
    result = mail.handle(env.ctx, letter((f"{number}.xml", data, "application/xml")), env.uid,
                         None)
    assert result.outcome == mail.PROCESSED, result
    report = send_pending(env.ctx)
    assert report.failed == 0 and report.sent >= 1, report


def close(env: MailEnv) -> None:
    env.controller.stop()
    if env.listener is not None:
        env.listener.close()




def failed(env: MailEnv, raw: bytes, result: mail.MessageResult, *words: str) -> None:
    assert result.outcome == mail.FAILED, result
    for word in words:
        assert word in (result.problem or ""), (word, result.problem)
    env.kept(raw)
    assert "root:x:0:0" not in text_of(env.ctx, invoice_ids(env, result))


def invoice_ids(env: MailEnv, result: mail.MessageResult) -> list[int]:
    with Session(env.ctx.engine) as s:
        return [i for i in s.exec(select(t.Invoice.id).join(
            t.Document, col(t.Document.id) == col(t.Invoice.document_id))
            .where(t.Document.submission_id == result.submission_id)).all() if i is not None]
