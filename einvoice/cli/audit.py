"""``einvoice audit``: the auditor's commands over the hash-chained audit trail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from einvoice.cli.common import ConfigOpt, JsonOpt, app, console, context, emit_json, err
from einvoice.views.terminal import compose

audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("anchor")
def audit_anchor(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the anchor "
                                                "to this file (default: print it)")] = None,
    config: ConfigOpt = None,
) -> None:
    """The chain's head now, to keep outside the database (e.g. mailed to the auditors)."""
    from einvoice.approval import anchors
    from einvoice.store.durable import write_file

    with context(config) as ctx:
        data = anchors.take(ctx.engine)
    text = json.dumps(data, indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    write_file(output, text.encode())
    err.print(f"anchor written to {output}: {data['events']} events, newest "
              f"{data['event_id']} ({data['hash']})")


@audit_app.command("verify")
def audit_verify(
    anchor: Annotated[list[Path] | None, typer.Option(
        "--anchor", help="an anchor file (from `audit anchor`) or a kept export manifest; "
        "repeatable")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the hash chain against the anchors (the files given and the manifests in the
    export folder); exit code 1 when an event was edited, inserted, deleted or reordered."""
    from einvoice.approval import anchors, audit
    from einvoice.export.batch import manifest_anchors

    with context(config) as ctx:
        pins = [anchors.load(p) for p in anchor or []]
        pins += [anchors.Anchor(src, head) for src, head in manifest_anchors(ctx)]
        check = audit.verify(ctx.engine, pins)
    if as_json:
        emit_json({"ok": check.ok, "events": check.events, "broken_at": check.broken_at,
                   "problem": check.problem, "anchors": check.anchors,
                   "anchored": check.anchored, "anchor": check.anchor})
    elif check.ok:
        console.print(f"audit trail intact: {check.events} events, {check.anchored} of them "
                      f"vouched for by {check.anchors} anchors")
    else:
        where = "" if check.broken_at is None else f" at event {check.broken_at}"
        err.print(compose((f"audit trail broken{where}:", "red"), f" {check.problem}"))
    if not check.ok:
        raise typer.Exit(1)
