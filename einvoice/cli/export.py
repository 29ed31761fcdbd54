"""``einvoice export``: the batch for accounting (DATEV + neutral + originals)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from einvoice.approval import identity
from einvoice.cli.common import ConfigOpt, JsonOpt, app, console, context, emit_json, err, fail
from einvoice.export.batch import ExportResult, export, rewrite, verify
from einvoice.views.formatting import plain


def _show(result: ExportResult) -> None:
    for name in result.cleaned:
        err.print(f"removed unfinished batch folder {name}")
    for bid in result.lost:
        err.print(f"[yellow]batch {bid}: folder missing[/yellow] "
                  f"(einvoice export --batch {bid} --rewrite)")
    for refusal in result.refused:
        err.print(f"[red]invoice {refusal.invoice_id} not exported:[/red] {refusal.reason}")
    if result.dry_run:
        table = Table("id", "number", "seller", "type", "gross", "Konto", "Gegenkonto", "KOST1")
        for p in result.planned:
            table.add_row(str(p.invoice_id), p.number or "", p.seller or "", p.type_code or "",
                          f"{p.gross_total} {p.currency or ''}", p.creditor, p.account,
                          p.cost_centre or "")
        console.print(table)
        console.print(f"{len(result.planned)} invoices would be exported (dry run: nothing "
                      "written)")
        return
    if result.batch_id is None:
        console.print("nothing to export")
        return
    verb = "rewritten" if result.rewritten else "exported"
    console.print(f"batch {result.batch_id} {verb}: {len(result.invoice_ids)} invoices, "
                  f"total {plain(result.gross_total)} → {result.folder}")


def _show_check(batch: int, problems: list[str], as_json: bool) -> None:
    """What ``export --batch ID`` found; exit code 1 when the folder is damaged."""
    if as_json:
        emit_json({"batch_id": batch, "ok": not problems, "problems": problems})
    else:
        for p in problems:
            err.print(p)
        console.print(f"batch {batch}: " + ("complete" if not problems else
                                            f"{len(problems)} problems"))
    if problems:
        raise typer.Exit(1)


@app.command("export")
def export_(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would go")] = False,
    batch: Annotated[int | None, typer.Option("--batch", help="a recorded batch: check its "
                                              "folder (with --rewrite: write it again)")] = None,
    rewrite_: Annotated[bool, typer.Option("--rewrite", help="write the batch given by --batch "
                                           "again, byte for byte")] = False,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Export approved invoices to accounting: one new batch folder (exactly once)."""
    if rewrite_ and batch is None:
        fail("--rewrite needs --batch ID")
    with context(config) as ctx:
        actor = identity.current_login(ctx)
        if batch is not None and not rewrite_:
            _show_check(batch, verify(ctx, batch), as_json)
            return
        result = rewrite(ctx, batch) if batch is not None else export(ctx, actor,
                                                                      dry_run=dry_run)
    if as_json:
        emit_json(result.to_json())
    else:
        _show(result)
