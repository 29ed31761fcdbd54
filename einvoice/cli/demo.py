"""``einvoice demo``: the whole flow on two sample invoices, for a newcomer (``einvoice.demo``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from einvoice import settings_files
from einvoice.cli.common import app, console, err, fail
from einvoice.errors import EinvoiceError
from einvoice.views.terminal import compose


@app.command()
def demo(data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", metavar="DIR", help="the demo installation; default ./einvoice-demo "
        "(an earlier demo there is replaced, any other folder refused)")] = None) -> None:
    """Try it: intake, validation, approval and export of two sample invoices (one valid, one
    not) in a throwaway installation, with the commands that do the same."""
    from einvoice.demo import DEFAULT_DIR, environment_note, shown, tour

    folder = data_dir or settings_files.DATA_DIR.get() or DEFAULT_DIR
    note = environment_note()
    if note:
        err.print(compose(("note:", "yellow"), f" {note}"))
    steps, batch = tour(folder), None
    try:
        for number, step in enumerate(steps, 1):
            console.print(compose(("\n" + f"{number}. {step.title}", "bold")))
            for line in step.happened:
                console.print(f"   {line}")
            for command in step.commands:
                console.print(compose("   ", ("$", "dim"), f" {command}"))
            batch = step.where or batch
    except EinvoiceError as exc:
        fail(str(exc))
    finally:
        steps.close()
    console.print(f"\nThe export files are in {shown(batch or folder / 'exports')}/; the demo "
                  f"installation stays in {shown(folder)}/ until the next `einvoice demo` "
                  "replaces it.")
