"""What every ``einvoice`` command shares: the Typer app with its global options (``--data-dir``,
``--version``), consoles, options, error handling, and who is acting (exit code 3 when the
account may not do what it asked).

The consoles print a ``str`` as text, never as markup (``views.terminal.SafeConsole``): messages
quote file names, invoice numbers and reasons from outside; our own colours are ``compose``d.

Start-up: every command module is imported for `einvoice --help`, and Typer reads the options of
every command on any run, so these modules import only what their options' types need; the
settings, database, validation and view stacks load inside the command that uses them
(``tests/test_cli_startup.py`` keeps it so)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from einvoice import settings_files
from einvoice.errors import EinvoiceError
from einvoice.views.terminal import SafeConsole, compose, json_visible, visible

if TYPE_CHECKING:
    from einvoice.config import Settings
    from einvoice.context import Context
    from einvoice.lifecycle import Role

app = typer.Typer(help="Intake of electronic invoices (XRechnung, ZUGFeRD / Factur-X).",
                  no_args_is_help=True, pretty_exceptions_enable=False)
console = SafeConsole()
err = SafeConsole(stderr=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", envvar="EINVOICE_CONFIG",
                                                help="TOML settings file")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
NOT_PERMITTED = 3  # exit code: unknown, disabled or insufficient account
INSUFFICIENT_PRIVILEGE = "42501"  # PostgreSQL: a login role without the grants staff get
# the commands that may create a database; every other one refuses where there is none
CREATES_DATABASE = frozenset({"init", "demo"})


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(compose(("error:", "red"), f" {message}"))
    raise typer.Exit(code)


def _releases(settings: Settings) -> list[str]:
    """The rule releases installed, the one in force today marked ``*``."""
    import datetime as dt

    from einvoice.validation.releases import added_releases, in_force, installed

    releases = installed(added_releases(settings))
    today = dt.datetime.now(settings.zone).date()
    now = in_force(releases, today, settings.rule_release)
    german = "%d.%m.%Y"  # views.formatting.day, without loading babel for --version
    return [f"{'*' if r is now else ' '} {r.id}  version {r.official_version}, valid from "
            f"{r.valid_from.strftime(german)}{'' if r.builtin else ', added'}"
            for r in releases] + [
        f"* = in force today ({today.strftime(german)}"
        + (", pinned by rule_release)" if settings.rule_release else ")")]


def _version() -> None:
    """``einvoice --version``: the package and the rule releases it would check by."""
    from importlib.metadata import version

    from einvoice.config import load_settings

    typer.echo(f"einvoice {version('einvoice')}")
    try:
        lines = _releases(load_settings())
    except EinvoiceError as exc:
        fail(f"rule releases unknown: {exc}")
    typer.echo("rule releases:")
    for line in lines:
        typer.echo(f"  {line}")


@app.callback(invoke_without_command=True)
def main(ctx: typer.Context,
         data_dir: Annotated[Path | None, typer.Option(
             "--data-dir", metavar="DIR", help="the data directory (database, archive, "
             "exports); stronger than EINVOICE_DATA_DIR and the settings file")] = None,
         version: Annotated[bool, typer.Option(
             "--version", help="the version and the rule releases in use")] = False) -> None:
    """Intake of electronic invoices (XRechnung, ZUGFeRD / Factur-X)."""
    # both hold for this command only (a test runs many in one process)
    chosen = settings_files.DATA_DIR.set(data_dir)
    ctx.call_on_close(lambda: settings_files.DATA_DIR.reset(chosen))
    if version:
        _version()
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(2)
    if ctx.invoked_subcommand not in CREATES_DATABASE:
        creating = settings_files.MAY_CREATE.set(False)
        ctx.call_on_close(lambda: settings_files.MAY_CREATE.reset(creating))


@contextmanager
def context(config: Path | None) -> Iterator[Context]:
    """Settings and database for one command; library errors become a clean message."""
    from sqlalchemy.exc import DBAPIError

    from einvoice.config import load_settings
    from einvoice.context import NoDatabase, open_context
    from einvoice.lifecycle import NotPermitted
    from einvoice.store.db import sqlite_file
    from einvoice.store.shared import adopt_umask

    try:
        settings = load_settings(config)
        adopt_umask(settings.data_dir)
        ctx = open_context(settings)
    except NoDatabase as exc:
        if sqlite_file(settings.db_url) is None:
            fail(str(exc))
        fail(f"{exc.where} ({settings_files.data_dir_origin(config)}): {exc.hint}")
    except EinvoiceError as exc:
        fail(str(exc))
    try:
        yield ctx
    except NotPermitted as exc:
        fail(str(exc), NOT_PERMITTED)
    except EinvoiceError as exc:
        fail(str(exc))
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
            raise
        fail(f"the database refused this login ({str(exc.orig).splitlines()[0]}): an admin "
             "registers it with `einvoice staff add`", NOT_PERMITTED)
    finally:
        ctx.close()


@contextmanager
def reading(config: Path | None) -> Iterator[Context]:
    """A context for a read: the account running it must be on the staff register."""
    from einvoice.lifecycle import Role

    with as_staff(config, Role.VIEWER, "reading") as ctx:
        yield ctx


@contextmanager
def as_staff(config: Path | None, needed: Role, doing: str) -> Iterator[Context]:
    """A context for a command only staff holding ``needed`` may run."""
    from einvoice.approval import identity, staff

    with context(config) as ctx:
        staff.require_role(ctx, identity.current_login(ctx), needed, doing)
        yield ctx


def echo(text: str) -> None:
    """Plain lines (no wrapping, no markup) that may quote foreign text: controls shown."""
    typer.echo(visible(text))


def emit_json(data: Any) -> None:
    """JSON for scripts; a control or bidi character in a value is written ``\\uXXXX``."""
    typer.echo(json_visible(json.dumps(data, ensure_ascii=False, indent=2, default=str)))


Scalar = str | int | float | None  # bool is an int


def _element(row: Mapping[str, Scalar]) -> str:
    """A flat object as ``emit_json`` writes it inside a list: each line two spaces deeper."""
    if not row:
        return "  {}"
    flat = json.dumps(row, ensure_ascii=False, separators=(",\n    ", ": "))
    return "  {\n    " + flat[1:-1] + "\n  }"


def emit_json_rows(rows: Iterable[Mapping[str, Scalar]], batch: int = 256) -> None:
    """``emit_json(list(rows))`` byte for byte, written while the rows come (``batch`` at a
    time): a list of any length in constant memory, its first rows at once. Each row is a flat
    object, which the C encoder writes with the separators of ``indent=2`` (the same text,
    several times faster than ``indent=2``, which only the pure-Python encoder writes)."""
    opened, chunk = False, []
    for row in rows:
        chunk.append(("," if opened else "[") + "\n" + _element(row))
        opened = True
        if len(chunk) == batch:
            typer.echo(json_visible("".join(chunk)), nl=False)
            chunk.clear()
    chunk.append("\n]" if opened else "[]")
    typer.echo(json_visible("".join(chunk)))


