"""One style of output: every command a person reads fits an 80-column terminal without cutting
an IBAN, a date or an amount; times are local (setting ``timezone``), amounts and dates German,
counts in the right form; an unknown ``--status`` is refused with the valid ones."""

from __future__ import annotations

import os
import pwd
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, update
from sqlmodel import col
from typer.testing import CliRunner

from einvoice.approval import workflow
from einvoice.approval.suppliers import SupplierData, save_supplier
from einvoice.cli import app
from einvoice.cli import common as cli_common
from einvoice.context import Context
from einvoice.lifecycle import Status
from einvoice.pipeline import Submission, ingest
from einvoice.store import tables as t
from einvoice.views.formatting import count
from einvoice.views.queries import get_case
from tests.conftest import register

COMPREHENSIVE = "valid/xrechnung-testsuite/technical-cases/cius/01.01_comprehensive_test_ubl.xml"
LONG_SELLER = "Stadtwerke Mülheim an der Ruhr Energie- und Wasserversorgung GmbH & Co. KG"
IBANS = ("DE79 0000 0000 1234 5678 90", "DE16 0000 0000 2345 6789 01")  # BT-84 of the sample
ON_FILE = "DE02 1203 0000 0000 2020 51"
WIDTH = 80
Cli = Callable[..., str]


def staff_cli(ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              role: str = "viewer") -> Cli:
    """The CLI on the test's database in an 80-column terminal, run by the account running
    the tests as a member of staff with ``role``; returns what a person reads (stdout and
    stderr), asserting the exit code."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EINVOICE_DATABASE_URL", ctx.settings.db_url)
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.delenv("EINVOICE_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    for console in (cli_common.console, cli_common.err):  # a width fixed at import yields
        monkeypatch.setattr(console, "_width", None)
    assert cli_common.console.width == WIDTH
    register(ctx, pwd.getpwuid(os.geteuid()).pw_name, role=role)

    def invoke(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return invoke


@pytest.fixture
def cli(ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return staff_cli(ctx, tmp_path, monkeypatch, role="admin")


def _invoice(ctx: Context, corpus: Path, number: str, seller: str = LONG_SELLER) -> int:
    data = (corpus / COMPREHENSIVE).read_bytes()
    data = data.replace(b"<cbc:ID>1234567</cbc:ID>", f"<cbc:ID>{number}</cbc:ID>".encode(), 1)
    data = data.replace(b"[Seller name]", seller.replace("&", "&amp;").encode())
    (outcome,) = ingest(ctx, Submission(data, "cli", filename=f"{number}.xml")).outcomes
    return outcome.invoice_id


def fits(out: str, *whole: str) -> list[str]:
    """The output's lines, each at most 80 columns, with each of ``whole`` on one line."""
    lines = [line.rstrip() for line in out.splitlines()]
    assert max(map(len, lines)) <= WIDTH, "\n".join(line for line in lines if len(line) > WIDTH)
    for text in whole:
        assert any(text in line for line in lines), (text, out)
    return lines


# ------------------------------------------------------------------ every command at 80 columns

def test_list_and_inbox_fit_80_columns_with_whole_dates_and_amounts(
        ctx: Context, cli: Cli, corpus: Path) -> None:
    first = _invoice(ctx, corpus, "RE-2026-000000123456")
    _invoice(ctx, corpus, "RE-2026-000000123457")
    ingest(ctx, Submission(b"<kaputt", "cli", filename="eingescannt-lieferschein.xml"))
    out = cli("list")
    fits(out, "3 Rechnungen / invoices", "13.04.2018", "12.829,69\xa0€", "RE-2026-000000123456",
         "wartet auf Freigabe", "nicht lesbar")  # statuses in words
    assert "eingescannt-lieferschein.xml" in "".join(out.split())  # a long name may fold
    workflow.hold(ctx, first, "alice", "Rückfrage")
    out = cli("inbox", "--office", "*")
    lines = fits(out, "Eingang: 2 Rechnungen, dringendste zuerst", "13.04.2018",
                 "12.829,69\xa0€")
    assert any("zurückgestellt" in line for line in lines)
    assert "1 Rechnung / invoice" in cli("list", "--status", "on_hold")


def test_show_fits_80_columns_with_whole_ibans_dates_and_hash(
        ctx: Context, cli: Cli, corpus: Path) -> None:
    invoice_id = _invoice(ctx, corpus, "RE-1")
    fits(cli("show", str(invoice_id)), *IBANS, "13.04.2018", "12.829,69\xa0€",
         get_case(ctx, invoice_id).document.sha256, "380 – Rechnung", "58 – SEPA-Überweisung")


