"""Mail intake against a real Dovecot: what arrives by mail is processed once and never lost."""

from __future__ import annotations

import functools
import io
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient  # type: ignore[import-untyped]
from sqlmodel import Session, func, select

from einvoice.config import Mailbox
from einvoice.context import Context
from einvoice.intake import mail
from einvoice.store.archive import sha256_hex
from einvoice.store.tables import Document, Invoice, MailMessage, Submission
from tests.dovecot import Dovecot, make_dovecot

STD = "valid/xrechnung-testsuite/business-cases/standard"
PDF = "zugferd/mustang/library/EN16931_Einfach.pdf"


@pytest.fixture
def server() -> Iterator[Dovecot]:
    # not under tmp_path: pytest resets /tmp/pytest-of-<user> to mode 0700 whenever another
    # session starts, which locks Dovecot's unprivileged processes out mid-test
    root = Path(tempfile.mkdtemp(prefix="einvoice-dovecot-"))
    dovecot = make_dovecot(root)
    dovecot.start()
    yield dovecot
    dovecot.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def box(server: Dovecot) -> Mailbox:
    return Mailbox(name="rechnung", host=server.host, port=server.port, security="none",
                   user=server.user, password=server.password, batch_size=2)


def client(server: Dovecot) -> IMAPClient:
    imap = IMAPClient(server.host, server.port, ssl=False)
    imap.login(server.user, server.password)
    return imap


def deliver(server: Dovecot, *messages: bytes) -> None:
    imap = client(server)
    for raw in messages:
        imap.append("INBOX", raw)
    imap.logout()


def counts(server: Dovecot) -> dict[str, int]:
    imap = client(server)
    found = {f: int(imap.folder_status(f, ["MESSAGES"])[b"MESSAGES"])
             for f in ("INBOX", "Processed", "Failed") if imap.folder_exists(f)}
    imap.logout()
    return found


