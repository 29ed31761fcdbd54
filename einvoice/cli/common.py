"""What every ``einvoice`` command shares: the Typer app, consoles, options, error handling,
and who is acting (exit code 3 when the account may not do what it asked)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from sqlalchemy.exc import DBAPIError

from einvoice.approval import identity, staff
from einvoice.config import load_settings
from einvoice.context import Context, open_context
from einvoice.errors import EinvoiceError
from einvoice.lifecycle import NotPermitted, Role
from einvoice.store.shared import adopt_umask

app = typer.Typer(help="Intake of electronic invoices (XRechnung, ZUGFeRD / Factur-X).",
                  no_args_is_help=True, pretty_exceptions_enable=False)
console = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", envvar="EINVOICE_CONFIG",
                                                help="TOML settings file")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
NOT_PERMITTED = 3  # exit code: unknown, disabled or insufficient account
INSUFFICIENT_PRIVILEGE = "42501"  # PostgreSQL: a login role without the grants staff get


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


@contextmanager
def context(config: Path | None) -> Iterator[Context]:
    """Settings and database for one command; library errors become a clean message."""
    try:
        settings = load_settings(config)
        adopt_umask(settings.data_dir)
        ctx = open_context(settings)
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
    with as_staff(config, Role.VIEWER, "reading") as ctx:
        yield ctx


@contextmanager
def as_staff(config: Path | None, needed: Role, doing: str) -> Iterator[Context]:
    """A context for a command only staff holding ``needed`` may run."""
    with context(config) as ctx:
        staff.require_role(ctx, identity.current_login(ctx), needed, doing)
        yield ctx


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


