"""Shared fixtures: the official corpus beside the project, and throwaway databases."""

from __future__ import annotations

import functools
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.testing
from sqlalchemy import insert
from typer.testing import CliRunner, Result

from einvoice.config import Settings, load_settings
from einvoice.context import Context, open_context
from tests import system

# Typer builds the CLI's click command anew on every CliRunner call (~30 ms); the commands are
# all registered when einvoice.cli is imported, so one build per app serves every call
typer.testing._get_command = functools.cache(typer.testing._get_command)  # type: ignore[attr-defined]

# the scripts installed beside this interpreter (lint-imports, einvoice) are found as if its
# virtual environment were activated: the README runs `.venv/bin/pytest` without activating it
_SCRIPTS = str(Path(sys.executable).parent)
if _SCRIPTS not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join([_SCRIPTS, *filter(None, [os.environ.get("PATH")])])

# EINVOICE_CORPUS, else the nearest `shared/corpus` beside the checkout or any folder above
# this file (so that copies of the tests, e.g. mutmut's ./mutants/, find it too)
CORPUS = Path(os.environ.get("EINVOICE_CORPUS") or next(
    (up / "shared" / "corpus" for up in Path(__file__).resolve().parents
     if (up / "shared" / "corpus").is_dir()),
    Path(__file__).resolve().parents[2] / "shared" / "corpus"))


# The longest tests (tens of seconds to minutes each on the 2-core machine: a pip install into a
# fresh clone, process kills, OS accounts, two services, Chromium), started first: `pytest -n
# auto` hands tests out in collection order, so these run beside the thousands of short ones
# instead of being left for the end, when one worker would wait for the other.
SLOW_FIRST = (
    "tests/test_fresh_clone.py::test_the_readme_run_command_works_in_a_fresh_clone",
    "tests/test_export.py::test_kill_during_export_exactly_once",
    "tests/test_two_services.py",
    "tests/test_identity.py",
    "tests/test_crash.py",
    "tests/test_workflow.py::test_concurrent_approval_exactly_one_wins",
    "tests/test_mail.py::test_30_mb_attachment_is_processed",
    "tests/test_http.py::test_concurrent_burst_of_200_uploads",
    "tests/test_rules_add.py",
    "tests/test_kosit_config.py",
    "tests/hostile/",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first, in their order above; every other test in its collected order."""
    def rank(item: pytest.Item) -> int:
        return next((i for i, prefix in enumerate(SLOW_FIRST) if item.nodeid.startswith(prefix)),
                    len(SLOW_FIRST))
    items.sort(key=rank)


def corpus_path() -> Path:
    """The corpus folder; in CI its absence is an error, elsewhere the test is skipped."""
    if not CORPUS.is_dir():
        system.missing(f"test corpus missing at {CORPUS} (set EINVOICE_CORPUS)")
    return CORPUS


@pytest.fixture(scope="session")
def corpus() -> Path:
    return corpus_path()


# ------------------------------------------------------------------ databases

@pytest.fixture(scope="session")
def pg_base_url() -> str:
    """The test database (``tests.system.postgres_url``: created when missing and the server
    allows, one per xdist worker); no server: fail in CI, skip elsewhere."""
    return system.postgres_url()


@pytest.fixture
def pg_url(pg_base_url: str) -> Iterator[str]:
    """A URL whose connections see a fresh, private schema of the test database."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = pg_base_url.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in pg_base_url else "?"
    yield f"{pg_base_url}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


# A database made by the migrations once per test process and copied for each test: the same
# schema as `open_context` would make (Alembic ran exactly so, on an empty database), without
# Alembic's ~0.2 s (SQLite) / ~0.6 s (PostgreSQL) in the setup of every test. Tests that ask for
# `pg_url` itself get an empty schema and migrate it themselves.

@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file at the newest schema revision, made by the migrations."""
    from einvoice.store.db import make_engine, migrate

    path = tmp_path_factory.mktemp("schema") / "einvoice.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


Statement = tuple[str, Any, bool]  # SQL as sent to the driver, its parameters, executemany


@pytest.fixture(scope="session")
def pg_migration(pg_base_url: str) -> list[Statement]:
    """Every statement the migrations send to PostgreSQL on an empty schema, recorded once."""
    import psycopg
    from sqlalchemy import event

    from einvoice.store.db import make_engine, migrate

    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = pg_base_url.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in pg_base_url else "?"
    engine = make_engine(f"{pg_base_url}{sep}options=-csearch_path%3D{schema}")
    sent: list[Statement] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
               executemany: bool) -> None:
        sent.append((statement, parameters, executemany))

    event.listen(engine, "before_cursor_execute", record)
    try:
        migrate(engine)
    finally:
        engine.dispose()
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    return sent


def _replay(url: str, statements: list[Statement]) -> None:
    """Send ``statements`` again, in one transaction, to the schema of ``url``."""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn, conn.cursor() as cur:
        for statement, parameters, many in statements:
            if many:
                cur.executemany(statement, parameters)
            else:
                cur.execute(statement, parameters)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every test using this runs twice: on SQLite and on PostgreSQL, each time on a database
    of its own that is at the newest schema revision and empty."""
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "einvoice.db")
        return f"sqlite:///{tmp_path / 'einvoice.db'}"
    url = str(request.getfixturevalue("pg_url"))
    _replay(url, request.getfixturevalue("pg_migration"))
    return url


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path, db_url: str) -> Settings:
    """Throwaway settings; ``@pytest.mark.settings(name=value)`` adds settings of a test."""
    marker = request.node.get_closest_marker("settings")
    return load_settings(data_dir=tmp_path / "data", database_url=db_url,
                         inbox_dir=tmp_path / "inbox", **(marker.kwargs if marker else {}))


# people on the staff register of every ``ctx``, so that tests of other rules can act as them
STAFF = ("alice", "bob", "carol")


def register(ctx: Context, *logins: str, role: str = "approver", **columns: Any) -> None:
    """Put ``logins`` on the staff register directly (no audit event, which would shift the
    chain other tests count)."""
    from einvoice.store import tables as t

    with ctx.engine.begin() as conn:
        conn.execute(insert(t.Staff), [{"login": login, "name": login.title(), "role": role,
                                        **columns} for login in logins])


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Context]:
    """A fresh database whose staff register holds alice, bob and carol as approvers."""
    context = open_context(settings)
    register(context, *STAFF)
    yield context
    context.close()


Cli = Callable[..., Result]  # the CLI as the rules_admin fixture gives it


@pytest.fixture
def rules_admin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """The CLI on a data folder of its own that the running account initialised (so it is the
    admin `rules add` needs), with the rulebooks of earlier tests forgotten before and after."""
    from einvoice.cli import app
    from einvoice.validation.rulebook import forget

    for var in ("EINVOICE_CONFIG", "EINVOICE_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(tmp_path / "data"))
    forget()
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args))
    assert invoke("init").exit_code == 0
    yield invoke
    forget()
