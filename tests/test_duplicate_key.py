"""Duplicates by what an invoice number says, not by its bytes (issue 14, item 3).

GIVEN an invoice number spelt another way — another case, a Unicode hyphen or minus, a zero-width
space, a BOM, a bidi mark, fullwidth characters, a no-break or thin space — WHEN it is compared,
THEN it is the same number (``lifecycle.number_key``); a number differing in a real character is
another number. Through ``ingest`` (SQLite and PostgreSQL) each cosmetic copy of a received
invoice is a duplicate of it, the number is kept as read for display, and an invoice received
before the upgrade (migration 0006 fills its keys) is found as the original.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import bindparam, text
from sqlmodel import Session, select

from einvoice.approval import tokens
from einvoice.config import Settings
from einvoice.context import Context, open_context
from einvoice.lifecycle import name_key, number_key, vat_key
from einvoice.lifecycle.keys import KEY_LENGTH, bounded
from einvoice.pipeline import Submission, ingest
from einvoice.store import tables as t
from einvoice.store.db import alembic_config, make_engine
from einvoice.store.records import Outcome
from einvoice.store.types import AwareDateTime, ExactDecimal

BASE = "valid/xrechnung-testsuite/business-cases/standard/01.10a-INVOICE_ubl.xml"
NUMBER = "<cbc:ID>Rechnungsnummer</cbc:ID>"
VAT_ID = "<cbc:CompanyID>DE123456789</cbc:CompanyID>"

ZWSP, ZWJ, BOM, LRM, RLM, SHY, CGJ = "\u200b", "\u200d", "\ufeff", "\u200e", "\u200f", "\u00ad", \
    "\u034f"
DASHES = ["\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", "\ufe63",
          "\uff0d", "\u2e3a", "\u2796", "\u02d7"]
SPACES = [" ", "\u00a0", "\u2009", "\u202f", "\u3000", "\t", "\u2002", "\n"]


def fullwidth(text_: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text_)


# ------------------------------------------------------------------ the key, pinned

@pytest.mark.parametrize("variant", [
    "RE-2024-001", "re-2024-001", "Re-2024-001",                      # case
    "RE\u20102024\u2010001", "RE\u22122024\u2212001", "RE\u20132024\u2014001",  # dashes
    f"RE-2024{ZWSP}-001", f"{BOM}RE-2024-001", f"RE-2024-001{LRM}", f"{RLM}RE-{ZWJ}2024-001",
    f"RE{SHY}-2024-001", f"RE-2024-0{CGJ}01", "RE-2024-001\x00",       # invisible
    "ＲＥ－２０２４－００１", "ＲＥ-2024-001",                              # fullwidth
    "RE -2024- 001", "RE\u00a0-2024-001", "RE-\u20092024-001", " RE-2024-001\n",  # spaces
])
def test_cosmetic_spellings_of_one_number_have_one_key(variant: str) -> None:
    assert number_key(variant) == "re-2024-001"


@pytest.mark.parametrize(("one", "other"), [
    ("RE-2024-001", "RE-2024-002"),
    ("RE-2024-001", "RE-2024-0O1"),   # letter O is not digit 0
    ("RE-2024-001", "RE-2024-00l"),   # nor l 1
    ("RE-2024-001", "RE-2024001"),    # a dash is kept, not removed: 1-23 is not 12-3
    ("1-23", "12-3"),
    ("RE-2024-001", "RE/2024/001"),   # a slash is not a dash
    ("RE-2024-001", "RE.2024.001"),
    ("RE-2024-001", "RE_2024_001"),
    ("Rechnung-é", "Rechnung-e"),     # an accent is a real character
    ("RE-2024-001", "RE-2024-001-1"),
])
def test_a_real_character_makes_another_number(one: str, other: str) -> None:
    assert number_key(one) != number_key(other)


def test_spaces_are_removed_not_collapsed() -> None:
    """"RE 2024-1" and "RE2024-1" are one invoice: a space in a number is typography."""
    assert number_key("RE 2024-1") == number_key("RE2024-1") == number_key("RE  2024 -1") == (
        "re2024-1")


def test_case_folding_is_full_not_lower() -> None:
    assert number_key("STRASSE-1") == number_key("straße-1") == "strasse-1"
    assert number_key("ﬁle-1") == "file-1"  # a ligature is its letters (NFKC)


def test_an_accent_written_apart_is_the_composed_letter() -> None:
    assert number_key("Re-\u00e9") == number_key("Re-e\u0301") == number_key(
        f"Re-e{ZWSP}\u0301") == "re-\u00e9"


@pytest.mark.parametrize("empty", [None, "", "   ", ZWSP, f"{BOM}{ZWSP}\u00a0", "\x00"])
def test_nothing_visible_is_no_number(empty: str | None) -> None:
    assert number_key(empty) is None


def test_a_key_longer_than_the_column_is_its_sha256() -> None:
    assert number_key("1" * KEY_LENGTH) == "1" * KEY_LENGTH
    long = number_key("1" * (KEY_LENGTH + 1))
    assert long is not None and long.startswith("sha256 ") and len(long) == 71
    assert long != number_key("1" * (KEY_LENGTH + 2))
    # NFKC may multiply the length: U+FDFA becomes 18 characters (15 without its spaces)
    assert len(bounded("x")) == 1
    expanded = number_key("\ufdfa" * 18)
    assert expanded is not None and expanded.startswith("sha256 ")


@pytest.mark.parametrize("vat", [
    "DE123456789", "de 123 456 789", "DE-123.456.789", "ＤＥ１２３４５６７８９",
    f"DE{ZWSP}123456789", "\u00a0DE123456789 "])
def test_a_vat_id_is_its_letters_and_digits_upper_case(vat: str) -> None:
    assert vat_key(vat) == "DE123456789"


@pytest.mark.parametrize("vat", [None, "", " - ", ZWSP])
def test_no_vat_id(vat: str | None) -> None:
    assert vat_key(vat) is None


def test_a_name_keeps_one_space_between_words() -> None:
    assert name_key("  Muster\u00a0 GmbH\t& Co.\u2009KG ") == "muster gmbh & co. kg"
    assert name_key(f"Ｍuster{ZWSP} GmbH") == "muster gmbh"
    assert name_key("Muster GmbH") != name_key("MusterGmbH")
    assert name_key(" ") is None


# ------------------------------------------------------------------ properties

NUMBERS = st.text(alphabet=string.ascii_letters + string.digits + "ÄÖÜäöüß/._#-", min_size=1,
                  max_size=24).filter(lambda n: any(c.isascii() and c.isalnum() for c in n))


@st.composite
def cosmetic(draw: st.DrawFn, number: str) -> str:
    """``number`` spelt another way: per character another case or its fullwidth form, a dash
    replaced by another dash, invisible characters and spaces put anywhere."""
    out = []
    for c in number:
        if c == "-":
            c = draw(st.sampled_from(["-", *DASHES]))
        elif c.isascii() and c.isalpha():
            c = draw(st.sampled_from([c, c.upper(), c.lower(), fullwidth(c)]))
        elif c.isascii() and draw(st.booleans()):
            c = fullwidth(c)
        out.append(c)
        out.append(draw(st.sampled_from(["", "", ZWSP, ZWJ, BOM, LRM, RLM, SHY, CGJ, *SPACES])))
    return draw(st.sampled_from(["", BOM, " "])) + "".join(out)


@given(NUMBERS, st.data())
@example("RE-2024-001", None)
def test_every_cosmetic_variant_has_the_key_of_the_number(number: str,
                                                          data: st.DataObject | None) -> None:
    variant = data.draw(cosmetic(number)) if data else "ＲＥ\u2010 2024" + ZWSP + "-００１"
    assert number_key(variant) == number_key(number)


@given(NUMBERS, st.data())
def test_another_real_character_gives_another_key(number: str, data: st.DataObject) -> None:
    where = [i for i, c in enumerate(number) if c.isascii() and c.isalnum()]
    i = data.draw(st.sampled_from(where))
    real = data.draw(st.sampled_from(string.ascii_lowercase + string.digits).filter(
        lambda c: c != number[i].lower()))
    other = number[:i] + real + number[i + 1:]
    assert number_key(other) != number_key(number)


@given(st.text(max_size=40))
def test_the_key_of_a_key_is_the_key(number: str) -> None:
    key = number_key(number)
    assert key is None or number_key(key) == key


# ------------------------------------------------------------------ through ingest

@pytest.fixture
def base(corpus: Path) -> str:
    return (corpus / BASE).read_text(encoding="utf-8").replace(
        NUMBER, "<cbc:ID>RE-2024-001</cbc:ID>", 1)


def put(ctx: Context, xml: str) -> Outcome:
    (outcome,) = ingest(ctx, Submission(xml.encode("utf-8"), "cli", filename="r.xml")).outcomes
    return outcome


def row(ctx: Context, invoice_id: int) -> t.Invoice:
    with Session(ctx.engine) as s:
        inv = s.get(t.Invoice, invoice_id)
    assert inv is not None
    return inv


def numbered(xml: str, number: str) -> str:
    return xml.replace("<cbc:ID>RE-2024-001</cbc:ID>", f"<cbc:ID>{number}</cbc:ID>", 1)


def test_four_cosmetic_copies_are_duplicates_of_the_first(ctx: Context, base: str) -> None:
    """The probe of issue 14: another case, a Unicode hyphen, a zero-width space and fullwidth
    characters made one invoice payable four times more."""
    first = put(ctx, base)
    assert first.status == "pending"
    for number in ("re-2024-001", "RE\u20102024\u2010001", f"RE-{ZWSP}2024-001",
                   "ＲＥ－２０２４－００１"):
        copy = put(ctx, numbered(base, number))
        assert (copy.new, copy.status) == (True, "duplicate"), number
        stored = row(ctx, copy.invoice_id)
        assert stored.duplicate_of == first.invoice_id
        assert (stored.number, stored.number_key) == (number, "re-2024-001")  # shown as read
    other = put(ctx, numbered(base, "RE-2024-002"))
    assert (other.status, row(ctx, other.invoice_id).duplicate_of) == ("pending", None)


def test_a_number_longer_than_its_column_is_stored_cut_and_compared_whole(
        ctx: Context, base: str) -> None:
    """On PostgreSQL a 300-character number failed the insert; now the shown number is cut to
    the column ("…"), the key is the SHA-256 of the whole number, and texts of a line longer
    than their columns are cut the same way."""
    long = "R" + "7" * 299
    first = put(ctx, numbered(base, long).replace(
        "<cbc:Name>Drehstuhl</cbc:Name>", f"<cbc:Name>{'Stuhl ' * 400}</cbc:Name>", 1).replace(
        "<cbc:ID>1</cbc:ID>", f"<cbc:ID>{'L' * 300}</cbc:ID>", 1))
    assert first.status == "pending"
    stored = row(ctx, first.invoice_id)
    assert stored.number == long[:255] + "…" and len(stored.number) == 256
    assert stored.number_key == number_key(long) and stored.number_key.startswith("sha256 ")
    with Session(ctx.engine) as s:
        line = s.exec(select(t.InvoiceLine).where(
            t.InvoiceLine.invoice_id == first.invoice_id)).one()
    assert (line.line_id, len(line.item_name or "")) == ("L" * 127 + "…", 1024)
    assert put(ctx, numbered(base, long.lower())).status == "duplicate"
    # the same first 255 characters are not the same number
    assert put(ctx, numbered(base, long[:-1] + "8")).status == "pending"


def test_a_cosmetic_vat_id_is_the_same_seller(ctx: Context, base: str) -> None:
    first = put(ctx, base)
    copy = put(ctx, base.replace(VAT_ID, "<cbc:CompanyID>ＤＥ 123-456-789</cbc:CompanyID>", 1))
    assert copy.status == "duplicate" and row(ctx, copy.invoice_id).duplicate_of == (
        first.invoice_id)


def test_a_supplier_finds_its_invoice_by_any_spelling_of_the_number(
        ctx: Context, base: str) -> None:
    from einvoice.approval.suppliers import SupplierData, save_supplier

    supplier = save_supplier(ctx, SupplierData("[Seller name]", "DE123456789",
                                               ("DE79000000001234567890",
                                                "DE16000000002345678901"))).id
    assert supplier is not None
    (outcome,) = ingest(ctx, Submission(base.encode(), "upload", filename="r.xml",
                                        supplier_id=supplier)).outcomes
    for typed in ("RE-2024-001", " re\u2010" + "2024\u2010" + "001 ", "ＲＥ-2024-001"):
        assert [s.invoice_id for s in tokens.supplier_invoices(ctx, supplier, typed)] == [
            outcome.invoice_id]
    assert tokens.supplier_invoices(ctx, supplier, "RE-2024-01") == []
    assert tokens.supplier_invoices(ctx, supplier, ZWSP) == []


# ------------------------------------------------------------------ the migration

def test_the_upgrade_fills_the_keys_of_invoices_received_before(settings: Settings,
                                                                base: str) -> None:
    """A database at revision 0005 with an invoice read before the keys existed (Unicode
    hyphens in its number, a spaced VAT id) and a supplier with a dashed VAT id: after the
    upgrade the invoice has its keys, the supplier its normalised VAT id, and a copy of the
    invoice received now is its duplicate."""
    engine = make_engine(settings.db_url)
    with engine.begin() as conn:
        # an SQLite test database is copied at the newest revision; start from empty
        for table in reversed(t.SQLModel.metadata.sorted_tables):
            conn.execute(text(f'DROP TABLE IF EXISTS "{table.name}"'))
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    command.upgrade(alembic_config(engine), "0005")
    now = bindparam("now", datetime(2026, 1, 5, 9, 0, tzinfo=UTC), type_=AwareDateTime())
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO submission (sha256, size, channel, received_at) VALUES "
                          "('a', 1, 'cli', :now)").bindparams(now))
        conn.execute(text("INSERT INTO document (submission_id, sha256, size, kind, created_at) "
                          "VALUES (1, 'b', 1, 'ubl-invoice', :now)").bindparams(now))
        conn.execute(text(
            "INSERT INTO invoice (document_id, status, number, type_code, seller_vat_id, "
            "seller_name, seller_key, gross_total, version, received_at, updated_at) VALUES "
            "(1, 'pending', :number, '380', 'de 123 456 789', '[Seller name]', 'DE123456789', "
            ":gross, 0, :now, :now)").bindparams(
                now, bindparam("gross", Decimal("2594.20"), type_=ExactDecimal())),
            {"number": "RE\u20102024\u2010001"})
        for name, vat_id in (("Muster", "DE-111.222.333"), ("Twin A", "DE444555666"),
                             ("Twin B", "DE 444 555 666")):
            conn.execute(text("INSERT INTO supplier (name, vat_id, ibans) VALUES "
                              "(:name, :vat_id, '')"), {"name": name, "vat_id": vat_id})
    engine.dispose()
    ctx = open_context(settings)  # upgrades to the newest revision, as the service does
    try:
        old = row(ctx, 1)
        assert (old.number, old.number_key, old.seller_key, old.unbound) == (
            "RE\u20102024\u2010001", "re-2024-001", "DE123456789", False)
        with Session(ctx.engine) as s:
            vat_ids = dict(s.exec(select(t.Supplier.name, t.Supplier.vat_id)).all())
        # a twin keeps its VAT id as it was: the unique index would refuse the normalised one
        assert vat_ids == {"Muster": "DE111222333", "Twin A": "DE444555666",
                           "Twin B": "DE 444 555 666"}
        copy = put(ctx, base)
        assert (copy.status, row(ctx, copy.invoice_id).duplicate_of) == ("duplicate", 1)
    finally:
        ctx.close()
