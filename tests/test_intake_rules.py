"""Every intake business rule, pinned at its boundary (SQLite and PostgreSQL).

GIVEN a small valid XRechnung (UBL, one line, seller VAT id, Skonto terms, no due date) edited
in its XML text, WHEN it goes through ``ingest``, THEN the stored invoice carries exactly what the
rules of DESIGN.md / README say: duplicates by seller + number + type + gross total (and only
against a real original), the office by the longest Leitweg-ID prefix, the pay-by and Skonto
dates, the pre-filled account, the status the verdict calls for; and the size, member, unpacked
size and nesting limits hold exactly at their edge.

Each test here fails when the rule it names is changed by one character (see the report of the
change that added this file for the changes that were tried).
"""

from __future__ import annotations

import importlib
import io
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, func, select

from einvoice.approval import workflow
from einvoice.context import Context
from einvoice.errors import TooLarge
from einvoice.lifecycle import Status
from einvoice.pipeline import Submission, ingest
from einvoice.store import tables as t
from einvoice.store.records import Outcome
from einvoice.validation.engine import Validator

BASE = "valid/xrechnung-testsuite/business-cases/standard/01.10a-INVOICE_ubl.xml"
NUMBER = "<cbc:ID>Rechnungsnummer</cbc:ID>"
VAT_ID = "<cbc:CompanyID>DE123456789</cbc:CompanyID>"
SELLER_NAME = "<cbc:RegistrationName>[Seller name]</cbc:RegistrationName>"
TYPE_CODE = "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>"
ISSUE_DATE = "<cbc:IssueDate>2016-06-27</cbc:IssueDate>"
LEITWEG = "04011000-12350-85"  # BT-10 of the base document
VAT_BLOCK = """            <cac:PartyTaxScheme>
                <cbc:CompanyID>DE123456789</cbc:CompanyID>
                <cac:TaxScheme>
                    <cbc:ID>VAT</cbc:ID>
                </cac:TaxScheme>
            </cac:PartyTaxScheme>
"""
INGEST = importlib.import_module("einvoice.pipeline.ingest")  # the module, not the function
SKONTO = ("#SKONTO#TAGE=7#PROZENT=2.00#\n#SKONTO#TAGE=14#PROZENT=1.00#\n"
          "#SKONTO#TAGE=30#PROZENT=0.00#\n")


# ------------------------------------------------------------------ documents

def edit(text: str, old: str, new: str) -> str:
    """``text`` with the first ``old`` replaced; the edit must change something."""
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.fixture
def base(corpus: Path) -> str:
    return (corpus / BASE).read_text(encoding="utf-8")


def other_gross(text: str) -> str:
    """The same invoice for 20 instead of 10 chairs: gross 5188.40 instead of 2594.20, valid."""
    out = edit(text, 'unitCode="XPP">10<', 'unitCode="XPP">20<')
    for old, new in ((">2180<", ">4360<"), (">414.2<", ">828.4<"), (">2594.2<", ">5188.4<")):
        out = out.replace(old, new)
    return out


def resend(text: str, note: str = "resent") -> str:
    """The same invoice in other bytes (an XML comment), so it is a new document."""
    return text + f"\n<!-- {note} -->\n"


def put(ctx: Context, text: str, name: str = "r.xml") -> Outcome:
    (outcome,) = ingest(ctx, Submission(text.encode("utf-8"), "cli", filename=name)).outcomes
    return outcome


def row(ctx: Context, invoice_id: int) -> t.Invoice:
    with Session(ctx.engine) as s:
        inv = s.get(t.Invoice, invoice_id)
    assert inv is not None
    return inv


def count(ctx: Context, table: type) -> int:
    with Session(ctx.engine) as s:
        return int(s.exec(select(func.count()).select_from(table)).one())


def set_status(ctx: Context, invoice_id: int, status: str) -> None:
    with Session(ctx.engine) as s:
        s.exec(update(t.Invoice).where(col(t.Invoice.id) == invoice_id)
               .values(status=status))
        s.commit()


# ------------------------------------------------------------------ duplicates

