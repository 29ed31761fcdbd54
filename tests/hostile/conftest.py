"""The hostile cases run once per test run, in two subprocesses side by side (each a warm
process: one interpreter start, the rule packs compiled once), every group on a database of its
own. Whichever pytest-xdist worker asks first starts both and waits for them, under a lock; the
others wait for the lock and read the rows from a file beside their temporary folders."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import system
from tests.conftest import corpus_path

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 600  # seconds for a run; each case has its own watchdog inside
# which groups run in which process, about half the work each
RUNS = (("folder:sqlite", "http:sqlite", "views:sqlite"), ("mail:sqlite", "views:postgresql"))

Rows = dict[str, dict[str, Any]]


def _postgres() -> tuple[str | None, str]:
    """The test database's URL, or None and why there is none (a skip; in CI a failure)."""
    try:
        return system.postgres_url(), ""
    except pytest.skip.Exception as exc:
        return None, str(exc)


def _run_all(folder: Path) -> dict[str, Any]:
    """Every run at once; ``{"GROUP:DATABASE": result}``."""
    corpus = corpus_path()
    pg, why = _postgres() if any(p.endswith(":postgresql") for r in RUNS for p in r) else (
        None, "")
    results: dict[str, Any] = {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("EINVOICE_")}
    started = []
    for number, pairs in enumerate(RUNS):
        skipped = [p for p in pairs if p.endswith(":postgresql") and pg is None]
        results.update({p: {"skipped": why} for p in skipped})
        pairs = tuple(p for p in pairs if p not in skipped)
        if not pairs:
            continue
        out = folder / f"run-{number}.json"
        command = [sys.executable, "-m", "tests.hostile", *pairs, "--work",
                   str(folder / f"run-{number}"), "--corpus", str(corpus), "--out", str(out),
                   *(["--pg", pg] if pg else [])]
        started.append((pairs, out, subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)))
    for pairs, out, proc in started:
        try:
            _, stderr = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
        if proc.returncode != 0 or not out.exists():
            results.update({p: {"crashed": f"exit {proc.returncode}\n{stderr[-4000:]}"}
                            for p in pairs})
            continue
        run = json.loads(out.read_text(encoding="utf-8"))
        results.update(run["runs"])
        results[f"process:{out.stem}"] = {k: v for k, v in run.items() if k != "runs"}
    return results


@pytest.fixture(scope="session")
def hostile_rows(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Rows]:
    """``rows(group, db)``: the rows of that group's run on that database, by case name."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's folder, which every worker's folder is in
    results_file = shared / "hostile-results.json"
    results: dict[str, Any] = {}

    def rows(group: str, db: str) -> Rows:
        if not results:
            with open(shared / "hostile-results.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not results_file.exists():
                    folder = shared / "hostile"
                    folder.mkdir()
                    results_file.write_text(json.dumps(_run_all(folder)), encoding="utf-8")
            results.update(json.loads(results_file.read_text(encoding="utf-8")))
        result = results[f"{group}:{db}"]
        if "skipped" in result:
            pytest.skip(result["skipped"])
        if "crashed" in result:
            pytest.fail(f"the {group} group on {db} did not run: {result['crashed']}")
        return {row["name"]: row for row in result["rows"]}

    return rows
