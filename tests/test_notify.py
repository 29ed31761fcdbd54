"""Notices to suppliers against a real SMTP server (aiosmtpd on a loopback port), on SQLite and
PostgreSQL: one receipt and one rejection per event, never twice, retried after an outage; a
notice goes to the mail's sender, the uploading supplier or the address on file, never to one
from the invoice; one about an invoice whose IBAN the supplier master does not vouch for goes
to the finance office, never to an address from the invoice or its mail. (What one failing
notice does to the others, and the back-off: test_notice_queue.)"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, col, select

from einvoice.approval import workflow
from einvoice.config import Smtp
from einvoice.context import Context
from einvoice.model import Invoice
from einvoice.notify.outbox import BACKOFF, queue_for_ingest, queue_rejection, send_pending
from einvoice.notify.recipient import address, iban_suspicious, invoice_suspicious, recipient
from einvoice.pipeline import Submission, ingest
from einvoice.store import tables as t
from einvoice.store.types import utcnow
from tests.smtp_sink import Sink as SmtpSink
from tests.smtp_sink import free_port

SAMPLE = "valid/xrechnung-testsuite/technical-cases/cius/01.01_comprehensive_test_ubl.xml"
SUPPLIER = "lieferant@example.com"
ON_FILE = "buchhaltung@lieferant.example"  # the known supplier's address in the master
SELLER_CONTACT = "tim.tester@test.com"  # BT-43 of the sample: never written to
IBANS = ("DE79000000001234567890", "DE16000000002345678901")  # BT-84 of the sample
FINANCE = "rechnungspruefung@stadt.example"


class Sink(SmtpSink):
    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.mails if m["To"] == address]


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def known(ctx: Context) -> t.Supplier:
    """The sample's seller is on file with both its IBANs (its invoices are not suspicious) and
    its address."""
    return on_file(ctx, ",".join(IBANS), ON_FILE)


def on_file(ctx: Context, ibans: str, email: str | None = None) -> t.Supplier:
    with Session(ctx.engine, expire_on_commit=False) as s:
        supplier = t.Supplier(name="[Seller name]", vat_id="ATU123456789", ibans=ibans,
                              email=email)
        s.add(supplier)
        s.commit()
    return supplier


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
        ctx: Context, corpus: Path, mailer: Sink, known: t.Supplier) -> None:
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
        ctx: Context, corpus: Path, sink: tuple[Sink, int], known: t.Supplier) -> None:
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
        ctx: Context, corpus: Path, mailer: Sink, known: t.Supplier) -> None:
    mailer.refuse.add(SUPPLIER)
    queue_for_ingest(ctx, mail_in(ctx, invalid_xml(corpus)))
    other = ingest(ctx, Submission(invalid_xml(corpus, "R-2"), "upload",
                                   supplier_id=known.id))  # to the uploader's address
    queue_for_ingest(ctx, other.submission_id)

    first = send_pending(ctx)
    assert (first.sent, first.failed) == (1, 2)  # receipt and rejection refused
    assert [m["To"] for m in mailer.mails] == [ON_FILE]
    mailer.refuse.clear()
    assert send_pending(ctx).sent == 0  # they wait for their back-off
    assert send_pending(ctx, now=lambda: utcnow() + BACKOFF[0]).sent == 2
    assert send_pending(ctx, now=lambda: utcnow() + BACKOFF[0]).sent == 0
    assert len(mailer.to(SUPPLIER)) == 2


def test_person_rejection_sends_the_reason_to_the_uploader(
        ctx: Context, corpus: Path, mailer: Sink, known: t.Supplier) -> None:
    data = (corpus / SAMPLE).read_bytes()
    result = ingest(ctx, Submission(data, "upload", filename="r.xml", supplier_id=known.id))
    assert queue_for_ingest(ctx, result.submission_id) == []  # valid upload: nothing to say
    invoice_id = result.outcomes[0].invoice_id
    reason = "Die Leistung wurde nicht erbracht."
    workflow.reject(ctx, invoice_id, "alice", reason)  # queues the notice in its transaction

    with ctx.engine.begin() as conn:  # asking again for the same event adds nothing
        assert queue_rejection(conn, invoice_id, reason, ctx.settings.zone) is None
    assert send_pending(ctx).sent == 1
    (mail,) = mailer.mails
    assert mail["To"] == ON_FILE  # the token's supplier, not BT-43 of the invoice
    assert mail["Subject"] == "Rechnung abgelehnt / Invoice rejected: 1234567"
    body = mail.get_content()
    assert body.count(reason) == 2
    assert "über das Upload-Portal" in body and "was rejected by our" in body
    assert "Rechnungsstelle" not in body  # a normal notice has no word for the finance office
    (notice,) = notices(ctx)
    assert (notice.event_key, notice.kind, notice.invoice_id) == (
        f"rejected:invoice:{invoice_id}", "rejected", invoice_id)


def test_without_smtp_notices_are_recorded_but_not_sent(ctx: Context, corpus: Path,
                                                        known: t.Supplier) -> None:
    assert ctx.settings.smtp is None
    assert len(queue_for_ingest(ctx, mail_in(ctx, invalid_xml(corpus)))) == 1  # no receipt
    report = send_pending(ctx)
    assert (report.configured, report.pending, report.sent) == (False, 1, 0)
    assert "not sent" in str(report)
    (notice,) = notices(ctx)
    assert notice.event_key.startswith("invalid:invoice:") and notice.sent_at is None


def test_a_claimed_notice_is_left_alone_until_its_claim_expires(
        ctx: Context, corpus: Path, mailer: Sink, known: t.Supplier) -> None:
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
        ctx: Context, corpus: Path, mailer: Sink, known: t.Supplier) -> None:
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


# ------------------------------------------------------------------ suspicious IBAN: finance office

def reject_now(ctx: Context, invoice_id: int, reason: str = "Bankverbindung unbekannt."
               ) -> int | None:
    """Queue the rejection notice as the workflow does, in the rejection's transaction."""
    with ctx.engine.begin() as conn:
        return queue_rejection(conn, invoice_id, reason, ctx.settings.zone,
                               ctx.settings.finance_office_email)


