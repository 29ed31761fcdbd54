"""Approval commands for finance staff: inbox, approve, reject, hold, release, reassign, assign,
close, view, history. The acting person is the authenticated account (``approval.identity``),
never a name given here; an admin acts for an absent colleague with ``--on-behalf-of LOGIN
--reason TEXT``. Exit codes: 1 refused by the rules, 3 not permitted to this account."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from einvoice.cli.common import (
    NOT_PERMITTED,
    ConfigOpt,
    JsonOpt,
    app,
    console,
    context,
    emit_json,
    err,
    reading,
)
from einvoice.views.terminal import compose

if TYPE_CHECKING:  # the workflow and the views load when a command runs
    from einvoice.approval.workflow import Change, OnBehalf
    from einvoice.notify.outbox import SendReport

ForOpt = Annotated[str | None, typer.Option(
    "--on-behalf-of", metavar="LOGIN", help="admins only: act for this absent colleague "
    "(needs --reason; recorded in the audit trail)")]
WhyOpt = Annotated[str | None, typer.Option(
    "--reason", help="why (required with --on-behalf-of; kept in the audit trail)")]


def on_behalf(login: str | None, reason: str | None) -> OnBehalf | None:
    from einvoice.approval.workflow import OnBehalf

    return None if login is None else OnBehalf(login, reason or "")


def _done(change: Change, message: str | None = None) -> None:
    """The change in words, the statuses as staff read them."""
    from einvoice.views.labels import status_words

    before, after = status_words(change.before).de, status_words(change.after).de
    console.print(f"{message or change.message} ({before} → {after})" if before != after
                  else f"{message or change.message} ({after})", highlight=False)


def _notices(report: SendReport) -> str:
    from einvoice.views.formatting import count

    if not report.configured:
        return (f"{count(report.pending, 'Nachricht', 'Nachrichten')} an Lieferanten "
                "gespeichert, nicht gesendet (SMTP nicht eingerichtet) / notices recorded, "
                "not sent (no SMTP settings)")
    text = (f"{count(report.sent, 'Nachricht', 'Nachrichten')} gesendet, "
            f"{report.failed} fehlgeschlagen / notices sent, failed")
    return text + "".join(f"\n  {e}" for e in report.errors)


@app.command("inbox")
def inbox_(office: Annotated[str | None, typer.Option(help="default: settings `office`; "
                                                      "'*' for every office")] = None,
           limit: Annotated[int, typer.Option(help="at most N rows")] = 50,
           config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Invoices awaiting a decision, the most urgent (Skonto, then due date) first."""
    from einvoice.approval import steps
    from einvoice.views.listing import summary
    from einvoice.views.queries import inbox
    from einvoice.views.tables import inbox_table

    with reading(config) as ctx:
        mine = office or ctx.settings.office
        rows = inbox(ctx, None if mine == "*" else mine, limit)
        upcoming = steps.next_steps(ctx, [r.invoice for r in rows])
    if as_json:
        emit_json([{**summary(r.invoice, r.document), "pay_by": r.invoice.pay_by,
                    "skonto_until": r.invoice.skonto_until, "office": r.office,
                    "flags": r.flags, "next_step": upcoming.get(r.invoice.id or 0)}
                   for r in rows])
    else:
        console.print(inbox_table(rows))


@app.command()
def approve(ids: Annotated[list[int], typer.Argument(help="one or more invoice ids")],
            step: Annotated[str | None, typer.Option(help="the municipal step to sign "
                                                     "(sachlich, rechnerisch, anordnung) where "
                                                     "the office requires steps")] = None,
            yes: Annotated[bool, typer.Option("--yes", "-y", help=(
                "no confirmation prompt for several invoices"))] = False,
            for_: ForOpt = None, reason: WhyOpt = None, config: ConfigOpt = None) -> None:
    """Approve invoices (above the four-eyes threshold a second person must approve too).

    Where the office requires the municipal steps, sign the next one with --step."""
    from einvoice.approval import identity, workflow
    from einvoice.approval.workflow import WorkflowError
    from einvoice.lifecycle import NotPermitted

    with context(config) as ctx:
        person = identity.current_login(ctx)
        if len(ids) > 1 and not yes:
            typer.confirm(f"Approve {len(ids)} invoices as {person}?", abort=True)
        refused = set()
        for invoice_id in ids:
            try:
                _done(workflow.approve(ctx, invoice_id, person, step,
                                       on_behalf=on_behalf(for_, reason)))
            except (WorkflowError, NotPermitted) as exc:
                refused.add(NOT_PERMITTED if isinstance(exc, NotPermitted) else 1)
                err.print(compose(("not approved:", "red"), f" {exc}"))
    if refused:
        raise typer.Exit(max(refused))


@app.command()
def reject(invoice_id: int, reason: Annotated[str, typer.Option(help="sent to the supplier")],
           for_: ForOpt = None, config: ConfigOpt = None) -> None:
    """Reject an invoice; the reason is required and sent to the supplier."""
    from einvoice.approval import identity, workflow
    from einvoice.notify import outbox as notify

    with context(config) as ctx:
        _guarded(lambda: workflow.reject(ctx, invoice_id, identity.current_login(ctx), reason,
                                         on_behalf=on_behalf(for_, reason)))
        console.print(_notices(notify.send_pending(ctx)), highlight=False)


