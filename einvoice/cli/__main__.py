"""``python -m einvoice.cli``: the same command as the installed ``einvoice``."""

from einvoice.cli import app

app()
