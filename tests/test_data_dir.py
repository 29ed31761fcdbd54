"""Finding the data: which data directory a command uses, that no command but ``init`` creates a
database, and ``einvoice --version``.

GIVEN settings from --data-dir, EINVOICE_DATA_DIR, a settings file (--config, EINVOICE_CONFIG,
~/.config/einvoice/config.toml, /etc/einvoice/config.toml) or none, WHEN a command runs where no
database exists, THEN it refuses with exit code 2 naming the data directory it looked in and
where that came from, and creates nothing; ``init`` creates the database there.
"""

from __future__ import annotations

import datetime as dt
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from einvoice import settings_files
from einvoice.cli import app
from einvoice.config import load_settings
from einvoice.validation.releases import in_force, installed
from einvoice.validation.rulebook import added_releases

XR = "valid/xrechnung-testsuite/technical-cases/cius"


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, HOME in the temp dir, no einvoice variables, and the system
    settings file moved into the temp dir (never the machine's /etc)."""
    for name in ("EINVOICE_CONFIG", "EINVOICE_DATA_DIR", "EINVOICE_DATABASE_URL",
                 "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(settings_files, "SYSTEM_FILE", tmp_path / "etc" / "config.toml")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def settings_file(path: Path, data_dir: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'data_dir = "{data_dir}"\n', encoding="utf-8")
    return path


def invoke(*args: str, code: int) -> str:
    """The output without any white space: rich wraps long messages, paths too."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return squash(result.output)


def squash(text: str) -> str:
    return "".join(text.split())


def test_each_source_beats_the_weaker_ones(place: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(where: Path, origin: str, *args: str) -> None:
        before = args[:2] if args[:1] == ("--data-dir",) else ()
        out = invoke(*before, "list", *args[len(before):], code=2)
        assert squash(f"no einvoice database at {where / 'einvoice.db'} ({origin}): create one "
                      "with `einvoice init`") in out

    refused(place / "work" / "einvoice-data", "the default data directory ./einvoice-data")
    system = settings_file(place / "etc" / "config.toml", place / "system-data")
    refused(place / "system-data", f"the data directory given by data_dir in {system}")
    user = settings_file(place / "home" / ".config" / "einvoice" / "config.toml",
                         place / "user-data")
    refused(place / "user-data", f"the data directory given by data_dir in {user}")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(place / "xdg"))
    xdg = settings_file(place / "xdg" / "einvoice" / "config.toml", place / "xdg-data")
    refused(place / "xdg-data", f"the data directory given by data_dir in {xdg}")
    named = settings_file(place / "named.toml", place / "named-data")
    monkeypatch.setenv("EINVOICE_CONFIG", str(named))
    refused(place / "named-data", f"the data directory given by data_dir in {named}")
    option = settings_file(place / "option.toml", place / "option-data")
    refused(place / "option-data", f"the data directory given by data_dir in {option}",
            "--config", str(option))
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(place / "env-data"))
    refused(place / "env-data", "the data directory given by EINVOICE_DATA_DIR",
            "--config", str(option))
    refused(place / "flag-data", "the data directory given by --data-dir",
            "--data-dir", str(place / "flag-data"), "--config", str(option))
    assert not any(p.name.endswith("-data") for p in place.rglob("*"))  # nothing created
    # the option held for that command only
    assert load_settings().data_dir == place / "env-data"


def test_a_named_settings_file_must_exist(place: Path) -> None:
    assert squash("settings file not found") in invoke(
        "list", "--config", str(place / "nope.toml"), code=2)


@pytest.mark.parametrize("command", [
    ["list"], ["scan"], ["inbox"], ["status"], ["export"], ["audit", "verify"],
    ["staff", "list"], ["history", "1"], ["approve", "1"]])
def test_no_command_but_init_creates_a_database(place: Path, command: list[str]) -> None:
    out = invoke(*command, code=2)
    assert squash("no einvoice database at") in out and "`einvoiceinit`" in out
    assert squash("(elsewhere: `einvoice --data-dir DIR init`)") in out
    assert list((place / "work").iterdir()) == []


def test_init_creates_it_where_the_others_then_find_it(place: Path) -> None:
    invoke("--data-dir", str(place / "kept"), "init", code=0)
    assert (place / "kept" / "einvoice.db").is_file()
    assert invoke("--data-dir", str(place / "kept"), "list", "--json", code=0) == "[]"
    invoke("list", code=2)  # the default data directory still has none


def test_a_file_without_schema_is_no_database(place: Path) -> None:
    (place / "work" / "einvoice-data").mkdir()
    (place / "work" / "einvoice-data" / "einvoice.db").touch()
    assert squash("no einvoice database at") in invoke("list", code=2)


def test_commands_without_database_need_none(place: Path, corpus: Path) -> None:
    sample = corpus / XR / "01.01_comprehensive_test_ubl.xml"
    assert "ACCEPT" in invoke("validate", str(sample), code=0)
    assert list((place / "work").iterdir()) == []


@pytest.mark.postgres
def test_postgresql_without_schema_is_refused(place: Path, pg_url: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EINVOICE_DATABASE_URL", pg_url)
    out = invoke("list", code=2)
    assert squash("has no einvoice schema yet: create it with `einvoice init`") in out
    invoke("init", code=0)
    assert invoke("list", "--json", code=0) == "[]"


def test_version_names_the_package_and_the_rule_releases(place: Path) -> None:
    out = CliRunner().invoke(app, ["--version"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[0] == f"einvoice {version('einvoice')}"
    settings = load_settings()
    releases = installed(added_releases(settings))
    today = in_force(releases, dt.datetime.now(settings.zone).date())
    listed = [line.split() for line in lines if "valid from" in line]
    assert [words[1] if words[0] == "*" else words[0] for words in listed] == [
        r.id for r in releases]
    assert [words[1] for words in listed if words[0] == "*"] == [today.id]
    assert [words[-1] for words in listed] == [  # German dates, as in every view
        r.valid_from.strftime("%d.%m.%Y") for r in releases]
    assert list((place / "work").iterdir()) == []
