"""One style of output, continued (issue 13, item 4): staff list, the export, payments, mail poll
and the rule releases at 80 columns, with German amounts and dates, whole IBANs, accounts and
dates, and counts in the right form; their ``--json`` stays as it was (exact decimals, ISO)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from einvoice.approval import workflow
from einvoice.approval.suppliers import SupplierData, save_supplier
from einvoice.context import Context
from einvoice.intake.mail import PROCESSED, MailboxReport, MessageResult
from einvoice.notify.outbox import SendReport
from tests.conftest import register
from tests.test_output_style import LONG_SELLER, Cli, _invoice, fits, staff_cli
from tests.test_payments import add, camt, entry

LONG_NAME = "Dr. Maria-Theresia Müller-Lüdenscheidt von und zu Hohenzollern-Sigmaringen"


@pytest.fixture
def cli(ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return staff_cli(ctx, tmp_path, monkeypatch, role="admin")


def squash(out: str) -> str:
    return " ".join(out.split())


def test_staff_list_fits_80_columns_with_german_limits(ctx: Context, cli: Cli) -> None:
    register(ctx, "mueller", role="approver", name=LONG_NAME,
             amount_limit=Decimal("12500.0000000000"),
             offices='["Tiefbauamt", "Amt für Stadtentwicklung, Umwelt und Verkehr"]',
             steps='["sachlich", "rechnerisch"]')
    register(ctx, "zorn", role="viewer", active=False)
    out = cli("staff", "list")
    lines = fits(out, "Personal / staff: 6 Personen", "12.500,00\xa0€", "rechnerisch",
                 "Tiefbauamt", "Schritte: sachlich,")
    assert "approver" in out and "gesperrt / disabled" in squash(out)
    assert "Hohenzollern-Sigmaringen" in out and "ohne / none" in out and "alle / all" in out
    assert lines[1].split() == ["Login", "Name", "/", "Rolle", "Limit", "Ämter", "/",
                                "Schritte"]  # four columns, not seven
    listed = {r["login"]: r for r in json.loads(cli("staff", "list", "--json"))}
    assert listed["mueller"]["limit"] == "12500" and listed["zorn"]["active"] is False
    register(ctx, "solo", role="viewer")  # one more is still "Personen"; one alone is not
    assert "7 Personen" in cli("staff", "list")


def _approved(ctx: Context, corpus: Path, number: str, seller: str = LONG_SELLER,
              cost_centre: str | None = None) -> int:
    invoice_id = _invoice(ctx, corpus, number, seller)
    if cost_centre:
        workflow.assign(ctx, invoice_id, "alice", "6800", cost_centre)
    workflow.approve(ctx, invoice_id, "alice")
    workflow.approve(ctx, invoice_id, "bob")  # four eyes above 5.000 €
    return invoice_id


def test_export_dry_run_and_batch_fit_80_columns_with_counts(
        ctx: Context, cli: Cli, corpus: Path) -> None:
    _approved(ctx, corpus, "RE-2026-000000123456", cost_centre="K-100-200-300")
    out = cli("export", "--dry-run")
    fits(out, "Export, Probelauf / dry run: 1 Rechnung / invoice", "RE-2026-000000123456",
         "380 – Rechnung", "12.829,69\xa0€", "70000 → 6800", "KOST1 K-100-200-300",
         "1 invoice would be exported")
    assert "Mülheim" in out and "12829.69" not in out
    planned = json.loads(cli("export", "--dry-run", "--json"))["planned"]
    assert Decimal(planned[0]["gross_total"]) == Decimal("12829.69")  # machines: exact
    _approved(ctx, corpus, "RE-2026-000000123457", seller="Zweite GmbH")
    fits(cli("export", "--dry-run"), "2 invoices would be exported", "70000 → 4900",
         "Rechnungen / invoices")
    summary, folder = cli("export").splitlines()
    fits(summary, "batch 1 exported: 2 invoices, total 25.659,38\xa0€")
    assert re.fullmatch(r"→ /\S+/exports/batch-000001-\S+", folder)  # whole, one line
    assert "batch 1: complete" in cli("export", "--batch", "1")


def test_paid_says_the_statuses_in_words_and_the_day_in_german(ctx: Context, cli: Cli) -> None:
    first, second = add(ctx, "RE-1", "1234.50"), add(ctx, "RE-2", "99.00")
    out = cli("paid", str(first), "--on", "2025-03-14")
    fits(out, f"invoice {first} paid on 14.03.2025 (exportiert → bezahlt)")
    assert "2025-03-14" not in out and "exported" not in out
    done = json.loads(cli("paid", str(second), "--on", "2025-03-14", "--json"))
    assert (done[0]["before"], done[0]["after"]) == ("exported", "paid")  # --json as stored
    assert done[0]["message"].endswith("paid on 2025-03-14")


def test_paid_import_fits_80_columns_with_german_amounts_and_plurals(
        ctx: Context, cli: Cli, tmp_path: Path) -> None:
    invoice_id = add(ctx, "RE-3", "12829.69")
    statement = tmp_path / "camt.xml"
    seller = LONG_SELLER.replace("&", "&amp;")
    statement.write_bytes(camt(entry("12829.69", e2e="RE-3", creditor=seller)))
    out = cli("paid", "--import", str(statement), "--dry-run")
    lines = fits(out, "12.829,69\xa0€ on 14.03.2025", "1 line: 1 would pay, 0 refused",
                 "STMT-2025-03-14")
    assert lines[1].startswith(" " * 11)  # wrapped below the outcome, not cut
    assert f"– invoice {invoice_id}" in squash(out) and "2025-03-14" not in out.replace(
        "STMT-2025-03-14", "")
    statement.write_bytes(camt(entry("12829.69", e2e="RE-3"), entry("5.00", e2e="nobody")))
    out = cli("paid", "--import", str(statement))
    fits(out, "2 lines: 1 paid, 0 refused, 0 ambiguous, 1 unmatched", "5,00\xa0€")
    report = json.loads(cli("paid", "--import", str(statement), "--json"))
    assert report["lines"][0]["amount"] == "12829.69"  # machines: as stated, ISO
    assert str(report["lines"][0]["booking_date"]) == "2025-03-14"


@pytest.mark.parametrize(("pending", "shown"), [(1, "1 Nachricht an Lieferanten"),
                                                (2, "2 Nachrichten an Lieferanten")])
def test_mail_poll_counts_notices_and_prints_foreign_text_as_text(
        ctx: Context, cli: Cli, monkeypatch: pytest.MonkeyPatch, pending: int,
        shown: str) -> None:
    config = ctx.settings.data_dir.parent / "mail.toml"
    config.write_text('[[mailboxes]]\nname = "rechnungen"\nhost = "imap.example"\n'
                      'user = "u"\npassword = "p"\n', encoding="utf-8")
    subject = "[/x] Rechnung " + "RE-2026-000000123456 " * 4  # a closing tag: not markup
    report = MailboxReport("rechnungen", [MessageResult(7, PROCESSED, "a@example.org",
                                                        subject)])
    monkeypatch.setattr("einvoice.intake.mail.poll", lambda ctx, box, show: report)
    monkeypatch.setattr("einvoice.notify.outbox.send_pending",
                        lambda ctx: SendReport(configured=False, pending=pending))
    out = cli("mail", "poll", "--config", str(config))
    fits(out, shown, "[/x] Rechnung", "RE-2026-000000123456")
    assert "notice(s)" not in out and "notices:" not in out
    assert str(SendReport(configured=True, sent=1)) == "1 notice sent, 0 failed"


def test_rules_give_valid_from_in_german(cli: Cli) -> None:
    out = cli("rules")
    assert re.search(r"xrechnung-2\.5  version 2\.5\.0, valid from 31\.01\.2026 ", out)
    assert not re.search(r"valid from \d{4}-", out)
    assert re.search(r"\((1 level|\d+ levels) overridden\)", out)
    listed = json.loads(cli("rules", "--json"))
    assert listed[0]["valid_from"] == "2026-01-31"  # JSON stays ISO


def test_export_dry_run_books_by_the_supplier_on_file(ctx: Context, cli: Cli,
                                                     corpus: Path) -> None:
    """The supplier's creditor and expense accounts, whole, in 80 columns."""
    save_supplier(ctx, SupplierData(LONG_SELLER, ibans=("DE02120300000000202051",),
                                    creditor_account="70001", account="6800"))
    _approved(ctx, corpus, "RE-9")
    fits(cli("export", "--dry-run"), "70001 → 6800", "12.829,69\xa0€")
