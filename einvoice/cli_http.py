"""HTTP commands: ``einvoice serve`` and ``einvoice supplier token create / revoke``."""

from __future__ import annotations

from typing import Annotated

import typer

from einvoice.cli_common import ConfigOpt, app, console, context, fail
from einvoice.cli_workflow import supplier_app
from einvoice.config import load_settings
from einvoice.errors import EinvoiceError

token_app = typer.Typer(help="API tokens suppliers upload invoices with.", no_args_is_help=True)
supplier_app.add_typer(token_app, name="token")


@app.command()
def serve(host: Annotated[str | None, typer.Option(help="default: settings `http_host`")] = None,
          port: Annotated[int | None, typer.Option(help="default: settings `http_port`")] = None,
          config: ConfigOpt = None) -> None:
    """Run the upload API and the supplier upload page (uvicorn)."""
    import uvicorn

    from einvoice.intake.http import create_app

    try:
        settings = load_settings(config)
    except EinvoiceError as exc:
        fail(str(exc))
    uvicorn.run(create_app(settings), host=host or settings.http_host,
                port=port or settings.http_port)


@token_app.command("create")
def token_create(supplier: Annotated[int, typer.Option("--supplier", help="supplier id")],
                 label: Annotated[str | None, typer.Option(help="what the token is for")] = None,
                 config: ConfigOpt = None) -> None:
    """Create an upload token; it is printed once and cannot be shown again."""
    from einvoice.tokens import create_token

    with context(config) as ctx:
        token_id, token = create_token(ctx, supplier, label)
    console.print(f"token {token_id} for supplier {supplier} (shown only now):", highlight=False)
    typer.echo(token)


@token_app.command("revoke")
def token_revoke(token_id: int, config: ConfigOpt = None) -> None:
    """Revoke an upload token; uploads with it are refused from now on."""
    from einvoice.tokens import revoke_token

    with context(config) as ctx:
        revoke_token(ctx, token_id)
    console.print(f"token {token_id} revoked")
