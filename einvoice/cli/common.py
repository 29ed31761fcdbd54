"""What every ``einvoice`` command shares: the Typer app, consoles, options, error handling."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from einvoice.config import load_settings
from einvoice.context import Context, open_context
from einvoice.errors import EinvoiceError

app = typer.Typer(help="Intake of electronic invoices (XRechnung, ZUGFeRD / Factur-X).",
                  no_args_is_help=True, pretty_exceptions_enable=False)
console = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", envvar="EINVOICE_CONFIG",
                                                help="TOML settings file")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


@contextmanager
def context(config: Path | None) -> Iterator[Context]:
    """Settings and database for one command; library errors become a clean message."""
    try:
        ctx = open_context(load_settings(config))
    except EinvoiceError as exc:
        fail(str(exc))
    try:
        yield ctx
    except EinvoiceError as exc:
        fail(str(exc))
    finally:
        ctx.close()


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