@app.command()
def close(invoice_id: int, reason: Annotated[str, typer.Option(help="why it is closed")],
          for_: ForOpt = None, config: ConfigOpt = None) -> None:
    """Close an invalid, duplicate or quarantined document (kept, audited, out of the way)."""
    from einvoice.approval import identity, workflow

    with context(config) as ctx:
        _guarded(lambda: workflow.close(ctx, invoice_id, identity.current_login(ctx), reason,
                                        on_behalf=on_behalf(for_, reason)))


@app.command()
def hold(invoice_id: int, note: Annotated[str, typer.Option(help="why it waits")],
         for_: ForOpt = None, reason: WhyOpt = None, config: ConfigOpt = None) -> None:
    """Put an invoice on hold with a note (`release` makes it pending again)."""
    from einvoice.approval import identity, workflow

    with context(config) as ctx:
        _guarded(lambda: workflow.hold(ctx, invoice_id, identity.current_login(ctx), note,
                                       on_behalf=on_behalf(for_, reason)))


@app.command()
def release(invoice_id: int, for_: ForOpt = None, reason: WhyOpt = None,
            config: ConfigOpt = None) -> None:
    """Take an invoice off hold."""
    from einvoice.approval import identity, workflow

    with context(config) as ctx:
        _guarded(lambda: workflow.release(ctx, invoice_id, identity.current_login(ctx),
                                          on_behalf=on_behalf(for_, reason)))


@app.command()
def reassign(invoice_id: int, office: Annotated[str, typer.Option(help="receiving office")],
             reason: WhyOpt = None, for_: ForOpt = None, config: ConfigOpt = None) -> None:
    """Hand an invoice to another office."""
    from einvoice.approval import identity, workflow

    with context(config) as ctx:
        _guarded(lambda: workflow.reassign(ctx, invoice_id, identity.current_login(ctx), office,
                                           reason, on_behalf=on_behalf(for_, reason)))


@app.command()
def assign(invoice_id: int,
           account: Annotated[str | None, typer.Option(help="G/L account")] = None,
           cost_centre: Annotated[str | None, typer.Option("--cost-centre")] = None,
           line: Annotated[int | None, typer.Option(help="line position (1, 2, …)")] = None,
           for_: ForOpt = None, reason: WhyOpt = None, config: ConfigOpt = None) -> None:
    """Set G/L account and cost centre of an invoice or of one line."""
    from einvoice.approval import identity, workflow

    booked = ", ".join(f"{label} {value}" for label, value in (
        ("Konto", account), ("Kostenstelle", cost_centre)) if value)
    where = f"Rechnung {invoice_id}" + (f", Position {line}" if line is not None else "")
    with context(config) as ctx:
        _guarded(lambda: workflow.assign(ctx, invoice_id, identity.current_login(ctx), account,
                                         cost_centre, line, on_behalf=on_behalf(for_, reason)),
                 f"{where}: {booked}")


def _guarded(step: Callable[[], Change], message: str | None = None) -> None:
    from einvoice.approval.workflow import WorkflowError

    try:
        _done(step(), message)
    except WorkflowError as exc:
        err.print(compose(("refused:", "red"), f" {exc}"))
        raise typer.Exit(1) from exc


@app.command()
def view(invoice_id: int,
         output: Annotated[Path | None, typer.Option("--output", "-o", help="HTML file "
                                                     "(default: invoice-ID.html)")] = None,
         pdf: Annotated[bool, typer.Option("--pdf", help="also write a PDF beside it "
                                           "(headless Chromium)")] = False,
         config: ConfigOpt = None) -> None:
    """Write a readable HTML page of any document (German labels, BT ids; findings, the
    original of a duplicate, the file of an unreadable one), optionally a PDF."""
    from einvoice.approval import steps
    from einvoice.views.casepage import case_section
    from einvoice.views.chromium import html_to_pdf
    from einvoice.views.queries import get_case
    from einvoice.views.render import render_invoice_html

    with reading(config) as ctx:
        case = get_case(ctx, invoice_id)
        inv = case.invoice
        plan = steps.plan(ctx.settings, inv.office, inv.gross_total, inv.currency)
        page = render_invoice_html(case.model, case_section(case, ctx.settings.zone, plan))
        target = output or Path(f"invoice-{invoice_id}.html")
        target.write_text(page, encoding="utf-8")
        console.print(f"written: {target}")
        if pdf:
            html_to_pdf(target, target.with_suffix(".pdf"))
            console.print(f"written: {target.with_suffix('.pdf')}")


@app.command("history")
def history_(invoice_id: int, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Everything that happened to an invoice: who (and for whom), when, what, why, which step."""
    from einvoice.views.queries import event_summary, history, names_of
    from einvoice.views.tables import history_table

    with reading(config) as ctx:
        events = history(ctx, invoice_id)
        names = names_of(ctx)
    if as_json:
        emit_json([event_summary(ev) for ev in events])
    else:
        console.print(history_table(invoice_id, events, ctx.settings.zone, names))
