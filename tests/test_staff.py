"""The staff register (SQLite and PostgreSQL): the first admin, who may change the register,
what an entry may hold, one person one login, the last admin, disabling, every change an
audit event; and through the CLI: ``einvoice staff add/list/disable``, ``init``, reads needing
a role, exit code 3 with who lacks what.

The account running a command is set by replacing ``identity.os_login`` (the real accounts
are ``tests/test_identity.py``'s)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner, Result

from einvoice.approval import identity, staff
from einvoice.approval.staff import StaffData, StaffError
from einvoice.cli import app
from einvoice.config import load_settings
from einvoice.context import Context, open_context
from einvoice.lifecycle import Member, NotPermitted, Role
from einvoice.store import tables as t
from tests.conftest import register

SAMPLE = "valid/xrechnung-testsuite/technical-cases/cius/01.01_comprehensive_test_ubl.xml"


@pytest.fixture
def empty(tmp_path: Path, db_url: str) -> Any:
    """A fresh database with nobody on the register."""
    ctx = open_context(load_settings(data_dir=tmp_path / "data", database_url=db_url))
    yield ctx
    ctx.close()


@pytest.fixture
def office(ctx: Context) -> Context:
    """alice, bob, carol (approvers) and root, the admin."""
    register(ctx, "root", role="admin")
    return ctx


def entry(ctx: Context, login: str) -> Member | None:
    with ctx.engine.connect() as conn:
        return staff.lookup(conn, login)


def staff_events(ctx: Context) -> list[tuple[str, str, str | None, str | None, dict[str, Any]]]:
    with Session(ctx.engine) as s:
        rows = s.exec(select(t.AuditEvent).where(col(t.AuditEvent.action).startswith("staff-"))
                      .order_by(col(t.AuditEvent.id))).all()
    return [(e.actor, e.action, e.before, e.after, json.loads(e.detail or "{}")) for e in rows]


def test_the_first_to_initialise_becomes_admin(empty: Context) -> None:
    assert staff.bootstrap(empty, "anna", "Anna A")
    assert entry(empty, "anna") == Member("anna", Role.ADMIN, True, None, frozenset(),
                                          frozenset(), entry(empty, "anna").staff_id)  # type: ignore[union-attr]
    assert not staff.bootstrap(empty, "bert", "Bert")  # the register is no longer empty
    assert entry(empty, "bert") is None
    [(actor, action, before, after, detail)] = staff_events(empty)
    assert (actor, action, before, after) == ("anna", "staff-add", None, "admin")
    assert (detail["first_admin"], detail["name"]) == (True, "Anna A")


def test_an_admin_registers_and_changes_people(office: Context) -> None:
    data = StaffData("mueller", " Marie Müller ", Role.APPROVER, Decimal("2500.50"),
                     ("Tiefbauamt", "Kämmerei", "Tiefbauamt"), ("anordnung", "sachlich"))
    assert staff.add(office, "root", data) == "mueller is registered as approver"
    found = entry(office, "mueller")
    assert found is not None and found == Member(
        "mueller", Role.APPROVER, True, Decimal("2500.50"),
        frozenset({"Tiefbauamt", "Kämmerei"}), frozenset({"anordnung", "sachlich"}),
        found.staff_id)
    with Session(office.engine) as s:  # kept readable
        assert s.exec(select(t.Staff.offices).where(t.Staff.login == "mueller")).one() == (
            '["Kämmerei", "Tiefbauamt"]')
    assert staff_events(office)[-1] == ("root", "staff-add", None, "approver", {
        "login": "mueller", "name": "Marie Müller", "role": "approver", "limit": "2500.50",
        "offices": ["Kämmerei", "Tiefbauamt"], "steps": ["anordnung", "sachlich"]})
    assert staff.add(office, "root", StaffData("mueller", "Marie Müller", Role.VIEWER)) == (
        "mueller is now viewer")
    assert entry(office, "mueller") == Member("mueller", Role.VIEWER, staff_id=found.staff_id)
    assert staff_events(office)[-1] == ("root", "staff-add", "approver", "viewer", {
        "login": "mueller", "name": "Marie Müller", "role": "viewer", "limit": None,
        "offices": [], "steps": []})


@pytest.mark.parametrize(("who", "message"), [
    ("alice", "alice has the role approver: changing the staff register needs the role admin"),
    ("mallory", "mallory is not on the staff register: changing the staff register needs the "
                "role admin")])
def test_only_an_admin_changes_the_register(office: Context, who: str, message: str) -> None:
    with pytest.raises(NotPermitted) as refused:
        staff.add(office, who, StaffData("eve", "Eve", Role.ADMIN))
    assert str(refused.value) == message
    with pytest.raises(NotPermitted, match=f"^{message}$"):
        staff.disable(office, who, "bob")
    assert entry(office, "eve") is None and entry(office, "bob").active  # type: ignore[union-attr]
    assert staff_events(office) == []


@pytest.mark.parametrize(("data", "message"), [
    (StaffData("mueller ", "M", Role.APPROVER), "'mueller ' is not a login"),
    (StaffData("", "M", Role.APPROVER), "'' is not a login"),
    (StaffData("a b", "M", Role.APPROVER), "'a b' is not a login"),
    (StaffData("-x", "M", Role.APPROVER), "'-x' is not a login"),
    (StaffData("m" * 129, "M", Role.APPROVER), f"'{'m' * 129}' is not a login"),
    (StaffData("mueller", "  ", Role.APPROVER), "a member of staff needs a name"),
    (StaffData("mueller", "M", Role.APPROVER, Decimal("-0.01")),
     "a limit is an amount in EUR of 0 or more, not -0.01"),
    (StaffData("mueller", "M", Role.APPROVER, steps=("sachlich", "Anordnung", "prüfen")),
     "unknown step Anordnung, prüfen (steps: sachlich, rechnerisch, anordnung)"),
    (StaffData("mueller", "M", Role.APPROVER, offices=("Kämmerei", " ")),
     "an office needs a name")])
def test_what_an_entry_may_hold(office: Context, data: StaffData, message: str) -> None:
    with pytest.raises(StaffError) as refused:
        staff.add(office, "root", data)
    assert str(refused.value).startswith(message)
    assert staff_events(office) == []


def test_a_refused_login_is_told_what_a_login_is(office: Context) -> None:
    with pytest.raises(StaffError) as refused:
        staff.add(office, "root", StaffData("m mueller", "M", Role.APPROVER))
    assert str(refused.value) == ("'m mueller' is not a login (letters, digits, _ . @ -; at most "
                                  "128)")


def test_what_an_entry_may_hold_at_its_edges(office: Context) -> None:
    for login in ("m" * 128, "m.mueller@stadt", "_svc", "x-1", "x", "7"):
        staff.add(office, "root", StaffData(login, "M", Role.VIEWER, Decimal("0")))
        assert entry(office, login) is not None


def test_one_person_one_login(office: Context) -> None:
    for alike in ("Alice", "ALICE"):
        with pytest.raises(StaffError) as refused:
            staff.add(office, "root", StaffData(alike, "Alice", Role.ADMIN))
        assert str(refused.value) == (f"{alike} differs from the registered alice only in case: "
                                      "one person, one login")
    assert entry(office, "Alice") is None


def test_the_last_admin_stays(office: Context) -> None:
    for change in (lambda: staff.disable(office, "root", "root"),
                   lambda: staff.add(office, "root", StaffData("root", "R", Role.APPROVER))):
        with pytest.raises(StaffError) as refused:
            change()
        assert str(refused.value) == "root is the last admin: make someone else admin first"
    assert entry(office, "root") == Member("root", Role.ADMIN,
                                           staff_id=entry(office, "root").staff_id)  # type: ignore[union-attr]
    staff.add(office, "root", StaffData("alice", "Alice", Role.ADMIN))
    assert staff.disable(office, "alice", "root") == "root is disabled"
    with pytest.raises(StaffError, match=r"^alice is the last admin"):
        staff.disable(office, "alice", "alice")


def test_a_disabled_admin_does_not_count_as_the_other_admin(office: Context) -> None:
    register(office, "old", role="admin", active=False)
    with pytest.raises(StaffError, match=r"^root is the last admin"):
        staff.disable(office, "root", "root")


def test_disable_and_enable_again(office: Context) -> None:
    assert staff.disable(office, "root", "bob") == "bob is disabled"
    assert entry(office, "bob").active is False  # type: ignore[union-attr]
    assert staff_events(office)[-1] == ("root", "staff-disable", "approver", "disabled",
                                        {"login": "bob"})
    with pytest.raises(NotPermitted, match=r"^bob is disabled in the staff register"):
        staff.require_role(office, "bob", Role.VIEWER, "reading")
    with pytest.raises(StaffError, match=r"^nobody is not on the staff register$"):
        staff.disable(office, "root", "nobody")
    staff.add(office, "root", StaffData("bob", "Bob", Role.APPROVER))  # registered again
    assert staff.require_role(office, "bob", Role.VIEWER, "reading").active


def test_the_register_is_listed_by_login(office: Context) -> None:
    assert [r.login for r in staff.listing(office)] == ["alice", "bob", "carol", "root"]
    register(office, "zoe", "adam")  # registered after the others, and not in order
    assert [r.login for r in staff.listing(office)] == ["adam", "alice", "bob", "carol", "root",
                                                        "zoe"]


def test_with_database_logins_staff_add_grants_admin_rights_to_admins_only(
        office: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """``identity = "database"``: each login is a database role, which ``staff add`` grants
    what its role needs (what the grants are: ``store.grants``, on PostgreSQL in
    ``tests/test_identity.py``); here the call at that boundary, on either database."""
    granted: list[tuple[str, object]] = []
    monkeypatch.setattr(staff, "grant_staff",
                        lambda conn, login, admin=False: granted.append((login, admin)))
    staff.add(office, "root", StaffData("mueller", "M", Role.APPROVER))
    assert granted == []  # identity = "os": logins are no database roles
    office.settings.identity = "database"
    for role in (Role.APPROVER, Role.ADMIN, Role.VIEWER):
        staff.add(office, "root", StaffData("mueller", "M", role))
    assert granted == [("mueller", False), ("mueller", True), ("mueller", False)]


# ------------------------------------------------------------------ the CLI

Run = Callable[..., Result]


@pytest.fixture
def cli(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Run:
    """``einvoice ARGS`` on a fresh database as the account ``who``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EINVOICE_DATABASE_URL", db_url)

    def run(who: str, *args: str, code: int = 0) -> Result:
        monkeypatch.setattr(identity, "os_login", lambda: who)
        result = CliRunner().invoke(app, list(args))
        assert result.exit_code == code, result.output
        return result

    return run


