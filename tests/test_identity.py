"""Who acts is who authenticated: the OS account running the command, or (PostgreSQL, setting
``identity = "database"``) the database login, never a name given on the command line, in the
settings or in the environment.

GIVEN real OS accounts (``tests.accounts``: useradd, runuser) sharing one data directory made
with ``einvoice init --group``, WHEN they run ``einvoice`` against it, THEN two accounts
complete four-eyes, one account cannot under any name it gives, an admin's approval on behalf
of a colleague never completes it, roles, limits and the register are enforced with exit code
3 and nothing changes, the municipal steps go in order with the Anordnung refused to the
sachlich-richtig signer, and the folder stays usable for every member. Then the same rules in
process at their boundaries (the identity function itself, the database login).
"""

from __future__ import annotations

import grp
import json
import os
import shutil
import stat
import subprocess
import types
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from einvoice.approval import identity, staff, workflow
from einvoice.approval.staff import StaffData
from einvoice.cli import app
from einvoice.config import load_settings
from einvoice.context import Context, open_context
from einvoice.errors import ConfigError
from einvoice.lifecycle import NotPermitted, Role
from tests.accounts import Accounts, os_accounts
from tests.forks import Forks

SAMPLE = "valid/xrechnung-testsuite/technical-cases/cius/01.01_comprehensive_test_ubl.xml"
GROSS = "12829.69"  # the sample's gross total (EUR): above the four-eyes threshold
SETTINGS = """data_dir = "{base}/data"
inbox_dir = "{base}/data/inbox"
four_eyes_threshold = "5000"
[approval_steps]
"Tiefbauamt" = ["sachlich", "rechnerisch", "anordnung"]
"""


