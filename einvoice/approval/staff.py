"""The staff register: who may read and act, with which role, limit, offices and steps.

A login is what authentication yields (OS account or database role) and is compared exactly; a
login that differs from a registered one only in case is refused, so that one person cannot
hold two entries that look alike. Every change is an audit event by the admin who made it, and
the last active admin can be neither disabled nor demoted. Whoever initialises an empty
register becomes its first admin. With ``identity = "database"`` a login is a PostgreSQL role,
which ``staff add`` grants what staff need (the audit table: insert only).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, get_args

from sqlalchemy import Connection, func, insert, select, update
from sqlmodel import Session, col

from einvoice.config import ApprovalStep
from einvoice.context import Context
from einvoice.errors import EinvoiceError
from einvoice.lifecycle import Member, Role, require
from einvoice.store import chain
from einvoice.store import tables as t
from einvoice.store.grants import grant_staff

LOGIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,127}")
STEPS: tuple[str, ...] = get_args(ApprovalStep)


class StaffError(EinvoiceError):
    """A register entry that cannot be saved as given; nothing was changed."""


@dataclass(frozen=True)
class StaffData:
    """What ``einvoice staff add`` registers; ``limit`` in EUR (None: no limit)."""

    login: str
    name: str
    role: Role
    limit: Decimal | None = None
    offices: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()


def member(row: Any) -> Member:
    return Member(row.login, Role(row.role), row.active, row.amount_limit,
                  frozenset(json.loads(row.offices)), frozenset(json.loads(row.steps)), row.id)


def lookup(conn: Connection, login: str) -> Member | None:
    """The register entry of exactly this login."""
    row = conn.execute(select(t.Staff.__table__)  # type: ignore[attr-defined]
                       .where(col(t.Staff.login) == login)).first()
    return None if row is None else member(row)


def require_role(ctx: Context, login: str, needed: Role, doing: str) -> Member:
    """The member, unless the account is unknown, disabled or holds too small a role."""
    with ctx.engine.connect() as conn:
        return require(login, lookup(conn, login), needed, doing)


def listing(ctx: Context) -> list[t.Staff]:
    with Session(ctx.engine) as s:
        return list(s.execute(select(t.Staff).order_by(col(t.Staff.login))).scalars())


def _check(data: StaffData) -> None:
    if not LOGIN.fullmatch(data.login):
        raise StaffError(f"{data.login!r} is not a login (letters, digits, _ . @ -; at most "
                         "128)")
    if not data.name.strip():
        raise StaffError("a member of staff needs a name")
    if data.limit is not None and data.limit < 0:
        raise StaffError(f"a limit is an amount in EUR of 0 or more, not {data.limit}")
    unknown = sorted(set(data.steps) - set(STEPS))
    if unknown:
        raise StaffError(f"unknown step {', '.join(unknown)} (steps: {', '.join(STEPS)})")
    if any(not office.strip() for office in data.offices):
        raise StaffError("an office needs a name")


def _last_admin(conn: Connection, login: str) -> bool:
    """True when ``login`` is the only active admin."""
    others = conn.execute(select(func.count()).select_from(t.Staff).where(
        col(t.Staff.role) == Role.ADMIN, col(t.Staff.active), col(t.Staff.login) != login))
    return others.scalar_one() == 0


def _entry(data: StaffData) -> dict[str, Any]:
    """What the register keeps of ``data``, as the audit event records it."""
    return {"login": data.login, "name": data.name.strip(), "role": str(data.role),
            "limit": None if data.limit is None else str(data.limit),
            "offices": sorted(set(data.offices)), "steps": sorted(set(data.steps))}


def _values(data: StaffData) -> dict[str, Any]:
    entry = _entry(data)
    return {"login": data.login, "name": entry["name"], "role": data.role,
            "amount_limit": data.limit, "active": True,
            "offices": json.dumps(entry["offices"], ensure_ascii=False),
            "steps": json.dumps(entry["steps"])}


def _audit(conn: Connection, admin: str, action: str, before: str | None, after: str,
           detail: dict[str, Any]) -> None:
    chain.append(conn, invoice_id=None, actor=admin, action=action, before=before, after=after,
                 detail=detail)


def add(ctx: Context, admin: str, data: StaffData) -> str:
    """Register ``data.login``, or replace what the register says of it (an admin's act)."""
    _check(data)
    with ctx.engine.begin() as conn:
        require(admin, lookup(conn, admin), Role.ADMIN, "changing the staff register")
        alike = conn.execute(select(col(t.Staff.login)).where(
            func.lower(col(t.Staff.login)) == data.login.lower(),
            col(t.Staff.login) != data.login)).scalars().first()
        if alike is not None:
            raise StaffError(f"{data.login} differs from the registered {alike} only in case: "
                             "one person, one login")
        found = lookup(conn, data.login)
        values = _values(data)
        if found is None:
            conn.execute(insert(t.Staff), values)
        else:
            if (found.role is Role.ADMIN and data.role is not Role.ADMIN
                    and _last_admin(conn, data.login)):
                raise StaffError(f"{data.login} is the last admin: make someone else admin "
                                 "first")
            conn.execute(update(t.Staff).where(col(t.Staff.login) == data.login).values(values))
        if ctx.settings.identity == "database":  # the login is a database role: its rights
            grant_staff(conn, data.login, admin=data.role == Role.ADMIN)
        _audit(conn, admin, "staff-add", found.role if found else None, data.role,
               _entry(data))
    return f"{data.login} is {'now' if found else 'registered as'} {data.role}"


def disable(ctx: Context, admin: str, login: str) -> str:
    """Take away every right of ``login``; earlier signatures keep naming them."""
    with ctx.engine.begin() as conn:
        require(admin, lookup(conn, admin), Role.ADMIN, "changing the staff register")
        found = lookup(conn, login)
        if found is None:
            raise StaffError(f"{login} is not on the staff register")
        if found.role is Role.ADMIN and _last_admin(conn, login):
            raise StaffError(f"{login} is the last admin: make someone else admin first")
        conn.execute(update(t.Staff).where(col(t.Staff.login) == login).values(active=False))
        _audit(conn, admin, "staff-disable", found.role, "disabled", {"login": login})
    return f"{login} is disabled"


def bootstrap(ctx: Context, login: str, name: str) -> bool:
    """Make ``login`` the first admin when nobody is registered yet; True when it did."""
    with ctx.lock("staff-register"), ctx.engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(t.Staff)).scalar_one():
            return False
        first = StaffData(login, name or login, Role.ADMIN)
        conn.execute(insert(t.Staff), _values(first))
        _audit(conn, login, "staff-add", None, Role.ADMIN, {**_entry(first), "first_admin": True})
    return True
