"""The exports to accounting, run by ``einvoice export``: no cell of the DATEV Buchungsstapel or
of ``invoices.csv`` starts a formula (read back as a spreadsheet splits them), and an original
named by a hostile invoice number stays inside its batch folder."""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation
from pathlib import Path

from einvoice.export.csvcells import formula_like
from tests.hostile.facts import stored
from tests.hostile.views_env import FORMULAS, ViewsEnv, cases


def cells(data: bytes, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding), newline=""), delimiter=";"))


def formulas(rows: list[list[str]]) -> list[str]:
    """Cells a spreadsheet would take for a formula (a negative number is a number)."""
    return [c for row in rows for c in row if formula_like(c) and not _number(c)]


def _number(cell: str) -> bool:
    try:
        Decimal(cell.replace(",", "."))
    except InvalidOperation:
        return False
    return True


def _batch(env: ViewsEnv) -> Path:
    assert env.batch is not None, "the export case did not run first"
    return env.batch


def _originals(env: ViewsEnv) -> None:
    for invoice_id in env.formula_ids:
        env.kept(env.ctx.archive.get(stored(env.ctx, invoice_id).document.sha256))


@cases.add()
def export_datev_formula_cells(env: ViewsEnv) -> None:
    out = env.timed_cli("export")
    batches = sorted(p for p in env.ctx.settings.export_path.iterdir() if p.is_dir()
                     and not p.name.startswith("."))
    assert len(batches) == 1, (batches, out[-1000:])
    env.batch = batches[0]
    (datev,) = env.batch.glob("EXTF_*.csv")
    rows = cells(datev.read_bytes(), "cp1252")
    assert formulas(rows) == [], formulas(rows)
    text = "\n".join(";".join(r) for r in rows)
    for formula in FORMULAS:
        assert "'" + " ".join(formula.split())[:30] in text, formula  # shown, defused
    _originals(env)


@cases.add()
def export_csv_formula_cells(env: ViewsEnv) -> None:
    batch = _batch(env)
    with env.timed():
        env.cli("export", "--batch", batch.name.split("-")[1].lstrip("0"))
        data = (batch / "invoices.csv").read_bytes()
    rows = cells(data, "utf-8")
    assert formulas(rows) == [], formulas(rows)
    header, *lines = rows
    numbers = {dict(zip(header, r, strict=True))["number"] for r in lines}
    assert {"'" + f for f in FORMULAS} <= numbers, numbers
    _originals(env)


@cases.add()
def export_originals_stay_in_the_batch(env: ViewsEnv) -> None:
    """A number of ``../../../../etc/cron.d/evil\\..\\CON``: its original is written inside
    the batch's originals/ folder, under a name with no path in it."""
    batch = _batch(env)
    with env.timed():
        files = sorted(p for p in env.work.rglob("*") if p.is_file())
    (mine,) = [p for p in files if "cron" in p.name]
    assert mine.parent == batch / "originals", mine
    assert mine.name == f"{env.formula_ids[-1]:06d}_etc-cron.d-evil-..-CON.xml", mine.name
    assert not Path("/etc/cron.d/evil").exists()
    _originals(env)
