"""The audit trail as a SHA-256 hash chain (``store.chain`` writes it, ``approval.audit.verify``
checks it), on SQLite and PostgreSQL: every field of an event is in its hash, so changing any
single one shows, as do a deleted and an inserted event, a deleted newest event and a status
changed behind the workflow's back."""

from __future__ import annotations

import hashlib
import inspect
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert, text, update
from sqlmodel import Session, col, select

from einvoice.approval import audit, workflow
from einvoice.approval.anchors import Anchor
from einvoice.approval.audit import ChainCheck
from einvoice.context import Context
from einvoice.store import chain
from einvoice.store import tables as t
from einvoice.store.types import utcnow
from tests.test_approval_rules import make_invoice

EDITED = "content does not match its hash (the event was edited)"
BROKEN = "link to the previous event is broken (an event was deleted or inserted)"


def status_problem(invoice_id: int, status: str) -> str:
    return (f"invoice {invoice_id} is {status}, but its last audit event says otherwise (an "
            "event was deleted or the status was changed outside the workflow)")


AT = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
FIELDS: dict[str, Any] = dict(
    prev_hash=chain.GENESIS, invoice_id=7, at=AT, actor="alice", action="reassign",
    reason="falsche Stelle – Prüfung", before="pending", after="pending",
    detail='{"office": ["Kämmerei", "Tiefbauamt"]}')


def test_event_hash_is_sha256_of_the_documented_payload() -> None:
    # stored chains and their external anchors depend on this exact payload: never change it
    assert chain.GENESIS == "0" * 64
    payload = json.dumps([chain.GENESIS, 7, "2026-01-31T12:00:00+00:00", "alice", "reassign",
                          "falsche Stelle – Prüfung", "pending", "pending",
                          '{"office": ["Kämmerei", "Tiefbauamt"]}'],
                         ensure_ascii=False, separators=(",", ":"))
    expected = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    assert chain.event_hash(**FIELDS) == expected == (
        "045dc460387902b65077eed87ddabfe6f96208f28d7454ea70e2d594c0c178bb")
    assert chain.event_hash("a" * 64, None, AT.replace(microsecond=123456), "einvoice", "ingest",
                            None, None, "pending", None) == (
        "dd83a62a98ac4cc4a5c00596c58b84c71240d03919c3d5be63730a63d156d4d8")


CHANGED: dict[str, Any] = dict(prev_hash="f" * 64, invoice_id=8, at=AT + timedelta(microseconds=1),
                               actor="mallory", action="approve", reason="falsche Stelle",
                               before="on_hold", after="approved",
                               detail='{"office": ["Kämmerei", "Stadtkasse"]}')


def test_every_column_of_the_table_is_in_the_hash() -> None:
    # a new column must go into the hash (or be the id, which only orders the chain)
    columns = {c.name for c in t.AuditEvent.__table__.columns}  # type: ignore[attr-defined]
    assert columns == {*inspect.signature(chain.event_hash).parameters, "id", "hash"}
    assert set(FIELDS) == set(inspect.signature(chain.event_hash).parameters)


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_every_field_is_in_the_hash(field: str) -> None:
    assert chain.event_hash(**{**FIELDS, field: CHANGED[field]}) != chain.event_hash(**FIELDS)
    if field not in ("prev_hash", "at", "actor", "action"):  # the nullable ones
        assert chain.event_hash(**{**FIELDS, field: None}) != chain.event_hash(**FIELDS)


# ------------------------------------------------------------------ appending

def events(ctx: Context) -> list[t.AuditEvent]:
    with Session(ctx.engine) as s:
        return list(s.exec(select(t.AuditEvent).order_by(col(t.AuditEvent.id))).all())


