"""Notices to suppliers against a real SMTP server (aiosmtpd on a loopback port), on SQLite and
PostgreSQL: one receipt and one rejection per event, never twice, retried after an outage."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, col, select

from einvoice.approval import workflow
from einvoice.config import Smtp
from einvoice.context import Context
from einvoice.notify.outbox import queue_for_ingest, queue_rejection, send_pending
from einvoice.pipeline import Submission, ingest
from einvoice.store import tables as t

SAMPLE = "valid/xrechnung-testsuite/technical-cases/cius/01.01_comprehensive_test_ubl.xml"
SUPPLIER = "lieferant@example.com"
SELLER_CONTACT = "tim.tester@test.com"  # BT-43 of the sample


class Sink:
    """An aiosmtpd handler that keeps what it accepted and refuses chosen recipients."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.refuse: set[str] = set()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        with self.lock:
            self.mails.append(mail)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.mails if m["To"] == address]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def mailer(ctx: Context, sink: tuple[Sink, int]) -> Sink:
    """The context sends to the sink."""
    ctx.settings.smtp = Smtp(host="127.0.0.1", port=sink[1],
                             sender="rechnungseingang@stadt.example")
    return sink[0]


def invalid_xml(corpus: Path, number: str = "1234567") -> bytes:
    data = (corpus / SAMPLE).read_bytes()
    data = re.sub(rb"<cbc:BuyerReference>.*?</cbc:BuyerReference>", b"", data)  # BR-DE-15
    return data.replace(b"<cbc:ID>1234567</cbc:ID>", f"<cbc:ID>{number}</cbc:ID>".encode(), 1)


def mail_in(ctx: Context, data: bytes, message_id: str = "<r-1@example.com>") -> int:
    result = ingest(ctx, Submission(data, "mail", filename="rechnung.xml",
                                    sender=f"Lieferant GmbH <{SUPPLIER}>",
                                    subject="Rechnung 1234567", message_id=message_id))
    return result.submission_id


def notices(ctx: Context) -> list[t.Notice]:
    with Session(ctx.engine) as s:
        return list(s.exec(select(t.Notice).order_by(col(t.Notice.id))).all())


def test_invalid_mailed_invoice_gets_one_receipt_and_one_rejection(
        ctx: Context, corpus: Path, mailer: Sink) -> None:
    sub_id = mail_in(ctx, invalid_xml(corpus))
    added = queue_for_ingest(ctx, sub_id)
    assert len(added) == 2
    report = send_pending(ctx)
    assert (report.sent, report.failed) == (2, 0), str(report)

    receipt, rejection = mailer.to(SUPPLIER)
    assert len(mailer.mails) == 2
    assert receipt["Subject"].startswith("Eingangsbestätigung / Receipt")
    assert "rechnung.xml, Rechnung 1234567: fehlerhaft" in receipt.get_content()
    assert rejection["Subject"] == "Rechnung abgewiesen / Invoice rejected: 1234567"
    assert rejection["In-Reply-To"] == "<r-1@example.com>"
    assert rejection["Auto-Submitted"] == "auto-generated"
    body = rejection.get_content()
    german, english = body.split("-- English")
    assert "Regel BR-DE-15, betrifft BT-10 (Käuferreferenz (Leitweg-ID))" in german
    assert 'Das Element "Buyer reference" (BT-10) muss übermittelt werden.' in german
    assert "kann deshalb nicht bearbeitet" in german
    assert "als neue E-Mail an dieselbe Adresse" in german
    assert "Rule BR-DE-15, concerning BT-10" in english
    assert "cannot be processed" in english
    assert all(n.sent_at is not None and n.error is None for n in notices(ctx))

    assert queue_for_ingest(ctx, sub_id) == []  # the same events again: nothing new
    assert mail_in(ctx, invalid_xml(corpus)) == sub_id  # the same mail delivered twice
    assert queue_for_ingest(ctx, sub_id) == []
    assert send_pending(ctx).sent == 0
    assert len(mailer.mails) == 2


def test_smtp_down_records_the_error_and_delivers_once_when_back(
        ctx: Context, corpus: Path, sink: tuple[Sink, int]) -> None:
    handler, port = sink
    ctx.settings.smtp = Smtp(host="127.0.0.1", port=free_port(), send_receipts=False)
    queue_for_ingest(ctx, mail_in(ctx, invalid_xml(corpus)))

    down = send_pending(ctx)
    assert (down.sent, down.failed) == (0, 1)
    (notice,) = notices(ctx)
    assert notice.sent_at is None
    assert notice.error is not None and "SMTP server 127.0.0.1" in notice.error

    ctx.settings.smtp = Smtp(host="127.0.0.1", port=port, send_receipts=False)
    assert send_pending(ctx).sent == 1
    assert send_pending(ctx).sent == 0
    assert [m["To"] for m in handler.mails] == [SUPPLIER]
    (notice,) = notices(ctx)
    assert notice.sent_at is not None and notice.error is None


