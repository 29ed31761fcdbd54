"""Messages of 1,000 parts, broken structure, unknown charsets, base64 garbage, deep nesting
and a flood of headers."""

from __future__ import annotations

from einvoice.intake import mail
from tests.hostile import documents as d
from tests.hostile.mail_env import SENDER, MailEnv, cases, failed, letter


@cases.add()
def parts_1000(env: MailEnv) -> None:
    """1,000 invoice attachments: beyond the 500 documents of one submission, refused whole
    before any is read."""
    xml = f"<Invoice xmlns='{d.UBL_NS}'/>".encode()
    raw = letter(*((f"r{i}.xml", xml, "application/xml") for i in range(1000)))
    failed(env, raw, env.deliver(raw), "1000 members exceeds the limit")


@cases.add()
def parts_1000_no_invoice(env: MailEnv) -> None:
    raw = letter(*((f"bild{i}.png", b"\x89PNG" + bytes(20), "image/png") for i in range(1000)))
    result = env.deliver(raw)
    assert result.outcome == mail.NO_INVOICE, result
    env.kept(raw)


@cases.add()
def no_closing_boundary(env: MailEnv) -> None:
    raw = letter(("r.xml", env.invoice(env.unique()), "application/xml"))
    raw = raw[: raw.rindex(b"--")]  # the closing boundary cut off
    failed(env, raw, env.deliver(raw), "malformed MIME", "CloseBoundaryNotFound")


@cases.add()
def unknown_and_wrong_charsets(env: MailEnv) -> None:
    number = env.unique()
    raw = letter((f"{number}.xml", env.invoice(number), "application/xml"))
    raw = raw.replace(b"Subject: Rechnung", b"Subject: =?x-unknown?q?Rechnung_=FC=FF?=", 1)
    raw = raw.replace(b'charset="utf-8"', b'charset="x-klingon"', 1) + b"\xfc\xff\xfe"
    result = env.deliver(raw)
    assert result.outcome == mail.PROCESSED, result
    env.kept(raw)


@cases.add()
def base64_garbage(env: MailEnv) -> None:
    raw = (b"From: " + SENDER.encode() + b"\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
           b"Content-Type: application/xml\r\nContent-Transfer-Encoding: base64\r\n"
           b'Content-Disposition: attachment; filename="r.xml"\r\n\r\n'
           + b"!!!@@@###$$$%%%^^^" * 100 + b"=\r\n--b--\r\n")
    failed(env, raw, env.deliver(raw), "malformed MIME", "Base64")


def _nested(depth: int, body: bytes) -> bytes:
    head = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
                    for i in range(depth))
    tail = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return (b"From: " + SENDER.encode() + b"\r\nSubject: tief\r\nMIME-Version: 1.0\r\n"
            + head + b"Content-Type: text/plain\r\n\r\n" + body + tail)


@cases.add()
def multiparts_nested_40_deep(env: MailEnv) -> None:
    raw = _nested(40, b"hallo\r\n" * 10_000)
    result = env.deliver(raw)
    assert result.outcome == mail.NO_INVOICE, result
    env.kept(raw)


@cases.add()
def multiparts_nested_900_deep(env: MailEnv) -> None:
    """900 levels around 40,000 short lines (180 kB): every line checked at every level took
    4.6 s; refused before parsing."""
    raw = _nested(900, b"x\r\n" * 40_000)
    failed(env, raw, env.deliver(raw), "900 multipart containers, more than 50")


@cases.add()
def header_flood(env: MailEnv) -> None:
    number = env.unique()
    raw = letter((f"{number}.xml", env.invoice(number), "application/xml"))
    flood = b"".join(b"X-Junk-%d: %s\r\n" % (i, b"j" * 50) for i in range(5000))
    raw = flood + raw.replace(b"Subject: Rechnung", b"Subject: " + b"S" * 500_000, 1)
    result = env.deliver(raw)
    assert result.outcome == mail.PROCESSED, result
    assert result.subject is not None and len(result.subject) <= 1024
    env.kept(raw)
