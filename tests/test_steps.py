"""The approval steps of municipal budget law from the command line (SQLite and PostgreSQL),
the settings behind them and ``einvoice close``.

GIVEN an office configured with ``approval_steps`` and staff holding step permissions, WHEN
they sign with ``einvoice approve ID --step NAME``, THEN the steps go in order, ``inbox``
shows the next open step (``next_step``), ``history`` who signed which step, and the
Anordnung is refused to whoever signed sachlich richtig; an office without steps keeps the
plain approval. The settings refuse step lists and rate tables that would weaken the rules.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner, Result

from einvoice.approval import identity, workflow
from einvoice.approval.steps import next_steps, plan
from einvoice.cli import app
from einvoice.config import load_settings
from einvoice.context import Context
from einvoice.errors import ConfigError
from einvoice.store import tables as t
from tests.test_approval_rules import make_invoice

SAMPLE = "valid/xrechnung-testsuite/technical-cases/cius/01.01_comprehensive_test_ubl.xml"
STEPS = '[approval_steps]\n"Tiefbauamt" = ["sachlich", "rechnerisch", "anordnung"]\n'

Run = Callable[..., Result]


@pytest.fixture
def cli(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Run:
    """``einvoice ARGS`` as ``who`` on a database initialised by anna (the first admin), with
    the Tiefbauamt signing in three steps: anna and bert may sign sachlich and anordnung,
    carl rechnerisch."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EINVOICE_DATABASE_URL", db_url)
    (tmp_path / "einvoice.toml").write_text(STEPS, encoding="utf-8")
    monkeypatch.setenv("EINVOICE_CONFIG", str(tmp_path / "einvoice.toml"))

    def run(who: str, *args: str, code: int = 0) -> Result:
        monkeypatch.setattr(identity, "os_login", lambda: who)
        result = CliRunner().invoke(app, list(args))
        assert result.exit_code == code, result.output
        return result

    run("anna", "init")
    for who, role, steps in (("anna", "admin", ["sachlich", "anordnung"]),
                             ("bert", "approver", ["sachlich", "anordnung"]),
                             ("carl", "approver", ["rechnerisch"])):
        run("anna", "staff", "add", who, "--name", who.title(), "--role", role,
            *[arg for step in steps for arg in ("--step", step)])
    return run


def ingest(cli: Run, corpus: Path, body: bytes | None = None) -> int:
    path = Path(f"doc-{abs(hash(body))}.xml")
    path.write_bytes(body if body is not None else (corpus / SAMPLE).read_bytes())
    (result,) = json.loads(cli("anna", "ingest", "--json", str(path)).stdout)
    return int(result["documents"][0]["invoice_id"])


def next_step(cli: Run, invoice_id: int) -> Any:
    rows = json.loads(cli("carl", "inbox", "--office", "*", "--json").stdout)
    return next(r["next_step"] for r in rows if r["id"] == invoice_id)


def said(result: Result) -> str:
    return " ".join(result.output.split())


def test_the_steps_in_order(cli: Run, corpus: Path) -> None:
    i = ingest(cli, corpus)
    assert next_step(cli, i) == "approve"  # routed nowhere yet: the plain approval
    cli("anna", "reassign", str(i), "--office", "Tiefbauamt")
    assert next_step(cli, i) == "sachlich"
    assert f"invoice {i}: the next step is sachlich, not approve" in said(
        cli("bert", "approve", str(i), code=1))
    assert f"invoice {i}: sachlich signed; next step rechnerisch" in said(
        cli("anna", "approve", str(i), "--step", "sachlich"))
    assert next_step(cli, i) == "rechnerisch"
    assert "the next step is rechnerisch, not anordnung" in said(
        cli("bert", "approve", str(i), "--step", "anordnung", code=1))
    cli("carl", "approve", str(i), "--step", "rechnerisch")
    assert next_step(cli, i) == "anordnung"
    assert (f"anna signed sachlich richtig for invoice {i}: the Anordnung must come from "
            "someone else") in said(cli("anna", "approve", str(i), "--step", "anordnung", code=1))
    assert "carl may not sign the step anordnung" in said(
        cli("carl", "approve", str(i), "--step", "anordnung", code=3))
    assert f"invoice {i} approved" in said(cli("bert", "approve", str(i), "--step", "anordnung"))
    history = json.loads(cli("carl", "history", "--json", str(i)).stdout)
    assert [(e["actor"], e["after"], json.loads(e["detail"])["step"]) for e in history
            if e["action"] == "approve"] == [("anna", "pending", "sachlich"),
                                             ("carl", "pending", "rechnerisch"),
                                             ("bert", "approved", "anordnung")]
    assert "sachlich" in cli("carl", "history", str(i)).stdout