def text_of(mail: EmailMessage) -> str:
    return mail.get_content().replace("\r\n", "\n")


def upload(ctx: Context, data: bytes) -> int:
    return ingest(ctx, Submission(data, "upload", filename="r.xml")).outcomes[0].invoice_id


def test_rejection_of_an_invoice_with_a_new_iban_goes_to_the_finance_office_only(
        ctx: Context, corpus: Path, mailer: Sink) -> None:
    on_file(ctx, IBANS[1])  # the first IBAN of the invoice is new
    ctx.settings.finance_office_email = f"Rechnungsprüfung <{FINANCE}>"
    assert ctx.settings.smtp is not None
    ctx.settings.smtp.send_receipts = False
    sub_id = mail_in(ctx, (corpus / SAMPLE).read_bytes())
    assert queue_for_ingest(ctx, sub_id) == []  # valid: nothing to say yet
    with Session(ctx.engine) as s:
        (invoice_id,) = s.exec(select(t.Invoice.id)).all()
    assert invoice_id is not None
    assert reject_now(ctx, invoice_id, "Die Bankverbindung ist uns nicht bekannt.") is not None
    assert send_pending(ctx).sent == 1
    (mail,) = mailer.mails
    assert mail["To"] == FINANCE  # not the mail's sender, not BT-43, not BT-34
    body = text_of(mail)
    assert body.startswith("An die Rechnungsstelle / To the finance office:\n")
    assert f"- neue IBAN / IBAN not on file {IBANS[0]}\n" in body
    assert body.count("Die Bankverbindung ist uns nicht bekannt.") == 2
    assert body.count("-- English") == 1 and body.index("Guten Tag") > body.index(IBANS[0])


def test_a_suspicious_invoice_of_a_supplier_with_an_address_on_file_is_told_there(
        ctx: Context, corpus: Path, mailer: Sink) -> None:
    """GIVEN the supplier master knows the supplier's address, WHEN an invoice with a new IBAN is
    rejected, THEN the notice goes to that address (not the finance office, not the invoice's
    or the mail's), without the finance office's note."""
    on_file(ctx, IBANS[1], email="Buchhaltung <buchhaltung@lieferant.example>")
    ctx.settings.finance_office_email = FINANCE
    assert ctx.settings.smtp is not None
    ctx.settings.smtp.send_receipts = False
    sub_id = mail_in(ctx, (corpus / SAMPLE).read_bytes())
    assert queue_for_ingest(ctx, sub_id) == []
    with Session(ctx.engine) as s:
        (invoice_id,) = s.exec(select(t.Invoice.id)).all()
    assert invoice_id is not None
    assert reject_now(ctx, invoice_id, "Die Bankverbindung ist uns nicht bekannt.") is not None
    assert send_pending(ctx).sent == 1
    (mail,) = mailer.mails
    assert mail["To"] == "buchhaltung@lieferant.example"
    assert not text_of(mail).startswith("An die Rechnungsstelle")


