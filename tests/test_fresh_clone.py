"""A fresh machine: the README's first command works from a clean clone, and a missing system
component is named, never a mystery.

GIVEN a ``git clone`` of this checkout's HEAD in an empty folder, WHEN the first command of the
README's "On a fresh machine" is run there verbatim (by ``sh``, with ``python3`` from the PATH
the tests were started with, no virtual environment active, no ``EINVOICE_*`` settings), THEN it
exits 0 having made a virtual environment, installed the project (pip downloads the
dependencies from PyPI: marker ``network``), created the SQLite database with the running
account as first admin (``staff list --json``), scanned the drop folder (nothing waits there;
``list --json`` holds a document for every file it held) and printed what happened. The wording of
the output is other tests' business; this one checks the effects.

Then the rule of ``tests.system`` for system components at its boundaries: a missing program or
database server skips with the Debian package named, and fails when ``CI=true``; a database that
does not exist yet is created; each pytest-xdist worker gets a database of its own.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests import system

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- fresh-machine: {name} "


def readme_command(readme: str, name: str) -> str:
    """The command under the marker ``<!-- fresh-machine: NAME …-->`` of the README: the first
    line indented by four spaces after it, as written (``.ci/run`` reads it the same way)."""
    lines = readme.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(MARKER.format(name=name))),
                 None)
    assert start is not None, f"README.md has no marker {MARKER.format(name=name)!r}"
    command = next((line[4:] for line in lines[start + 1:]
                    if line.startswith("    ") and line[4:5] != " "), None)
    assert command, f"README.md: no indented command after the marker {name!r}"
    return command


def _environment() -> dict[str, str]:
    """The environment of a fresh shell: the PATH the tests were started with (without the
    scripts folder conftest put first), no virtual environment, no einvoice settings."""
    scripts = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("EINVOICE_")
           and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTEST_XDIST_WORKER")}
    env["PATH"] = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                                  if p and p != scripts)
    env.update(LANG="C.UTF-8", COLUMNS="120", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def _clone(target: Path) -> None:
    git = system.require("git", "git")
    inside = subprocess.run([git, "-C", str(ROOT), "rev-parse", "--verify", "HEAD"],
                            capture_output=True, text=True, check=False)
    if inside.returncode != 0:
        system.missing(f"{ROOT} is not a git checkout with a commit, nothing to clone "
                       f"({inside.stderr.strip()})")
    done = subprocess.run([git, "clone", "--quiet", "--no-hardlinks", str(ROOT), str(target)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr


def _venv_works(env: dict[str, str], where: Path) -> None:
    """``python3 -m venv`` works (Debian: python3-venv), else skip, or fail in CI. Asked only
    when the README command failed (a venv with pip takes seconds to make): a broken venv is
    then the reason given, as it would have been before the command ran."""
    done = subprocess.run(["python3", "-m", "venv", str(where / "probe")], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        system.missing("python3 -m venv does not work "
                       f"({system.install('python3-venv')}): {done.stdout}{done.stderr}"[-800:])


@pytest.mark.network
def test_the_readme_run_command_works_in_a_fresh_clone() -> None:
    system.require("python3", "python3")
    env = _environment()
    with tempfile.TemporaryDirectory(prefix="einvoice-fresh-") as tmp:
        base = Path(tmp)
        clone = base / "einvoice"
        _clone(clone)
        waiting = [p for p in (clone / "inbox").iterdir() if p.is_file()
                   and not p.name.startswith(".")]  # what the clone brings to scan
        command = readme_command((clone / "README.md").read_text(encoding="utf-8"), "run")
        done = subprocess.run(["sh", "-c", command], cwd=clone, env=env, capture_output=True,
                              text=True, timeout=1800, check=False)
        out = done.stdout + done.stderr
        if done.returncode != 0:
            _venv_works(env, base)
        assert done.returncode == 0, f"$ {command}\n{out[-6000:]}"
        # init said where the database is; scan and list printed something after it
        said = done.stdout.split("sqlite:///einvoice-data/einvoice.db", 1)
        assert len(said) == 2 and said[1].strip(), done.stdout[-3000:]
        einvoice = clone / ".venv" / "bin" / "einvoice"
        assert einvoice.is_file() and (clone / "einvoice-data" / "einvoice.db").is_file()

        def read(*args: str) -> Any:
            shown = subprocess.run([str(einvoice), *args, "--json"], cwd=clone, env=env,
                                   capture_output=True, text=True, timeout=300, check=True)
            return json.loads(shown.stdout)

        # the running account became the first admin, so it may read
        assert [(r["login"], r["role"]) for r in read("staff", "list")] == [
            (pwd.getpwuid(os.geteuid()).pw_name, "admin")]
        # the drop folder was scanned: nothing waits there any more, and every file it held
        # became at least one listed document (none when the clone brings an empty inbox)
        assert not [p for p in (clone / "inbox").iterdir() if p.is_file()
                    and not p.name.startswith(".")]
        rows = read("list")
        assert len(rows) >= len(waiting) if waiting else rows == [], rows


def test_both_readme_commands_are_there() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    run = readme_command(readme, "run")
    assert run.startswith("python3 -m venv .venv && .venv/bin/pip install -e . && ")
    test = readme_command(readme, "test")
    assert test.startswith("python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && ")
    assert test.endswith(".venv/bin/pytest -n auto")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "readme_command test" in ci and 'bash -c "$test_command"' in ci


# ------------------------------------------------------------------ the rule for components

def test_a_missing_program_is_skipped_naming_its_debian_package(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception,
                       match=r"no-such-tool not installed \(Debian package no-such-pkg: "
                             r"apt-get install -y no-such-pkg\)"):
        system.require("no-such-tool", "no-such-pkg")


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_in_ci_a_missing_program_fails(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match=r"no-such-pkg.*required in CI"):
        system.require("no-such-tool", "no-such-pkg")


def test_a_present_program_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    assert system.require("sh", "dash").endswith("/sh")


@pytest.mark.parametrize(("ci", "outcome"), [("", pytest.skip.Exception),
                                              ("true", pytest.fail.Exception)])
def test_an_unreachable_postgresql_names_the_package(monkeypatch: pytest.MonkeyPatch, ci: str,
                                                     outcome: type[BaseException]) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match=r"PostgreSQL not reachable at .*127\.0\.0\.1:1/test.*"
                                      r"Debian package postgresql"):
        system.postgres_url("postgresql+psycopg://postgres@127.0.0.1:1/test", worker="")


@pytest.mark.postgres
def test_a_missing_test_database_is_created_and_each_worker_gets_its_own(
        pg_base_url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"fresh_{uuid.uuid4().hex[:8]}"
    url = make_url(pg_base_url).set(database=name).render_as_string(hide_password=False)
    try:
        assert system.postgres_url(url, worker="") == url  # created
        assert system.postgres_url(url, worker="") == url  # and then simply used
        own = system.postgres_url(url, worker="gw7")
        assert make_url(own).database == f"{name}_gw7"
        with psycopg.connect(own.replace("+psycopg", "")) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (f"{name}_gw7",)
    finally:
        with psycopg.connect(pg_base_url.replace("+psycopg", ""), autocommit=True) as conn:
            for db in (name, f"{name}_gw7"):
                conn.execute(f'DROP DATABASE IF EXISTS "{db}"')


def test_this_session_uses_its_workers_own_database(pg_base_url: str) -> None:
    from sqlalchemy.engine import make_url

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base = make_url(system.PG_URL).database
    assert make_url(pg_base_url).database in ({f"{base}_{worker}", base} if worker else {base})