def test_init_makes_its_runner_the_first_admin(cli: Run) -> None:
    assert "anna is the first admin" in cli("anna", "init").stdout
    assert "first admin" not in cli("bert", "init").stdout
    assert [(r["login"], r["role"]) for r in json.loads(
        cli("anna", "staff", "list", "--json").stdout)] == [("anna", "admin")]


def test_staff_commands(cli: Run) -> None:
    cli("anna", "init")
    added = cli("anna", "staff", "add", "mueller", "--name", "Marie Müller", "--role",
                "approver", "--limit", "5000.00", "--office", "Tiefbauamt", "--step", "sachlich")
    assert added.stdout.strip() == "mueller is registered as approver"
    assert json.loads(cli("mueller", "staff", "list", "--json").stdout)[1] == {
        "login": "mueller", "name": "Marie Müller", "role": "approver", "limit": "5000",
        "offices": ["Tiefbauamt"], "steps": ["sachlich"], "active": True}
    assert "mueller" in cli("mueller", "staff", "list").stdout
    refused = cli("mueller", "staff", "add", "eve", "--name", "Eve", "--role", "admin", code=3)
    assert ("mueller has the role approver: changing the staff register needs the role admin"
            in " ".join(refused.output.split()))
    assert "not an amount: '5.000,00'" in cli("anna", "staff", "add", "x", "--name", "X",
                                              "--role", "viewer", "--limit", "5.000,00",
                                              code=2).output
    cli("anna", "staff", "add", "x", "--name", "X", "--role", "system", code=2)
    assert "'x y' is not a login" in cli("anna", "staff", "add", "x y", "--name", "X",
                                         "--role", "viewer", code=2).output
    assert cli("anna", "staff", "disable", "mueller").stdout.strip() == "mueller is disabled"
    assert "mueller is disabled in the staff register" in cli(
        "mueller", "staff", "list", code=3).output


