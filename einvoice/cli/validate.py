"""``einvoice validate``: the KoSIT-like command line, without a database."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from einvoice.cli.common import ConfigOpt, app, console, echo, emit_json, fail
from einvoice.errors import EinvoiceError

if TYPE_CHECKING:  # the validation stack loads only when the command runs
    from einvoice.validation.findings import Report


class ReportFormat(StrEnum):
    text = "text"
    json = "json"
    html = "html"


def _write_reports(reports: list[Report], fmt: ReportFormat, output: Path | None) -> None:
    from einvoice.validation.report import (
        report_html,
        report_json,
        report_json_text,
        report_text,
    )

    if fmt is ReportFormat.json and output is None:
        emit_json([report_json(r) for r in reports])
        return
    render: Callable[[Report], str] = {
        ReportFormat.text: report_text, ReportFormat.html: report_html,
        ReportFormat.json: report_json_text}[fmt]
    if output is None:
        if fmt is ReportFormat.html and len(reports) > 1:
            fail("--format html with several files needs --output DIR")
        echo("\n".join(render(r) for r in reports))
        return
    output.mkdir(parents=True, exist_ok=True)
    for r in reports:
        suffix = "txt" if fmt is ReportFormat.text else fmt.value
        target = output / f"{Path(r.source).name}.report.{suffix}"
        target.write_text(render(r) + "\n", encoding="utf-8")
        console.print(f"{r.verdict.value:<9} {r.source} → {target}")


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="XML or PDF files")],
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.text,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write one report "
                                                "per file into DIR")] = None,
    release: Annotated[str | None, typer.Option(help="check by this rule release (an id of "
                                                "`einvoice rules`); default: the one in force "
                                                "today")] = None,
    config: ConfigOpt = None,
) -> None:
    """Validate files like the KoSIT validator, without a database.

    Exit code 0: all accepted; 1: any rejected; 2: a processing error.
    """
    from einvoice.config import load_settings
    from einvoice.validation.report import exit_code
    from einvoice.validation.rulebook import rulebook_for

    try:
        settings = load_settings(config)
        book = rulebook_for(settings)
        book.release_for(release=release)  # an unknown id is a usage error, before any file
    except EinvoiceError as exc:
        fail(str(exc))
    reports = book.validate_files(files, settings.max_xml_bytes, release)
    _write_reports(reports, fmt, output)
    raise typer.Exit(exit_code(reports))