def test_same_key_in_other_bytes_is_a_duplicate_of_the_first(ctx: Context, base: str) -> None:
    first = put(ctx, base)
    assert first.status == "pending"
    second = put(ctx, resend(base, "2"))
    third = put(ctx, resend(base, "3"))
    assert (second.new, second.status) == (True, "duplicate")
    assert row(ctx, second.invoice_id).duplicate_of == first.invoice_id
    # a third copy points at the original, not at the copy before it
    assert (third.status, row(ctx, third.invoice_id).duplicate_of) == (
        "duplicate", first.invoice_id)
    assert row(ctx, first.invoice_id).duplicate_of is None


@pytest.mark.parametrize("change", [
    pytest.param(lambda x: edit(x, NUMBER, "<cbc:ID>Rechnungsnummer-2</cbc:ID>"), id="number"),
    pytest.param(lambda x: edit(x, VAT_ID, "<cbc:CompanyID>DE987654321</cbc:CompanyID>"),
                 id="seller-vat-id"),
    pytest.param(lambda x: edit(x, TYPE_CODE, "<cbc:InvoiceTypeCode>326</cbc:InvoiceTypeCode>"),
                 id="type-code"),
    pytest.param(other_gross, id="gross-total"),
])
def test_one_key_field_changed_is_a_new_invoice(ctx: Context, base: str, change: object) -> None:
    first = put(ctx, base)
    variant = change(base)  # type: ignore[operator]
    assert variant != base
    other = put(ctx, variant)
    assert (other.new, other.status) == (True, "pending")  # valid and not a duplicate
    assert row(ctx, other.invoice_id).duplicate_of is None
    assert first.status == "pending"


def test_seller_vat_id_is_compared_without_spaces_and_case(ctx: Context, base: str) -> None:
    first = put(ctx, base)
    for i, vat in enumerate(("DE 123 456 789", "de123456789")):
        copy = put(ctx, edit(resend(base, str(i)), VAT_ID, f"<cbc:CompanyID>{vat}</cbc:CompanyID>"))
        assert copy.status == "duplicate", vat
        assert row(ctx, copy.invoice_id).duplicate_of == first.invoice_id


def test_with_a_vat_id_the_seller_name_does_not_matter(ctx: Context, base: str) -> None:
    first = put(ctx, base)
    renamed = edit(base, SELLER_NAME,
                   "<cbc:RegistrationName>Ganz Andere GmbH</cbc:RegistrationName>")
    copy = put(ctx, renamed)
    assert copy.status == "duplicate"
    assert row(ctx, copy.invoice_id).duplicate_of == first.invoice_id


def test_without_a_vat_id_the_normalised_seller_name_is_the_seller(ctx: Context,
                                                                   base: str) -> None:
    no_vat = edit(base, VAT_BLOCK, "")
    first = put(ctx, no_vat)
    assert first.status == "pending"
    assert row(ctx, first.invoice_id).seller_key == "[seller name]"
    spaced = edit(resend(no_vat), SELLER_NAME,
                  "<cbc:RegistrationName>  [SELLER \n  Name] </cbc:RegistrationName>")
    copy = put(ctx, spaced)
    assert copy.status == "duplicate"
    assert row(ctx, copy.invoice_id).duplicate_of == first.invoice_id
    other = put(ctx, edit(no_vat, SELLER_NAME,
                          "<cbc:RegistrationName>[Seller name 2]</cbc:RegistrationName>"))
    assert (other.status, row(ctx, other.invoice_id).duplicate_of) == ("pending", None)


def test_same_key_but_other_amount_due_is_still_a_duplicate(ctx: Context, base: str) -> None:
    """The key is the gross total (BT-112), not the amount due (BT-115)."""
    first = put(ctx, base)
    prepaid = edit(base, '<cbc:PayableAmount currencyID="EUR">2594.2</cbc:PayableAmount>',
                   '<cbc:PrepaidAmount currencyID="EUR">594.2</cbc:PrepaidAmount>\n'
                   '        <cbc:PayableAmount currencyID="EUR">2000</cbc:PayableAmount>')
    copy = put(ctx, prepaid)
    assert copy.status == "duplicate"
    assert row(ctx, copy.invoice_id).payable == Decimal("2000")
    assert row(ctx, copy.invoice_id).duplicate_of == first.invoice_id