def test_supplier_list_and_add_fit_80_columns_with_whole_ibans(ctx: Context, cli: Cli) -> None:
    out = cli("supplier", "add", "--name", LONG_SELLER, "--vat-id", "DE123456789",
              "--iban", ON_FILE, "--iban", "DE02500105170137075030", "--account", "6800",
              "--cost-centre", "K-100-200", "--creditor", "70001",
              "--email", "rechnungswesen@stadtwerke-muelheim.example")
    fits(out, ON_FILE, "DE02 5001 0517 0137 0750 30", "DE123456789")
    save_supplier(ctx, SupplierData("Zweite GmbH", ibans=("MT84MALT011000012345MTLCAST001S",)))
    fits(cli("supplier", "list"), ON_FILE, "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
         "Lieferanten / suppliers: 2")


def test_history_shows_local_time_names_and_words_not_stored_json(
        ctx: Context, cli: Cli, corpus: Path) -> None:
    invoice_id = _invoice(ctx, corpus, "RE-2")
    workflow.approve(ctx, invoice_id, "alice")
    workflow.reassign(ctx, invoice_id, "bob", "Tiefbauamt", "falsche Stelle")
    with ctx.engine.begin() as conn:  # stored in UTC: 01:30 UTC is 03:30 in Berlin (CEST)
        conn.execute(update(t.AuditEvent).where(col(t.AuditEvent.invoice_id) == invoice_id,
                                                col(t.AuditEvent.action) == "ingest")
                     .values(at=datetime(2026, 3, 29, 1, 30, tzinfo=UTC)))
    out = cli("history", str(invoice_id))
    lines = fits(out, "29.03.2026 03:30:00", "Alice (alice)", "Bob (bob)")
    assert not any("01:30" in line for line in lines)
    text = re.sub(r"[ \n]+", " ", out)
    assert "von keiner Stelle an Tiefbauamt" in text and "falsche Stelle" in text
    assert "über 12.829,69\xa0€" in text
    assert "{" not in out and "sha256" not in out  # no stored JSON
    in_utc = cli("history", str(invoice_id), "--config", _config(ctx, "UTC"))
    assert "29.03.2026 01:30:00" in in_utc  # the setting decides


def _config(ctx: Context, zone: str) -> str:
    path = ctx.settings.data_dir.parent / f"zone-{zone.replace('/', '-')}.toml"
    path.write_text(f'timezone = "{zone}"\n', encoding="utf-8")
    return str(path)


def test_status_shows_local_times_and_fits_80_columns(ctx: Context, cli: Cli) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(insert(t.JobRun), [{
            "job": "intake", "started_at": datetime(2026, 7, 1, 22, 30, tzinfo=UTC),
            "finished_at": datetime(2026, 7, 1, 22, 31, tzinfo=UTC), "ok": False,
            "detail": "mailbox rechnungen@stadt.example: connection refused"}])
    out = cli("status")
    fits(out, "02.07.2026 00:30")  # the local day is already the next one
    assert "22:30" not in out and "UTC" not in out


# ------------------------------------------------------------------ refusals and counts

def test_unknown_status_is_refused_with_the_valid_ones(cli: Cli) -> None:
    out = cli("list", "--status", "pendng", code=2)
    assert "'pendng' is not one of" in out
    shown = " ".join(out.replace("│", " ").split())
    for status in Status:
        assert f"'{status.value}'" in shown, status
    cli("list", "--status", "on_hold", "-s", "pending")
    cli("list", "--status", "Pending", code=2)


@pytest.mark.parametrize(("n", "shown"), [(0, "0 Rechnungen"), (1, "1 Rechnung"),
                                          (2, "2 Rechnungen"), (1234, "1.234 Rechnungen")])
def test_counts_take_the_right_form(n: int, shown: str) -> None:
    assert count(n, "Rechnung", "Rechnungen") == shown


def test_ingest_summary_counts_in_the_right_form(ctx: Context, cli: Cli, corpus: Path,
                                                 tmp_path: Path) -> None:
    out = cli("ingest", str(corpus / COMPREHENSIVE))
    assert "1 Datei, 1 Dokument (1 neu, 0 schon bekannt), 0 nicht lesbar, 0 Duplikate" in out
    bad = tmp_path / "a.xml"
    bad.write_bytes(b"<kaputt")
    out = cli("ingest", str(corpus / COMPREHENSIVE), str(bad))
    assert "2 Dateien, 2 Dokumente (1 neu, 1 schon bekannt), 1 nicht lesbar" in out
    assert re.search(r"\b1 Rechnung / invoice\b", cli("list", "--status", "pending"))
