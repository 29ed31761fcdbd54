"""Notices that cannot break the queue (issue 14, "Why" 6), against a real SMTP server (aiosmtpd
on a loopback port, without SMTPUTF8 like many relays), on SQLite and PostgreSQL.

One failing notice is recorded with its error and tried again after a back-off (5 min, 30 min,
2 h, 6 h, then daily; given up after 8 tries, shown by ``einvoice status``), and never keeps
another from going out; an outage of the server counts against no notice; a claim whose process
died is taken again (and counts). A line break in an invoice number cannot reach a header. A
notice goes to an address from the supplier master or from the way the document came, never to
one read from the invoice. ``einvoice reject`` stands when its notice cannot be sent or queued.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from einvoice.approval import identity
from einvoice.cli import app
from einvoice.config import Smtp
from einvoice.context import Context
from einvoice.notify import outbox, smtp
from einvoice.notify import text as notify_text
from einvoice.notify.outbox import (
    BACKOFF,
    GIVEN_UP,
    LEASE,
    MAX_ATTEMPTS,
    queue_for_ingest,
    send_pending,
)
from einvoice.pipeline import Submission, ingest
from einvoice.store import tables as t
from einvoice.store.types import utcnow
from einvoice.views.queries import history
from einvoice.views.status import service_status
from tests.smtp_sink import Sink, free_port
from tests.test_notify import IBANS, SAMPLE, SELLER_CONTACT, invalid_xml, on_file

SELLER_EM = "rechnungsausgang@test.com"  # BT-34 (scheme EM) of the sample
SENDER = "lieferant@example.com"
UMLAUT = "jürgen@lieferant.example"  # needs SMTPUTF8, which the server does not offer
EVIL = "evil@example.com"
SECOND = timedelta(seconds=1)


class Server(Sink):
    @property
    def to(self) -> list[str]:
        return [rcpt for rcpts in self.envelopes for rcpt in rcpts]


@pytest.fixture
def server(ctx: Context) -> Iterator[Server]:
    """The context sends to a fresh server (no receipts, so each test counts its own)."""
    handler = Server()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
    controller.start()
    ctx.settings.smtp = Smtp(host="127.0.0.1", port=port, sender="rechnungseingang@stadt.example",
                             send_receipts=False)
    yield handler
    controller.stop()


def at(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def add_notice(ctx: Context, key: str, to: str, subject: str = "Betreff", **kw: Any) -> int:
    """A notice as the outbox records it (``subject`` as the outbox before issue 14 kept it)."""
    with Session(ctx.engine) as s:
        notice = t.Notice(event_key=key, kind="invalid", recipient=to, subject=subject,
                          body="Guten Tag,\n", **kw)
        s.add(notice)
        s.commit()
        assert notice.id is not None
        return notice.id


def notice(ctx: Context, notice_id: int) -> t.Notice:
    with Session(ctx.engine) as s:
        row = s.get(t.Notice, notice_id)
        assert row is not None
        return row


# ------------------------------------------------------------------ one poisoned notice


def test_one_poisoned_notice_does_not_keep_the_others_and_is_tried_again_later(
        ctx: Context, server: Server) -> None:
    """GIVEN a notice the server cannot take (an address that needs SMTPUTF8) first in the
    queue, and one recorded with a line break in its subject, WHEN the outbox runs, THEN every
    other notice goes out, the bad one carries its error and waits 5 minutes, then 30."""
    poison = add_notice(ctx, "k1", UMLAUT)
    crlf = add_notice(ctx, "k2", "a@lieferant.example", f"Rechnung R-1\r\nBcc: {EVIL}")
    good = [add_notice(ctx, f"k{i}", f"l{i}@lieferant.example") for i in (3, 4)]
    t0 = utcnow()
    report = send_pending(ctx, now=at(t0))
    assert (report.sent, report.failed) == (3, 1), str(report)
    assert server.to == ["a@lieferant.example", "l3@lieferant.example", "l4@lieferant.example"]
    [subject] = server.mails[0].get_all("Subject")
    assert subject == f"Rechnung R-1 Bcc: {EVIL}" and server.mails[0]["Bcc"] is None
    assert all(notice(ctx, i).sent_at is not None for i in (crlf, *good))

    bad = notice(ctx, poison)
    assert bad.sent_at is None and bad.failed_at is None and bad.attempts == 1
    assert bad.error is not None and "SMTPUTF8" in bad.error and "refused by" in bad.error
    assert bad.next_attempt_at == t0 + timedelta(minutes=5)
    assert str(report).endswith(f"notice {poison}: {bad.error}")

    early = send_pending(ctx, now=at(t0 + timedelta(minutes=5) - SECOND))
    assert (early.sent, early.failed, notice(ctx, poison).attempts) == (0, 0, 1)
    again = send_pending(ctx, now=at(t0 + timedelta(minutes=5)))
    assert (again.sent, again.failed) == (0, 1)
    later = notice(ctx, poison)
    assert later.attempts == 2
    assert later.next_attempt_at == t0 + timedelta(minutes=5) + timedelta(minutes=30)
    assert len(server.mails) == 3


def test_back_off_then_given_up_for_good_and_shown_to_operators(
        ctx: Context, server: Server) -> None:
    server.refuse.add("weg@lieferant.example")
    gone = add_notice(ctx, "gone", "weg@lieferant.example")
    waits = [timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=6),
             timedelta(days=1), timedelta(days=1), timedelta(days=1)]
    assert list(BACKOFF) == waits[:5] and MAX_ATTEMPTS == 8
    now = utcnow()
    assert send_pending(ctx, now=at(now)).failed == 1
    for n, wait in enumerate(waits, start=2):
        assert send_pending(ctx, now=at(now + wait - SECOND)).failed == 0  # not yet
        now += wait
        assert send_pending(ctx, now=at(now)).failed == 1
        assert notice(ctx, gone).attempts == n
    final = notice(ctx, gone)
    assert final.failed_at == final.next_attempt_at == now  # its last try was due then
    assert final.error == GIVEN_UP.format(8) + (
        "refused by 127.0.0.1: {'weg@lieferant.example': (550, b'5.1.1 mailbox unavailable')}")
    assert final.error.startswith("aufgegeben / given up after 8 attempts: ")
    assert send_pending(ctx, now=at(now + timedelta(days=365))).failed == 0  # never again
    shown = [e for e in service_status(ctx)["errors"] if e["source"] == f"notice:{gone}"]
    assert [e["error"] for e in shown] == [final.error]


def test_an_outage_of_the_server_counts_against_no_notice(
        ctx: Context, server: Server) -> None:
    ids = [add_notice(ctx, f"k{i}", f"l{i}@lieferant.example") for i in range(3)]
    port = ctx.settings.smtp.port if ctx.settings.smtp else 0
    ctx.settings.smtp = Smtp(host="127.0.0.1", port=free_port(), send_receipts=False)
    for _ in range(MAX_ATTEMPTS + 2):
        down = send_pending(ctx)
        assert (down.sent, down.failed) == (0, 3)
    rows = [notice(ctx, i) for i in ids]
    assert {(n.attempts, n.next_attempt_at, n.failed_at) for n in rows} == {(0, None, None)}
    assert all(n.error and n.error.startswith("SMTP server 127.0.0.1:") for n in rows)
    ctx.settings.smtp = Smtp(host="127.0.0.1", port=port, send_receipts=False)
    assert send_pending(ctx).sent == 3
    assert [notice(ctx, i).attempts for i in ids] == [1, 1, 1]


def test_an_expired_claim_is_taken_again_and_counts(ctx: Context, server: Server) -> None:
    """A process that died while sending leaves its claim; after ``LEASE`` the notice is tried
    again, and the dead tries count, so one that kills its sender every time is given up."""
    died = f"sending since {utcnow() - LEASE - SECOND:%Y-%m-%dT%H:%M:%S}Z dead"
    busy = f"sending since {utcnow():%Y-%m-%dT%H:%M:%S}Z alive"
    retried = add_notice(ctx, "r", "r@lieferant.example", error=died, attempts=3)
    last = add_notice(ctx, "l", "l@lieferant.example", error=died, attempts=MAX_ATTEMPTS)
    held = add_notice(ctx, "h", "h@lieferant.example", error=busy, attempts=1)
    report = send_pending(ctx)
    assert (report.sent, report.failed) == (1, 1)
    assert server.to == ["r@lieferant.example"]
    assert notice(ctx, retried).attempts == 4 and notice(ctx, retried).sent_at is not None
    given_up = notice(ctx, last)
    assert given_up.failed_at is not None and given_up.error == GIVEN_UP.format(9) + (
        "the process sending it stopped before an answer")
    assert notice(ctx, held).error == busy and notice(ctx, held).attempts == 1


def test_whatever_goes_wrong_with_one_notice_stays_with_it(
        ctx: Context, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Faults injected where no real input reaches today (a bug in making the mail, the
    database failing for one notice): each is that notice's alone."""
    unmakeable, unclaimable, fine = (add_notice(ctx, f"k{i}", f"l{i}@lieferant.example")
                                     for i in range(3))
    real_message, real_claim = smtp.message, outbox._claim

    def message(n: t.Notice, *args: Any) -> EmailMessage:
        if n.id == unmakeable:
            raise RuntimeError("a bug")
        return real_message(n, *args)

    def claim(engine: Any, notice_id: int, *args: Any) -> Any:
        if notice_id == unclaimable:
            raise OSError("the database went away")
        return real_claim(engine, notice_id, *args)

    monkeypatch.setattr(smtp, "message", message)
    monkeypatch.setattr(outbox, "_claim", claim)
    report = send_pending(ctx)
    assert (report.sent, report.failed) == (1, 2)
    assert server.to == ["l2@lieferant.example"] and notice(ctx, fine).sent_at is not None
    assert notice(ctx, unmakeable).error == "the mail could not be made: RuntimeError('a bug')"
    assert notice(ctx, unmakeable).attempts == 1
    assert f"notice {unclaimable}: OSError('the database went away')" in report.errors
    untouched = notice(ctx, unclaimable)
    assert (untouched.attempts, untouched.error) == (0, None)  # the next run takes it
    monkeypatch.setattr(outbox, "_claim", real_claim)
    assert send_pending(ctx).sent == 1