def test_a_corrected_resend_of_an_invalid_invoice_is_new(ctx: Context, base: str) -> None:
    broken = edit(base, f"<cbc:BuyerReference>{LEITWEG}</cbc:BuyerReference>", "")  # BR-DE-15
    assert put(ctx, broken).status == "invalid"
    corrected = put(ctx, base)
    assert (corrected.status, row(ctx, corrected.invoice_id).duplicate_of) == ("pending", None)


def test_a_resend_after_a_rejection_by_a_person_is_new(ctx: Context, base: str) -> None:
    first = put(ctx, base)
    workflow.reject(ctx, first.invoice_id, "alice", "falscher Preis")
    again = put(ctx, resend(base))
    assert (again.status, row(ctx, again.invoice_id).duplicate_of) == ("pending", None)


def test_a_duplicate_is_never_the_original_of_a_later_copy(ctx: Context, base: str) -> None:
    """Original rejected after a copy of it was marked duplicate: a third copy is new, not a
    duplicate of the earlier duplicate."""
    first = put(ctx, base)
    assert put(ctx, resend(base, "2")).status == "duplicate"
    workflow.reject(ctx, first.invoice_id, "alice", "falscher Preis")
    third = put(ctx, resend(base, "3"))
    assert (third.status, row(ctx, third.invoice_id).duplicate_of) == ("pending", None)


def test_of_two_originals_the_earliest_is_the_one_referred_to(ctx: Context, base: str) -> None:
    """Two originals of one key (as a race or a manual correction may leave): a later copy
    points at the first received."""
    first = put(ctx, base)
    second = put(ctx, resend(base, "2"))
    with Session(ctx.engine) as s:
        s.exec(update(t.Invoice).where(col(t.Invoice.id) == second.invoice_id)
               .values(status="pending", duplicate_of=None))
        s.commit()
    third = put(ctx, resend(base, "3"))
    assert (third.status, row(ctx, third.invoice_id).duplicate_of) == (
        "duplicate", first.invoice_id)


@pytest.mark.parametrize(("earlier", "is_original"), [
    (Status.RECEIVED, True), (Status.PENDING, True), (Status.ON_HOLD, True),
    (Status.APPROVED, True), (Status.EXPORTED, True),
    (Status.INVALID, False), (Status.QUARANTINED, False), (Status.REJECTED, False),
])
def test_which_earlier_statuses_count_as_the_original(ctx: Context, base: str, earlier: Status,
                                                      is_original: bool) -> None:
    """A quarantined document never has a key of its own, so that case is set directly."""
    first = put(ctx, base)
    set_status(ctx, first.invoice_id, earlier.value)
    copy = put(ctx, resend(base))
    if is_original:
        assert (copy.status, row(ctx, copy.invoice_id).duplicate_of) == (
            "duplicate", first.invoice_id)
    else:
        assert (copy.status, row(ctx, copy.invoice_id).duplicate_of) == ("pending", None)


# ------------------------------------------------------------------ ingest decisions

ROUTES = {"04011000": "Kämmerei", "04011000-12350": "Tiefbauamt",
          "04011000-12350-86": "Nachbar", "04011000-9": "Schulamt"}


@pytest.mark.parametrize(("routes", "office"), [
    ({"04011000": "Kämmerei"}, "Kämmerei"),
    (ROUTES, "Tiefbauamt"),  # the longest matching prefix beats shorter ones and non-matches
    ({**ROUTES, LEITWEG: "Hauptamt"}, "Hauptamt"),  # the exact ID
    ({"04011000-12350-86": "Nachbar", "0401100-": "x", "05117000": "y"}, None),
    ({}, None),
])
def test_office_is_the_longest_matching_leitweg_prefix(ctx: Context, base: str,
                                                       routes: dict[str, str],
                                                       office: str | None) -> None:
    ctx.settings.leitweg_routes = routes
    assert row(ctx, put(ctx, base).invoice_id).office == office


