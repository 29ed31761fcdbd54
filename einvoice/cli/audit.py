"""``einvoice audit``: the auditor's commands over the hash-chained audit trail."""

from __future__ import annotations

import typer

from einvoice.approval import audit
from einvoice.cli.common import ConfigOpt, JsonOpt, app, console, context, emit_json, err

audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Check the hash chain; exit code 1 when an event was edited, inserted or deleted."""
    with context(config) as ctx:
        check = audit.verify(ctx.engine)
    if as_json:
        emit_json({"ok": check.ok, "events": check.events, "broken_at": check.broken_at,
                   "problem": check.problem})
    elif check.ok:
        console.print(f"audit trail intact: {check.events} events")
    else:
        err.print(f"[red]audit trail broken at event {check.broken_at}:[/red] {check.problem}")
    if not check.ok:
        raise typer.Exit(1)
