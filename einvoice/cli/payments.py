"""``einvoice paid``: record payments of exported invoices, by id or from a camt.053 bank
statement. The acting person is the authenticated account; recording a payment needs the
role the transition table names (approver). Exit codes: 1 a payment refused by the rules,
2 an unreadable statement or wrong options, 3 not permitted to this account."""

from __future__ import annotations

import textwrap
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from einvoice.cli.approval import ForOpt, WhyOpt, _done, on_behalf
from einvoice.cli.common import (
    NOT_PERMITTED,
    ConfigOpt,
    JsonOpt,
    app,
    as_staff,
    console,
    context,
    emit_json,
    err,
    fail,
)
from einvoice.views.terminal import compose, visible

if TYPE_CHECKING:  # the payments and the views load when the command runs
    from einvoice.approval.payments import Imported, LineResult


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--on {value!r}: not a date (YYYY-MM-DD)")


@app.command()
def paid(ids: Annotated[list[int] | None, typer.Argument(help="exported invoices that were "
                                                         "paid")] = None,
         on: Annotated[str | None, typer.Option("--on", metavar="DATE", help=(
             "the day they were paid, YYYY-MM-DD (default: today)"))] = None,
         statement: Annotated[Path | None, typer.Option(
             "--import", metavar="FILE", exists=True, dir_okay=False, help=(
                 "a camt.053 bank statement (XML): each debit that names exactly one "
                 "invoice and carries its amount records that payment"))] = None,
         dry_run: Annotated[bool, typer.Option("--dry-run", help=(
             "with --import: show what would be recorded, record nothing"))] = False,
         for_: ForOpt = None, reason: WhyOpt = None, config: ConfigOpt = None,
         as_json: JsonOpt = False) -> None:
    """Record that exported invoices were paid (by id, or matched in a bank statement)."""
    from einvoice.approval import identity
    from einvoice.approval.payments import local_today, pay
    from einvoice.approval.workflow import WorkflowError
    from einvoice.lifecycle import NotPermitted
    from einvoice.views.formatting import day

    if (statement is None) == (not ids):
        fail("give invoice ids or --import FILE (not both)")
    if statement is not None:
        if on is not None:
            fail("--on is for invoice ids; a statement's lines carry their booking date")
        _import(statement, dry_run, for_, reason, config, as_json)
        return
    if dry_run:
        fail("--dry-run is for --import")
    given = _day(on)
    refused: set[int] = set()
    done: list[dict[str, Any]] = []
    with context(config) as ctx:
        person = identity.current_login(ctx)
        paid_on = given or local_today(ctx)  # the day recorded is the day shown
        for invoice_id in ids or []:
            try:
                change = pay(ctx, invoice_id, person, paid_on,
                             on_behalf=on_behalf(for_, reason))
            except (WorkflowError, NotPermitted) as exc:
                refused.add(NOT_PERMITTED if isinstance(exc, NotPermitted) else 1)
                err.print(compose(("not paid:", "red"), f" {exc}"))
                continue
            done.append(asdict(change))
            if not as_json:  # the statuses in words, the day German (--json: as stored)
                _done(change, f"invoice {invoice_id} paid on {day(paid_on)}")
    if as_json:
        emit_json(done)
    if refused:
        raise typer.Exit(max(refused))


def _import(path: Path, dry_run: bool, for_: str | None, reason: str | None,
            config: Path | None, as_json: bool) -> None:
    from einvoice.approval import identity
    from einvoice.approval.payments import import_statement
    from einvoice.lifecycle import Role

    with as_staff(config, Role.APPROVER, "recording payments") as ctx:
        result = import_statement(ctx, path.read_bytes(), identity.current_login(ctx),
                                  dry_run=dry_run, on_behalf=on_behalf(for_, reason))
    if as_json:
        emit_json({"statements": result.statements, "sha256": result.sha256,
                   "lines": [_json(r) for r in result.results]})
        return
    for r in result.results:
        _echo(_text(r), indent=11)  # continued below the outcome
    _echo(_summary(result, dry_run))


def _echo(text: str, indent: int = 0) -> None:
    """Plain echo (bank text is foreign input: never markup, its controls shown), wrapped at
    words to the terminal: amounts (``1.234,50\xa0€``), dates and references stay whole."""
    typer.echo(textwrap.fill(visible(text, lines=False), console.width,
                             subsequent_indent=" " * indent, break_on_hyphens=False))


def _one_line(value: str | None) -> str:
    return " ".join((value or "").split())


def _text(r: LineResult) -> str:
    from einvoice.approval.payments import PAID, WOULD_PAY
    from einvoice.views.formatting import day, money

    ln = r.line
    what = " ".join(filter(None, [
        money(ln.amount, ln.currency) or None,
        f"on {day(ln.booking_date)}" if ln.booking_date else None,
        f"to {_one_line(ln.creditor)}" if ln.creditor else None,
        f"ref {_one_line(ln.end_to_end_id)}" if ln.end_to_end_id else None]))
    # a payment's message repeats the booking date (as stored); the line shows it already
    said = (f"invoice {r.invoice_ids[0]}" if r.outcome in (PAID, WOULD_PAY)
            else _one_line(r.message))
    return f"{r.outcome:<10} {_one_line(ln.where)}: {what} – {said}"


def _json(r: LineResult) -> dict[str, Any]:
    ln = r.line
    return {"line": ln.where, "outcome": r.outcome, "invoice_ids": list(r.invoice_ids),
            "message": r.message, "debit": ln.debit, "amount": None if ln.amount is None
            else str(ln.amount), "currency": ln.currency, "booking_date": ln.booking_date,
            "end_to_end_id": ln.end_to_end_id, "creditor": ln.creditor,
            "remittance": list(ln.unstructured) + list(ln.references)}


def _summary(result: Imported, dry_run: bool) -> str:
    from einvoice.approval.payments import PAID, WOULD_PAY
    from einvoice.views.formatting import count

    counts = {o: result.count(o) for o in
              (WOULD_PAY if dry_run else PAID, "refused", "ambiguous", "unmatched")}
    told = ", ".join(f"{n} {o}" for o, n in counts.items())
    lines = count(len(result.results), "line", "lines")
    return f"{lines}: {told}" + (" (dry run: nothing recorded)" if dry_run else "")
