"""SQL meta characters in every filter and argument of the CLI (a filter matches them as the
characters they are; a typed argument refuses them), and hostile names in the supplier and
staff lists and in the paths ``einvoice ingest`` reports."""

from __future__ import annotations

import json

from sqlmodel import Session, col, select

from einvoice.store import tables as t
from tests.hostile.facts import hidden
from tests.hostile.views_env import FAMILIES, SQL_SELLERS, ViewsEnv, cases
from tests.hostile.views_output import on_screen

METAS = ("' OR 1=1 --", "%", "_", "\\", "'; DROP TABLE invoice; --", "%_%")


def _texts(env: ViewsEnv) -> list[tuple[int, dict[str, str]]]:
    with Session(env.ctx.engine) as s:
        rows = s.exec(select(t.Invoice, t.Document).join(
            t.Document, col(t.Document.id) == col(t.Invoice.document_id))).all()
    return [(inv.id or 0, {"number": inv.number or "", "seller": inv.seller_name or "",
                           "vat": inv.seller_vat_id or "", "buyer": inv.buyer_name or "",
                           "reference": inv.buyer_reference or "",
                           "file": doc.filename or ""}) for inv, doc in rows]


def _matching(env: ViewsEnv, meta: str, fields: tuple[str, ...]) -> set[int]:
    """Invoices whose ``fields`` contain ``meta`` as plain characters (any case)."""
    return {i for i, texts in _texts(env)
            if any(meta.lower() in texts[f].lower() for f in fields)}


def _filtered(env: ViewsEnv, option: str, fields: tuple[str, ...]) -> None:
    with env.timed():
        found = {m: json.loads(env.cli("list", "--json", option, m)) for m in METAS}
    for meta, rows in found.items():
        assert {r["id"] for r in rows} == _matching(env, meta, fields), meta
    injected = {r["seller"] for r in found["' OR 1=1 --"]}
    assert injected == {SQL_SELLERS[3]}, injected  # the one seller that says it, not all
    assert len(found["%"]) < len(_texts(env)), "'%' matched every invoice"
    env.kept(*env.originals.values())  # nothing written: the hostile invoices' originals


@cases.add()
def filter_seller(env: ViewsEnv) -> None:
    _filtered(env, "--seller", ("seller", "vat"))


@cases.add()
def filter_search(env: ViewsEnv) -> None:
    _filtered(env, "--search", ("number", "seller", "buyer", "reference", "file"))


@cases.add()
def filter_status(env: ViewsEnv) -> None:
    with env.timed():
        refused = [env.cli("list", "--status", m, code=2) for m in METAS]
    for out in refused:
        assert "is not one of 'received', 'pending', 'invalid'" in out, out[-500:]
    env.kept(*env.originals.values())


def _not_a_date(env: ViewsEnv, option: str) -> None:
    with env.timed():
        refused = [env.cli("list", option, m, code=2) for m in METAS]
    assert all("not a date (YYYY-MM-DD)" in out for out in refused), refused[0]
    env.kept(*env.originals.values())


@cases.add()
def filter_from(env: ViewsEnv) -> None:
    _not_a_date(env, "--from")


@cases.add()
def filter_to(env: ViewsEnv) -> None:
    _not_a_date(env, "--to")


@cases.add()
def filter_office(env: ViewsEnv) -> None:
    with env.timed():
        found = {m: json.loads(env.cli("inbox", "--json", "--office", m)) for m in METAS}
        every = json.loads(env.cli("inbox", "--json", "--office", "*"))
    assert all(rows == [] for rows in found.values()), found
    assert every, "the inbox of every office is empty"
    env.kept(*env.originals.values())


@cases.add()
def numbers_and_ids_refuse_sql(env: ViewsEnv) -> None:
    before = len(json.loads(env.cli("list", "--json")))
    with env.timed():
        env.cli("list", "--limit", "1; DROP TABLE invoice", code=2)
        env.cli("show", "1 OR 1=1", code=2)
        env.cli("history", "1; DROP TABLE invoice", code=2)
        env.cli("view", "' OR 1=1 --", code=2)
    assert len(json.loads(env.cli("list", "--json"))) == before
    env.kept(*env.originals.values())


@cases.add()
def supplier_list_of_hostile_names(env: ViewsEnv) -> None:
    out = env.timed_cli("supplier", "list")
    for fam in FAMILIES.values():
        on_screen(out, fam, fam.shown[0])
    env.kept(*env.originals.values())


@cases.add()
def staff_list_of_hostile_names(env: ViewsEnv) -> None:
    out = env.timed_cli("staff", "list")
    for fam in FAMILIES.values():
        on_screen(out, fam, fam.shown[-1])
    env.kept(*env.originals.values())


@cases.add()
def ingest_reports_hostile_paths(env: ViewsEnv) -> None:
    """``einvoice ingest`` names each file it could not read: shown, never obeyed."""
    folder = env.work / "to-ingest"
    folder.mkdir()
    raw = FAMILIES["escapes"].raw.replace("/", "") + FAMILIES["markup"].raw.replace("/", "")
    (folder / f"{raw}.xml").write_bytes(b"")
    out = env.timed_cli("ingest", str(folder))
    assert not hidden(out), hidden(out)
    assert "␛[2J␛[H ␛]0;pwned␇" in out and "[b] [link=https:evil.example]klick[link]" in out, out
    env.kept(b"")
