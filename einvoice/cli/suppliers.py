"""``einvoice supplier``: supplier master data and the suppliers' upload tokens (admins change
them; anyone on the staff register reads them)."""

from __future__ import annotations

from typing import Annotated

import typer

from einvoice.cli.common import ConfigOpt, JsonOpt, app, as_staff, console, emit_json, reading

supplier_app = typer.Typer(help="Supplier master data.", no_args_is_help=True)
app.add_typer(supplier_app, name="supplier")
token_app = typer.Typer(help="API tokens suppliers upload invoices with.", no_args_is_help=True)
supplier_app.add_typer(token_app, name="token")
# the IBANs on file decide which invoices look suspicious: kept apart from approving
MASTER_DATA = "changing supplier master data"


@supplier_app.command("add")
def supplier_add(name: Annotated[str, typer.Option()],
                 vat_id: Annotated[str | None, typer.Option("--vat-id")] = None,
                 iban: Annotated[list[str] | None, typer.Option(help="repeatable")] = None,
                 account: Annotated[str | None, typer.Option()] = None,
                 cost_centre: Annotated[str | None, typer.Option("--cost-centre")] = None,
                 creditor: Annotated[str | None, typer.Option(help="creditor account")] = None,
                 email: Annotated[str | None, typer.Option(help="the address notices about a "
                                                           "suspicious invoice go to")] = None,
                 config: ConfigOpt = None) -> None:
    """Add or update a supplier (matched by VAT id, else by name); IBANs are added."""
    from einvoice.approval.suppliers import SupplierData, save_supplier
    from einvoice.lifecycle import Role
    from einvoice.views.tables import supplier_table

    with as_staff(config, Role.ADMIN, MASTER_DATA) as ctx:
        row = save_supplier(ctx, SupplierData(name, vat_id, tuple(iban or ()), account,
                                              cost_centre, creditor, email))
    console.print(supplier_table([row]))


@supplier_app.command("list")
def supplier_list(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """The supplier master data."""
    from einvoice.approval.suppliers import suppliers
    from einvoice.views.tables import supplier_table

    with reading(config) as ctx:
        rows = suppliers(ctx)
    if as_json:
        emit_json([{"id": r.id, "name": r.name, "vat_id": r.vat_id,
                    "ibans": [i for i in r.ibans.split(",") if i], "account": r.account,
                    "cost_centre": r.cost_centre, "creditor_account": r.creditor_account,
                    "email": r.email}
                   for r in rows])
    else:
        console.print(supplier_table(rows))


@token_app.command("create")
def token_create(supplier: Annotated[int, typer.Option("--supplier", help="supplier id")],
                 label: Annotated[str | None, typer.Option(help="what the token is for")] = None,
                 config: ConfigOpt = None) -> None:
    """Create an upload token; it is printed once and cannot be shown again."""
    from einvoice.approval.tokens import create_token
    from einvoice.lifecycle import Role

    with as_staff(config, Role.ADMIN, MASTER_DATA) as ctx:
        token_id, token = create_token(ctx, supplier, label)
    console.print(f"token {token_id} for supplier {supplier} (shown only now):", highlight=False)
    typer.echo(token)


@token_app.command("revoke")
def token_revoke(token_id: int, config: ConfigOpt = None) -> None:
    """Revoke an upload token; uploads with it are refused from now on."""
    from einvoice.approval.tokens import revoke_token
    from einvoice.lifecycle import Role

    with as_staff(config, Role.ADMIN, MASTER_DATA) as ctx:
        revoke_token(ctx, token_id)
    console.print(f"token {token_id} revoked")