def test_append_links_each_event_to_the_one_before(ctx: Context) -> None:
    a = make_invoice(ctx)
    start = utcnow()
    with ctx.engine.begin() as conn:
        digest = chain.append(conn, invoice_id=a, actor="alice", action="reassign",
                              before="pending", after="pending", reason="Prüfung",
                              detail={"office": [None, "Kämmerei"], "by": "alice"})
        last = chain.append(conn, invoice_id=None, actor="einvoice", action="export",
                            before=None, after=None, detail={})
    end = utcnow()
    first, second, third = events(ctx)
    assert first.prev_hash == chain.GENESIS
    assert (second.prev_hash, second.hash, third.prev_hash, third.hash) == (
        first.hash, digest, digest, last)
    assert (second.invoice_id, second.actor, second.action, second.reason, second.before,
            second.after, second.detail) == (
        a, "alice", "reassign", "Prüfung", "pending", "pending",
        '{"by": "alice", "office": [null, "Kämmerei"]}')  # sorted keys, readable text
    assert (third.invoice_id, third.actor, third.action, third.reason, third.before,
            third.after, third.detail) == (None, "einvoice", "export", None, None, None, None)
    assert start <= second.at <= third.at <= end and second.at.tzinfo is not None
    assert second.hash == chain.event_hash(second.prev_hash, a, second.at, "alice", "reassign",
                                           "Prüfung", "pending", "pending", second.detail)
    assert audit.verify(ctx.engine) == ChainCheck(True, 3)


# ------------------------------------------------------------------ verifying

def trail(ctx: Context) -> tuple[int, int, list[int]]:
    """Two invoices and a few staff actions: six events."""
    assert ctx.settings.four_eyes_threshold >= 100  # one approval approves
    a = make_invoice(ctx)                                                 # 1 ingest a
    b = make_invoice(ctx)                                                 # 2 ingest b
    workflow.hold(ctx, a, "alice", "Rückfrage beim Lieferanten")           # 3
    workflow.reassign(ctx, a, "alice", "Tiefbauamt", "falsche Stelle")    # 4 reason, detail
    workflow.release(ctx, a, "bob")                                       # 5 no reason
    workflow.approve(ctx, a, "bob")                                       # 6
    ids = [ev.id for ev in events(ctx) if ev.id is not None]
    assert len(ids) == 6
    assert audit.verify(ctx.engine) == ChainCheck(True, 6)
    return a, b, ids


def test_an_untouched_trail_verifies(ctx: Context) -> None:
    assert audit.verify(ctx.engine) == ChainCheck(True, 0)
    trail(ctx)


def edit(ctx: Context, event_id: int, **values: Any) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(update(t.AuditEvent).where(col(t.AuditEvent.id) == event_id).values(**values))


# (position in the trail, column, new value); "other" stands for the other invoice's id
EDITS = [
    (4, "invoice_id", "other"), (4, "at", "+1µs"), (4, "actor", "mallory"),
    (4, "action", "approve"), (4, "reason", "Stelle passt"), (4, "reason", None),
    (5, "reason", "nachträglich erfunden"), (4, "before", "received"), (4, "after", "rejected"),
    (4, "detail", '{"office": ["Kämmerei", "Stadtkasse"]}'), (4, "detail", None),
    (5, "detail", '{"office": null}'), (6, "actor", "alice"), (1, "after", "approved"),
    (4, "hash", "0" * 63 + "1"),
]


@pytest.mark.parametrize(("position", "field", "value"), EDITS)
def test_editing_any_field_of_an_event_is_found(ctx: Context, position: int, field: str,
                                                value: Any) -> None:
    _, b, ids = trail(ctx)
    target = ids[position - 1]
    if value == "other":
        value = b
    elif value == "+1µs":
        value = next(ev.at for ev in events(ctx) if ev.id == target) + timedelta(microseconds=1)
    edit(ctx, target, **{field: value})
    assert audit.verify(ctx.engine) == ChainCheck(False, position, target, EDITED)


def test_editing_the_link_is_found(ctx: Context) -> None:
    _, _, ids = trail(ctx)
    edit(ctx, ids[3], prev_hash="f" * 64)
    assert audit.verify(ctx.engine) == ChainCheck(False, 4, ids[3], BROKEN)