def test_an_admin_signs_a_step_for_an_absent_colleague(cli: Run, corpus: Path) -> None:
    i = ingest(cli, corpus)
    cli("anna", "reassign", str(i), "--office", "Tiefbauamt")
    cli("anna", "approve", str(i), "--step", "sachlich", "--on-behalf-of", "bert", code=1)
    cli("anna", "approve", str(i), "--step", "sachlich", "--on-behalf-of", "bert",
        "--reason", "Urlaub")
    cli("carl", "approve", str(i), "--step", "rechnerisch")
    # neither anna (who signed) nor bert (for whom) may give the Anordnung
    for who in ("anna", "bert"):
        assert "signed sachlich richtig" in said(
            cli(who, "approve", str(i), "--step", "anordnung", code=1))
    (signed,) = [e for e in json.loads(cli("carl", "history", "--json", str(i)).stdout)
                 if e["action"] == "approve" and json.loads(e["detail"])["step"] == "sachlich"]
    detail = json.loads(signed["detail"])
    assert (signed["actor"], detail["on_behalf_of"], detail["on_behalf_reason"]) == (
        "anna", "bert", "Urlaub")


def test_an_office_without_steps_keeps_the_plain_approval(cli: Run, corpus: Path) -> None:
    i = ingest(cli, corpus)
    cli("anna", "reassign", str(i), "--office", "Kämmerei")
    assert "the next step is approve, not sachlich" in said(
        cli("anna", "approve", str(i), "--step", "sachlich", code=1))
    assert "approval 1 of 2" in said(cli("anna", "approve", str(i)))
    assert f"invoice {i} approved" in said(cli("carl", "approve", str(i)))


def test_close_what_cannot_be_approved(cli: Run, corpus: Path) -> None:
    broken = ingest(cli, corpus, b"<junk")
    assert f"invoice {broken} closed (nicht lesbar → erledigt)" in said(  # as staff read them
        cli("carl", "close", str(broken), "--reason", "kein Rechnungsdokument"))
    history = json.loads(cli("carl", "history", "--json", str(broken)).stdout)
    assert [(e["action"], e["actor"], e["before"], e["after"], e["reason"])
            for e in history][-1] == ("close", "carl", "quarantined", "closed",
                                      "kein Rechnungsdokument")
    assert "closed" in {r["status"] for r in json.loads(cli("carl", "list", "--json").stdout)}
    pending = ingest(cli, corpus)
    assert f"invoice {pending} is pending: cannot close" in said(
        cli("carl", "close", str(pending), "--reason", "x", code=1))
    cli("carl", "close", str(broken), "--reason", "nochmal", code=1)
    cli("carl", "close", str(pending), code=2)  # --reason is required


