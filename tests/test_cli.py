"""The CLI as finance staff and scripts use it: init, ingest, scan, list, show."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlmodel import Session, select
from typer.testing import CliRunner

from einvoice.cli import app
from einvoice.config import load_settings
from einvoice.context import open_context
from einvoice.store import tables as t
from tests import system

XR = "valid/xrechnung-testsuite/technical-cases/cius"


@pytest.fixture
def run(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EINVOICE_DATABASE_URL", db_url)
    monkeypatch.setenv("EINVOICE_SETTLE_SECONDS", "0")
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.stdout

    invoke("init")  # the account running the tests becomes the first admin: reads need a role
    return invoke


def test_scan_moves_files_after_commit_and_list_shows_every_status(
        run, tmp_path: Path, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    run("init")
    inbox = tmp_path / "inbox"
    shutil.copy(corpus / XR / "01.01_comprehensive_test_ubl.xml", inbox / "good.xml")
    (inbox / "bad.xml").write_bytes(b"<nope")
    (inbox / ".hidden.xml").write_bytes(b"<nope")
    (inbox / "upload.part").write_bytes(b"<half")
    out = json.loads(run("scan", "--json"))
    assert {Path(r["path"]).name: r["ok"] for r in out} == {"good.xml": True, "bad.xml": False}
    assert (inbox / "processed" / "good.xml").exists()
    assert (inbox / "failed" / "bad.xml").exists()
    assert "not well-formed" in (inbox / "failed" / "bad.xml.error.txt").read_text()
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == [".hidden.xml",
                                                                      "upload.part"]
    rows = json.loads(run("list", "--json"))
    assert {r["status"] for r in rows} == {"pending", "quarantined"}
    good = next(r for r in rows if r["status"] == "pending")
    assert good["number"] == "1234567" and good["filename"] == "good.xml"
    assert good["issue_date"] == "2018-04-13" and good["gross_total"] is not None
    assert set(good) >= {"id", "status", "number", "seller", "issue_date", "gross_total",
                         "filename"}
    assert json.loads(run("list", "--json", "--status", "quarantined"))[0]["filename"] == "bad.xml"
    assert run("scan", "--json").strip() == "[]"


def test_ingest_folder_then_filter_and_show(run, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    run("ingest", str(corpus / XR))
    rows = json.loads(run("list", "--json"))
    assert len(rows) == 12 and all(r["status"] in ("pending", "duplicate") for r in rows)
    rerun = json.loads(run("ingest", "--json", str(corpus / XR)))
    assert all(not d["new"] for r in rerun for d in r["documents"])
    assert len(json.loads(run("list", "--json"))) == 12
    some = rows[0]
    assert json.loads(run("list", "--json", "--search", some["filename"]))[0]["id"] == some["id"]
    assert json.loads(run("list", "--json", "--from", "2999-01-01")) == []
    seller = json.loads(run("list", "--json", "--seller", (some["seller"] or "")[:5]))
    assert some["id"] in [r["id"] for r in seller]
    shown = json.loads(run("show", "--json", str(some["id"])))
    assert shown["invoice"]["number"] == some["number"]
    assert len(shown["invoice"]["lines"]) >= 1
    text = run("show", str(some["id"]))
    assert some["number"] in text and "Positionen" in text
    assert "Rechnungen" in run("list")
    run("show", "999999", code=2)
    run("list", "--from", "yesterday", code=2)


def test_view_writes_a_readable_page_and_pdf(run, tmp_path: Path, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    system.chromium()  # the PDF is printed by headless Chromium: required in CI
    run("ingest", str(corpus / XR / "01.01_comprehensive_test_ubl.xml"))
    (row,) = json.loads(run("list", "--json"))
    run("view", str(row["id"]), "--output", "page.html", "--pdf")
    page = (tmp_path / "page.html").read_text()
    assert row["number"] in page and "Rechnungsnummer <span class=\"bt\">(BT-1)" in page
    pdf = PdfReader(tmp_path / "page.pdf")
    printed = " ".join(" ".join(p.extract_text() for p in pdf.pages).split())
    assert f"Rechnung {row['number']}" in printed and "Rechnungsnummer (BT-1)" in printed
    assert "12.829,69" in printed  # the gross total, as the page shows it


def test_supplier_master_data(run) -> None:  # type: ignore[no-untyped-def]
    run("supplier", "add", "--name", "Muster GmbH", "--vat-id", "DE 123456789",
        "--iban", "DE02120300000000202051", "--account", "6800", "--creditor", "70001")
    run("supplier", "add", "--name", "Muster GmbH", "--vat-id", "DE123456789",
        "--iban", "DE02500105170137075030")
    (row,) = json.loads(run("supplier", "list", "--json"))
    assert row["vat_id"] == "DE123456789" and row["account"] == "6800"
    assert row["ibans"] == ["DE02120300000000202051", "DE02500105170137075030"]
    run("supplier", "add", "--name", "X", "--iban", "DE00000000000000000000", code=2)


def test_several_drop_folders_and_files_still_being_written(
        run, tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    sftp, peppol = tmp_path / "sftp", tmp_path / "peppol"
    sftp.mkdir()
    peppol.mkdir()
    (tmp_path / "einvoice.toml").write_text(
        f'settle_seconds = 60\n[[drop_folders]]\npath = "{sftp}"\nchannel = "sftp"\n'
        f'[[drop_folders]]\npath = "{peppol}"\nchannel = "peppol"\n')
    monkeypatch.delenv("EINVOICE_SETTLE_SECONDS")
    monkeypatch.setenv("EINVOICE_CONFIG", str(tmp_path / "einvoice.toml"))
    data = (corpus / XR / "01.01_comprehensive_test_ubl.xml").read_bytes()
    (sftp / "a.xml").write_bytes(data)
    other = data.replace(b"<cbc:ID>1234567</cbc:ID>", b"<cbc:ID>B</cbc:ID>", 1)
    (peppol / "b.xml").write_bytes(other)
    assert json.loads(run("scan", "--json")) == []  # just written: may still be growing
    old = time.time() - 120
    for path in (sftp / "a.xml", peppol / "b.xml"):
        os.utime(path, (old, old))
    done = json.loads(run("scan", "--json"))
    assert {Path(r["moved_to"]).parent for r in done} == {sftp / "processed", peppol / "processed"}
    rows = json.loads(run("show", "--json", str(done[0]["documents"][0]["invoice_id"])))
    assert rows["status"] == "pending"

    ctx = open_context(load_settings())
    with Session(ctx.engine) as s:
        channels = sorted(sub.channel for sub in s.exec(select(t.Submission)).all())
    ctx.close()
    assert channels == ["peppol", "sftp"]