@pytest.mark.parametrize("position", [1, 3, 5])
def test_a_deleted_event_is_found(ctx: Context, position: int) -> None:
    _, _, ids = trail(ctx)
    with ctx.engine.begin() as conn:
        conn.execute(delete(t.AuditEvent).where(col(t.AuditEvent.id) == ids[position - 1]))
    # the event after the gap no longer links to its predecessor
    assert audit.verify(ctx.engine) == ChainCheck(False, position, ids[position], BROKEN)


def test_a_deleted_newest_event_is_found(ctx: Context) -> None:
    a, _, ids = trail(ctx)
    with ctx.engine.begin() as conn:
        conn.execute(delete(t.AuditEvent).where(col(t.AuditEvent.id) == ids[-1]))
    assert audit.verify(ctx.engine) == ChainCheck(False, 5, None, status_problem(a, "approved"))


def test_an_inserted_event_is_found(ctx: Context) -> None:
    _, b, _ = trail(ctx)
    forged: dict[str, Any] = dict(prev_hash="e" * 64, invoice_id=b, at=utcnow(), actor="bob",
                                  action="hold", reason="x", before="pending", after="pending",
                                  detail=None)
    with ctx.engine.begin() as conn:
        conn.execute(insert(t.AuditEvent), {**forged, "hash": chain.event_hash(**forged)})
    forged_id = events(ctx)[-1].id
    assert audit.verify(ctx.engine) == ChainCheck(False, 7, forged_id, BROKEN)


def test_an_event_appended_behind_the_workflow_is_found(ctx: Context) -> None:
    _, b, _ = trail(ctx)
    with ctx.engine.begin() as conn:  # correctly linked, but the invoice says otherwise
        chain.append(conn, invoice_id=b, actor="mallory", action="approve", before="pending",
                     after="approved")
    assert audit.verify(ctx.engine) == ChainCheck(False, 7, None, status_problem(b, "pending"))


def test_a_status_changed_behind_the_workflow_is_found(ctx: Context) -> None:
    _, b, _ = trail(ctx)
    with ctx.engine.begin() as conn:
        conn.execute(update(t.Invoice).where(col(t.Invoice.id) == b).values(status="approved"))
    assert audit.verify(ctx.engine) == ChainCheck(False, 6, None, status_problem(b, "approved"))


def test_a_status_changed_behind_the_workflow_is_found_past_the_anchors(ctx: Context) -> None:
    _, b, _ = trail(ctx)
    with ctx.engine.connect() as conn:
        pin = Anchor("kept", chain.head(conn))
    change = update(t.Invoice).where(col(t.Invoice.id) == b).values(status="approved")
    with ctx.engine.begin() as conn:
        conn.execute(change)
    assert audit.verify(ctx.engine, [pin]) == ChainCheck(
        False, 6, None, status_problem(b, "approved"), anchors=1, anchored=6)


def test_the_invoice_of_id_0_is_checked_against_its_own_events(ctx: Context) -> None:
    """0 is an id like any other (a row written with it by hand or a migration), though false."""
    assert make_invoice(ctx, id=0) == 0
    assert audit.verify(ctx.engine) == ChainCheck(True, 1)
    with ctx.engine.begin() as conn:
        conn.execute(update(t.Invoice).where(col(t.Invoice.id) == 0).values(status="approved"))
    assert audit.verify(ctx.engine) == ChainCheck(False, 1, None, status_problem(0, "approved"))


def test_verify_walks_the_chain_in_id_order_whatever_the_physical_order(ctx: Context) -> None:
    # PostgreSQL writes an updated row anew, behind the others: a scan without ORDER BY
    # would then meet the events out of order
    _, _, ids = trail(ctx)
    with ctx.engine.begin() as conn:
        for event_id in ids[:3]:
            conn.execute(text("UPDATE auditevent SET actor = actor WHERE id = :id"),
                         {"id": event_id})
    assert audit.verify(ctx.engine) == ChainCheck(True, 6)