# ------------------------------------------------------------------ headers


def test_a_line_break_in_an_invoice_number_gives_a_one_line_subject(
        ctx: Context, corpus: Path, server: Server) -> None:
    number = f"R-1&#13;&#10;Bcc: {EVIL}&#10;X-Evil: 1"
    on_file(ctx, ",".join(IBANS))  # the supplier, so that the sender is told
    result = ingest(ctx, Submission(invalid_xml(corpus, number), "mail", filename="r.xml",
                                    sender=f"Lieferant <{SENDER}>",
                                    message_id="<r-1@example.com>\r\nX-Evil: 2"))
    assert result.outcomes[0].status == "invalid"
    [queued] = queue_for_ingest(ctx, result.submission_id)
    subject = f"Rechnung abgewiesen / Invoice rejected: R-1 Bcc: {EVIL} X-Evil: 1"
    assert notice(ctx, queued).subject == subject
    assert send_pending(ctx).sent == 1
    [mail], [rcpts] = server.mails, server.envelopes
    [header] = mail.get_all("Subject")
    assert rcpts == [SENDER] and " ".join(header.split()) == subject  # long: folded
    assert mail["Bcc"] is None and mail["X-Evil"] is None
    assert mail["In-Reply-To"] is None  # not a Message-ID: no threading header at all
    assert f"Ihre Rechnung R-1 Bcc: {EVIL} X-Evil: 1 vom 13.04.2018" in mail.get_content()


