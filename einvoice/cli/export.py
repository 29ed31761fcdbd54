"""``einvoice export``: the batch for accounting (DATEV + neutral + originals)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from einvoice.cli.common import ConfigOpt, JsonOpt, app, console, context, emit_json, err, fail
from einvoice.views.terminal import compose

if TYPE_CHECKING:  # the export and the views load when the command runs
    from einvoice.export.batch import ExportResult
    from einvoice.export.plan import Planned
    from einvoice.views.terminal import SafeTable


def _invoices(n: int) -> str:
    from einvoice.views.formatting import count

    return count(n, "invoice", "invoices")


def _planned(planned: list[Planned]) -> SafeTable:
    """The dry run in 80 columns: the document type below the number, the DATEV booking
    (Konto → Gegenkonto, KOST1 below) in one column; amounts in German money."""
    from einvoice.views.formatting import count, money
    from einvoice.views.labels import code
    from einvoice.views.tables import amount, fixed, reference, table, text
    from einvoice.views.terminal import stack

    n = count(len(planned), "Rechnung / invoice", "Rechnungen / invoices")
    out = table(f"Export, Probelauf / dry run: {n}",
                fixed("ID", right=True), reference("Nummer / Typ"),
                text("Verkäufer / seller", min_width=10), amount("Brutto"),
                fixed("Konto → Gegenkonto"))
    for p in planned:
        booking = f"{p.creditor} → {p.account}"
        out.add_row(str(p.invoice_id),
                    stack(p.number, p.type_code and code("BT-3", p.type_code)),
                    p.seller or "", money(p.gross_total, p.currency),
                    stack(booking, p.cost_centre and f"KOST1 {p.cost_centre}"))
    return out


def _show(result: ExportResult) -> None:
    from einvoice.views.formatting import money

    for name in result.cleaned:
        err.print(f"removed unfinished batch folder {name}")
    for bid in result.lost:
        err.print(compose((f"batch {bid}: folder missing", "yellow"),
                          f" (einvoice export --batch {bid} --rewrite)"))
    for refusal in result.refused:
        err.print(compose((f"invoice {refusal.invoice_id} not exported:", "red"),
                          f" {refusal.reason}"))
    if result.dry_run:
        console.print(_planned(result.planned))
        console.print(f"{_invoices(len(result.planned))} would be exported (dry run: nothing "
                      "written)")
        return
    if result.batch_id is None:
        console.print("nothing to export")
        return
    verb = "rewritten" if result.rewritten else "exported"
    console.print(f"batch {result.batch_id} {verb}: {_invoices(len(result.invoice_ids))}, "
                  f"total {money(result.gross_total, 'EUR')}", highlight=False)
    # the folder on a line of its own, never broken (the terminal wraps it, a copy is whole)
    console.print(f"→ {result.folder}", soft_wrap=True)


def _show_check(batch: int, problems: list[str], as_json: bool) -> None:
    """What ``export --batch ID`` found; exit code 1 when the folder is damaged."""
    from einvoice.views.formatting import count

    if as_json:
        emit_json({"batch_id": batch, "ok": not problems, "problems": problems})
    else:
        for p in problems:
            err.print(p)
        console.print(f"batch {batch}: " + ("complete" if not problems else
                                            count(len(problems), "problem", "problems")))
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
    from einvoice.approval import identity
    from einvoice.export.batch import export, rewrite, verify

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
