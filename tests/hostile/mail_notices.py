"""Line breaks in the subject, a file name, the invoice number and the Message-ID; a hostile
From; an address in the invoice; lying content types; a sender not registered for the seller;
XXE and a ZIP bomb as attachments. The notices each causes are sent and read back."""

from __future__ import annotations

from einvoice.intake import mail
from einvoice.lifecycle import Status
from tests.hostile import documents as d
from tests.hostile.facts import stored
from tests.hostile.mail_env import SENDER, VICTIM, MailEnv, cases, failed, invoice_ids, letter


@cases.add()
def subject_header_injection(env: MailEnv) -> None:
    """A line break encoded in the subject: the receipt's headers stay one line each and the
    receipt goes to the sender alone."""
    number = env.unique()
    raw = letter((f"{number}.xml", env.invoice(number), "application/xml"))
    raw = raw.replace(b"Subject: Rechnung", b"Subject: =?utf-8?q?Rechnung=0D=0ABcc:_"
                      + VICTIM.encode() + b"=0D=0A?=", 1)
    result = env.deliver(raw)
    assert result.outcome == mail.PROCESSED, result
    assert env.recipients == [SENDER], env.recipients
    env.kept(raw)


@cases.add()
def attachment_name_header_injection(env: MailEnv) -> None:
    number = env.unique()
    raw = letter(("r.xml", env.invalid(number), "application/xml"))
    raw = raw.replace(b'filename="r.xml"', b"filename*=utf-8''r.xml%0D%0ABcc%3A%20"
                      + VICTIM.replace("@", "%40").encode() + b"%0D%0A", 1)
    result = env.deliver(raw)
    assert result.outcome == mail.PROCESSED, result
    assert env.recipients == [SENDER, SENDER], env.recipients  # receipt and invalid notice
    env.kept(raw)


@cases.add()
def invoice_number_with_line_breaks(env: MailEnv) -> None:
    """The number reaches the notice's subject: one line; the next notice goes out too."""
    number = env.unique()
    xml = d.replaced(env.invalid(number), f"<cbc:ID>{number}</cbc:ID>".encode(),
                     f"<cbc:ID>{number}&#13;&#10;Bcc: {VICTIM}&#10;</cbc:ID>".encode())
    raw = letter(("r.xml", xml, "application/xml"))
    result = env.deliver(raw)
    assert result.outcome == mail.PROCESSED, result
    subjects = [str(m["Subject"]) for m, _ in env.sink.mails]
    assert len(subjects) == 2 and any(number in s for s in subjects), subjects
    assert env.recipients == [SENDER, SENDER], env.recipients
    env.kept(raw)


@cases.add()
def notice_never_to_an_address_in_the_invoice(env: MailEnv) -> None:
    number = env.unique()
    xml = env.invalid(number).replace(b"tim.tester@test.com", VICTIM.encode()).replace(
        b"rechnungsausgang@test.com", VICTIM.encode())
    raw = letter(("r.xml", xml, "application/xml"))
    result = env.deliver(raw)
    assert result.outcome == mail.PROCESSED, result
    assert env.recipients == [SENDER, SENDER], env.recipients
    env.kept(raw)


@cases.add()
def message_id_injection(env: MailEnv) -> None:
    number = env.unique()
    raw = letter(("r.xml", env.invalid(number), "application/xml"),
                 message_id=f"<a@b> Bcc: {VICTIM}")
    result = env.deliver(raw)
    assert result.outcome == mail.PROCESSED, result
    replies = {str(m["In-Reply-To"]) for m, _ in env.sink.mails}
    assert replies <= {"<a@b>", "None"}, replies  # the parser keeps the id, drops the rest
    assert not any(m["Bcc"] for m, _ in env.sink.mails)
    assert env.recipients == [SENDER, SENDER], env.recipients
    env.kept(raw)


@cases.add()
def hostile_from_header(env: MailEnv) -> None:
    number = env.unique()
    raw = letter((f"{number}.xml", env.invoice(number), "application/xml"))
    raw = raw.replace(b"From: Lieferant <" + SENDER.encode() + b">",
                      b"From: =?utf-8?q?=1B]0;pwned=07_[/]_=E2=80=AE?= <" + SENDER.encode() + b">",
                      1)
    result = env.deliver(raw)
    assert result.outcome == mail.PROCESSED and result.sender == SENDER, result
    assert env.recipients == [SENDER], env.recipients
    env.kept(raw)


# ------------------------------------------------------------------ content


@cases.add()
def forged_content_types(env: MailEnv) -> None:
    """A ZUGFeRD PDF as text/plain named .txt and an XML invoice as image/png named .png:
    both taken for what they are."""
    pdf = d.pdf(b"factur-x.xml", d.renumber_cii(d.corpus_bytes(env.corpus, d.MINIMAL_CII),
                                                env.unique()))
    xml = env.invoice(env.unique())
    raw = letter(("liesmich.txt", pdf, "text/plain"), ("logo.png", xml, "image/png"))
    result = env.deliver(raw)
    assert result.outcome == mail.PROCESSED, result
    kinds = sorted(stored(env.ctx, o).document.kind for o in invoice_ids(env, result))
    assert kinds == ["facturx-pdf", "ubl-invoice"], kinds
    env.kept(raw)


@cases.add()
def sender_not_registered_for_the_seller(env: MailEnv) -> None:
    number = env.unique()
    raw = letter((f"{number}.xml", env.invoice(number), "application/xml"),
                 sender="rechnung@evil.example")
    result = env.deliver(raw)
    (invoice_id,) = invoice_ids(env, result)
    case = stored(env.ctx, invoice_id)
    assert case.status == Status.ON_HOLD and case.invoice.unbound, case.invoice
    assert "sender not registered for the seller" in (case.invoice.binding_flags or "")
    env.kept(raw)


@cases.add()
def xxe_attachment(env: MailEnv) -> None:
    assert env.listener is not None
    xml = d.xxe(d.corpus_bytes(env.corpus, d.COMPREHENSIVE), env.listener.url)
    raw = letter(("r.xml", xml, "application/xml"))
    failed(env, raw, env.deliver(raw), "DTD")
    assert not env.listener.called()


@cases.add()
def zip_bomb_attachment(env: MailEnv) -> None:
    raw = letter(("wide.zip", d.zip_of_zips(3, 16, bytes(1024 * 1024)), "application/zip"))
    failed(env, raw, env.deliver(raw), "exceeds the limit")