def test_pay_by_is_issue_date_plus_payment_days_without_a_due_date(ctx: Context,
                                                                   base: str) -> None:
    assert "<cbc:DueDate>" not in base
    first = put(ctx, base)
    assert row(ctx, first.invoice_id).pay_by == date(2016, 7, 27)  # 27 June + 30 days
    ctx.settings.payment_days = 14
    other = put(ctx, edit(base, NUMBER, "<cbc:ID>R-14</cbc:ID>"))
    assert row(ctx, other.invoice_id).pay_by == date(2016, 7, 11)
    ctx.settings.payment_days = 0
    same_day = put(ctx, edit(base, NUMBER, "<cbc:ID>R-0</cbc:ID>"))
    assert row(ctx, same_day.invoice_id).pay_by == date(2016, 6, 27)


def test_pay_by_is_the_due_date_when_the_invoice_names_one(ctx: Context, base: str) -> None:
    ctx.settings.payment_days = 14
    dated = edit(base, ISSUE_DATE, f"{ISSUE_DATE}\n    <cbc:DueDate>2016-08-15</cbc:DueDate>")
    inv = row(ctx, put(ctx, dated).invoice_id)
    assert (inv.status, inv.due_date, inv.pay_by) == ("pending", date(2016, 8, 15),
                                                      date(2016, 8, 15))


def test_skonto_deadline_is_the_shortest_term_from_the_issue_date(ctx: Context,
                                                                  base: str) -> None:
    # the shortest term neither first nor last in the text
    shuffled = edit(base, SKONTO, "#SKONTO#TAGE=14#PROZENT=1.00#\n#SKONTO#TAGE=7#PROZENT=2.50#\n"
                                  "#SKONTO#TAGE=30#PROZENT=0.00#\n")
    inv = row(ctx, put(ctx, shuffled).invoice_id)
    assert inv.status == "pending"
    assert (inv.skonto_until, inv.skonto_percent) == (date(2016, 7, 4), Decimal("2.50"))


def test_without_skonto_terms_there_is_no_skonto_deadline(ctx: Context, base: str) -> None:
    plain = edit(base, SKONTO, "Zahlbar ohne Abzug.\n")
    inv = row(ctx, put(ctx, plain).invoice_id)
    assert (inv.status, inv.skonto_until, inv.skonto_percent) == ("pending", None, None)


def test_account_is_prefilled_from_the_buyer_accounting_reference(ctx: Context,
                                                                  base: str) -> None:
    assert "<cbc:AccountingCost>" not in base
    assert row(ctx, put(ctx, base).invoice_id).account is None
    booked = edit(edit(base, NUMBER, "<cbc:ID>R-B</cbc:ID>"), "<cbc:BuyerReference>",
                  "<cbc:AccountingCost>4711-KST</cbc:AccountingCost>\n    <cbc:BuyerReference>")
    inv = row(ctx, put(ctx, booked).invoice_id)
    assert (inv.status, inv.account) == ("pending", "4711-KST")


# ------------------------------------------------------------------ status after validation

class _BrokenPack:
    name = "en16931-ubl"

    def validate(self, doc: object) -> list[object]:
        raise RuntimeError("stylesheet failed")


def test_accept_is_pending_and_reject_is_invalid(ctx: Context, base: str) -> None:
    good = row(ctx, put(ctx, base).invoice_id)
    assert (good.status, good.verdict) == ("pending", "accept")
    broken = edit(edit(base, NUMBER, "<cbc:ID>R-2</cbc:ID>"),
                  f"<cbc:BuyerReference>{LEITWEG}</cbc:BuyerReference>", "")  # BR-DE-15
    bad = row(ctx, put(ctx, broken).invoice_id)
    assert (bad.status, bad.verdict) == ("invalid", "reject")


