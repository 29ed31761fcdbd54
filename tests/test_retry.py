"""Which failed writes are retried: a lost race (a lock, a unique key another writer took
first) is, a bug (a NOT NULL or foreign key violation) is reported at once — on SQLite and on
PostgreSQL, whose drivers word these differently."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert
from sqlalchemy.exc import DBAPIError, IntegrityError

from einvoice.approval import workflow
from einvoice.context import Context
from einvoice.store import retry

META = MetaData()
THING = Table("retry_probe", META, Column("id", Integer, primary_key=True),
              Column("key", String(8), unique=True), Column("name", String(8), nullable=False))


def _error(db_url: str, row: dict[str, object]) -> DBAPIError:
    engine = create_engine(db_url)
    META.create_all(engine)
    try:
        with engine.begin() as conn:
            conn.execute(insert(THING), {"key": "a", "name": "x"})
        with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
            conn.execute(insert(THING), row)
        return caught.value
    finally:
        META.drop_all(engine)
        engine.dispose()


def test_a_unique_key_taken_first_is_a_conflict(db_url: str) -> None:
    exc = _error(db_url, {"key": "a", "name": "y"})
    assert isinstance(exc, IntegrityError)
    assert retry.is_conflict(exc)


def test_a_not_null_violation_is_no_conflict(db_url: str) -> None:
    exc = _error(db_url, {"key": "b", "name": None})
    assert isinstance(exc, IntegrityError)
    assert not retry.is_conflict(exc)


def test_the_workflow_reports_a_bug_instead_of_retrying_it(
        ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN a step inside the transition that violates NOT NULL, WHEN approving, THEN that error
    comes out at once (not 40 retries and 'being changed by someone else')."""
    from tests.test_approval_rules import make_invoice  # a pending invoice written as a row

    invoice_id = make_invoice(ctx)
    calls = []

    def broken(*args: object, **kwargs: object) -> str:
        calls.append(1)
        raise IntegrityError("INSERT INTO auditevent", {},
                             Exception("NOT NULL constraint failed: auditevent.actor"))

    monkeypatch.setattr(workflow.chain, "append", broken)
    with pytest.raises(IntegrityError):
        workflow.approve(ctx, invoice_id, "alice")
    assert calls == [1]
