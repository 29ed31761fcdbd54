"""Service commands: ``einvoice run``, ``einvoice status`` and ``einvoice report``."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from einvoice.cli.common import ConfigOpt, JsonOpt, app, console, context, emit_json, fail
from einvoice.errors import EinvoiceError


@app.command()
def run(config: ConfigOpt = None,
        log_json: Annotated[bool, typer.Option("--log-json", envvar="EINVOICE_LOG_JSON",
                                               help="log JSON lines")] = False,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logs")] = False,
        ) -> None:
    """Run the service: poll mailboxes and drop folders, send notices, export nightly,
    and serve the upload app if `serve_http` is set. SIGTERM stops it cleanly."""
    import logging

    from einvoice.config import load_settings
    from einvoice.scheduler.logs import configure_logging
    from einvoice.scheduler.service import run_service

    configure_logging(log_json, logging.DEBUG if verbose else logging.INFO)
    try:
        run_service(load_settings(config))
    except EinvoiceError as exc:
        fail(str(exc))


@app.command()
def status(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Last run of each job, queue sizes, last export and recent errors."""
    from einvoice.views.status import service_status, status_view

    with context(config) as ctx:
        data = service_status(ctx)
    if as_json:
        emit_json(data)
        return
    for part in status_view(data):
        console.print(part, highlight=False)


def _date(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        fail(f"not a date (YYYY-MM-DD): {value}")


@app.command()
def report(since: Annotated[str | None, typer.Option(help="from YYYY-MM-DD; default: 30 days "
                                                     "ago")] = None,
           output: Annotated[Path, typer.Option("--output", "-o")] = Path("report.html"),
           config: ConfigOpt = None) -> None:
    """The overview for the head of finance: a self-contained HTML page with charts."""
    from einvoice.views.report import write_report

    start = _date(since) if since else date.today() - timedelta(days=30)
    with context(config) as ctx:
        write_report(ctx, start, output)
    console.print(f"report written: {output}")
