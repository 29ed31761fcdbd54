"""No supplier speaks for another (issue 14, item 2).

GIVEN supplier master data and an invoice arriving by upload token, by mail or from a folder,
WHEN it is ingested, THEN ``lifecycle.bind`` decides whether the channel speaks for the seller:
a token's supplier that is not the seller, or a known VAT id with an IBAN not on file, or a mail
from a domain not registered for the seller, holds the invoice (``on_hold``, ``unbound``, with a
flag naming both sides); a held invoice never makes the genuine supplier's invoice a duplicate;
the supplier is told "pending" (a hold tips nobody off). The decisions are pinned one by one on
``lifecycle`` and the probe of the issue runs through the real upload app (uvicorn + httpx) and
the real mail intake (Dovecot), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, col, select

from einvoice import lifecycle
from einvoice.approval import workflow
from einvoice.approval.suppliers import SupplierData, save_supplier
from einvoice.approval.tokens import create_token
from einvoice.config import Mailbox
from einvoice.context import Context
from einvoice.intake import mail
from einvoice.lifecycle import (
    Binding,
    Channel,
    IngestDecision,
    SellerClaim,
    Status,
    SupplierFacts,
)
from einvoice.lifecycle.ingest import status_after_revalidation
from einvoice.model import Invoice, Totals
from einvoice.model import Seller as SellerModel
from einvoice.pipeline import Submission, ingest
from einvoice.store import tables as t
from einvoice.validation.findings import Verdict
from einvoice.views.queries import get_case
from tests.dovecot import Dovecot, make_dovecot
from tests.test_http import Server, bearer, serve  # noqa: F401  (the upload app fixture)

BASE = "valid/xrechnung-testsuite/business-cases/standard/01.10a-INVOICE_ubl.xml"
NUMBER = "<cbc:ID>Rechnungsnummer</cbc:ID>"
VAT_ID = "<cbc:CompanyID>DE123456789</cbc:CompanyID>"
IBAN_ON_FILE, IBAN_TOO = "DE79000000001234567890", "DE16000000002345678901"  # the base's two
NEW_IBAN = "DE89370400440532013000"
API = "/api/v1/invoices"

ALPHA = SupplierFacts(1, "Alpha GmbH", "DE111111111", (NEW_IBAN,), "rechnung@alpha.example")
BETA = SupplierFacts(2, "[Seller name]", "DE123456789", (IBAN_ON_FILE, IBAN_TOO),
                     "rechnung@seller.example")
NAMELESS = SupplierFacts(3, "Gamma KG")  # no VAT id, no IBAN, no address on file
GENUINE = SellerClaim("[Seller name]", "DE123456789", (IBAN_ON_FILE,))
UPLOAD = "upload"


def by_token(token: SupplierFacts) -> Channel:
    return Channel(UPLOAD, token)


def mailed(sender: str | None) -> Channel:
    return Channel(lifecycle.MAIL_CHANNEL, None, sender)


MISMATCH = ("Rechnungssteller passt nicht zum Upload-Zugang / seller does not match the upload "
            "token's supplier: token of {token}, invoice names {seller}")
NOT_CHECKED = ("Rechnungssteller nicht geprüft / seller not checked: the upload token's supplier "
               "{token} and the seller {seller} cannot be compared (no VAT id on both sides, "
               "seller not on file)")
NEW_IBAN_FLAG = ("neue IBAN zu bekannter USt-IdNr. / IBAN not on file for a known VAT id: {ibans} "
                 "for {supplier}")


# ------------------------------------------------------------------ the upload token

def test_the_token_of_the_seller_speaks_for_it() -> None:
    assert lifecycle.bind(GENUINE, by_token(BETA), BETA) == Binding()
    # the VAT id compares as a key: spaces, case, dashes and width do not matter
    spaced = SellerClaim("Beta", "ｄｅ 123-456 789", (IBAN_ON_FILE,))
    assert lifecycle.bind(spaced, by_token(BETA), BETA) == Binding()


def test_another_suppliers_token_holds_the_invoice_and_names_both() -> None:
    binding = lifecycle.bind(GENUINE, by_token(ALPHA), BETA)
    assert binding == Binding(True, (MISMATCH.format(
        token="Alpha GmbH (DE111111111)", seller="[Seller name] (DE123456789)"),))


def test_a_vat_id_differing_in_one_digit_does_not_match() -> None:
    near = SupplierFacts(1, "Beta", "DE123456788", (IBAN_ON_FILE,))
    assert lifecycle.bind(GENUINE, by_token(near), BETA).held


def test_without_a_vat_id_on_one_side_the_master_data_decides() -> None:
    no_vat = SellerClaim("[Seller name]", None, (IBAN_ON_FILE,))
    # the token's supplier has none: the seller the master data finds must be the token's
    assert lifecycle.bind(GENUINE, by_token(NAMELESS), BETA).held
    gamma = SellerClaim("Gamma KG", None)
    assert lifecycle.bind(gamma, by_token(NAMELESS), NAMELESS) == Binding()
    # the invoice has none: likewise, found by name
    assert lifecycle.bind(no_vat, by_token(BETA), BETA) == Binding()
    assert lifecycle.bind(no_vat, by_token(ALPHA), BETA).held


def test_a_seller_not_on_file_cannot_be_checked_flagged_not_held() -> None:
    assert lifecycle.bind(GENUINE, by_token(NAMELESS), None) == Binding(False, (
        NOT_CHECKED.format(token="Gamma KG (keine USt-IdNr. / no VAT id)",
                           seller="[Seller name] (DE123456789)"),))
    unknown = SellerClaim(None, None)
    assert lifecycle.bind(unknown, by_token(BETA), None) == Binding(False, (NOT_CHECKED.format(
        token="[Seller name] (DE123456789)", seller="? (keine USt-IdNr. / no VAT id)"),))


# ------------------------------------------------------------------ a new IBAN on a known VAT id

def test_a_known_vat_id_with_an_iban_not_on_file_is_held_whoever_sends_it() -> None:
    forged = SellerClaim("[Seller name]", "DE123456789",
                         (NEW_IBAN, "de79 0000 0000 1234 5678 90"))
    flag = NEW_IBAN_FLAG.format(ibans=NEW_IBAN, supplier="[Seller name] (DE123456789)")
    for channel in (Channel("cli"), by_token(BETA), mailed("rechnung@seller.example")):
        assert lifecycle.bind(forged, channel, BETA) == Binding(True, (flag,)), channel
    # the probe of issue 14: A's token, B's VAT id, a new IBAN: held, both reasons named
    assert lifecycle.bind(forged, by_token(ALPHA), BETA).flags == (MISMATCH.format(
        token="Alpha GmbH (DE111111111)", seller="[Seller name] (DE123456789)"), flag)


def test_iban_on_file_written_otherwise_is_on_file() -> None:
    spaced = SellerClaim("x", "DE123456789", ("de79 0000 0000 1234 5678 90", IBAN_TOO))
    assert lifecycle.bind(spaced, Channel("cli"), BETA) == Binding()


def test_a_supplier_with_no_iban_on_file_is_not_held_for_an_iban() -> None:
    """No bank details on file to check a change against: the views warn, ingest holds not."""
    bare = SupplierFacts(2, "[Seller name]", "DE123456789")
    assert lifecycle.bind(GENUINE, Channel("cli"), bare) == Binding()
    one = SupplierFacts(2, "[Seller name]", "DE123456789", (IBAN_TOO,))
    assert lifecycle.bind(GENUINE, Channel("cli"), one).held


def test_the_iban_rule_needs_the_vat_id_not_just_the_name() -> None:
    """A supplier found by name only (the invoice gives another or no VAT id) is no known VAT
    id: the soft warning of the views says the rest."""
    for vat in ("DE999999999", None):
        claim = SellerClaim("[Seller name]", vat, (NEW_IBAN,))
        assert not lifecycle.bind(claim, Channel("cli"), BETA).held


# ------------------------------------------------------------------ the mail sender

@pytest.mark.parametrize("sender", ["rechnung@seller.example", "Buchhaltung@SELLER.example",
                                    "x@seller.example."])
def test_a_mail_from_the_registered_domain_speaks_for_the_seller(sender: str) -> None:
    assert lifecycle.bind(GENUINE, mailed(sender), BETA) == Binding()


@pytest.mark.parametrize(("sender", "shown"), [
    ("rechnung@seller.example.evil", "rechnung@seller.example.evil"),
    ("rechnung@mail.seller.example", "rechnung@mail.seller.example"),
    ("seller.example", "seller.example"), ("@seller.example", "@seller.example"),
    ("", "(kein Absender / no sender)"),
    (None, "(kein Absender / no sender)")])
def test_a_mail_from_another_domain_is_held(sender: str | None, shown: str) -> None:
    assert lifecycle.bind(GENUINE, mailed(sender), BETA) == Binding(True, (
        f"Absender nicht für den Rechnungssteller hinterlegt / sender not registered for the "
        f"seller: mail from {shown}, [Seller name] (DE123456789) is on file with "
        f"rechnung@seller.example",))


def test_no_address_on_file_is_flagged_not_held() -> None:
    quiet = SupplierFacts(2, "[Seller name]", "DE123456789", (IBAN_ON_FILE,))
    assert lifecycle.bind(GENUINE, mailed("x@y.example"), quiet) == Binding(False, (
        "keine Absenderadresse hinterlegt / no sender address on file for [Seller name] "
        "(DE123456789): mail from x@y.example",))


def test_the_sender_is_checked_only_for_mail_and_a_seller_on_file() -> None:
    assert lifecycle.bind(GENUINE, mailed("x@y.example"), None) == Binding()
    for kind in ("cli", "folder", UPLOAD):
        assert lifecycle.bind(GENUINE, Channel(kind, None, "x@y.example"), BETA) == Binding()


# ------------------------------------------------------------------ what ingest decides

def model() -> Invoice:
    return Invoice(number="R-1", seller=SellerModel(name="x", vat_id="DE1"),
                   totals=Totals(with_vat=Decimal("1")))


@pytest.mark.parametrize(("verdict", "duplicate_of", "status"), [
    (Verdict.ACCEPT, None, Status.ON_HOLD), (Verdict.ACCEPT, 5, Status.ON_HOLD),
    (Verdict.REJECT, None, Status.INVALID), (Verdict.REJECT, 5, Status.DUPLICATE),
    (Verdict.UNDEFINED, None, Status.RECEIVED), (None, 5, Status.DUPLICATE)])
def test_a_held_invoice_is_on_hold_when_it_would_be_pending_or_a_copy(
        verdict: Verdict | None, duplicate_of: int | None, status: Status) -> None:
    assert lifecycle.decide_ingest(model(), verdict, duplicate_of, {}, 30, held=True) == (
        IngestDecision(status))
    unheld = lifecycle.decide_ingest(model(), verdict, duplicate_of, {}, 30).status
    assert unheld == (Status.DUPLICATE if duplicate_of else
                      lifecycle.status_after_validation(verdict))


@pytest.mark.parametrize(("verdict", "after"), [
    (Verdict.ACCEPT, Status.ON_HOLD), (Verdict.REJECT, Status.INVALID),
    (Verdict.UNDEFINED, None), (None, None)])
def test_a_held_document_validated_again_goes_on_hold_not_pending(
        verdict: Verdict | None, after: Status | None) -> None:
    assert status_after_revalidation("received", verdict, held=True) == after
    for status in set(Status) - {Status.RECEIVED}:
        assert status_after_revalidation(status, verdict, held=True) is None


@pytest.mark.parametrize("status", list(Status))
def test_the_supplier_is_told_pending_for_any_hold(status: Status) -> None:
    assert lifecycle.seen_by_supplier(status) == ("pending" if status is Status.ON_HOLD
                                                  else status.value)


def test_uncleared_is_received_and_on_hold() -> None:
    assert {Status.RECEIVED, Status.ON_HOLD} == lifecycle.UNCLEARED


# ------------------------------------------------------------------ through the upload app

def base_xml(corpus: Path, number: str = "RE-2024-001", iban: str = IBAN_ON_FILE) -> bytes:
    xml = (corpus / BASE).read_text(encoding="utf-8")
    xml = xml.replace(NUMBER, f"<cbc:ID>{number}</cbc:ID>", 1)
    return xml.replace(f"<cbc:ID>{IBAN_ON_FILE}</cbc:ID>", f"<cbc:ID>{iban}</cbc:ID>", 1).encode()


def master(ctx: Context, email: str | None = None) -> tuple[int, int]:
    """Alpha (another supplier) and Beta (the base document's seller, its IBANs on file)."""
    alpha = save_supplier(ctx, SupplierData("Alpha GmbH", "DE 111 111 111", (NEW_IBAN,))).id
    beta = save_supplier(ctx, SupplierData("[Seller name]", "DE123456789",
                                           (IBAN_ON_FILE, IBAN_TOO), email=email)).id
    assert alpha is not None and beta is not None
    return alpha, beta


def stored(ctx: Context, invoice_id: int) -> t.Invoice:
    with Session(ctx.engine) as s:
        inv = s.get(t.Invoice, invoice_id)
    assert inv is not None
    return inv


def ingest_reason(ctx: Context, invoice_id: int) -> str | None:
    with Session(ctx.engine) as s:
        return s.exec(select(t.AuditEvent.reason).where(
            col(t.AuditEvent.invoice_id) == invoice_id,
            col(t.AuditEvent.action) == "ingest")).one()


def upload(client: httpx.Client, token: str, data: bytes) -> dict[str, object]:
    r = client.post(API, files={"file": ("r.xml", data, "application/xml")},
                    headers=bearer(token))
    assert r.status_code == 200, r.text
    (doc,) = r.json()["documents"]
    return dict(doc)


def test_the_probe_a_forgery_is_held_and_the_genuine_invoice_is_not_its_duplicate(
        serve: Callable[..., Server], corpus: Path) -> None:  # noqa: F811 (test_http's fixture)
    """Supplier A uploads an invoice carrying B's VAT id and a new IBAN: on hold with the flag,
    A's receipt says pending; B's genuine invoice, same number and amount, arrives later: pending,
    not a duplicate of the forgery; a copy of B's invoice is B's duplicate."""
    srv = serve()
    alpha, beta = master(srv.ctx)
    token_a, token_b = (create_token(srv.ctx, i, "test")[1] for i in (alpha, beta))
    with httpx.Client(base_url=srv.url, timeout=60) as client:
        forged = upload(client, token_a, base_xml(corpus, iban=NEW_IBAN))
        assert (forged["status"], forged["status_de"]) == (
            "pending", "gültig, in Prüfung durch die Rechnungsstelle")  # tips nobody off
        genuine = upload(client, token_b, base_xml(corpus))
        copy = upload(client, token_b, base_xml(corpus, "re\u20102024\u2010001"))
        status = client.get(f"{API}/{forged['invoice_id']}", headers=bearer(token_a))
    assert status.json()["status"] == "pending"
    held = stored(srv.ctx, int(str(forged["invoice_id"])))
    flags = (MISMATCH.format(token="Alpha GmbH (DE111111111)",
                             seller="[Seller name] (DE123456789)"),
             NEW_IBAN_FLAG.format(ibans=NEW_IBAN, supplier="[Seller name] (DE123456789)"))
    assert (held.status, held.unbound, held.binding_flags) == ("on_hold", True, "\n".join(flags))
    assert ingest_reason(srv.ctx, held.id or 0) == "\n".join(flags)
    # the clerk sees both reasons among the case's flags
    assert set(flags) <= set(get_case(srv.ctx, held.id or 0).flags)
    real = stored(srv.ctx, int(str(genuine["invoice_id"])))
    assert (real.status, real.duplicate_of, real.unbound, real.binding_flags) == (
        "pending", None, False, None)
    again = stored(srv.ctx, int(str(copy["invoice_id"])))
    assert (again.status, again.duplicate_of) == ("duplicate", real.id)


def test_a_forgery_after_the_genuine_invoice_is_held_not_closed_as_a_duplicate(
        ctx: Context, corpus: Path) -> None:
    """Held, so that a person sees the attempt; the copy it repeats is recorded."""
    alpha, beta = master(ctx)
    (genuine,) = ingest(ctx, Submission(base_xml(corpus), UPLOAD, supplier_id=beta)).outcomes
    (forged,) = ingest(ctx, Submission(base_xml(corpus, "RE-2024-001 "), UPLOAD,
                                       supplier_id=alpha)).outcomes
    assert genuine.status == "pending"
    assert (forged.status, stored(ctx, forged.invoice_id).duplicate_of) == (
        "on_hold", genuine.invoice_id)
    # a second forgery is a copy of the first held one; still held
    (twice,) = ingest(ctx, Submission(base_xml(corpus, "RE-2024-001\u200b"), UPLOAD,
                                      supplier_id=alpha)).outcomes
    assert (twice.status, stored(ctx, twice.invoice_id).duplicate_of) == (
        "on_hold", genuine.invoice_id)


def test_once_a_person_releases_a_held_invoice_its_copies_are_duplicates(
        ctx: Context, corpus: Path) -> None:
    """B's invoice with a new IBAN is held; the clerk checks it and releases it: now it is the
    original of a copy. While held it was not: B's resend was held on its own account."""
    _, beta = master(ctx)
    changed = base_xml(corpus, iban=NEW_IBAN)
    (first,) = ingest(ctx, Submission(changed, UPLOAD, supplier_id=beta)).outcomes
    assert (first.status, stored(ctx, first.invoice_id).unbound) == ("on_hold", True)
    (unheld,) = ingest(ctx, Submission(base_xml(corpus, "RE-2024-001 "), UPLOAD,
                                       supplier_id=beta)).outcomes
    assert (unheld.status, stored(ctx, unheld.invoice_id).duplicate_of) == ("pending", None)
    workflow.reject(ctx, unheld.invoice_id, "alice", "sent twice")  # out of the way
    workflow.release(ctx, first.invoice_id, "alice")
    (copy,) = ingest(ctx, Submission(base_xml(corpus, "re-2024-001"), UPLOAD,
                                     supplier_id=beta)).outcomes
    assert (copy.status, stored(ctx, copy.invoice_id).duplicate_of) == (
        "duplicate", first.invoice_id)


def test_a_token_of_a_supplier_without_a_vat_id_is_flagged_not_held(
        ctx: Context, corpus: Path) -> None:
    gamma = save_supplier(ctx, SupplierData("Gamma KG")).id
    (doc,) = ingest(ctx, Submission(base_xml(corpus), UPLOAD, supplier_id=gamma)).outcomes
    inv = stored(ctx, doc.invoice_id)
    assert (inv.status, inv.unbound) == ("pending", False)
    assert inv.binding_flags == NOT_CHECKED.format(
        token="Gamma KG (keine USt-IdNr. / no VAT id)", seller="[Seller name] (DE123456789)")


def test_a_folder_invoice_of_a_known_seller_with_its_ibans_is_plain_pending(
        ctx: Context, corpus: Path) -> None:
    master(ctx, email="rechnung@seller.example")
    (doc,) = ingest(ctx, Submission(base_xml(corpus), "folder")).outcomes
    inv = stored(ctx, doc.invoice_id)
    assert (inv.status, inv.unbound, inv.binding_flags) == ("pending", False, None)


# ------------------------------------------------------------------ through the mail intake

@pytest.fixture
def server() -> Iterator[Dovecot]:
    root = Path(tempfile.mkdtemp(prefix="einvoice-dovecot-"))  # see tests/test_mail.py
    dovecot = make_dovecot(root)
    dovecot.start()
    yield dovecot
    dovecot.stop()
    shutil.rmtree(root, ignore_errors=True)


def letter(sender: str, number: str, data: bytes) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Buchhaltung <{sender}>"
    msg["To"] = "rechnung@stadt.example"
    msg["Subject"] = f"Rechnung {number}"
    msg["Message-ID"] = f"<{number}@example>"
    msg.set_content("Anbei.")
    msg.add_attachment(data, maintype="application", subtype="xml", filename=f"{number}.xml")
    return msg.as_bytes()


def test_mail_from_a_sender_not_registered_for_the_seller(ctx: Context, corpus: Path,
                                                           server: Dovecot) -> None:
    """Registered address rechnung@seller.example: a mail from another mailbox of the same
    domain is plain pending, one from elsewhere is held; with no address registered the mail
    is pending and flagged."""
    master(ctx, email="rechnung@seller.example")
    box = Mailbox(name="rechnung", host=server.host, port=server.port, security="none",
                  user=server.user, password=server.password)
    imap = mail.connect(box)
    for sender, number in (("buchhaltung@seller.example", "M-1"),
                           ("rechnung@seller-payments.example", "M-2")):
        imap.append("INBOX", letter(sender, number, base_xml(corpus, number)))
    imap.logout()
    report = mail.poll(ctx, box)
    assert report.error is None and [m.outcome for m in report.messages] == ["processed"] * 2
    with Session(ctx.engine) as s:
        rows = {inv.number: inv for inv in s.exec(select(t.Invoice)).all()}
    assert (rows["M-1"].status, rows["M-1"].binding_flags) == ("pending", None)
    assert (rows["M-2"].status, rows["M-2"].unbound, rows["M-2"].binding_flags) == (
        "on_hold", True, "Absender nicht für den Rechnungssteller hinterlegt / sender not "
        "registered for the seller: mail from rechnung@seller-payments.example, [Seller name] "
        "(DE123456789) is on file with rechnung@seller.example")
    with Session(ctx.engine) as s:  # the address struck from the master data
        row = s.exec(select(t.Supplier).where(col(t.Supplier.vat_id) == "DE123456789")).one()
        row.email = None
        s.add(row)
        s.commit()
    imap = mail.connect(box)
    imap.append("INBOX", letter("rechnung@seller-payments.example", "M-3",
                                base_xml(corpus, "M-3")))
    imap.logout()
    assert [m.outcome for m in mail.poll(ctx, box).messages] == ["processed"]
    with Session(ctx.engine) as s:
        m3 = s.exec(select(t.Invoice).where(col(t.Invoice.number) == "M-3")).one()
    assert (m3.status, m3.unbound, m3.binding_flags) == (
        "pending", False, "keine Absenderadresse hinterlegt / no sender address on file for "
        "[Seller name] (DE123456789): mail from rechnung@seller-payments.example")