def test_invalid_invoice_of_an_unknown_supplier_with_an_iban_goes_to_the_finance_office(
        ctx: Context, corpus: Path, mailer: Sink) -> None:
    ctx.settings.finance_office_email = FINANCE
    queue_for_ingest(ctx, mail_in(ctx, invalid_xml(corpus)))
    assert send_pending(ctx).sent == 2
    (receipt,) = mailer.to(SUPPLIER)  # the sender learns it arrived, nothing more
    assert receipt["Subject"].startswith("Eingangsbestätigung")
    (notice,) = mailer.to(FINANCE)
    assert notice["Subject"] == "Rechnung abgewiesen / Invoice rejected: 1234567"
    assert "- unbekannter Lieferant / unknown supplier\n" in text_of(notice)
    assert "BR-DE-15" in notice.get_content()


def test_an_invalid_iban_of_a_known_supplier_goes_to_the_finance_office(
        ctx: Context, corpus: Path, mailer: Sink) -> None:
    on_file(ctx, ",".join(IBANS))  # without an address
    ctx.settings.finance_office_email = FINANCE
    bad = IBANS[0].replace("DE79", "DE78")  # check digits wrong
    invoice_id = upload(ctx, (corpus / SAMPLE).read_bytes().replace(IBANS[0].encode(),
                                                                   bad.encode()))
    reject_now(ctx, invoice_id)
    send_pending(ctx)
    (mail,) = mailer.mails
    assert mail["To"] == FINANCE and f"ungültige IBAN / invalid IBAN {bad}" in mail.get_content()


def test_without_a_finance_office_a_suspicious_notice_is_not_sent_anywhere(
        ctx: Context, corpus: Path, mailer: Sink, caplog: pytest.LogCaptureFixture) -> None:
    assert ctx.settings.finance_office_email is None
    invoice_id = upload(ctx, (corpus / SAMPLE).read_bytes())  # unknown supplier with IBANs
    assert reject_now(ctx, invoice_id) is None
    assert notices(ctx) == [] and send_pending(ctx).sent == 0 and mailer.mails == []
    assert "`finance_office_email` is not set" in caplog.text


def test_an_unknown_supplier_without_an_iban_is_told_as_before(
        ctx: Context, corpus: Path, mailer: Sink) -> None:
    ctx.settings.finance_office_email = FINANCE
    assert ctx.settings.smtp is not None
    ctx.settings.smtp.send_receipts = False
    no_iban = re.sub(rb"<cac:PayeeFinancialAccount>.*?</cac:PayeeFinancialAccount>", b"",
                     invalid_xml(corpus), flags=re.S)
    queue_for_ingest(ctx, mail_in(ctx, no_iban))
    send_pending(ctx)
    (mail,) = mailer.mails
    assert mail["To"] == SUPPLIER and "Rechnungsstelle" not in mail.get_content()


def test_an_iban_on_file_in_other_spelling_is_normal(
        ctx: Context, corpus: Path, mailer: Sink) -> None:
    on_file(ctx, "de79 0000 0000 1234 5678 90," + IBANS[1], ON_FILE)
    ctx.settings.finance_office_email = FINANCE
    reject_now(ctx, upload(ctx, (corpus / SAMPLE).read_bytes()))
    send_pending(ctx)
    (mail,) = mailer.mails
    assert mail["To"] == ON_FILE and "Rechnungsstelle" not in mail.get_content()


