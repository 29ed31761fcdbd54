"""``einvoice serve``: the upload API and page for suppliers."""

from __future__ import annotations

from typing import Annotated

import typer

from einvoice.cli.common import ConfigOpt, app, fail
from einvoice.errors import EinvoiceError


@app.command()
def serve(host: Annotated[str | None, typer.Option(help="default: settings `http_host`")] = None,
          port: Annotated[int | None, typer.Option(help="default: settings `http_port`")] = None,
          config: ConfigOpt = None) -> None:
    """Run the upload API and the supplier upload page (uvicorn)."""
    import uvicorn

    from einvoice.config import load_settings
    from einvoice.intake.http import create_app

    try:
        settings = load_settings(config)
    except EinvoiceError as exc:
        fail(str(exc))
    uvicorn.run(create_app(settings), host=host or settings.http_host,
                port=port or settings.http_port)