@pytest.mark.parametrize(("value", "line"), [
    ("a\r\nb", "a b"), ("a\rb\nc", "a b c"), ("a\x00b\x1bc", "a b c"), ("a\u2028b\x85c", "a b c"),
    ("\u202eabc", "abc"), ("  a \t b  ", "a b"), ("x" * 600, "x" * 512), ("Grüße", "Grüße")])
def test_header_values_are_one_line(value: str, line: str) -> None:
    assert notify_text.one_line(value) == line


def test_bodies_keep_lines_and_show_other_controls() -> None:
    assert notify_text.plain_body("a\r\nb\tc\x1b[2J\rz\x00") == "a\nb\tc\ufffd[2J\ufffdz\ufffd"
    assert notify_text.plain_body("\u202eabc\n") == "\ufffdabc\n"


# ------------------------------------------------------------------ recipients


def test_notices_never_go_to_an_address_read_from_the_invoice(
        ctx: Context, corpus: Path, server: Server, caplog: pytest.LogCaptureFixture) -> None:
    """The sample names BT-43 and BT-34 (scheme EM): neither is ever written to. Uploaded
    without a token and its supplier without an address: nobody; with the token of a supplier
    with one: there; mailed: the sender."""
    data = (corpus / SAMPLE).read_bytes().replace(SELLER_CONTACT.encode(), EVIL.encode())
    assert EVIL.encode() in data and SELLER_EM.encode() in data
    bad = re.sub(rb"<cbc:BuyerReference>.*?</cbc:BuyerReference>", b"", data)  # BR-DE-15
    supplier = on_file(ctx, ",".join(IBANS))  # the seller, its IBANs, no address
    nobody = ingest(ctx, Submission(bad, "upload", filename="r.xml"))
    assert queue_for_ingest(ctx, nobody.submission_id) == []
    assert "no address for notice invalid:invoice:" in caplog.text
    with Session(ctx.engine) as s:
        token = t.Supplier(name="Hochgeladen GmbH", email="Upload <upload@lieferant.example>")
        s.add(token)
        s.commit()
        assert token.id is not None
        token_id = token.id
    uploaded = ingest(ctx, Submission(bad.replace(b"1234567", b"R-2", 1), "upload",
                                      supplier_id=token_id))
    mailed = ingest(ctx, Submission(bad.replace(b"1234567", b"R-3", 1), "mail",
                                    sender=f"L <{SENDER}>"))
    for sub in (uploaded, mailed):
        assert len(queue_for_ingest(ctx, sub.submission_id)) == 1
    assert send_pending(ctx).sent == 2
    assert server.to == ["upload@lieferant.example", SENDER]
    assert supplier.email is None and EVIL not in server.to and SELLER_EM not in server.to


