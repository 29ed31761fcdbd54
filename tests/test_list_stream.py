"""``einvoice list`` reads as a stream (issue 15, item 4): ``--json`` writes one JSON array row by
row while the database hands the rows over, so its memory does not grow with the invoices; the
table pages by keyset (``--before ID``). The bytes scripts read stay exactly what they were."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert
from typer.testing import CliRunner

from einvoice.cli import app
from einvoice.cli.common import emit_json, emit_json_rows
from einvoice.config import load_settings
from einvoice.context import open_context
from einvoice.store import tables as t

Run = Callable[..., str]
AT = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
UNSET = dict.fromkeys(("number", "type_code", "seller_name", "seller_vat_id", "buyer_reference",
                       "issue_date", "due_date", "gross_total", "currency", "duplicate_of",
                       "verdict", "scenario", "rule_release", "profile", "error", "model_json"))


@pytest.fixture
def run(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EINVOICE_DATABASE_URL", db_url)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.stdout

    invoke("init")  # the account running the tests is the first admin: reads need a role
    return invoke


def _fill(db_url: str, rows: list[dict[str, Any]]) -> None:
    """Invoice cases as the pipeline stores them, written directly (one submission and
    document each)."""
    ctx = open_context(load_settings(database_url=db_url))
    try:
        with ctx.engine.begin() as conn:
            conn.execute(insert(t.Submission), [
                {"id": r["id"], "sha256": f"{r['id']:064x}", "size": 10, "channel": "folder",
                 "received_at": AT} for r in rows])
            conn.execute(insert(t.Document), [
                {"id": r["id"], "submission_id": r["id"], "sha256": f"{r['id']:064x}",
                 "size": 10, "filename": r.pop("filename"), "kind": r.pop("kind"),
                 "created_at": AT} for r in rows])
            conn.execute(insert(t.Invoice), [
                {**UNSET, "document_id": r["id"], "received_at": AT, "updated_at": AT, **r}
                for r in rows])
    finally:
        ctx.close()


SMALL = [
    {"id": 1, "status": "pending", "number": "R-2026-001", "type_code": "380",
     "seller_name": "Müller & Söhne GmbH", "seller_vat_id": "DE123456789",
     "buyer_reference": "04011000-12345-67", "issue_date": date(2026, 2, 27),
     "due_date": date(2026, 3, 29), "gross_total": Decimal("1234.50"), "currency": "EUR",
     "verdict": "accepted", "scenario": "xrechnung-ubl-invoice", "rule_release": "xrechnung-2.5",
     "profile": "xrechnung", "filename": "rechnung.xml", "kind": "ubl-invoice"},
    {"id": 2, "status": "quarantined", "error": "not well-formed\n(line 1)",
     "filename": "bad\x1b[2J\u202e.xml", "kind": "unknown"},
    {"id": 3, "status": "duplicate", "duplicate_of": 1, "number": "R-2026-001\u200b",
     "type_code": "380", "seller_name": "Müller & Söhne GmbH", "issue_date": date(2026, 2, 27),
     "gross_total": Decimal("0.10"), "currency": "EUR", "verdict": "rejected",
     "filename": None, "kind": "cii-invoice"},
]

# `einvoice list --json` on SMALL, byte for byte as it was before the rows were streamed; the
# amounts as stored (SQLite: the normalised text, PostgreSQL: NUMERIC(28, 10))
SMALL_JSON = """[
  {
    "id": 3,
    "status": "duplicate",
    "number": "R-2026-001\\u200b",
    "type_code": "380",
    "seller": "Müller & Söhne GmbH",
    "seller_vat_id": null,
    "buyer_reference": null,
    "issue_date": "2026-02-27",
    "due_date": null,
    "gross_total": "0.1%(pad)s",
    "currency": "EUR",
    "filename": null,
    "kind": "cii-invoice",
    "received_at": "2026-03-01T08:30:00+00:00",
    "duplicate_of": 1,
    "verdict": "rejected",
    "scenario": null,
    "rule_release": null,
    "profile": null,
    "error": null
  },
  {
    "id": 2,
    "status": "quarantined",
    "number": null,
    "type_code": null,
    "seller": null,
    "seller_vat_id": null,
    "buyer_reference": null,
    "issue_date": null,
    "due_date": null,
    "gross_total": null,
    "currency": null,
    "filename": "bad\\u001b[2J\\u202e.xml",
    "kind": "unknown",
    "received_at": "2026-03-01T08:30:00+00:00",
    "duplicate_of": null,
    "verdict": null,
    "scenario": null,
    "rule_release": null,
    "profile": null,
    "error": "not well-formed\\n(line 1)"
  },
  {
    "id": 1,
    "status": "pending",
    "number": "R-2026-001",
    "type_code": "380",
    "seller": "Müller & Söhne GmbH",
    "seller_vat_id": "DE123456789",
    "buyer_reference": "04011000-12345-67",
    "issue_date": "2026-02-27",
    "due_date": "2026-03-29",
    "gross_total": "1234.5%(pad)s",
    "currency": "EUR",
    "filename": "rechnung.xml",
    "kind": "ubl-invoice",
    "received_at": "2026-03-01T08:30:00+00:00",
    "duplicate_of": null,
    "verdict": "accepted",
    "scenario": "xrechnung-ubl-invoice",
    "rule_release": "xrechnung-2.5",
    "profile": "xrechnung",
    "error": null
  }
]
"""


def test_list_json_is_byte_identical_to_the_unstreamed_output(run: Run, db_url: str) -> None:
    _fill(db_url, [dict(r) for r in SMALL])
    expected = SMALL_JSON % {"pad": "" if db_url.startswith("sqlite") else "0" * 9}
    assert run("list", "--json") == expected
    assert json.loads(run("list", "--json", "--status", "pending", "-s", "duplicate",
                          "--limit", "1")) == [json.loads(expected)[0]]
    assert run("list", "--json", "--from", "2026-03-01") == "[]\n"


# `einvoice list` on SMALL, as it was before the table paged by keyset
SMALL_TABLE = "\n".join((
    "3 Rechnungen / invoices                                                ",
    " ID  Nummer / Status       Verkäufer / Datei    Datum           Brutto ",
    "───────────────────────────────────────────────────────────────────────",
    "  3  R-2026-001⟨U+200B⟩    Müller & Söhne GmbH  27.02.2026      0,10\xa0€ ",
    "     Duplikat                                                          ",
    "  2  nicht lesbar          bad␛[2J⟨U+202E⟩.xml                         ",
    "  1  R-2026-001            Müller & Söhne GmbH  27.02.2026  1.234,50\xa0€ ",
    "     wartet auf Freigabe                                               ",
    "",
))


def test_list_table_is_unchanged(run: Run, db_url: str) -> None:
    _fill(db_url, [dict(r) for r in SMALL])
    assert run("list") == SMALL_TABLE


def test_the_next_page_starts_below_the_last_id_shown(run: Run, db_url: str) -> None:
    _fill(db_url, [dict(r) for r in SMALL])
    assert [r["id"] for r in json.loads(run("list", "--json", "--before", "3"))] == [2, 1]
    assert [r["id"] for r in json.loads(run("list", "--json", "--limit", "1",
                                            "--before", "2"))] == [1]
    assert run("list", "--json", "--before", "1") == "[]\n"
    page = run("list", "--limit", "2", "--before", "3")
    assert "2 Rechnungen / invoices" in page and "R-2026-001⟨U+200B⟩" not in page


FLAT = st.dictionaries(st.text(st.characters(codec=None, exclude_categories=()), max_size=8),
                       st.none() | st.booleans() | st.integers() | st.floats()
                       | st.text(st.characters(codec=None, exclude_categories=()), max_size=12),
                       max_size=5)


@settings(max_examples=300, deadline=None)
@given(st.lists(FLAT, max_size=7), st.integers(min_value=1, max_value=4))
def test_rows_written_as_they_come_are_the_json_written_at_once(
        rows: list[dict[str, Any]], batch: int) -> None:
    def printed(write: Callable[[], None]) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            write()
        return out.getvalue()
    assert (printed(lambda: emit_json_rows(iter(rows), batch=batch))
            == printed(lambda: emit_json(rows)))


def test_listing_every_invoice_holds_a_batch_not_the_database(
        tmp_path: Path, run: Run, db_url: str) -> None:
    """20,000 cases whose stored models are 6 kB each (120 MB): the listing selects its columns
    and writes them as they come, so the process stays far below what loading them takes."""
    blob = json.dumps({"note": "x" * 6000})
    _fill(db_url, [{"id": i, "status": "pending", "number": f"R-{i}", "model_json": blob,
                    "filename": f"r{i}.xml", "kind": "ubl-invoice"} for i in range(1, 20_001)])
    peak = ("import atexit, runpy, sys; atexit.register(lambda: sys.stderr.write(next("
            "line for line in open('/proc/self/status') if line.startswith('VmHWM')))); "
            "sys.argv = ['einvoice', 'list', '--json']; "
            "runpy.run_module('einvoice.cli', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", peak], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "EINVOICE_DATABASE_URL": db_url},
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout)
    assert [r["id"] for r in rows] == list(range(20_000, 0, -1))
    assert rows[0]["number"] == "R-20000" and rows[-1]["filename"] == "r1.xml"
    kb = int(done.stderr.split("VmHWM:")[1].split()[0])
    assert kb < 200 * 1024, f"peak {kb} kB"