@pytest.mark.parametrize("read", [["list", "--json"], ["inbox", "--json"], ["show", "1"],
                                  ["history", "1"], ["view", "1"], ["staff", "list"]])
def test_reads_need_a_role(cli: Run, read: list[str]) -> None:
    cli("anna", "init")
    refused = cli("nina", *read, code=3)
    assert "nina is not on the staff register: reading needs the role viewer" in " ".join(
        refused.output.split())
    cli("anna", "staff", "add", "vera", "--name", "Vera", "--role", "viewer")
    cli("vera", *read, code=2 if read[0] in ("show", "view") else 0)  # there is no invoice 1


def test_state_changes_by_a_viewer_exit_3(cli: Run, corpus: Path) -> None:
    cli("anna", "init")
    cli("anna", "staff", "add", "vera", "--name", "Vera", "--role", "viewer")
    (result,) = json.loads(cli("anna", "ingest", "--json", str(corpus / SAMPLE)).stdout)
    i = str(result["documents"][0]["invoice_id"])
    for command, doing in ((["approve", i], "approving"), (["reject", i, "--reason", "x"],
                           "rejecting"), (["hold", i, "--note", "x"], "holding"),
                           (["release", i], "releasing"), (["close", i, "--reason", "x"],
                           "closing"), (["assign", i, "--account", "4711"], "assigning"),
                           (["reassign", i, "--office", "X"], "reassigning")):
        refused = cli("vera", *command, code=3)
        assert f"vera has the role viewer: {doing} needs the role approver" in " ".join(
            refused.output.split())
    shown = json.loads(cli("vera", "show", "--json", i).stdout)
    assert (shown["status"], [e["action"] for e in shown["history"]]) == ("pending", ["ingest"])


def test_supplier_master_data_is_the_admins(cli: Run) -> None:
    """The IBANs on file decide which invoices look suspicious: approvers do not change them."""
    cli("anna", "init")
    cli("anna", "staff", "add", "bert", "--name", "Bert", "--role", "approver")
    for command in (["supplier", "add", "--name", "Muster GmbH", "--iban",
                     "DE02120300000000202051"], ["supplier", "token", "create", "--supplier",
                                                 "1"], ["supplier", "token", "revoke", "1"]):
        refused = cli("bert", *command, code=3)
        assert ("bert has the role approver: changing supplier master data needs the role "
                "admin") in " ".join(refused.output.split())
    assert json.loads(cli("bert", "supplier", "list", "--json").stdout) == []
    cli("anna", "supplier", "add", "--name", "Muster GmbH")
    assert [r["name"] for r in json.loads(cli("bert", "supplier", "list", "--json").stdout)] == [
        "Muster GmbH"]
    cli("nina", "supplier", "list", code=3)
