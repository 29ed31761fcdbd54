"""System components the tests drive for real: one rule for all.

PostgreSQL (Debian package ``postgresql``), headless Chromium (``chromium``), Dovecot
(``dovecot-imapd``) and, for the OS-account tests, root with ``useradd``/``groupadd``
(``passwd``), ``runuser`` (``util-linux``) and ``setfacl`` (``acl``); ``git`` and
``python3 -m venv`` (``python3-venv``) for the fresh-clone test. A component that is present is
used. One that is missing FAILS the test in CI (``CI=true``), so that a broken image cannot turn
a browser, mail or database test into a silent skip; on a developer machine the test is skipped
with a message naming the Debian package to install (``pytest -ra`` lists the reasons).

PostgreSQL: ``EINVOICE_TEST_PG_URL``, default ``postgres@127.0.0.1:5432/test``. When the server
answers but the database does not exist, it is created (``CREATE DATABASE`` as that login,
e.g. ``postgres`` with trust authentication); when that is refused, the message says how to
create it. Under pytest-xdist every worker gets a database of its own (``test_gw0``, …,
created the same way and kept for the next run), because advisory locks — the service's named
locks — are per database, so tests in two workers would otherwise take each other's locks.

Also the checks the screenshot tests share: what a page shows (``dump_dom``) and that a PNG is a
picture of the expected size and not one flat colour (``png_facts``).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

CHROMIUM = ("chromium", "chromium")  # (binary, Debian package)
DOVECOT = ("dovecot", "dovecot-imapd")
POSTGRESQL = "postgresql"  # the Debian package of the server
PG_URL = os.environ.get("EINVOICE_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def install(package: str) -> str:
    """How to get ``package`` on Debian, for the messages."""
    return f"Debian package {package}: apt-get install -y {package}"


def missing(message: str) -> NoReturn:
    """A required component is missing: fail in CI, skip elsewhere, with ``message``."""
    if in_ci():
        pytest.fail(f"{message}; required in CI (CI=true)", pytrace=False)
    pytest.skip(message)


def require(binary: str, package: str, *, extra_paths: tuple[str, ...] = ()) -> str:
    """The path of ``binary``; when it is missing, fail in CI and skip elsewhere, naming the
    Debian ``package`` that provides it."""
    found = shutil.which(binary) or next(
        (p for p in extra_paths if os.access(p, os.X_OK)), None)
    if found is not None:
        return found
    missing(f"{binary} not installed ({install(package)})")


def require_root(what: str) -> None:
    """``what`` needs root (the OS-account tests make accounts): fail in CI, skip elsewhere."""
    if os.geteuid() != 0:
        missing(f"{what} needs root (run the tests as root, e.g. in a container)")


def chromium() -> str:
    return require(*CHROMIUM)


def dovecot() -> str:
    return require(*DOVECOT, extra_paths=("/usr/sbin/dovecot",))


# ------------------------------------------------------------------ PostgreSQL

def _libpq(url: str, database: str | None = None) -> str:
    """``url`` (SQLAlchemy form) as a libpq URI, optionally naming another database."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _connect_error(uri: str) -> str | None:
    """None when a connection to ``uri`` succeeds, else the server's or libpq's reason."""
    import psycopg

    try:
        with psycopg.connect(uri, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return " ".join(str(exc).split())


def _create_database(url: str, name: str) -> str | None:
    """Create database ``name`` on the server of ``url``, connected to the maintenance database
    ``postgres``; None when it exists afterwards, else why it could not be made."""
    import psycopg
    from psycopg import errors, sql

    for attempt in range(5):
        try:
            with psycopg.connect(_libpq(url, "postgres"), autocommit=True,
                                 connect_timeout=3) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return None
        except (errors.DuplicateDatabase, errors.UniqueViolation):
            return None  # made meanwhile by another test process
        except errors.ObjectInUse:  # someone is connected to template1: try again shortly
            time.sleep(0.2 * (attempt + 1))
        except psycopg.Error as exc:
            return " ".join(str(exc).split())
    return "template1 stayed in use"


def postgres_url(url: str = PG_URL, worker: str | None = None) -> str:
    """The URL (SQLAlchemy form) of the test database, creating it when the server allows.

    ``worker`` (default: the pytest-xdist worker id, e.g. ``gw0``) gets a database of its own
    named ``<database>_<worker>``; when the server refuses to create one, the worker shares the
    database of ``url``. Server missing or unreachable: fail in CI, skip elsewhere."""
    from sqlalchemy.engine import make_url

    worker = worker if worker is not None else os.environ.get("PYTEST_XDIST_WORKER")
    name = make_url(url).database or "postgres"
    error = _connect_error(_libpq(url))
    if error is not None:
        if _connect_error(_libpq(url, "postgres")) is not None:
            missing(f"PostgreSQL not reachable at {_shown(url)}: {error} ({install(POSTGRESQL)}"
                    "; the tests log in as postgres without a password, pg_hba.conf: host all "
                    "all 127.0.0.1/32 trust; or set EINVOICE_TEST_PG_URL)")
        refused = _create_database(url, name)
        if refused is not None:
            missing(f"PostgreSQL answers at {_shown(url)}, but database {name!r} does not exist "
                    f"and cannot be created ({refused}): "
                    f"su postgres -c 'createdb {name}'")
    if not worker:
        return url
    own = make_url(url).set(database=f"{name}_{worker}").render_as_string(hide_password=False)
    if _connect_error(_libpq(own)) is None or _create_database(url, f"{name}_{worker}") is None:
        return own
    return url  # may not create databases: the workers share one (their named locks too)


# ------------------------------------------------------------------ pages

def dump_dom(html_file: Path, timeout: float = 60.0) -> str:
    """The DOM headless Chromium built from a local page (``--dump-dom``), as HTML text: the
    service's own sandboxed browser, without scripts or network (``views.chromium``)."""
    from einvoice.views.chromium import run_chromium

    chromium()
    return run_chromium(html_file, "--dump-dom", timeout=timeout).decode("utf-8")


@dataclass(frozen=True)
class PngFacts:
    width: int
    height: int
    colours: int  # distinct colours, counted up to 257
    dark_share: float  # share of pixels that are clearly not background (text, lines)


def png_facts(path: Path) -> PngFacts:
    """Size and a rough content measure of a PNG file (a blank or flat image has one colour)."""
    from PIL import Image

    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), "not a PNG file"
    with Image.open(path) as img:
        grey = img.convert("L")
        colours = img.convert("RGB").getcolors(maxcolors=256)
        histogram = grey.histogram()
        dark = sum(histogram[:160]) / (grey.width * grey.height)
        return PngFacts(img.width, img.height, 257 if colours is None else len(colours), dark)