@dataclass(frozen=True)
class Office(Accounts):
    """The accounts, their commands run by a fork server of each account (``tests.forks``):
    started as ``Accounts.run`` starts a command (``runuser -u LOGIN``, the same clean
    environment and folder), it imported the CLI once and forks a process of that account for
    every command, instead of a cold interpreter each time (~60 commands). A command run with
    ``env`` (variables that must not change who acts) still starts cold, so that whatever the
    CLI reads from the environment while it starts is read from that environment."""

    servers: dict[str, Forks] = field(default_factory=dict)  # by short name, started when used

    def _server(self, who: str) -> Forks:
        if who not in self.servers:
            self.servers[who] = Forks(cwd=self.base, prefix=[
                shutil.which("runuser") or "runuser", "-u", self.logins[who], "--", "env", "-i",
                f"PATH={os.environ.get('PATH', '/usr/bin:/bin')}", f"HOME={self.base}",
                "LANG=C.UTF-8", "COLUMNS=200", "PYTHONDONTWRITEBYTECODE=1",
                f"EINVOICE_CONFIG={self.config}"])
        return self.servers[who]

    def run(self, who: str, *args: str, code: int | None = 0,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        if env:
            return super().run(who, *args, code=code, env=env)
        done = self._server(who).run(*args, timeout=180)
        if code is not None:
            assert done.returncode == code, (who, args, done.stdout, done.stderr)
        return done

    def close(self) -> None:
        servers = list(self.servers.values())
        self.servers.clear()
        for forks in servers:  # all told first: they end side by side
            forks.end()
        for forks in servers:
            forks.close()


@pytest.fixture(scope="module")
def office(corpus: Path) -> Iterator[Accounts]:
    """anna (first admin; sachlich, anordnung), bert (approver; sachlich, anordnung), carl
    (approver; rechnerisch), lena (approver up to 1000 EUR), vera (viewer), dora (disabled),
    nina (in the group, not on the register)."""
    with os_accounts("anna", "bert", "carl", "lena", "vera", "dora", "nina",
                     settings=SETTINGS) as accounts:
        acc = Office(accounts.group, accounts.logins, accounts.base)
        try:  # the servers end before their accounts are removed
            (acc.base / "sample.xml").write_bytes((corpus / SAMPLE).read_bytes())
            first = acc.run("anna", "init", "--group", acc.group)
            assert f"{acc.logins['anna']} is the first admin" in first.stdout
            for who, role, extra in (
                    ("anna", "admin", ["--step", "sachlich", "--step", "anordnung"]),
                    ("bert", "approver", ["--step", "sachlich", "--step", "anordnung"]),
                    ("carl", "approver", ["--step", "rechnerisch"]),
                    ("lena", "approver", ["--limit", "1000"]),
                    ("vera", "viewer", []), ("dora", "approver", [])):
                acc.run("anna", "staff", "add", acc.logins[who], "--name", who.title(),
                        "--role", role, *extra)
            acc.run("anna", "staff", "disable", acc.logins["dora"])
            yield acc
        finally:
            acc.close()


def invoice(acc: Accounts, number: str) -> int:
    """A pending copy of the sample with its own invoice number, ingested by anna."""
    path = acc.base / f"{number}.xml"
    path.write_bytes((acc.base / "sample.xml").read_bytes().replace(
        b"<cbc:ID>1234567</cbc:ID>", f"<cbc:ID>{number}</cbc:ID>".encode(), 1))
    (result,) = json.loads(acc.run("anna", "ingest", "--json", str(path)).stdout)
    (document,) = result["documents"]
    assert document["status"] == "pending"
    return int(document["invoice_id"])


def shown(acc: Accounts, invoice_id: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(acc.run("vera", "show", "--json", str(invoice_id)).stdout)
    return data


def events(acc: Accounts, invoice_id: int) -> list[tuple[str, str, str]]:
    return [(e["action"], e["actor"], e["after"]) for e in json.loads(
        acc.run("vera", "history", "--json", str(invoice_id)).stdout)]


def test_two_accounts_complete_four_eyes(office: Accounts) -> None:
    i = invoice(office, "FOUR-EYES-1")
    first = office.run("anna", "approve", str(i))
    assert f"invoice {i}: approval 1 of 2 (four-eyes rule)" in " ".join(first.stdout.split())
    assert f"invoice {i} approved" in office.run("bert", "approve", str(i)).stdout
    assert events(office, i) == [("ingest", "einvoice", "pending"),
                                 ("approve", office.logins["anna"], "pending"),
                                 ("approve", office.logins["bert"], "approved")]


def test_one_account_cannot_complete_four_eyes_under_any_name(office: Accounts) -> None:
    i = invoice(office, "FOUR-EYES-2")
    anna, bert = office.logins["anna"], office.logins["bert"]
    office.run("anna", "approve", str(i))
    already = f"{anna} has already approved invoice {i}"
    assert already in office.run("anna", "approve", str(i), code=1).stderr.replace("\n", " ")
    # the environment names somebody else: the account is still anna's
    pretend = {"USER": bert, "LOGNAME": bert, "EINVOICE_USER": bert, "SUDO_USER": bert}
    assert already in office.run("anna", "approve", str(i), code=1,
                                 env=pretend).stderr.replace("\n", " ")
    assert "No such option: --as" in office.run("anna", "approve", str(i), "--as", bert,
                                                code=2).stderr
    named = office.base / "as-bert.toml"
    named.write_text(f'user = "{bert}"\n' + office.config.read_text(), encoding="utf-8")
    assert "the setting `user` is gone" in office.run("anna", "approve", str(i), "-c",
                                                      str(named), code=2).stderr
    # nor can she register a second login that looks like hers
    assert "only in case" in office.run("anna", "staff", "add", anna.upper(), "--name", "A",
                                        "--role", "approver", code=2).stderr
    assert shown(office, i)["status"] == "pending"
    assert [e[1] for e in events(office, i)] == ["einvoice", anna]


def test_on_behalf_of_never_completes_four_eyes(office: Accounts) -> None:
    i = invoice(office, "FOUR-EYES-3")
    bert = office.logins["bert"]
    needs = f"invoice {i} needs 2 approvals given in person: one on behalf of {bert}"
    for_bert = ("--on-behalf-of", bert, "--reason", "Urlaub")
    assert needs in office.run("anna", "approve", str(i), *for_bert, code=1).stderr.replace(
        "\n", " ")
    office.run("carl", "approve", str(i))  # one in person
    assert needs in office.run("anna", "approve", str(i), *for_bert, code=1).stderr.replace(
        "\n", " ")
    refused = office.run("bert", "approve", str(i), "--on-behalf-of", office.logins["anna"],
                         "--reason", "x", code=3).stderr
    assert f"{bert} has the role approver: acting on behalf of" in refused
    assert shown(office, i)["status"] == "pending"
    assert f"invoice {i} approved" in office.run("anna", "approve", str(i)).stdout


def test_roles_limits_and_the_register_are_enforced(office: Accounts) -> None:
    i = invoice(office, "ROLES-1")
    lo = office.logins
    for who, words in (
            ("vera", f"{lo['vera']} has the role viewer: approving needs the role approver"),
            ("nina", f"{lo['nina']} is not on the staff register: approving needs the role "
                     "approver"),
            ("dora", f"{lo['dora']} is disabled in the staff register: approving is refused"),
            ("lena", f"{lo['lena']} may approve up to 1000 EUR: invoice {i} is {GROSS} EUR; "
                     "nothing recorded")):
        assert words in " ".join(office.run(who, "approve", str(i), code=3).stderr.split())
    assert "reading needs the role viewer" in office.run("nina", "list", "--json",
                                                         code=3).stderr
    assert i in [r["id"] for r in json.loads(office.run("vera", "list", "--json").stdout)]
    for who in ("bert", "vera", "nina"):
        office.run(who, "staff", "add", "eve", "--name", "Eve", "--role", "admin", code=3)
    office.run("vera", "hold", str(i), "--note", "x", code=3)
    assert shown(office, i)["status"] == "pending"
    assert events(office, i) == [("ingest", "einvoice", "pending")]
    assert "eve" not in {r["login"] for r in json.loads(
        office.run("vera", "staff", "list", "--json").stdout)}


def test_the_three_municipal_steps_in_order(office: Accounts) -> None:
    i = invoice(office, "STEPS-1")
    lo = office.logins
    office.run("anna", "reassign", str(i), "--office", "Tiefbauamt")

    def next_step() -> str:
        rows = json.loads(office.run("vera", "inbox", "--office", "Tiefbauamt",
                                     "--json").stdout)
        return str(next(r["next_step"] for r in rows if r["id"] == i))

    def refused(who: str, *args: str, code: int = 1) -> str:
        return " ".join(office.run(who, "approve", str(i), *args, code=code).stderr.split())

    assert next_step() == "sachlich"
    assert f"invoice {i}: the next step is sachlich, not approve" in refused("bert")
    assert "the next step is sachlich, not anordnung" in refused("bert", "--step", "anordnung")
    assert f"{lo['carl']} may not sign the step sachlich" in refused("carl", "--step",
                                                                     "sachlich", code=3)
    office.run("anna", "approve", str(i), "--step", "sachlich")
    assert next_step() == "rechnerisch"
    office.run("carl", "approve", str(i), "--step", "rechnerisch")
    assert next_step() == "anordnung"
    assert (f"{lo['anna']} signed sachlich richtig for invoice {i}: the Anordnung must come "
            "from someone else") in refused("anna", "--step", "anordnung")
    assert f"{lo['carl']} may not sign the step anordnung" in refused("carl", "--step",
                                                                      "anordnung", code=3)
    assert f"invoice {i} approved" in office.run("bert", "approve", str(i), "--step",
                                                 "anordnung").stdout
    signed = [(e["actor"], json.loads(e["detail"])["step"]) for e in json.loads(
        office.run("vera", "history", "--json", str(i)).stdout) if e["action"] == "approve"]
    assert signed == [(lo["anna"], "sachlich"), (lo["carl"], "rechnerisch"),
                      (lo["bert"], "anordnung")]
    assert shown(office, i)["status"] == "approved"


def test_the_shared_folder_stays_the_groups(office: Accounts) -> None:
    gid = grp.getgrnam(office.group).gr_gid
    data = office.base / "data"
    for folder in (data, data / "archive", data / "exports", data / "inbox"):
        info = folder.stat()
        assert (info.st_gid, stat.S_IMODE(info.st_mode)) == (gid, 0o2770), folder
    for path in data.rglob("*"):  # also what bert, carl, ... created since
        info = path.stat()
        assert info.st_gid == gid, path
        if path.is_dir():  # others cannot enter; the group reads, writes, enters
            assert (info.st_mode & 0o007, info.st_mode & 0o2070) == (0, 0o2070), path
        elif path.name.startswith("einvoice.db"):
            assert info.st_mode & 0o060 == 0o060, path
    assert (data / "einvoice.db").stat().st_uid == os.stat(data).st_uid  # made by init


# ------------------------------------------------------------------ in process

def test_the_os_login_is_the_effective_uid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "mallory")
    monkeypatch.setenv("LOGNAME", "mallory")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert identity.os_login() == "root"


def test_an_uid_without_a_name_cannot_act(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 4242421)
    with pytest.raises(NotPermitted) as refused:
        identity.os_login()
    assert str(refused.value) == "uid 4242421 has no account name: who is acting cannot be told"


def test_full_name_from_the_password_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """The name is the first comma-separated GECOS field, trimmed; none: the login."""
    gecos = {"mueller": " Marie Müller ,Zimmer 12,0208 455-0,", "krause": "", "lena": ",x"}

    def getpwnam(login: str) -> Any:
        if login not in gecos:
            raise KeyError(login)
        return types.SimpleNamespace(pw_gecos=gecos[login])

    monkeypatch.setattr("einvoice.approval.identity.pwd.getpwnam", getpwnam)
    assert identity.full_name("mueller") == "Marie Müller"
    assert identity.full_name("krause") == "krause"
    assert identity.full_name("lena") == "lena"
    assert identity.full_name("no-such-login-x") == "no-such-login-x"


def test_the_identity_setting() -> None:
    assert load_settings().identity == "os"
    with pytest.raises(ConfigError, match='identity = "database" needs PostgreSQL'):
        load_settings(identity="database")
    with pytest.raises(ConfigError, match="the setting `user` is gone"):
        load_settings(user="mueller")
    with pytest.raises(ConfigError, match="identity"):
        load_settings(identity="typed")


def test_os_identity_in_the_cli(ctx: Context, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EINVOICE_DATABASE_URL", ctx.settings.db_url)
    monkeypatch.setattr(identity, "os_login", lambda: "alice")
    assert identity.current_login(ctx) == "alice"
    result = CliRunner().invoke(app, ["staff", "list", "--json"])
    assert result.exit_code == 0, result.output
    monkeypatch.setattr(identity, "os_login", lambda: "Alice")
    assert CliRunner().invoke(app, ["staff", "list", "--json"]).exit_code == 3


@pytest.fixture
def db_role(pg_url: str) -> Iterator[str]:
    """A PostgreSQL login role of its own, dropped afterwards."""
    import psycopg

    role = f"einv_db_{uuid.uuid4().hex[:6]}"
    plain = pg_url.replace("+psycopg", "").split("?")[0]
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
    yield role
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {role}")
        conn.execute(f"DROP ROLE {role}")


def writes_admin_tables(ctx: Context) -> dict[str, bool]:
    """Whether the connection's login may change the tables only admins write."""
    with ctx.engine.connect() as conn:
        return {table: conn.exec_driver_sql(
            f"SELECT has_table_privilege('{table}', 'UPDATE')").scalar_one()
            for table in ("staff", "supplier")}


def test_the_database_login_is_the_identity(pg_url: str, db_role: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from einvoice.store import retry
    from tests.test_approval_rules import make_invoice

    settings: dict[str, Any] = {"data_dir": tmp_path / "data", "identity": "database"}
    owner = open_context(load_settings(database_url=pg_url, **settings))
    # the role may not read the schema yet: open_context tries to migrate it 40 times, with
    # pauses (~3.6 s) that only a writer racing another would need
    monkeypatch.setattr(retry, "pause", lambda attempt: None)
    as_role = open_context(load_settings(database_url=pg_url.replace(
        "postgres@", f"{db_role}@"), **settings))
    try:
        assert identity.current_login(owner) == "postgres"
        assert staff.bootstrap(owner, "postgres", "Postgres")
        staff.add(owner, "postgres", StaffData(db_role, "Rolle", Role.APPROVER))
        assert identity.current_login(as_role) == db_role
        i = make_invoice(owner)
        assert workflow.approve(as_role, i, identity.current_login(as_role)).after == "approved"
        with as_role.engine.connect() as conn:  # staff add granted the audit table insert-only
            rights = {right: conn.exec_driver_sql(
                f"SELECT has_table_privilege('auditevent', '{right}')").scalar_one()
                for right in ("INSERT", "UPDATE", "DELETE")}
        assert rights == {"INSERT": True, "UPDATE": False, "DELETE": False}
        assert writes_admin_tables(as_role) == {"staff": False, "supplier": False}
        staff.add(owner, "postgres", StaffData(db_role, "Rolle", Role.ADMIN))
        assert writes_admin_tables(as_role) == {"staff": True, "supplier": True}
        staff.disable(owner, "postgres", db_role)
        with pytest.raises(NotPermitted, match=f"^{db_role} is disabled in the staff register"):
            workflow.hold(as_role, make_invoice(owner), db_role, "x")
    finally:
        as_role.close()
        owner.close()


def test_a_database_login_without_grants_is_told(pg_url: str, db_role: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    from einvoice.store import retry

    open_context(load_settings(data_dir=tmp_path / "data", database_url=pg_url)).close()
    schema = pg_url.rsplit("%3D", 1)[1]  # the test's private schema (search_path)
    with psycopg.connect(pg_url.replace("+psycopg", "").split("?")[0], autocommit=True) as conn:
        conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {db_role}")  # but no table
    monkeypatch.setattr(retry, "pause", lambda attempt: None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EINVOICE_DATABASE_URL", pg_url.replace("postgres@", f"{db_role}@"))
    monkeypatch.setenv("EINVOICE_IDENTITY", "database")
    refused = CliRunner().invoke(app, ["list", "--json"])
    assert refused.exit_code == 3, refused.output
    assert "the database refused this login (permission denied for table" in " ".join(
        refused.output.split())
