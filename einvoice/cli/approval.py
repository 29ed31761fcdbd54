"""Approval commands for finance staff: inbox, approve, reject, hold, assign, view, history."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from einvoice.approval import workflow
from einvoice.approval.workflow import Change, WorkflowError
from einvoice.cli.common import ConfigOpt, JsonOpt, app, console, context, emit_json, err
from einvoice.context import Context
from einvoice.views.queries import event_summary, get_case, history, inbox, summary
from einvoice.views.tables import history_table, inbox_table

AsOpt = Annotated[str | None, typer.Option("--as", help="acting person (default: settings "
                                           "`user`, else the OS user)")]


def actor(ctx: Context, given: str | None) -> str:
    return given or ctx.settings.user or getpass.getuser()


def _done(change: Change) -> None:
    console.print(f"{change.message} ({change.before} → {change.after})")


@app.command("inbox")
def inbox_(office: Annotated[str | None, typer.Option(help="default: settings `office`; "
                                                      "'*' for every office")] = None,
           limit: Annotated[int, typer.Option(help="at most N rows")] = 50,
           config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Invoices awaiting a decision, the most urgent (Skonto, then due date) first."""
    with context(config) as ctx:
        mine = office or ctx.settings.office
        rows = inbox(ctx, None if mine == "*" else mine, limit)
    if as_json:
        emit_json([{**summary(r.invoice, r.document), "pay_by": r.invoice.pay_by,
                    "skonto_until": r.invoice.skonto_until, "office": r.invoice.office,
                    "flags": r.flags} for r in rows])
    else:
        console.print(inbox_table(rows))


@app.command()
def approve(ids: Annotated[list[int], typer.Argument(help="one or more invoice ids")],
            who: AsOpt = None, yes: Annotated[bool, typer.Option("--yes", "-y", help=(
                "no confirmation prompt for several invoices"))] = False,
            config: ConfigOpt = None) -> None:
    """Approve invoices (above the four-eyes threshold a second person must approve too)."""
    with context(config) as ctx:
        person = actor(ctx, who)
        if len(ids) > 1 and not yes:
            typer.confirm(f"Approve {len(ids)} invoices as {person}?", abort=True)
        failed = 0
        for invoice_id in ids:
            try:
                _done(workflow.approve(ctx, invoice_id, person))
            except WorkflowError as exc:
                failed += 1
                err.print(f"[red]not approved:[/red] {exc}")
    if failed:
        raise typer.Exit(1)


@app.command()
def reject(invoice_id: int, reason: Annotated[str, typer.Option(help="sent to the supplier")],
           who: AsOpt = None, config: ConfigOpt = None) -> None:
    """Reject an invoice; the reason is required and sent to the supplier."""
    from einvoice.notify import outbox as notify

    with context(config) as ctx:
        _guarded(lambda: workflow.reject(ctx, invoice_id, actor(ctx, who), reason))
        console.print(str(notify.send_pending(ctx)))


@app.command()
def hold(invoice_id: int, note: Annotated[str, typer.Option(help="why it waits")],
         who: AsOpt = None, config: ConfigOpt = None) -> None:
    """Put an invoice on hold with a note (`release` makes it pending again)."""
    with context(config) as ctx:
        _guarded(lambda: workflow.hold(ctx, invoice_id, actor(ctx, who), note))


@app.command()
def release(invoice_id: int, who: AsOpt = None, config: ConfigOpt = None) -> None:
    """Take an invoice off hold."""
    with context(config) as ctx:
        _guarded(lambda: workflow.release(ctx, invoice_id, actor(ctx, who)))


@app.command()
def reassign(invoice_id: int, office: Annotated[str, typer.Option(help="receiving office")],
             reason: Annotated[str | None, typer.Option()] = None, who: AsOpt = None,
             config: ConfigOpt = None) -> None:
    """Hand an invoice to another office."""
    with context(config) as ctx:
        _guarded(lambda: workflow.reassign(ctx, invoice_id, actor(ctx, who), office, reason))


@app.command()
def assign(invoice_id: int,
           account: Annotated[str | None, typer.Option(help="G/L account")] = None,
           cost_centre: Annotated[str | None, typer.Option("--cost-centre")] = None,
           line: Annotated[int | None, typer.Option(help="line position (1, 2, …)")] = None,
           who: AsOpt = None, config: ConfigOpt = None) -> None:
    """Set G/L account and cost centre of an invoice or of one line."""
    with context(config) as ctx:
        _guarded(lambda: workflow.assign(ctx, invoice_id, actor(ctx, who), account,
                                         cost_centre, line))


def _guarded(step: Callable[[], Change]) -> None:
    try:
        _done(step())
    except WorkflowError as exc:
        err.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(1) from exc


@app.command()
def view(invoice_id: int,
         output: Annotated[Path | None, typer.Option("--output", "-o", help="HTML file "
                                                     "(default: invoice-ID.html)")] = None,
         pdf: Annotated[bool, typer.Option("--pdf", help="also write a PDF beside it "
                                           "(headless Chromium)")] = False,
         config: ConfigOpt = None) -> None:
    """Write a readable HTML page of the invoice (German labels, BT ids), optionally a PDF."""
    from einvoice.views.chromium import html_to_pdf
    from einvoice.views.render import render_invoice_html

    with context(config) as ctx:
        case = get_case(ctx, invoice_id)
        if case.model is None:
            raise WorkflowError(f"invoice {invoice_id} is quarantined: {case.invoice.error}")
        page = render_invoice_html(
            case.model, status=case.invoice.status, verdict=case.invoice.verdict,
            findings=case.findings,
            source=case.document.filename)
        target = output or Path(f"invoice-{invoice_id}.html")
        target.write_text(page, encoding="utf-8")
        console.print(f"written: {target}")
        if pdf:
            html_to_pdf(target, target.with_suffix(".pdf"))
            console.print(f"written: {target.with_suffix('.pdf')}")


@app.command("history")
def history_(invoice_id: int, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Everything that happened to an invoice: who, when, what, why."""
    with context(config) as ctx:
        events = history(ctx, invoice_id)
    if as_json:
        emit_json([event_summary(ev) for ev in events])
    else:
        console.print(history_table(invoice_id, events, ctx.settings.zone))