def test_refused_recipient_fails_alone_and_is_retried(
        ctx: Context, corpus: Path, mailer: Sink) -> None:
    mailer.refuse.add(SUPPLIER)
    queue_for_ingest(ctx, mail_in(ctx, invalid_xml(corpus)))
    other = ingest(ctx, Submission(invalid_xml(corpus, "R-2"), "upload"))  # to the seller
    queue_for_ingest(ctx, other.submission_id)

    first = send_pending(ctx)
    assert (first.sent, first.failed) == (1, 2)  # receipt and rejection refused
    assert [m["To"] for m in mailer.mails] == [SELLER_CONTACT]
    mailer.refuse.clear()
    assert send_pending(ctx).sent == 2
    assert send_pending(ctx).sent == 0
    assert len(mailer.to(SUPPLIER)) == 2


def test_person_rejection_sends_the_reason_to_the_seller(
        ctx: Context, corpus: Path, mailer: Sink) -> None:
    data = (corpus / SAMPLE).read_bytes()
    result = ingest(ctx, Submission(data, "upload", filename="r.xml"))
    assert queue_for_ingest(ctx, result.submission_id) == []  # valid upload: nothing to say
    invoice_id = result.outcomes[0].invoice_id
    reason = "Die Leistung wurde nicht erbracht."
    workflow.reject(ctx, invoice_id, "alice", reason)  # queues the notice in its transaction

    with ctx.engine.begin() as conn:  # asking again for the same event adds nothing
        assert queue_rejection(conn, invoice_id, reason, ctx.settings.zone) is None
    assert send_pending(ctx).sent == 1
    (mail,) = mailer.mails
    assert mail["To"] == SELLER_CONTACT
    assert mail["Subject"] == "Rechnung abgelehnt / Invoice rejected: 1234567"
    body = mail.get_content()
    assert body.count(reason) == 2
    assert "über das Upload-Portal" in body and "was rejected by our" in body
    (notice,) = notices(ctx)
    assert (notice.event_key, notice.kind, notice.invoice_id) == (
        f"rejected:invoice:{invoice_id}", "rejected", invoice_id)


def test_without_smtp_notices_are_recorded_but_not_sent(ctx: Context, corpus: Path) -> None:
    assert ctx.settings.smtp is None
    assert len(queue_for_ingest(ctx, mail_in(ctx, invalid_xml(corpus)))) == 1  # no receipt
    report = send_pending(ctx)
    assert (report.configured, report.pending, report.sent) == (False, 1, 0)
    assert "not sent" in str(report)
    (notice,) = notices(ctx)
    assert notice.event_key.startswith("invalid:invoice:") and notice.sent_at is None


def test_a_claimed_notice_is_left_alone_until_its_claim_expires(
        ctx: Context, corpus: Path, mailer: Sink) -> None:
    assert ctx.settings.smtp is not None
    ctx.settings.smtp.send_receipts = False
    queue_for_ingest(ctx, mail_in(ctx, invalid_xml(corpus)))
    with Session(ctx.engine) as s:
        (notice,) = s.exec(select(t.Notice)).all()
        notice.error = "sending since 2999-01-01T00:00:00Z other"  # another process, now
        s.add(notice)
        s.commit()
        assert send_pending(ctx).sent == 0
        notice.error = "sending since 2000-01-01T00:00:00Z other"  # that process died
        s.add(notice)
        s.commit()
    assert send_pending(ctx).sent == 1
    assert len(mailer.mails) == 1


def test_concurrent_senders_send_each_notice_once(
        ctx: Context, corpus: Path, mailer: Sink) -> None:
    for i in range(6):
        queue_for_ingest(ctx, mail_in(ctx, invalid_xml(corpus, f"R-{i}"), f"<r{i}@example.com>"))
    assert len(notices(ctx)) == 12
    threads = [threading.Thread(target=send_pending, args=(ctx,)) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(mailer.mails) == 12
    assert len({m["Message-ID"] for m in mailer.mails}) == 12
    assert all(n.sent_at is not None for n in notices(ctx))
