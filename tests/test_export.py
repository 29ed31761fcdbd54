"""The export batch: an independent DATEV reader, manifests, rewrite, and kill -9."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlmodel import Session, select

from einvoice.approval import audit, workflow
from einvoice.config import load_settings
from einvoice.context import Context, open_context
from einvoice.export import batch
from einvoice.export.datev import belegfeld
from einvoice.pipeline import IngestResult, Submission, ingest
from einvoice.pipeline.batch import ingest_batch
from einvoice.store import tables as t
from tests.conftest import register
from tests.forks import WARM, Forks

ROOT = Path(__file__).resolve().parents[1]
NS = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
      "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
      "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
      "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"}
EXPORT_ARGS = ("export", "--json")
EXPORT_CMD = [sys.executable, "-c", "from einvoice.cli import app; app()", *EXPORT_ARGS]
CREDIT_CODES = {"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"}


def _ingest_and_approve(ctx: Context, files: list[Path]) -> list[int]:
    ctx.settings.four_eyes_threshold = Decimal("1e12")
    ids = []
    for path in files:
        res = ingest(ctx, Submission(path.read_bytes(), "cli", filename=path.name))
        ids += [o.invoice_id for o in res.outcomes if o.status == "pending" and o.invoice_id]
    for i in ids:
        if workflow.approve(ctx, i, "alice").after == "pending":  # not in euros: four eyes
            workflow.approve(ctx, i, "bob")
    return ids


def _corpus_files(corpus: Path) -> list[Path]:
    files = sorted(p for p in (corpus / "valid" / "xrechnung-testsuite").rglob("*") if p.is_file())
    return [*files, corpus / "valid/en16931-testfiles/CreditNote-Max_content.xml",
            corpus / "valid/en16931-examples/ubl/ubl-tc434-creditnote1.xml",
            corpus / "zugferd/mustang/library/EN16931_Einfach.pdf"]


# ------------------------------------------------------------------ independent DATEV reader

def read_datev(path: Path) -> tuple[list[str], list[str], list[dict[str, str]]]:
    """Header fields, column names, bookings (column name → raw value, quotes removed)."""
    raw = path.read_bytes()
    assert path.name.startswith("EXTF_") and path.name.endswith(".csv")
    text = raw.decode("cp1252")  # strict: must decode
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")  # CRLF only
    rows = list(csv.reader(text[:-2].split("\r\n"), delimiter=";", strict=True))
    header, columns, body = rows[0], rows[1], rows[2:]
    assert all(len(r) == len(columns) for r in body), "column count differs"
    return header, columns, [dict(zip(columns, r, strict=True)) for r in body]


def _xml_facts(xml: bytes) -> tuple[Decimal, str, int]:
    """BT-112, BT-3 and the number of VAT breakdowns with a non-zero gross, by XPath."""
    root: Any = etree.fromstring(xml)
    if root.tag.endswith("CrossIndustryInvoice"):
        total = root.xpath("//ram:SpecifiedTradeSettlementHeaderMonetarySummation/"
                           "ram:GrandTotalAmount/text()", namespaces=NS)[0]
        code = root.xpath("//rsm:ExchangedDocument/ram:TypeCode/text()", namespaces=NS)[0]
        groups = [Decimal(g.xpath("string(ram:BasisAmount)", namespaces=NS))
                  + Decimal(g.xpath("string(ram:CalculatedAmount)", namespaces=NS) or "0")
                  for g in root.xpath("//ram:ApplicableHeaderTradeSettlement/"
                                      "ram:ApplicableTradeTax", namespaces=NS)]
    else:
        total = root.xpath("/*/cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount/text()",
                           namespaces=NS)[0]
        code = root.xpath("/*/cbc:InvoiceTypeCode/text() | /*/cbc:CreditNoteTypeCode/text()",
                          namespaces=NS)[0]
        groups = [Decimal(g.xpath("string(cbc:TaxableAmount)", namespaces=NS))
                  + Decimal(g.xpath("string(cbc:TaxAmount)", namespaces=NS))
                  for g in root.xpath("/*/cac:TaxTotal/cac:TaxSubtotal", namespaces=NS)]
    return Decimal(total.strip()), code.strip(), sum(1 for g in groups if g)


def _amount(value: str) -> Decimal:
    assert re.fullmatch(r"\d{1,10},\d{2}", value), value
    return Decimal(value.replace(",", "."))


def check_batch(ctx: Context, folder: Path, per_line: bool = False) -> dict[str, int]:
    """Everything the batch folder must satisfy; returns counts for the report."""
    manifest = json.loads((folder / "manifest.json").read_bytes())
    for entry in manifest["files"]:
        data = (folder / entry["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["name"]
    by_sha = {}
    for inv in manifest["invoices"]:
        assert ctx.archive.get(inv["original_sha256"]) == (folder / inv["files"][0]).read_bytes()
        xml_name = next(f for f in inv["files"] if f.endswith(".xml"))
        by_sha[inv["original_sha256"]] = (inv, (folder / xml_name).read_bytes())
    sums: dict[int, Decimal] = {}
    counts: dict[int, int] = {}
    sides: dict[int, set[str]] = {}
    stats = {"bookings": 0, "credit_notes": 0}
    for path in sorted(folder.glob("EXTF_*.csv")):
        header, columns, rows = read_datev(path)
        assert len(header) == 31 and header[:5] == ["EXTF", "700", "21", "Buchungsstapel", "13"]
        assert re.fullmatch(r"\d{17}", header[5])
        assert re.fullmatch(r"\d{8}", header[12]) and header[13] == "4"
        first, last = header[14], header[15]
        assert first[:4] == last[:4] == path.stem.split("_")[2][:4]  # one year per file
        assert header[21] == "EUR" and header[26] in ("03", "04")
        assert len(columns) == 125 and columns[0] == "Umsatz (ohne Soll/Haben-Kz)"
        assert columns[36] == "KOST1 - Kostenstelle" and columns[19] == "Beleglink"
        for row in rows:
            stats["bookings"] += 1
            inv, xml = by_sha[row["Beleglink"].removeprefix("sha256:")]
            credit = _xml_facts(xml)[1] in CREDIT_CODES
            side = row["Soll/Haben-Kennzeichen"]
            assert side in ("S", "H")
            signed = _amount(row["Umsatz (ohne Soll/Haben-Kz)"]) * (1 if side == "H" else -1)
            key = inv["id"]
            sums[key] = sums.get(key, Decimal(0)) + (-signed if credit else signed)
            counts[key] = counts.get(key, 0) + 1
            sides.setdefault(key, set()).add(side)
            assert re.fullmatch(r"\d{4}", row["Belegdatum"])
            assert first[4:] <= row["Belegdatum"][2:] + row["Belegdatum"][:2] <= last[4:]
            assert re.fullmatch(r"[a-zA-Z0-9$&%*+\-/]{0,36}", row["Belegfeld 1"])
            assert len(row["Buchungstext"]) <= 60
            assert row["Konto"].isdigit() and row["Gegenkonto (ohne BU-Schlüssel)"].isdigit()
    for sha, (inv, xml) in by_sha.items():
        total, code, groups = _xml_facts(xml)
        assert sums.get(inv["id"], Decimal(0)) == total, (inv, sha)
        if not per_line:
            assert counts.get(inv["id"], 0) == groups, inv
        if code in CREDIT_CODES:
            stats["credit_notes"] += 1
            if total > 0 and not per_line:
                assert "S" in sides[inv["id"]]
        elif total > 0 and not per_line:
            assert "H" in sides[inv["id"]]
    return stats


# ------------------------------------------------------------------ the tests

def test_export_batch_datev_manifest_rewrite(ctx: Context, corpus: Path) -> None:
    ids = _ingest_and_approve(ctx, _corpus_files(corpus))
    assert len(ids) > 30
    planned = batch.export(ctx, "bob", dry_run=True)
    assert [p.invoice_id for p in planned.planned] == sorted(ids)
    assert not ctx.settings.export_path.exists() or not any(ctx.settings.export_path.iterdir())

    result = batch.export(ctx, "bob")
    assert result.batch_id == 1 and sorted(result.invoice_ids) == sorted(ids)
    folder = result.folder
    assert folder is not None
    stats = check_batch(ctx, folder)
    assert stats["credit_notes"] >= 2
    assert any(f.endswith(".pdf") for f in result.files)
    assert batch.verify(ctx, 1) == []

    jsonl = (folder / "invoices.jsonl").read_text("utf-8").splitlines()
    assert sorted(json.loads(x)["id"] for x in jsonl) == sorted(ids)
    with Session(ctx.engine) as s:
        invoices = s.exec(select(t.Invoice).where(t.Invoice.id.in_(ids))).all()  # type: ignore[union-attr]
        lines = s.exec(select(t.InvoiceLine).where(
            t.InvoiceLine.invoice_id.in_(ids))).all()  # type: ignore[attr-defined]
        recorded = s.exec(select(t.ExportBatch)).all()
    assert {i.status for i in invoices} == {"exported"}
    assert {i.export_batch_id for i in invoices} == {1}
    assert len(recorded) == 1 and recorded[0].invoice_count == len(ids)
    with open(folder / "invoices.csv", encoding="utf-8", newline="") as fh:
        csv_rows = list(csv.reader(fh, delimiter=";"))
    assert len(csv_rows) - 1 == len(lines) and len({len(r) for r in csv_rows}) == 1
    assert audit.verify(ctx.engine).ok

    assert batch.export(ctx, "bob").batch_id is None  # nothing twice

    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    shutil.rmtree(folder)
    again = batch.rewrite(ctx, 1)
    after = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert again.folder == folder and after == before


def test_per_line_bookings_add_up(ctx: Context, corpus: Path) -> None:
    ctx.settings.datev_per_line = True
    _ingest_and_approve(ctx, _corpus_files(corpus))
    result = batch.export(ctx, "bob")
    assert result.folder is not None
    stats = check_batch(ctx, result.folder, per_line=True)
    assert stats["bookings"] > len(result.invoice_ids)


def _variants(corpus: Path, n: int) -> list[bytes]:
    """``n`` distinct valid invoices: one corpus invoice with new invoice numbers."""
    src = (corpus / "valid/xrechnung-testsuite/business-cases/standard/"
           "01.01a-INVOICE_ubl.xml").read_bytes()
    number = re.search(rb"<cbc:ID>([^<]+)</cbc:ID>", src)
    assert number is not None
    return [src.replace(number.group(0), b"<cbc:ID>KILL-%05d</cbc:ID>" % i, 1)
            for i in range(n)]


def _wait_for_tmp(root: Path, proc: Forks) -> None:
    deadline = time.monotonic() + 20
    while proc.poll() is None and time.monotonic() < deadline:
        if root.is_dir() and any(p.name.startswith(".tmp-batch") for p in root.iterdir()):
            return
        time.sleep(0.002)


def _batch_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".tmp-"))


def _contents(folder: Path) -> str:
    """A digest of the folder's name and of every path and byte in it."""
    digest = hashlib.sha256(folder.name.encode())
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        if path.is_file():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def test_kill_during_export_exactly_once(tmp_path: Path, db_url: str, corpus: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", database_url=db_url,
                             inbox_dir=tmp_path / "inbox", four_eyes_threshold=Decimal("1e12"))
    ctx = open_context(settings)
    register(ctx, "alice")
    forks: Forks | None = None
    try:
        pending = []
        variants = _variants(corpus, 300)
        for start in range(0, 300, 50):  # in batches: the same invoices, a third less time
            for res in ingest_batch(ctx, [(Submission(data, "cli", filename=f"kill-{i}.xml"),
                                           None) for i, data in enumerate(
                                               variants[start:start + 50], start)]):
                assert isinstance(res, IngestResult), res
                pending += [o.invoice_id for o in res.outcomes if o.status == "pending"]
        assert len(pending) == 300
        env = {**os.environ, "EINVOICE_DATA_DIR": str(tmp_path / "data"),
               "EINVOICE_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
        started = time.monotonic()
        subprocess.run([*EXPORT_CMD, "--dry-run"], env=env, check=True, capture_output=True)
        startup = time.monotonic() - started
        # the killed runs: processes forked from one warm process that imported the CLI and
        # the export stack once (tests.forks), each killed with SIGKILL as before, without the
        # interpreter start and imports of 24 cold runs; the last, complete run starts cold
        forks = Forks(env, warm=[*WARM, "einvoice.export.batch"])
        started = time.monotonic()
        assert forks.start(*EXPORT_ARGS, "--dry-run").wait() == 0
        # what a forked run skips (interpreter start, imports): a kill that long after a cold
        # start comes at the moment a forked run starts
        skipped = max(0.0, startup - (time.monotonic() - started))
        rng = random.Random(20240607)
        root = settings.export_path
        outcomes: dict[str, int] = {}
        approved: list[int] = []
        checked: set[str] = set()  # folders seen complete, by contents
        for _round in range(24):
            chunk, pending = pending[:12], pending[12:]
            for inv_id in chunk:
                workflow.approve(ctx, inv_id, "alice")
            approved += chunk
            proc = forks.start(*EXPORT_ARGS)
            if _round % 2:  # at a random moment of start-up or export (as if started cold)
                time.sleep(max(0.0, rng.uniform(startup * 0.6, startup * 1.05) - skipped))
            else:  # while the batch is being written or recorded (every other time at once,
                _wait_for_tmp(root, proc)  # so a loaded machine still kills some mid-write)
                time.sleep(rng.uniform(0, 0.15) if _round % 4 else 0)
            proc.kill()
            code = proc.wait()
            tmp_left = root.is_dir() and any(p.name.startswith(".tmp-") for p in root.iterdir())
            with Session(ctx.engine) as s:
                recorded = {Path(b.folder).name for b in s.exec(select(t.ExportBatch)).all()}
            dirs = _batch_dirs(root) if root.is_dir() else []
            orphan = any(d.name not in recorded for d in dirs)
            kind = ("finished" if code == 0 else "orphan folder" if orphan
                    else "temporary folder" if tmp_left else "killed, nothing visible")
            outcomes[kind] = outcomes.get(kind, 0) + 1
            for d in dirs:  # whatever is visible under a batch name is complete
                if (contents := _contents(d)) not in checked:  # else: checked, unchanged
                    check_batch(ctx, d)
                    checked.add(contents)
        print("kill outcomes:", outcomes)
        # else no kill caught a batch being written or recorded: clean-up went untested
        assert outcomes.get("temporary folder", 0) + outcomes.get("orphan folder", 0) > 0
        done = subprocess.run(EXPORT_CMD, env=env, check=True, capture_output=True)
        assert json.loads(done.stdout)["lost"] == []
        with Session(ctx.engine) as s:
            batches = s.exec(select(t.ExportBatch)).all()
            invoices = s.exec(select(t.Invoice)).all()
        assert not any(p.name.startswith(".tmp-") for p in root.iterdir())
        dirs = _batch_dirs(root)
        assert sorted(d.name for d in dirs) == sorted(Path(b.folder).name for b in batches)
        seen: list[int] = []
        for d in dirs:
            check_batch(ctx, d)
            seen += [i["id"] for i in json.loads((d / "manifest.json").read_bytes())["invoices"]]
        assert sorted(seen) == sorted(approved)  # exactly once, none lost
        by_id = {i.id: i for i in invoices}
        assert all(by_id[i].status == "exported" for i in approved)
        assert sum(b.invoice_count for b in batches) == len(approved)
        assert all(by_id[i].status == "pending" for i in pending)
        assert audit.verify(ctx.engine).ok
    finally:
        if forks is not None:
            forks.close()
        ctx.close()


@pytest.mark.parametrize("number,expected", [("RE 2024/01_ä", "RE-2024/01"),
                                             ("x" * 40, "x" * 36)])
def test_belegfeld_sanitised(number: str, expected: str) -> None:
    assert belegfeld(number) == expected
