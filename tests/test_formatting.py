"""One place each: money and number formats at their boundaries, the local time zone as a
setting (across DST changes), the status words, and one JSON shape of a finding everywhere."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import anyio
import httpx
import pytest
from typer.testing import CliRunner

from einvoice.approval.identity import os_login
from einvoice.approval.suppliers import SupplierData, save_supplier
from einvoice.approval.tokens import create_token
from einvoice.cli import app
from einvoice.config import Settings, load_settings
from einvoice.context import Context
from einvoice.errors import ConfigError
from einvoice.export import BatchInfo, DatevParams, ExportItem, datev
from einvoice.intake.http import create_app
from einvoice.lifecycle import Status
from einvoice.model import Invoice
from einvoice.notify import text as notify_text
from einvoice.scheduler.timing import export_trigger
from einvoice.store import tables as t
from einvoice.views.formatting import (
    day,
    duration,
    local_time,
    money,
    money_en,
    number,
    percent,
    plain,
    size,
)
from einvoice.views.labels import STATUS, status_words
from einvoice.views.report import Overview, render_report
from tests.conftest import register

BERLIN = ZoneInfo("Europe/Berlin")
COMPREHENSIVE = "valid/xrechnung-testsuite/technical-cases/cius/01.01_comprehensive_test_ubl.xml"
FINDING_KEYS = {"rule_id", "flag", "level", "term", "location", "line", "message"}


# ------------------------------------------------------------------ money and numbers

@pytest.mark.parametrize(("value", "currency", "shown"), [
    ("1234.5", "EUR", "1.234,50\xa0€"),
    ("1234.56", "EUR", "1.234,56\xa0€"),
    ("-1234.5", "EUR", "-1.234,50\xa0€"),
    ("-0.01", "EUR", "-0,01\xa0€"),
    ("0", "EUR", "0,00\xa0€"),
    ("20.000", "EUR", "20,00\xa0€"),  # trailing zeros beyond the cents go
    ("0.0125", "EUR", "0,0125\xa0€"),  # more decimals than cents are kept: a unit price
    ("1234567.891", "EUR", "1.234.567,891\xa0€"),
    ("1E+3", "EUR", "1.000,00\xa0€"),  # never an exponent
    ("1234.5", "USD", "1.234,50\xa0$"),
    ("1234.5", None, "1.234,5"),  # no currency: the bare German number
])
def test_money_for_people_is_german(value: str, currency: str | None, shown: str) -> None:
    assert money(Decimal(value), currency) == shown


@pytest.mark.parametrize(("value", "shown"), [
    ("1234.5", "€1,234.50"), ("-1234.5", "-€1,234.50"), ("0.0125", "€0.0125"),
    ("1E+3", "€1,000.00"),
])
def test_money_in_english_notices(value: str, shown: str) -> None:
    assert money_en(Decimal(value), "EUR") == shown


def test_no_amount_shows_nothing() -> None:
    assert money(None, "EUR") == money_en(None, "EUR") == number(None) == day(None) == ""
    assert plain(None) is None


@pytest.mark.parametrize(("value", "text"), [
    ("1234.50", "1234.50"), ("-0.01", "-0.01"), ("0.0125", "0.0125"), ("1E+3", "1000"),
    ("12345678901234.99", "12345678901234.99"),
])
def test_plain_decimal_for_machines_is_exact(value: str, text: str) -> None:
    assert plain(Decimal(value)) == text


def test_numbers_rates_and_other_quantities() -> None:
    assert number(Decimal("1500.2500")) == "1.500,25"
    assert number(Decimal("19.00")) == "19"
    assert number(Decimal("-2.5")) == "-2,5"
    assert datev.rate_text(Decimal("19.00")) == "19" and datev.rate_text(Decimal("5.50")) == "5.5"
    assert datev.rate_text(None) == ""
    assert percent(1 / 7) == "14,3 %" and percent(0.0) == "0,0 %"
    assert duration(None) == "–" and duration(0.5) == "30 min" and duration(5.25) == "5,2 h"
    assert duration(72) == "3,0 Tage / days"
    assert size(999) == "999\xa0Byte" and size(150_123) == "150,1\xa0kB"
    assert size(4_100_000) == "4,1\xa0MB"
    assert day(date(2026, 1, 2)) == "02.01.2026"


# ------------------------------------------------------------------ local time

@pytest.mark.parametrize(("utc", "shown"), [
    (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), "29.03.2026 01:30"),  # still CET (+1)
    (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "29.03.2026 03:30"),  # CEST (+2) from 01:00 UTC
    (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "25.10.2026 02:30"),  # CEST
    (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "25.10.2026 02:30"),  # CET again: 02:30 twice
    (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), "01.01.2027 00:00"),  # the local day is later
])
def test_stored_utc_is_shown_in_local_time_across_dst(utc: datetime, shown: str) -> None:
    assert local_time(utc, BERLIN) == shown
    assert local_time(utc, ZoneInfo("UTC")) == f"{utc:%d.%m.%Y %H:%M}"


def test_time_zone_setting_is_validated_and_defaults_to_berlin() -> None:
    assert Settings().timezone == "Europe/Berlin" and load_settings().zone == BERLIN
    assert load_settings(timezone="UTC").zone == ZoneInfo("UTC")
    with pytest.raises(ConfigError, match="unknown time zone 'Europe/Nowhere'"):
        load_settings(timezone="Europe/Nowhere")


def test_time_zone_setting_moves_the_nightly_export() -> None:
    after = datetime(2026, 7, 1, tzinfo=UTC)
    for zone, fire in (("Europe/Berlin", datetime(2026, 7, 1, 0, 0, tzinfo=UTC)),
                       ("UTC", datetime(2026, 7, 1, 2, 0, tzinfo=UTC))):
        trigger = export_trigger(load_settings(timezone=zone))
        assert trigger.get_next_fire_time(None, after) == fire


def test_time_zone_shows_in_report_notice_and_datev_header() -> None:
    at = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    for zone, hhmm in ((BERLIN, "03:30"), (ZoneInfo("UTC"), "01:30")):
        ov = Overview(since=date(2026, 3, 1), today=date(2026, 3, 29), zone=zone)
        assert f"erstellt / generated 29.03.2026 {hhmm}" in render_report(ov, at)

        sub = t.Submission(id=7, sha256="ab" * 32, size=1, channel="mail", received_at=at)
        body = notify_text.receipt(sub, [], zone=zone).body
        assert f"vom 29.03.2026, {hhmm} Uhr" in body
        assert f"of 2026-03-29 {hhmm} ({zone.key} time)" in body

        item = ExportItem(1, Invoice.model_validate({"number": "R-1", "issue_date": "2026-03-28",
                                                     "currency": "EUR"}),
                          "70000", "4900", None, None, None, (), "ab", None, (), None)
        files = datev.write([item], DatevParams(1001, 1, "03", 4, "0101", timezone=zone.key),
                            BatchInfo(1, at, "alice", "batch-1"))
        header = files["EXTF_Buchungsstapel_2026.csv"].split(b"\r\n")[0].decode("cp1252")
        assert header.split(";")[5] == f"20260329{hhmm.replace(':', '')}00000"


# ------------------------------------------------------------------ status words

def test_every_status_has_words_and_unknown_values_stand_for_themselves() -> None:
    assert set(STATUS) == set(Status)
    assert all(w.de and w.en and w.supplier_de and w.supplier_en for w in STATUS.values())
    assert status_words("pending").de == "wartet auf Freigabe"
    # a hold is internal: the supplier is told the same as for a pending invoice
    assert status_words("on_hold").supplier_de == status_words("pending").supplier_de
    assert status_words("later_status").supplier_en == "later_status"


# ------------------------------------------------------------------ one finding shape

def test_finding_has_one_shape_in_validate_show_and_the_upload_receipt(
        ctx: Context, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = re.sub(rb"<cbc:BuyerReference>.*?</cbc:BuyerReference>", b"",
                  (corpus / COMPREHENSIVE).read_bytes())  # BR-DE-15
    invalid = tmp_path / "invalid.xml"
    invalid.write_bytes(data)
    supplier = save_supplier(ctx, SupplierData("Muster GmbH"))
    assert supplier.id is not None
    token = create_token(ctx, supplier.id)[1]

    async def upload() -> httpx.Response:
        web = create_app(ctx.settings)
        async with web.router.lifespan_context(web), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=web), base_url="http://einvoice") as client:
            return await client.post("/api/v1/invoices", content=data,
                                     params={"filename": "invalid.xml"},
                                     headers={"Authorization": f"Bearer {token}"})

    r = anyio.run(upload)
    assert r.status_code == 200, r.text
    (doc,) = r.json()["documents"]
    receipt = doc["findings"]

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EINVOICE_DATABASE_URL", ctx.settings.db_url)
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(ctx.settings.data_dir))
    runner = CliRunner()
    validated = runner.invoke(app, ["validate", "--format", "json", str(invalid)])
    assert validated.exit_code == 1, validated.output
    register(ctx, os_login(), role="viewer")  # reads need a role
    shown = runner.invoke(app, ["show", "--json", str(doc["invoice_id"])])
    assert shown.exit_code == 0, shown.output

    outputs = {"receipt": receipt, "validate": json.loads(validated.stdout)[0]["findings"],
               "show": json.loads(shown.stdout)["findings"]}
    assert "BR-DE-15" in {f["rule_id"] for f in receipt}
    for name, findings in outputs.items():
        assert findings and all(set(f) == FINDING_KEYS for f in findings), name
    assert outputs["receipt"] == outputs["validate"] == outputs["show"]
