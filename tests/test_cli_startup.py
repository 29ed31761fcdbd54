"""The CLI starts fast because it imports what a command needs when it runs (issue 15, item 3).

Pinned by what is imported, not by a stopwatch (the times go to ``bench/``): every command module
is imported, and every command's options read, on any run, so the module level of ``einvoice.cli``
must stay free of the database, web, validation-engine, chart and settings stacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# never for `--help`, for a command's help, or on `import einvoice.cli`
HEAVY = frozenset({"sqlalchemy", "sqlmodel", "alembic", "psycopg", "fastapi", "starlette",
                   "uvicorn", "saxonche", "matplotlib", "pydantic_settings", "babel", "jinja2",
                   "facturx", "pypdf"})
DATABASE_AND_WEB = frozenset({"sqlalchemy", "sqlmodel", "alembic", "psycopg", "fastapi",
                              "starlette", "uvicorn", "matplotlib"})
XR = "valid/xrechnung-testsuite/technical-cases/cius/01.01_comprehensive_test_ubl.xml"


def _imported(tmp_path: Path, *args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """The top-level packages ``einvoice ARGS`` imports (``-X importtime``), and its result;
    run on an empty data directory with no settings file."""
    env = {**os.environ, "EINVOICE_DATA_DIR": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    for var in ("EINVOICE_CONFIG", "EINVOICE_DATABASE_URL"):
        env.pop(var, None)
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "einvoice.cli", *args],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    names = {line.rpartition("|")[2].strip().split(".")[0]
             for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "einvoice" in names, done.stderr[-2000:]  # the trace was read
    return names, done


def test_importing_the_cli_loads_no_heavy_stack(tmp_path: Path) -> None:
    code = ("import sys, einvoice.cli; print(sorted({m.split('.')[0] for m in sys.modules} & "
            f"set({sorted(HEAVY)!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("args", [["--help"], ["list", "--help"], ["validate", "--help"]])
def test_help_loads_no_heavy_stack(tmp_path: Path, args: list[str]) -> None:
    names, done = _imported(tmp_path, *args)
    assert done.returncode == 0, done.stderr[-2000:]
    assert names & HEAVY == set()


def test_help_still_lists_every_command(tmp_path: Path) -> None:
    done = _imported(tmp_path, "--help")[1]
    listed = {line.strip("│ ").split(" ")[0] for line in done.stdout.splitlines()
              if line.startswith("│ ") and not line.startswith("│ --")}
    assert listed >= {"init", "ingest", "scan", "list", "show", "validate", "inbox", "approve",
                      "reject", "close", "hold", "release", "reassign", "assign", "view",
                      "history", "paid", "export", "serve", "run", "status", "report", "demo",
                      "audit", "staff", "supplier", "mail", "rules"}
    assert "Validate files like the KoSIT validator, without a database." in done.stdout


def test_version_reads_settings_and_releases_only(tmp_path: Path) -> None:
    names, done = _imported(tmp_path, "--version")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("einvoice ") and "rule releases:" in done.stdout
    assert names & (HEAVY - {"pydantic_settings"}) == set()


def test_validate_loads_no_database_or_web_stack(tmp_path: Path, corpus: Path) -> None:
    names, done = _imported(tmp_path, "validate", str(corpus / XR))
    assert done.returncode in (0, 1), done.stderr[-2000:]  # accepted or rejected: it ran
    assert "01.01_comprehensive_test_ubl.xml" in done.stdout
    assert names & DATABASE_AND_WEB == set()
    assert not (tmp_path / "data").exists()  # and it made no data directory
