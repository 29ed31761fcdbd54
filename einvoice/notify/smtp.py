"""Handing notices to the SMTP server: one connection per run of the outbox, and the mail of a
notice.

A failure says whose it is. The notice's own (the server refused it, its mail could not be
made or sent): the outbox counts it against the notice and tries again later. The server's (no
connection, the connection broke): every later notice of the run fails the same way without
trying, and none of them is counted, since the next run may well reach the server.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from einvoice.config import Smtp
from einvoice.notify.recipient import address
from einvoice.notify.text import one_line
from einvoice.store import tables as t

TIMEOUT = 30.0
_MESSAGE_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,900}>")  # printable ASCII but <>
_REFUSED = (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException,
            smtplib.SMTPNotSupportedError)


@dataclass(frozen=True)
class Failure:
    """Why a notice was not sent; ``own``: the notice's fault, not the server's."""

    error: str
    own: bool


class Link:
    """The run's connection, opened for its first notice and closed by ``close``."""

    def __init__(self, smtp: Smtp) -> None:
        self.smtp = smtp
        self.server: smtplib.SMTP | None = None
        self.broken: Failure | None = None

    def send(self, notice: t.Notice, in_reply_to: str | None) -> Failure | None:
        """Hand ``notice`` to the server; None when it accepted it. Never raises."""
        if self.broken is not None:
            return self.broken
        try:
            mail = message(notice, in_reply_to, self.smtp.sender)
        except Exception as exc:  # a header the email package refuses, say
            return Failure(f"the mail could not be made: {exc!r}", own=True)
        try:
            self.server = self.server or _connect(self.smtp)
            self.server.send_message(mail)
        except _REFUSED as exc:
            if self.server is None:  # refused while connecting (login, greeting)
                return self._break(exc)
            return Failure(f"refused by {self.smtp.host}: {exc}", own=True)
        except OSError as exc:  # smtplib's other errors are OSErrors too
            return self._break(exc)
        except Exception as exc:  # the connection's state is unknown: start a new one
            self.close()
            return Failure(f"the mail could not be sent: {exc!r}", own=True)
        return None

    def _break(self, exc: OSError) -> Failure:
        self.close()
        self.broken = Failure(f"SMTP server {self.smtp.host}:{self.smtp.port}: {exc!r}",
                              own=False)
        return self.broken

    def close(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            try:
                server.quit()
            except OSError:
                server.close()


def _connect(smtp: Smtp) -> smtplib.SMTP:
    if smtp.security == "tls":
        server: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=TIMEOUT,
                                                context=ssl.create_default_context())
    else:
        server = smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT)
        if smtp.security == "starttls":
            server.starttls(context=ssl.create_default_context())
    if smtp.user:
        server.login(smtp.user, smtp.password or "")
    return server


def message(notice: t.Notice, in_reply_to: str | None, sender: str) -> EmailMessage:
    """The mail; every header value one line (a notice recorded before subjects were made so
    is made so here), its Message-ID derived from the notice, so a resend carries the same one,
    and In-Reply-To only when the submission's Message-ID looks like one."""
    msg = EmailMessage()
    msg["From"] = one_line(sender)
    msg["To"] = one_line(notice.recipient)
    msg["Subject"] = one_line(notice.subject)
    msg["Date"] = formatdate(localtime=True)
    digest = hashlib.sha256(f"{notice.event_key} {notice.created_at.isoformat()}".encode())
    domain = (address(sender) or "localhost").rpartition("@")[2]
    msg["Message-ID"] = f"<notice.{digest.hexdigest()[:32]}@{domain}>"
    if in_reply_to and _MESSAGE_ID.fullmatch(in_reply_to.strip()):
        msg["In-Reply-To"] = in_reply_to.strip()
        msg["References"] = in_reply_to.strip()
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(notice.body, charset="utf-8")
    return msg
