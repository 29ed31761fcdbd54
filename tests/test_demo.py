"""``einvoice demo``: a newcomer's tour from intake to export.

GIVEN an empty folder (and EINVOICE_* variables pointing elsewhere, which the demo must ignore),
WHEN ``einvoice demo`` runs, THEN the valid sample is accepted, approved and exported, the
invalid one is rejected naming BR-DE-15 (BT-10), each step shows the commands that do the same,
and the output ends with the export folder. Run again, it starts afresh; a folder it did not
make is refused and left as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from einvoice.approval.identity import os_login
from einvoice.cli import app
from einvoice.demo import MARKER


def invoke(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EINVOICE_DATABASE_URL", f"sqlite:///{tmp_path / 'real.db'}")
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(tmp_path / "real-data"))
    return tmp_path


def demo_state(folder: Path) -> tuple[list[dict[str, object]], str]:
    """The invoices of the demo installation, and its settings option for commands."""
    cfg = str(folder / "einvoice.toml")
    return json.loads(invoke("list", "--json", "-c", cfg)), cfg


def test_the_tour_from_intake_to_export(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = invoke("demo")
    flat = " ".join(out.split())
    assert "EINVOICE_DATABASE_URL, EINVOICE_DATA_DIR set in this shell" in flat
    assert not (here / "real.db").exists() and not (here / "real-data").exists()
    for title in ("1. A fresh installation", "2. Intake", "3. Validation", "4. Approval",
                  "5. Export to accounting"):
        assert title in out
    for command in ("$ einvoice init -c einvoice-demo/einvoice.toml",
                    "$ einvoice scan -c einvoice-demo/einvoice.toml",
                    "$ einvoice approve 1 -c einvoice-demo/einvoice.toml",
                    "$ einvoice export -c einvoice-demo/einvoice.toml"):
        assert command in out
    assert "BR-DE-15 (BT-10)" in flat and "status invalid" in flat

    monkeypatch.delenv("EINVOICE_DATABASE_URL")
    monkeypatch.delenv("EINVOICE_DATA_DIR")
    rows, cfg = demo_state(here / "einvoice-demo")
    by_number = {r["number"]: r for r in rows}
    assert {n: r["status"] for n, r in by_number.items()} == {
        "RE-2026-0815": "exported", "GP-2026-117": "invalid"}
    bad = json.loads(invoke("show", "--json", str(by_number["GP-2026-117"]["id"]), "-c", cfg))
    assert [f["rule_id"] for f in bad["findings"] if f["level"] == "error"] == ["BR-DE-15"]
    good = str(by_number["RE-2026-0815"]["id"])
    history = json.loads(invoke("history", "--json", good, "-c", cfg))
    assert [(e["action"], e["actor"]) for e in history if e["action"] == "approve"] == [
        ("approve", os_login())]

    batches = list((here / "einvoice-demo" / "exports").glob("batch-*"))
    assert len(batches) == 1
    manifest = json.loads((batches[0] / "manifest.json").read_text(encoding="utf-8"))
    assert [i["id"] for i in manifest["invoices"]] == [int(good)]
    assert any(p.name.endswith("RE-2026-0815.xml") for p in (batches[0] / "originals").iterdir())
    assert " ".join(out.split()).endswith(
        f"The export files are in einvoice-demo/exports/{batches[0].name}/; the demo "
        "installation stays in einvoice-demo/ until the next `einvoice demo` replaces it.")
    assert sorted(p.name for p in (here / "einvoice-demo" / "inbox" / "processed").iterdir()) \
        == ["rechnung-1-papierhaus.xml", "rechnung-2-gruenpflege.xml"]


def test_a_second_run_starts_afresh(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EINVOICE_DATABASE_URL")
    monkeypatch.delenv("EINVOICE_DATA_DIR")
    folder = here / "trial"
    invoke("demo", "--data-dir", str(folder))
    (folder / "left-over.txt").write_text("from the first run")
    invoke("demo", "--data-dir", str(folder))
    rows, _cfg = demo_state(folder)
    assert sorted(r["status"] for r in rows) == ["exported", "invalid"]
    assert not (folder / "left-over.txt").exists()
    assert [p.name for p in (folder / "exports").glob("batch-*")] == [
        next((folder / "exports").glob("batch-000001-*")).name]


def test_a_folder_the_demo_did_not_make_is_refused(here: Path) -> None:
    folder = here / "precious"
    folder.mkdir()
    (folder / "einvoice.db").write_text("not the demo's")
    out = " ".join(invoke("--data-dir", str(folder), "demo", code=2).split())
    assert "was not made by `einvoice demo`: nothing changed" in out
    assert [p.name for p in folder.iterdir()] == ["einvoice.db"]
    assert not (folder / MARKER).exists()
