"""``einvoice staff``: the register of who may read and act (admins change it)."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from einvoice.cli.common import ConfigOpt, JsonOpt, app, console, context, emit_json, fail, reading
from einvoice.lifecycle import Role
from einvoice.views.terminal import compose, stack

if TYPE_CHECKING:  # the register and its views load when a command runs
    from einvoice.store import tables as t
    from einvoice.views.terminal import SafeTable

group = typer.Typer(help="Staff register: roles, limits, offices, approval steps.",
                    no_args_is_help=True)
app.add_typer(group, name="staff")


class StaffRole(StrEnum):  # the roles a person can hold (``system`` is the service's)
    VIEWER = Role.VIEWER.value
    APPROVER = Role.APPROVER.value
    ADMIN = Role.ADMIN.value


def _limit(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        fail(f"not an amount: {value!r} (e.g. 5000 or 5000.00)")


@group.command("add")
def add(login: Annotated[str, typer.Argument(help="the OS account (or database login)")],
        name: Annotated[str, typer.Option(help="the person's name")],
        role: Annotated[StaffRole, typer.Option(help="viewer reads; approver acts on "
                                                "invoices; admin also keeps this register")],
        limit: Annotated[str | None, typer.Option(help="approves up to this gross amount in "
                                                  "EUR (default: no limit)")] = None,
        office: Annotated[list[str] | None, typer.Option(help="acts for this office only "
                                                         "(repeatable; default: all)")] = None,
        step: Annotated[list[str] | None, typer.Option(help="may sign this municipal step "
                                                       "(sachlich, rechnerisch, anordnung; "
                                                       "repeatable)")] = None,
        config: ConfigOpt = None) -> None:
    """Register a person, or replace what the register says of them."""
    from einvoice.approval import identity, staff
    from einvoice.approval.staff import StaffData

    data = StaffData(login, name, Role(role.value), _limit(limit), tuple(office or ()),
                     tuple(step or ()))
    with context(config) as ctx:
        console.print(staff.add(ctx, identity.current_login(ctx), data))


@group.command("disable")
def disable(login: str, config: ConfigOpt = None) -> None:
    """Take every right away from a person (their earlier signatures stay)."""
    from einvoice.approval import identity, staff

    with context(config) as ctx:
        console.print(staff.disable(ctx, identity.current_login(ctx), login))


@group.command("list")
def list_(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Everyone on the register, by login."""
    from einvoice.approval import staff

    with reading(config) as ctx:
        rows = staff.listing(ctx)
    if as_json:  # the limit 5000, whether stored as 5000.00 or NUMERIC(28, 10)
        emit_json([{"login": r.login, "name": r.name, "role": r.role, "limit": None
                    if r.amount_limit is None else f"{r.amount_limit.normalize():f}",
                    "offices": json.loads(r.offices), "steps": json.loads(r.steps),
                    "active": r.active} for r in rows])
        return
    console.print(_table(rows))


def _table(rows: list[t.Staff]) -> SafeTable:
    """Four columns that fit 80: the role (and a disabled account) below the name, the
    steps below the offices; the limit in German money."""
    from einvoice.views.formatting import count, money
    from einvoice.views.tables import amount, fixed, table, text

    out = table(f"Personal / staff: {count(len(rows), 'Person', 'Personen')}", fixed("Login"),
                text("Name / Rolle", min_width=12), amount("Limit"),
                text("Ämter / Schritte", min_width=12))
    for r in rows:
        role = compose(r.role) if r.active else compose(f"{r.role}, ",
                                                        ("gesperrt / disabled", "red"))
        steps = ", ".join(json.loads(r.steps))
        out.add_row(r.login, stack(r.name, role),
                    money(r.amount_limit, "EUR") if r.amount_limit is not None else "ohne / none",
                    stack(", ".join(json.loads(r.offices)) or "alle / all",
                          steps and f"Schritte: {steps}"))
    return out