def test_the_next_step_counts_the_amount_in_eur(ctx: Context) -> None:
    """After one approval: above the four-eyes threshold (in EUR, converted by ``eur_rates``;
    a currency without a rate counts as above) the plain approval waits for a second person."""
    ctx.settings.four_eyes_threshold = Decimal("5000")
    ctx.settings.eur_rates = {"USD": Decimal("0.5")}
    amounts = {"above": ("5000.01", "EUR"), "at": ("5000.00", "EUR"),
               "dollars": ("10000.00", "USD"), "more dollars": ("10000.02", "USD"),
               "pounds": ("1.00", "GBP"), "no total": (None, "EUR")}
    ids = {}
    for name, (gross, currency) in amounts.items():
        ids[name] = make_invoice(ctx, gross=None if gross is None else Decimal(gross),
                                 currency=currency)
        workflow.approve(ctx, ids[name], "alice")
    with Session(ctx.engine) as s:
        invoices = s.exec(select(t.Invoice).where(col(t.Invoice.id).in_(ids.values()))).all()
    waiting = next_steps(ctx, invoices)
    assert {name: waiting[i] for name, i in ids.items()} == {
        "above": "approve", "at": None, "dollars": None, "more dollars": "approve",
        "pounds": "approve", "no total": None}


@pytest.mark.parametrize("name", ["XXXX", "None", "null", "-", "unassigned"])
def test_an_invoice_without_an_office_takes_no_offices_steps(name: str) -> None:
    """Whatever an office is called, even like a placeholder, an unassigned invoice (or one
    whose office is empty) keeps the plain approval."""
    settings = load_settings(approval_steps={name: ["sachlich", "anordnung"]})
    for office in (None, ""):
        assert plan(settings, office, Decimal("1.00"), "EUR") == (("approve", 1),)
    assert plan(settings, name, Decimal("1.00"), "EUR") == (("sachlich", 1),
                                                                 ("anordnung", 1))


# ------------------------------------------------------------------ the settings

@pytest.mark.parametrize("steps", [
    ["sachlich", "rechnerisch", "anordnung"], ["rechnerisch", "sachlich", "anordnung"],
    ["sachlich", "anordnung"]])
def test_step_lists_that_keep_two_people(steps: list[str]) -> None:
    assert load_settings(approval_steps={"Tiefbauamt": steps}).approval_steps == {
        "Tiefbauamt": steps}


@pytest.mark.parametrize("steps", [
    ["rechnerisch", "anordnung"], ["anordnung"], ["sachlich", "rechnerisch"],
    ["sachlich", "anordnung", "rechnerisch"], ["sachlich", "sachlich", "anordnung"],
    ["sachlich", "anordnung", "anordnung"], []])
def test_step_lists_that_would_let_one_person_approve(steps: list[str]) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(approval_steps={"Tiefbauamt": steps})
    assert ("approval_steps of 'Tiefbauamt': each step once, sachlich among them and anordnung "
            "last") in str(refused.value)


def test_unknown_step_names() -> None:
    with pytest.raises(ConfigError, match="'sachlich', 'rechnerisch' or 'anordnung'"):
        load_settings(approval_steps={"Tiefbauamt": ["Sachlich", "anordnung"]})


@pytest.mark.parametrize(("rates", "message"), [
    ({"usd": "1"}, "'usd' is not a currency code other than EUR"),
    ({"EUR": "1"}, "'EUR' is not a currency code other than EUR"),
    ({"US": "1"}, "'US' is not a currency code other than EUR"),
    ({"USDX": "1"}, "'USDX' is not a currency code other than EUR"),
    ({"U$D": "1"}, "'U$D' is not a currency code other than EUR"),
    ({"USD": "0"}, "the rate of USD must be above 0, not 0"),
    ({"USD": "-0.92"}, "the rate of USD must be above 0, not -0.92")])
def test_rate_tables(rates: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(eur_rates=rates)
    assert message in str(refused.value)


def test_a_rate_table() -> None:
    settings = load_settings(eur_rates={"USD": "0.92", "CHF": "1.05"})
    assert {k: str(v) for k, v in settings.eur_rates.items()} == {"USD": "0.92", "CHF": "1.05"}