@pytest.mark.parametrize(("ibans", "known", "suspicious"), [
    ([], [], False),  # no IBAN: nothing to pay to, even for an unknown supplier
    ([IBANS[0]], [], True),  # unknown supplier, or on file without any IBAN
    ([IBANS[0]], [IBANS[0]], False),
    ([IBANS[0], IBANS[1]], [IBANS[0]], True),  # one new IBAN is enough
    ([IBANS[1], IBANS[0]], [IBANS[0]], True),
    (["DE78000000001234567890"], ["DE78000000001234567890"], True),  # invalid, even if listed
    (["de79 0000 0000 1234 5678 90"], [IBANS[0]], False),  # spelled otherwise
    ([IBANS[0]], ["de79 0000 0000 1234 5678 90"], False),
])
def test_iban_suspicious(ibans: list[str], known: list[str], suspicious: bool) -> None:
    assert iban_suspicious(ibans, known) is suspicious


def test_stored_invoice_and_supplier_ibans_are_split_on_commas() -> None:
    supplier = t.Supplier(name="S", ibans=f"{IBANS[1]},{IBANS[0]}")
    assert not invoice_suspicious(t.Invoice(document_id=1, status="pending", ibans=None), None)
    assert not invoice_suspicious(t.Invoice(document_id=1, status="pending",
                                            ibans=",".join(IBANS)), supplier)
    assert invoice_suspicious(t.Invoice(document_id=1, status="pending", ibans=IBANS[0]),
                              t.Supplier(name="S", ibans=IBANS[1]))
    assert not invoice_suspicious(t.Invoice(document_id=1, status="pending", ibans=""),
                                  t.Supplier(name="S", ibans=""))


def _invoice(seller: dict[str, Any], ibans: str | None = None) -> t.Invoice:
    return t.Invoice(document_id=1, status="invalid", ibans=ibans,
                     model_json=Invoice.model_validate({"seller": seller}).model_dump_json())


def test_recipient_of_a_normal_invoice_in_order() -> None:
    """The mail's sender, else the uploading supplier, else the address on file; never BT-43 or
    BT-34 of the invoice, even when nothing else is known."""
    mail = t.Submission(sha256="a", size=1, channel="mail", sender="L <l@x.de>")
    nobody = t.Submission(sha256="a", size=1, channel="mail", sender="nobody")
    upload_ = t.Submission(sha256="a", size=1, channel="upload", sender="L <l@x.de>")
    folder = t.Submission(sha256="a", size=1, channel="cli")
    both = _invoice({"contact": {"email": "c@x.de"},
                     "electronic_address": {"value": "e@x.de", "scheme": "EM"}})
    master = t.Supplier(name="S", email="Buchhaltung <m@x.de>")
    token = t.Supplier(name="T", email="t@x.de")
    assert recipient(mail, both, master, FINANCE, token) == "l@x.de"
    assert recipient(nobody, both, master, FINANCE) == "m@x.de"
    assert recipient(nobody, both, None, FINANCE) is None
    assert recipient(upload_, both, master, FINANCE, token) == "t@x.de"
    assert recipient(upload_, both, master, FINANCE, t.Supplier(name="T")) == "m@x.de"
    assert recipient(upload_, both, master, FINANCE) == "m@x.de"
    assert recipient(upload_, both, None, FINANCE) is None
    assert recipient(folder, both, master, FINANCE) == "m@x.de"
    assert recipient(folder, both, None, FINANCE) is None
    assert recipient(upload_, t.Invoice(document_id=1, status="quarantined"), None,
                     FINANCE) is None
    assert recipient(mail, _invoice({}, IBANS[0]), None, f"Kasse <{FINANCE}>") == FINANCE
    assert recipient(mail, _invoice({}, IBANS[0]), None, None) is None


@pytest.mark.parametrize(("text", "bare"), [
    ("Name <a@b.de>", "a@b.de"), ("a@b.de", "a@b.de"), (" a@b.de ", "a@b.de"),
    ("a@", None), ("@b.de", None), ("@", None), ("", None), (None, None), ("ab.de", None),
    ("a\r\n@b.de", "a@b.de"), ("x@y.de\r\nBcc: z@w.de", "x@y.de"), ("a\x1b@b.de", None),
    ("a b@c.de", None), ("ä@b.de", "ä@b.de"),
    ("a@" + "b" * 318, "a@" + "b" * 318), ("a@" + "b" * 319, None)])
def test_address(text: str | None, bare: str | None) -> None:
    assert address(text) == bare
