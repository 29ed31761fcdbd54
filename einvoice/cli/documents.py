"""Documents in the database: ``init``, ``scan``, ``ingest``, ``list``, ``show`` (the last two
for anyone on the staff register)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from einvoice.cli.common import (
    ConfigOpt,
    JsonOpt,
    app,
    console,
    context,
    emit_json,
    emit_json_rows,
    err,
    fail,
    reading,
)
from einvoice.lifecycle import Status
from einvoice.views.terminal import compose

if TYPE_CHECKING:  # the intake and validation stacks load only for the commands that use them
    from einvoice.intake.folder import FileResult


@app.command()
def init(group: Annotated[str | None, typer.Option(help="OS group whose members share the data "
                                                   "directory (setgid, group-writable)")] = None,
         config: ConfigOpt = None) -> None:
    """Create (or upgrade) the database and the data folders.

    Whoever initialises an empty staff register becomes its first admin."""
    from einvoice.approval import identity, staff
    from einvoice.store.shared import SHARED_UMASK, group_id, share

    if group is not None:
        os.umask(SHARED_UMASK)
    with context(config) as ctx:
        folders = [ctx.settings.data_dir, ctx.archive.root, ctx.settings.export_path,
                   ctx.settings.inbox_dir]
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
        if group is not None:
            share(folders, group_id(group))
        console.print(f"database ready: {ctx.engine.url.render_as_string(hide_password=True)}")
        login = identity.current_login(ctx)
        if staff.bootstrap(ctx, login, identity.full_name(login)):
            console.print(f"{login} is the first admin (einvoice staff add LOGIN --name TEXT "
                          "--role viewer|approver|admin registers the others)")


def _report(results: list[FileResult], as_json: bool) -> None:
    from einvoice.views.formatting import count

    if as_json:
        emit_json([{"path": str(r.path), "ok": r.ok, "error": r.error,
                    "moved_to": str(r.moved_to) if r.moved_to else None,
                    "documents": [o.__dict__ for o in (r.result.outcomes if r.result else [])]}
                   for r in results])
        return
    docs = [o for r in results if r.result for o in r.result.outcomes]
    new = sum(o.new for o in docs)
    duplicates = sum(o.status == Status.DUPLICATE for o in docs)
    console.print(f"{count(len(results), 'Datei', 'Dateien')}, "
                  f"{count(len(docs), 'Dokument', 'Dokumente')} ({new} neu, "
                  f"{len(docs) - new} schon bekannt), "
                  f"{sum(o.status == Status.QUARANTINED for o in docs)} nicht lesbar, "
                  f"{count(duplicates, 'Duplikat', 'Duplikate')}", highlight=False)
    for r in results:
        if not r.ok:
            err.print(compose((str(r.path), "yellow"), f": {r.problem}"))


def _run(results: Iterator[FileResult], total: int, as_json: bool) -> None:
    from rich.progress import Progress

    done: list[FileResult] = []
    with Progress(console=err, transient=True, disable=as_json or total < 2) as bar:
        task = bar.add_task("ingest", total=total)
        for res in results:
            done.append(res)
            bar.advance(task)
    _report(done, as_json)
    if any(r.error for r in done):
        raise typer.Exit(1)


@app.command()
def ingest(paths: Annotated[list[Path], typer.Argument(help="files or folders", exists=True)],
           config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Ingest files (folders recursively); the files stay where they are."""
    from einvoice.intake.folder import ingest_files, iter_files

    with context(config) as ctx:
        files = [f for p in paths for f in iter_files(p)]
        _run(ingest_files(ctx, files, "cli", ctx.settings.workers), len(files), as_json)


@app.command()
def scan(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Process the drop folders; files move to processed/ or failed/ after the commit."""
    from einvoice.intake.folder import pending_files
    from einvoice.intake.folder import scan as scan_folder

    with context(config) as ctx:
        folders = ctx.settings.folders
        total = sum(len(pending_files(f.path, ctx.settings.settle_seconds)) for f in folders)
        results = (res for f in folders for res in scan_folder(ctx, f, ctx.settings.workers))
        _run(results, total, as_json)


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        fail(f"not a date (YYYY-MM-DD): {value}")


@app.command("list")
def list_(
    status: Annotated[list[Status] | None, typer.Option(
        "--status", "-s", metavar="STATUS", help="repeatable; one of " + ", ".join(Status),
        show_default=False)] = None,
    seller: Annotated[str | None, typer.Option(help="seller name or VAT id contains")] = None,
    since: Annotated[str | None, typer.Option("--from", help="issue date from YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option("--to", help="issue date to YYYY-MM-DD")] = None,
    text: Annotated[str | None, typer.Option("--search", "-q", help="free text")] = None,
    limit: Annotated[int | None, typer.Option(help="at most N rows (table default 100)")] = None,
    before: Annotated[int | None, typer.Option(
        metavar="ID", help="only invoices with a lower id: the next page after the one that "
        "ended at ID")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List invoices, newest first (every status unless filtered)."""
    from einvoice.views.listing import listed_json
    from einvoice.views.queries import ListFilter, list_invoices, stream_invoices

    flt = ListFilter(status=[str(s) for s in status or []] or None, seller=seller,
                     date_from=_parse_date(since),
                     date_to=_parse_date(until), text=text,
                     limit=limit if limit is not None else (None if as_json else 100),
                     before=before)
    with reading(config) as ctx:
        if as_json:  # written while the rows arrive: every invoice in constant memory
            emit_json_rows(listed_json(row) for row in stream_invoices(ctx, flt))
            return
        rows = list_invoices(ctx, flt)
    from einvoice.views.tables import invoice_table

    console.print(invoice_table(rows))


@app.command()
def show(invoice_id: Annotated[int, typer.Argument(help="invoice id from `einvoice list`")],
         config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """One invoice: header, parties, payment, totals, VAT breakdown, lines, attachments."""
    from einvoice.approval import steps
    from einvoice.validation.report import finding_json
    from einvoice.views.caseview import case_view
    from einvoice.views.formatting import plain
    from einvoice.views.listing import summary
    from einvoice.views.queries import event_summary, get_case, signed_summary

    with reading(config) as ctx:
        case = get_case(ctx, invoice_id)
        inv = case.invoice
        plan = steps.plan(ctx.settings, inv.office, inv.gross_total, inv.currency)
        waits = steps.next_steps(ctx, [inv]).get(invoice_id)
    if as_json:
        data = summary(inv, case.document)
        data["findings"] = [finding_json(f) for f in case.findings]
        data["flags"] = case.flags
        data["history"] = [event_summary(ev) for ev in case.events]
        data.update(office=inv.office, account=inv.account, cost_centre=inv.cost_centre,
                    pay_by=inv.pay_by, skonto_until=inv.skonto_until,
                    skonto_percent=plain(inv.skonto_percent), note=inv.note,
                    approvals=[signed_summary(s) for s in case.signed],
                    next_step=waits if inv.status in (Status.PENDING, Status.ON_HOLD) else None)
        data["invoice"] = case.model.model_dump(mode="json") if case.model else None
        emit_json(data)
    else:
        console.print(case_view(case, ctx.settings.zone, plan))
