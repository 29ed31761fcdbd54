"""``einvoice mail poll``: fetch invoices from the configured IMAP mailboxes."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # the mail stack loads only when the command runs
    from rich.progress import TaskID

    from einvoice.intake.mail import MailboxReport

from einvoice.cli.approval import _notices
from einvoice.cli.common import ConfigOpt, JsonOpt, app, console, context, emit_json, err, fail
from einvoice.views.terminal import compose

mail_app = typer.Typer(help="IMAP mailboxes.", no_args_is_help=True)
app.add_typer(mail_app, name="mail")


@mail_app.command("poll")
def poll(
    mailbox: Annotated[str | None, typer.Option("--mailbox", "-m",
                                                help="only this mailbox")] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Process new messages; each is moved (or flagged) only after it is committed.

    Exit code 0: all processed; 1: a message failed or a mailbox could not be polled.
    """
    from rich.progress import Progress

    from einvoice.intake.mail import poll as poll_mailbox
    from einvoice.notify import outbox as notify

    with context(config) as ctx:
        boxes = [b for b in ctx.settings.mailboxes if mailbox in (None, b.name)]
        if not boxes:
            fail(f"no mailbox named {mailbox}" if mailbox else "no mailboxes configured")
        reports: list[MailboxReport] = []
        with Progress(console=err, disable=as_json, transient=True) as bar:
            for box in boxes:
                task = bar.add_task(box.name, total=None)

                def show(done: int, total: int, task: TaskID = task) -> None:
                    bar.update(task, completed=done, total=total)

                reports.append(poll_mailbox(ctx, box, show))
        sent = notify.send_pending(ctx)
    if as_json:
        emit_json([asdict(r) for r in reports])
    else:
        _show(reports, _notices(sent))
    if any(r.error or not all(m.ok for m in r.messages) for r in reports):
        raise typer.Exit(1)


def _show(reports: list[MailboxReport], notices: str) -> None:
    """One line a message (sender and subject are foreign input: never markup)."""
    for r in reports:
        for m in r.messages:
            colour = "green" if m.ok else "red"
            console.print(compose((f"{m.outcome:<10}", colour),
                                  f" {r.mailbox} UID {m.uid} {m.sender or '-'}: "
                                  f"{m.subject or '-'}"))
            if m.problem:
                console.print(f"           {m.problem}")
        if r.error:
            err.print(compose(("error:", "red"), f" {r.mailbox}: {r.error}"))
    console.print(notices)