# ------------------------------------------------------------------ einvoice reject


@pytest.fixture
def cli(ctx: Context, server: Server, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``einvoice …`` in this process as alice, on the context's database and SMTP server;
    asserts exit code 0 and returns the output with blanks folded."""
    assert ctx.settings.smtp is not None
    config = tmp_path / "einvoice.toml"
    config.write_text(f'data_dir = "{ctx.settings.data_dir}"\n'
                      f'database_url = "{ctx.settings.db_url}"\n'
                      f'inbox_dir = "{ctx.settings.inbox_dir}"\n\n'
                      f'[smtp]\nhost = "127.0.0.1"\nport = {ctx.settings.smtp.port}\n'
                      "send_receipts = false\n", encoding="utf-8")
    monkeypatch.setattr(identity, "os_login", lambda: "alice")
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, [*args, "--config", str(config)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    return run


def mailed_invoice(ctx: Context, corpus: Path, number: str = "1234567") -> int:
    """The sample mailed in by its supplier, on file with its IBANs (so the sender is told)."""
    on_file(ctx, ",".join(IBANS))
    data = (corpus / SAMPLE).read_bytes().replace(b"1234567", number.encode(), 1)
    result = ingest(ctx, Submission(data, "mail", sender=f"L <{SENDER}>"))
    invoice_id = result.outcomes[0].invoice_id
    assert invoice_id is not None
    return invoice_id


def status_of(ctx: Context, invoice_id: int) -> str:
    with Session(ctx.engine) as s:
        inv = s.get(t.Invoice, invoice_id)
        assert inv is not None
        return inv.status


def test_reject_stands_and_exits_0_when_the_server_is_down(
        ctx: Context, corpus: Path, server: Server, cli: Callable[..., str],
        tmp_path: Path) -> None:
    invoice_id = mailed_invoice(ctx, corpus)
    config = tmp_path / "einvoice.toml"
    config.write_text(re.sub(r"port = \d+", f"port = {free_port()}", config.read_text()))
    out = cli("reject", str(invoice_id), "--reason", "Leistung fehlt")
    assert f"invoice {invoice_id} rejected" in out
    assert "0 Nachrichten gesendet, 1 fehlgeschlagen" in out
    assert status_of(ctx, invoice_id) == "rejected"
    [row] = s_notices(ctx)
    assert row.sent_at is None and row.attempts == 0 and "SMTP server" in (row.error or "")


def test_reject_stands_and_says_so_when_its_notice_cannot_be_queued(
        ctx: Context, corpus: Path, server: Server, cli: Callable[..., str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injected into the notice's text (nothing real breaks it today)."""
    invoice_id = mailed_invoice(ctx, corpus)

    def broken(*args: Any, **kw: Any) -> notify_text.Text:
        raise ValueError("kaputt")

    monkeypatch.setattr(notify_text, "rejected", broken)
    out = cli("reject", str(invoice_id), "--reason", "Leistung fehlt")
    assert (f"invoice {invoice_id} rejected; die Nachricht an den Lieferanten konnte nicht "
            "gespeichert werden / the notice to the supplier could not be queued (the notice "
            "could not be made: ValueError('kaputt'))") in out
    assert status_of(ctx, invoice_id) == "rejected"
    [row] = s_notices(ctx)
    assert row.failed_at is not None and row.error == GIVEN_UP.format(0) + (
        "the notice could not be made: ValueError('kaputt')")
    assert server.mails == []
    last = history(ctx, invoice_id)[-1]
    assert last.action == "reject" and "could not be queued" in (last.detail or "")


def test_reject_of_an_invoice_number_with_a_line_break(
        ctx: Context, corpus: Path, server: Server, cli: Callable[..., str]) -> None:
    invoice_id = mailed_invoice(ctx, corpus, f"R-9&#13;&#10;Bcc: {EVIL}")
    out = cli("reject", str(invoice_id), "--reason", "Leistung fehlt")
    assert "1 Nachricht gesendet, 0 fehlgeschlagen" in out
    assert status_of(ctx, invoice_id) == "rejected"
    [mail], [rcpts] = server.mails, server.envelopes
    [header] = mail.get_all("Subject")
    assert rcpts == [SENDER] and mail["Bcc"] is None
    assert " ".join(header.split()) == f"Rechnung abgelehnt / Invoice rejected: R-9 Bcc: {EVIL}"


def s_notices(ctx: Context) -> list[t.Notice]:
    with Session(ctx.engine) as s:
        return list(s.exec(select(t.Notice).order_by(col(t.Notice.id))).all())

