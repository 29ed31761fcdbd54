"""The ``einvoice`` command: a thin Typer shell, one module per command group.

Each module registers its commands on the shared ``app`` when imported; a command body parses
its options, calls one library function and prints.
"""

# importing a module registers its commands; this order is the order of `einvoice --help`
from einvoice.cli import documents, validate  # noqa: F401, I001
from einvoice.cli import approval, audit, staff, suppliers  # noqa: F401
from einvoice.cli import payments  # noqa: F401
from einvoice.cli import export, mail, http, service, rules  # noqa: F401
from einvoice.cli import demo  # noqa: F401
from einvoice.cli.common import app

__all__ = ["app"]