def test_an_engine_failure_leaves_the_invoice_received(ctx: Context, base: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    broken_engine = Validator()
    broken_engine.registry.register("en16931-ubl", _BrokenPack)  # type: ignore[arg-type]
    book = INGEST.rulebook_for(ctx.settings)
    monkeypatch.setattr(book, "validator", lambda release: broken_engine)
    inv = row(ctx, put(ctx, base).invoice_id)
    assert (inv.status, inv.verdict) == ("received", "undefined")
    assert inv.error and "stylesheet failed" in inv.error
    assert inv.number == "Rechnungsnummer"  # read and kept, to be validated again


def test_an_unreadable_document_is_quarantined_with_its_error(ctx: Context) -> None:
    outcome = put(ctx, "<Invoice><cbc:ID>1</Invoice>", "kaputt.xml")
    inv = row(ctx, outcome.invoice_id)
    assert (outcome.status, inv.status, inv.verdict) == ("quarantined", "quarantined", None)
    assert inv.error and "not well-formed" in inv.error and outcome.error == inv.error


# ------------------------------------------------------------------ limits

def zip_of(members: dict[str, bytes], directories: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in directories:
            zf.writestr(zipfile.ZipInfo(name), b"")  # a name ending in "/" is a directory
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_submission_exactly_at_the_size_limit_is_taken(ctx: Context, base: str) -> None:
    data = base.encode("utf-8")
    ctx.settings.max_submission_bytes = len(data)
    result = ingest(ctx, Submission(data, "cli"))
    assert [o.status for o in result.outcomes] == ["pending"]
    assert ctx.archive.get(result.sha256) == data


def test_submission_one_byte_over_the_limit_is_refused_before_anything_is_kept(
        ctx: Context, base: str) -> None:
    data = base.encode("utf-8")
    ctx.settings.max_submission_bytes = len(data) - 1
    with pytest.raises(TooLarge, match=f"{len(data)} bytes exceeds the limit of {len(data) - 1}"):
        ingest(ctx, Submission(data, "cli"))
    assert count(ctx, t.Submission) == 0 and count(ctx, t.Document) == 0
    assert not ctx.archive.root.exists() or not any(
        p.is_file() for p in ctx.archive.root.rglob("*"))


def _member_names(ctx: Context, data: bytes) -> list[tuple[str, str | None]]:
    result = ingest(ctx, Submission(data, "upload", filename="batch.zip"))
    return [(o.filename or "", o.error) for o in result.outcomes]


def test_zip_with_exactly_max_members_is_unpacked(ctx: Context) -> None:
    ctx.settings.max_zip_members = 5  # every entry counts (parsing it costs), but a
    data = zip_of({f"m{i}.txt": f"member {i}".encode() for i in range(3)},
                  directories=("sub/", "sub/deeper/"))  # directory is no document
    names = _member_names(ctx, data)
    assert [n for n, _ in names] == ["m0.txt", "m1.txt", "m2.txt"]
    assert all("neither XML" in (error or "") for _, error in names)


def test_zip_with_one_member_too_many_is_quarantined_whole(ctx: Context) -> None:
    ctx.settings.max_zip_members = 3
    data = zip_of({f"m{i}.txt": f"member {i}".encode() for i in range(4)})
    assert _member_names(ctx, data) == [
        ("batch.zip", "submission with 4 members exceeds the limit of 3 (ZIP entries and mail "
                      "parts together): refused, nothing more unpacked")]
    assert count(ctx, t.Document) == 1


def test_zip_unpacked_size_exactly_at_the_limit_is_taken(ctx: Context) -> None:
    ctx.settings.max_zip_total_bytes = 300
    names = _member_names(ctx, zip_of({"a.txt": b"a" * 100, "b.txt": b"b" * 200}))
    assert [n for n, _ in names] == ["a.txt", "b.txt"]


def test_zip_unpacked_size_one_byte_over_the_limit_is_quarantined(ctx: Context) -> None:
    ctx.settings.max_zip_total_bytes = 300
    ((name, error),) = _member_names(ctx, zip_of({"a.txt": b"a" * 100, "b.txt": b"b" * 201}))
    assert name == "batch.zip"
    assert error == ("submission unpacks beyond the size limit of 300 bytes (ZIP members and "
                     "mail parts together): refused, nothing more unpacked")


def test_zip_nesting_exactly_at_the_depth_limit_is_unpacked(ctx: Context) -> None:
    ctx.settings.max_zip_depth = 1
    names = _member_names(ctx, zip_of({"inner.zip": zip_of({"deep.txt": b"deep"})}))
    assert [n for n, _ in names] == ["deep.txt"]


def test_zip_nested_one_level_deeper_is_quarantined(ctx: Context) -> None:
    ctx.settings.max_zip_depth = 1
    nested = zip_of({"inner.zip": zip_of({"innermost.zip": zip_of({"deep.txt": b"deep"})})})
    assert _member_names(ctx, nested) == [  # the submission is refused whole
        ("batch.zip", "ZIP nested deeper than 1 levels: refused, nothing more unpacked")]