def letter(subject: str, *attachments: tuple[str, bytes, str], body: str = "Anbei.",
           message_id: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Lieferant GmbH <rechnung@lieferant.example>"
    msg["To"] = "rechnung@stadt.example"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or f"<{abs(hash(subject))}@lieferant.example>"
    msg["Date"] = "Mon, 02 Mar 2026 10:00:00 +0100"
    msg.set_content(body)
    for name, data, ctype in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def xml(corpus: Path, n: int) -> bytes:
    return (corpus / STD / f"01.{n:02d}a-INVOICE_ubl.xml").read_bytes()


def count(ctx: Context, table: Any) -> int:
    with Session(ctx.engine) as s:
        return int(s.exec(select(func.count()).select_from(table)).one())


def test_several_attachments_in_one_mail(ctx: Context, corpus: Path, server: Dovecot,
                                         box: Mailbox) -> None:
    msg = letter("Rechnungen März", ("a.xml", xml(corpus, 1), "application/xml"),
                 ("b.xml", xml(corpus, 2), "text/xml"),
                 ("logo.png", b"\x89PNG\r\n\x1a\nxxxx", "image/png"))
    deliver(server, msg.as_bytes())
    report = mail.poll(ctx, box)
    assert report.error is None
    [result] = report.messages
    assert result.outcome == "processed", result.problem
    assert count(ctx, Invoice) == 2
    with Session(ctx.engine) as s:
        sub = s.exec(select(Submission)).one()
    assert (sub.channel, sub.sender, sub.subject) == (
        "mail", "rechnung@lieferant.example", "Rechnungen März")
    assert sub.message_id == msg["Message-ID"]
    assert counts(server) == {"INBOX": 0, "Processed": 1, "Failed": 0}


def test_zip_with_three_invoices(ctx: Context, corpus: Path, server: Dovecot,
                                 box: Mailbox) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n in (1, 2, 3):
            zf.writestr(f"r{n}.xml", xml(corpus, n))
    deliver(server, letter("ZIP", ("rechnungen.zip", buf.getvalue(), "application/zip"))
            .as_bytes())
    [result] = mail.poll(ctx, box).messages
    assert result.outcome == "processed", result.problem
    assert count(ctx, Invoice) == 3


def test_pdf_with_embedded_xml_body_xml_and_attached_message(
        ctx: Context, corpus: Path, server: Dovecot, box: Mailbox) -> None:
    inner = letter("weitergeleitet", ("e.pdf", (corpus / PDF).read_bytes(), "application/pdf"))
    outer = letter("Fwd", body=xml(corpus, 4).decode("utf-8"))
    outer.add_attachment(inner)
    deliver(server, outer.as_bytes())
    [result] = mail.poll(ctx, box).messages
    assert result.outcome == "processed", result.problem
    with Session(ctx.engine) as s:
        kinds = sorted(d.kind for d in s.exec(select(Document)))
    assert kinds == ["facturx-pdf", "ubl-invoice"]


def test_mail_without_invoice_is_kept_and_reported(ctx: Context, server: Dovecot,
                                                   box: Mailbox) -> None:
    deliver(server, letter("Frage", ("bild.png", b"\x89PNG\r\n", "image/png"),
                           body="<p>Wann zahlen Sie?</p>").as_bytes())
    [result] = mail.poll(ctx, box).messages
    assert result.outcome == "no-invoice"
    assert count(ctx, Submission) == 1 and count(ctx, Invoice) == 0
    assert counts(server) == {"INBOX": 0, "Processed": 0, "Failed": 1}


def test_malformed_mime_is_recorded_as_failed(ctx: Context, server: Dovecot,
                                              box: Mailbox) -> None:
    raw = (b"From: x@example.org\r\nSubject: kaputt\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed\r\n\r\n--abc\r\nContent-Type: text/plain\r\n\r\nhi\r\n")
    deliver(server, raw)
    [result] = mail.poll(ctx, box).messages
    assert result.outcome == "failed"
    assert result.problem and "malformed MIME" in result.problem
    with Session(ctx.engine) as s:
        inv = s.exec(select(Invoice)).one()
    assert inv.status == "quarantined" and inv.error and "NoBoundary" in inv.error
    assert counts(server)["Failed"] == 1
    assert ctx.archive.get(sha256_hex(raw)) == raw


@functools.cache
def big_letter(corpus: Path) -> tuple[int, bytes]:
    """The size of a 30 MB invoice and the letter carrying it, made once per test process for
    both databases (encoding the letter takes about a second)."""
    padding = b"<!-- Auffuellung fuer den Grossversuch -->\n" * (30 * 1024 * 1024 // 43)
    big = xml(corpus, 5) + padding
    return len(big), letter("gross", ("gross.xml", big, "application/xml")).as_bytes()


def test_30_mb_attachment_is_processed(ctx: Context, corpus: Path, server: Dovecot,
                                       box: Mailbox) -> None:
    """The default limits (100 MB per submission, 64 MB per XML) take a 30 MB invoice."""
    size, raw = big_letter(corpus)
    assert size > 30 * 1024 * 1024
    deliver(server, raw)
    [result] = mail.poll(ctx, box).messages
    assert result.outcome == "processed", result.problem
    assert count(ctx, Invoice) == 1


def test_message_over_the_limit_is_left_and_moved_to_failed(
        ctx: Context, server: Dovecot, box: Mailbox) -> None:
    ctx.settings.max_submission_bytes = 1024 * 1024
    deliver(server, letter("zu gross", ("x.pdf", b"%PDF-1.4\n" + b"0" * 2_000_000,
                                        "application/pdf")).as_bytes())
    [result] = mail.poll(ctx, box).messages
    assert result.outcome == "too-large" and result.problem and "exceeds" in result.problem
    assert count(ctx, Submission) == 0
    assert counts(server)["Failed"] == 1


def test_same_mail_twice_gives_one_invoice(ctx: Context, corpus: Path, server: Dovecot,
                                           box: Mailbox) -> None:
    raw = letter("doppelt", ("a.xml", xml(corpus, 1), "application/xml")).as_bytes()
    deliver(server, raw, raw)
    results = mail.poll(ctx, box).messages
    assert [r.outcome for r in results] == ["processed", "duplicate"]
    assert count(ctx, Invoice) == 1 and count(ctx, MailMessage) == 2
    assert counts(server) == {"INBOX": 0, "Processed": 2, "Failed": 0}


def test_connection_cut_mid_poll_is_finished_by_the_next_poll(
        ctx: Context, corpus: Path, server: Dovecot, box: Mailbox,
        monkeypatch: pytest.MonkeyPatch) -> None:
    deliver(server, *(letter(f"R{n}", (f"r{n}.xml", xml(corpus, n), "application/xml"))
                      .as_bytes() for n in range(1, 6)))
    record = mail._record

    def record_then_cut(*args: Any) -> None:
        record(*args)
        server.stop()  # the first message is committed, not yet moved: the server dies

    monkeypatch.setattr(mail, "_record", record_then_cut)
    first = mail.poll(ctx, box)
    assert first.error and len(first.messages) == 1
    monkeypatch.setattr(mail, "_record", record)
    assert mail.poll(ctx, box).error is not None  # server still down: reported, nothing lost
    server.start()
    second = mail.poll(ctx, box)
    assert second.error is None and second.moved == 5
    assert len(second.messages) == 4
    assert count(ctx, Invoice) == 5 and count(ctx, MailMessage) == 5
    assert counts(server) == {"INBOX": 0, "Processed": 5, "Failed": 0}


def test_rebuilt_mailbox_is_rescanned_without_duplicates(
        ctx: Context, corpus: Path, server: Dovecot, box: Mailbox) -> None:
    box.after_commit = "flag"
    raw = letter("R1", ("r1.xml", xml(corpus, 1), "application/xml")).as_bytes()
    deliver(server, raw)
    assert [r.outcome for r in mail.poll(ctx, box).messages] == ["processed"]
    assert mail.poll(ctx, box).messages == []  # incremental: nothing new
    with Session(ctx.engine) as s:  # as if the server was rebuilt: a new UIDVALIDITY
        for row in s.exec(select(MailMessage)):
            row.uidvalidity -= 1
            s.add(row)
        s.commit()
    rescan = mail.poll(ctx, box)
    assert rescan.error is None, rescan.error
    again = rescan.messages
    assert [r.outcome for r in again] == ["duplicate"]
    assert count(ctx, Invoice) == 1
