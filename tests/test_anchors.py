"""Anchors: the audit chain's head kept outside the database pins the trail up to it.

The chain has no secret: whoever can write the audit table can delete, reorder, insert or edit
events and recompute every hash after them (``rechain`` does just that), and the chain checks
out again. Each test tampers with a trail of six events the way such a person would and shows
that ``audit verify`` finds it once an anchor exists after the change, naming the first event
no anchor vouches for any more (with an anchor just before the change: the first bad event).
Anchors come from files (``einvoice audit anchor``) and from the manifests of export batches.
On PostgreSQL a staff login role cannot change the table at all (``store.grants``).
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import ProgrammingError
from sqlmodel import col
from typer.testing import CliRunner

from einvoice.approval import anchors, audit
from einvoice.approval.anchors import Anchor, AnchorError
from einvoice.approval.audit import ChainCheck
from einvoice.cli import app
from einvoice.config import load_settings
from einvoice.context import Context, open_context
from einvoice.export import batch, plan
from einvoice.export.plan import ExportError
from einvoice.store import chain, grants
from einvoice.store import tables as t
from einvoice.store.chain import GENESIS, Head
from tests.test_export_rules import TWO_LINES, _add

BROKEN = "link to the previous event is broken (an event was deleted or inserted)"
EVENTS: Any = t.AuditEvent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Trail:
    ids: list[int]  # of the six events, oldest first
    heads: list[Head]  # heads[n]: the head after n events

    def pin(self, n: int) -> Anchor:
        """An anchor taken after event n, kept as "A<n>"."""
        return Anchor(f"A{n}", self.heads[n])


def append(ctx: Context, n: int) -> None:
    with ctx.engine.begin() as conn:
        chain.append(conn, invoice_id=None, actor="alice", action="note", before=None,
                     after=None, detail={"n": n})


def head(ctx: Context) -> Head:
    with ctx.engine.connect() as conn:
        return chain.head(conn)


@pytest.fixture
def trail(ctx: Context) -> Trail:
    heads = [head(ctx)]
    for n in range(1, 7):
        append(ctx, n)
        heads.append(head(ctx))
    with ctx.engine.connect() as conn:
        ids = list(conn.execute(select(col(t.AuditEvent.id)).order_by(col(t.AuditEvent.id)))
                   .scalars())
    assert audit.verify(ctx.engine, [Anchor("A6", heads[6])]) == ChainCheck(
        True, 6, anchors=1, anchored=6)
    return Trail(ids, heads)


def rechain(ctx: Context) -> None:
    """What anyone with write access can do: link and hash every event again, in id order."""
    with ctx.engine.begin() as conn:
        rows = conn.execute(select(EVENTS).order_by(col(t.AuditEvent.id))).all()
        for ev in rows:  # unique placeholders first: prev_hash is unique
            conn.execute(update(EVENTS).where(EVENTS.c.id == ev.id)
                         .values(prev_hash=f"{ev.id + 10:064d}"))
        prev = GENESIS
        for ev in rows:
            digest = chain.event_hash(prev, ev.invoice_id, ev.at, ev.actor, ev.action,
                                      ev.reason, ev.before, ev.after, ev.detail)
            conn.execute(update(EVENTS).where(EVENTS.c.id == ev.id)
                         .values(prev_hash=prev, hash=digest))
            prev = digest


def remove(ctx: Context, *event_ids: int) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.id.in_(event_ids)))


def swap(ctx: Context, a: int, b: int) -> None:
    """Reorder: events ``a`` and ``b`` change places (their ids)."""
    with ctx.engine.begin() as conn:
        for old, new in ((a, -1), (b, a), (-1, b)):
            conn.execute(update(EVENTS).where(EVENTS.c.id == old).values(id=new))


def truncate(ctx: Context) -> None:
    with ctx.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE auditevent"))
        else:
            conn.execute(delete(EVENTS))


def gone(position: int, event_id: int | None = None) -> str:
    return (f"the first event no anchor vouches for any more is #{position}"
            + ("" if event_id is None else f" (event {event_id})"))


# ------------------------------------------------------------------ the head

def test_the_head_is_the_newest_event_and_how_many_lead_to_it(ctx: Context,
                                                              trail: Trail) -> None:
    assert trail.heads[0] == Head(0, GENESIS, None, None)
    with ctx.engine.connect() as conn:
        newest = conn.execute(select(EVENTS).order_by(EVENTS.c.id.desc())).first()
    assert newest is not None
    assert trail.heads[6] == Head(6, newest.hash, trail.ids[5],
                                  newest.at.astimezone(UTC).isoformat())
    assert trail.heads[6].at is not None and trail.heads[6].at.endswith("+00:00")
    assert [h.events for h in trail.heads] == list(range(7))
    assert [h.event_id for h in trail.heads[1:]] == trail.ids
    remove(ctx, trail.ids[2])  # the count, not the newest id
    assert head(ctx) == Head(5, newest.hash, trail.ids[5], trail.heads[6].at)


def test_the_head_time_is_utc_whatever_the_local_zone(ctx: Context, trail: Trail,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert head(ctx) == trail.heads[6]
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_head_reads_back_from_its_json() -> None:
    for h in (Head(0, GENESIS), Head(6, "a" * 64, 9, "2026-01-31T12:00:00+00:00")):
        assert Head.from_json(json.loads(json.dumps(h.to_json()))) == h
    assert Head(6, "a" * 64, 9, "x").to_json() == {"events": 6, "hash": "a" * 64,
                                                   "event_id": 9, "at": "x"}


GOOD: dict[str, Any] = {"events": 6, "hash": "a" * 64, "event_id": 9, "at": None}


@pytest.mark.parametrize(("data", "message"), [
    ([GOOD], "not a JSON object"),
    (GOOD | {"events": -1}, "events must be a count, not -1"),
    (GOOD | {"events": True}, "events must be a count, not True"),
    (GOOD | {"events": "6"}, "events must be a count, not '6'"),
    (GOOD | {"hash": "A" * 64}, f"hash must be 64 lowercase hex digits, not {'A' * 64!r}"),
    (GOOD | {"hash": "a" * 63}, f"hash must be 64 lowercase hex digits, not {'a' * 63!r}"),
    (GOOD | {"hash": "a" * 64 + "\n"}, "hash must be 64 lowercase hex digits, not "
                                       f"{'a' * 64 + chr(10)!r}"),
    (GOOD | {"hash": None}, "hash must be 64 lowercase hex digits, not None"),
    (GOOD | {"event_id": None}, "event_id None does not fit 6 events"),
    (GOOD | {"events": 0}, "event_id 9 does not fit 0 events"),
    (GOOD | {"event_id": "9"}, "event_id '9' does not fit 6 events"),
    (GOOD | {"at": 5}, "at must be a time, not 5"),
])
def test_what_is_not_a_head_is_refused(data: Any, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        Head.from_json(data)
    assert str(refused.value) == message


# ------------------------------------------------------------------ anchor files

def test_an_anchor_file_holds_the_head_and_when_it_was_taken(
        ctx: Context, trail: Trail, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(anchors, "utcnow", lambda: datetime(2026, 2, 1, 6, 0, tzinfo=UTC))
    h = trail.heads[6]
    assert anchors.take(ctx.engine) == {
        "format": "einvoice-audit-anchor/1", "events": 6, "hash": h.hash,
        "event_id": h.event_id, "at": h.at, "taken_at": "2026-02-01T06:00:00+00:00"}
    path = tmp_path / "anchor.json"
    path.write_text(json.dumps(anchors.take(ctx.engine)))
    assert anchors.load(path) == Anchor(str(path), h)
    kept = tmp_path / "manifest.json"  # a copy of an export manifest is an anchor too
    kept.write_text(json.dumps({"format": "einvoice-export/1", "audit_anchor": h.to_json()}))
    assert anchors.load(kept) == Anchor(str(kept), h)


@pytest.mark.parametrize(("content", "problem"), [
    (b"", "Expecting value: line 1 column 1 (char 0)"),
    (b'{"format": "einvoice-audit-anchor/2", "events": 0, "hash": "' + b"0" * 64 + b'"}',
     "neither an anchor (einvoice-audit-anchor/1) nor an export manifest"),
    (b"[]", "neither an anchor (einvoice-audit-anchor/1) nor an export manifest"),
    (b'{"format": "einvoice-audit-anchor/1", "events": 1, "hash": "x", "event_id": 1}',
     "hash must be 64 lowercase hex digits, not 'x'"),
    (b'{"audit_anchor": 5}', "not a JSON object"),
    (None, "[Errno 2] No such file or directory: '{path}'"),
])
def test_an_unreadable_anchor_is_refused(tmp_path: Path, content: bytes | None,
                                         problem: str) -> None:
    path = tmp_path / "anchor.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AnchorError) as refused:
        anchors.load(path)
    assert str(refused.value) == f"{path}: not a readable anchor ({problem.format(path=path)})"


# ------------------------------------------------------------------ an intact trail

def test_anchors_of_an_intact_trail_hold_as_it_grows(ctx: Context, trail: Trail) -> None:
    pins = [trail.pin(0), trail.pin(3), trail.pin(6), Anchor("copy", trail.heads[6])]
    assert audit.verify(ctx.engine, pins) == ChainCheck(True, 6, anchors=4, anchored=6)
    append(ctx, 7)
    assert audit.verify(ctx.engine, pins) == ChainCheck(True, 7, anchors=4, anchored=6)
    assert audit.verify(ctx.engine) == ChainCheck(True, 7)


def test_an_anchor_of_the_empty_trail_always_holds(ctx: Context) -> None:
    assert audit.verify(ctx.engine, [Anchor("A0", head(ctx))]) == ChainCheck(True, 0, anchors=1)


# ------------------------------------------------------------------ tampering, not hidden

def test_deleting_the_newest_event_is_found(ctx: Context, trail: Trail) -> None:
    remove(ctx, trail.ids[5])
    assert audit.verify(ctx.engine) == ChainCheck(True, 5)  # what the issue found
    ends = f"the trail ends at #5, but anchor A6 vouches for 6 events up to event {trail.ids[5]}"
    assert audit.verify(ctx.engine, [trail.pin(6)]) == ChainCheck(
        False, 1, trail.ids[0], f"{ends}: events were deleted; {gone(1, trail.ids[0])}", 1, 0,
        "A6")
    assert audit.verify(ctx.engine, [trail.pin(5), trail.pin(6)]) == ChainCheck(
        False, 6, None, f"{ends}: events were deleted; {gone(6)}", 2, 5, "A6")


def test_emptying_the_table_is_found(ctx: Context, trail: Trail) -> None:
    truncate(ctx)
    assert audit.verify(ctx.engine) == ChainCheck(True, 0)  # what the issue found
    assert audit.verify(ctx.engine, [trail.pin(3), trail.pin(6)]) == ChainCheck(
        False, 1, None, "the audit trail is empty, but anchor A3 vouches for 3 events up to "
        f"event {trail.ids[2]}: events were deleted; {gone(1)}", 2, 0, "A3")


def test_deleting_a_middle_event_breaks_the_link(ctx: Context, trail: Trail) -> None:
    remove(ctx, trail.ids[3])
    assert audit.verify(ctx.engine, [trail.pin(6)]) == ChainCheck(
        False, 4, trail.ids[4], BROKEN, 1, 0)


def test_a_broken_link_past_an_anchor_counts_what_the_anchor_vouched_for(ctx: Context,
                                                                        trail: Trail) -> None:
    remove(ctx, trail.ids[4])
    assert audit.verify(ctx.engine, [trail.pin(3), trail.pin(6)]) == ChainCheck(
        False, 5, trail.ids[5], BROKEN, 2, 3)


def test_an_edited_event_is_found_by_its_hash(ctx: Context, trail: Trail) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.id == trail.ids[4]).values(actor="mallory"))
    assert audit.verify(ctx.engine, [trail.pin(3), trail.pin(6)]) == ChainCheck(
        False, 5, trail.ids[4], "content does not match its hash (the event was edited)", 2, 3)


def test_reordering_two_events_breaks_the_link(ctx: Context, trail: Trail) -> None:
    swap(ctx, trail.ids[1], trail.ids[3])
    assert audit.verify(ctx.engine, [trail.pin(6)]) == ChainCheck(
        False, 2, trail.ids[1], BROKEN, 1, 0)


# ------------------------------------------------------------------ tampering, chain recomputed

def test_a_deleted_middle_event_is_found_in_a_recomputed_chain(ctx: Context,
                                                               trail: Trail) -> None:
    remove(ctx, trail.ids[3])
    rechain(ctx)
    assert audit.verify(ctx.engine) == ChainCheck(True, 5)
    assert audit.verify(ctx.engine, [trail.pin(3), trail.pin(6)]) == ChainCheck(
        False, 4, trail.ids[4], f"event {trail.ids[5]} is #5 of the trail, but #6 by anchor A6: "
        f"1 events before it were deleted; {gone(4, trail.ids[4])}", 2, 3, "A6")


def test_two_reordered_events_are_found_in_a_recomputed_chain(ctx: Context,
                                                              trail: Trail) -> None:
    swap(ctx, trail.ids[3], trail.ids[4])
    rechain(ctx)
    assert audit.verify(ctx.engine) == ChainCheck(True, 6)
    assert audit.verify(ctx.engine, [trail.pin(3), trail.pin(6)]) == ChainCheck(
        False, 4, trail.ids[3], f"event {trail.ids[5]} (#6) has another hash than anchor A6 "
        "recorded: it or an event before it was changed, reordered or replaced; "
        f"{gone(4, trail.ids[3])}", 2, 3, "A6")


def test_an_edited_event_is_found_in_a_recomputed_chain(ctx: Context, trail: Trail) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.id == trail.ids[1]).values(actor="mallory"))
    rechain(ctx)
    assert audit.verify(ctx.engine) == ChainCheck(True, 6)
    # the first anchor after the change names where it can begin
    assert audit.verify(ctx.engine, [trail.pin(1), trail.pin(3), trail.pin(6)]) == ChainCheck(
        False, 2, trail.ids[1], f"event {trail.ids[2]} (#3) has another hash than anchor A3 "
        "recorded: it or an event before it was changed, reordered or replaced; "
        f"{gone(2, trail.ids[1])}", 3, 1, "A3")


def test_an_inserted_event_is_found_in_a_recomputed_chain(ctx: Context, trail: Trail) -> None:
    with ctx.engine.begin() as conn:  # placed first: an id below all others
        conn.execute(insert(EVENTS), {
            "id": 0, "invoice_id": None, "at": datetime(2026, 1, 1, tzinfo=UTC),
            "actor": "mallory", "action": "note", "prev_hash": "f" * 64, "hash": "f" * 64})
    rechain(ctx)
    assert audit.verify(ctx.engine) == ChainCheck(True, 7)
    assert audit.verify(ctx.engine, [trail.pin(3)]) == ChainCheck(
        False, 1, 0, f"#3 of the trail is event {trail.ids[1]}, but event {trail.ids[2]} by "
        f"anchor A3: events were inserted, deleted or reordered; {gone(1, 0)}", 1, 0, "A3")


def test_an_anchor_is_checked_even_where_another_one_holds(ctx: Context, trail: Trail) -> None:
    """Two anchors of the same event disagree (one was kept of another trail, or forged): the
    one that holds does not vouch for the trail the other contradicts."""
    other = Anchor("B3", dataclasses.replace(trail.heads[3], hash="0" * 64))
    assert audit.verify(ctx.engine, [trail.pin(3), other]) == ChainCheck(
        False, 1, trail.ids[0], f"event {trail.ids[2]} (#3) has another hash than anchor B3 "
        "recorded: it or an event before it was changed, reordered or replaced; "
        f"{gone(1, trail.ids[0])}", 2, 0, "B3")
    assert audit.verify(ctx.engine, [other, trail.pin(3)]) == audit.verify(
        ctx.engine, [trail.pin(3), other])


def test_a_change_after_the_newest_anchor_is_not_seen(ctx: Context, trail: Trail) -> None:
    """What anchors cannot do: vouch for events written after them."""
    with ctx.engine.begin() as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.id == trail.ids[4]).values(actor="mallory"))
    rechain(ctx)
    assert audit.verify(ctx.engine, [trail.pin(3)]) == ChainCheck(True, 6, anchors=1,
                                                                   anchored=3)


# ------------------------------------------------------------------ export manifests

def manifest(folder: Path | None) -> dict[str, Any]:
    assert folder is not None
    data: dict[str, Any] = json.loads((folder / "manifest.json").read_bytes())
    return data


def batch_event(ctx: Context) -> dict[str, Any]:
    with ctx.engine.connect() as conn:
        detail = conn.execute(select(EVENTS.c.detail).where(EVENTS.c.action == "export-batch")
                              .order_by(EVENTS.c.id.desc())).scalars().first()
    assert detail is not None
    data: dict[str, Any] = json.loads(detail)
    return data


def test_each_batch_manifest_anchors_the_chain_before_it(ctx: Context, corpus: Path) -> None:
    ctx.settings.four_eyes_threshold = Decimal("1e12")
    _add(ctx, corpus, TWO_LINES, "R-1")
    before = head(ctx)
    folder = batch.export(ctx, "bob").folder
    assert folder is not None and head(ctx).events == before.events + 2  # export, batch events
    assert manifest(folder)["audit_anchor"] == batch_event(ctx)["head"] == before.to_json()
    assert batch.manifest_anchors(ctx) == [(str(folder / "manifest.json"), before)]
    kept = (folder / "manifest.json").read_bytes()
    _add(ctx, corpus, TWO_LINES, "R-2")  # the chain moves on: the rewrite keeps the old head
    assert batch.rewrite(ctx, 1).manifest_sha256 is not None
    assert (folder / "manifest.json").read_bytes() == kept
    second = batch.export(ctx, "bob").folder
    assert manifest(second)["audit_anchor"]["events"] == before.events + 4
    pins = [Anchor(src, h) for src, h in batch.manifest_anchors(ctx)]
    assert audit.verify(ctx.engine, pins) == ChainCheck(True, before.events + 6, anchors=2,
                                                        anchored=before.events + 4)


def test_a_batch_from_before_anchors_is_rewritten_without_one(
        ctx: Context, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx.settings.four_eyes_threshold = Decimal("1e12")
    _add(ctx, corpus, TWO_LINES, "R-OLD")
    planned = plan.next_batch

    def as_before(c: Context, actor: str) -> plan.Batch | None:
        b = planned(c, actor)
        return None if b is None else dataclasses.replace(b, head=None)

    monkeypatch.setattr(batch, "next_batch", as_before)
    folder = batch.export(ctx, "bob").folder
    assert "audit_anchor" not in manifest(folder) and "head" not in batch_event(ctx)
    assert batch.manifest_anchors(ctx) == []
    assert folder is not None
    kept = (folder / "manifest.json").read_bytes()
    batch.rewrite(ctx, 1)
    assert (folder / "manifest.json").read_bytes() == kept


def test_manifest_anchors_come_from_batch_folders_only(ctx: Context) -> None:
    root = ctx.settings.export_path
    anchor = {"audit_anchor": Head(1, "b" * 64, 1).to_json()}
    for name, data in ((".tmp-batch-000001-x", anchor), ("other", anchor),
                       ("batch-000003-20240101", anchor), ("batch-000004-20240101", {}),
                       ("batch-000005-20240101", None)):
        (root / name).mkdir(parents=True)
        if data is not None:
            (root / name / "manifest.json").write_text(json.dumps(data))
    (root / "batch-000006").write_text("a file")
    assert batch.manifest_anchors(ctx) == [
        (str(root / "batch-000003-20240101" / "manifest.json"), Head(1, "b" * 64, 1))]
    bad = root / "batch-000007-20240101" / "manifest.json"
    bad.parent.mkdir()
    bad.write_text('{"audit_anchor": {"events": 1}}')
    with pytest.raises(ExportError) as refused:
        batch.manifest_anchors(ctx)
    assert str(refused.value) == (f"{bad}: not a readable manifest (hash must be 64 lowercase "
                                  "hex digits, not None)")


# ------------------------------------------------------------------ the commands

def flat(printed: str) -> str:
    """Terminal output without the line breaks rich adds."""
    return "".join(printed.split())


@pytest.fixture
def cli(ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("EINVOICE_DATABASE_URL", str(ctx.settings.database_url))
    return CliRunner()


def test_audit_anchor_prints_or_writes_the_head(ctx: Context, trail: Trail, cli: CliRunner,
                                                tmp_path: Path) -> None:
    printed = cli.invoke(app, ["audit", "anchor"])
    assert printed.exit_code == 0
    data = json.loads(printed.stdout)
    assert (data["format"], Head.from_json(data)) == ("einvoice-audit-anchor/1", trail.heads[6])
    path = tmp_path / "kept" / "anchor.json"
    path.parent.mkdir()
    written = cli.invoke(app, ["audit", "anchor", "-o", str(path)])
    assert (written.exit_code, written.stdout) == (0, "")
    assert anchors.load(path) == Anchor(str(path), trail.heads[6])
    assert flat(written.stderr) == flat(f"anchor written to {path}: 6 events, newest "
                                        f"{trail.ids[5]} ({trail.heads[6].hash})")


def test_audit_verify_checks_the_anchors_given(ctx: Context, trail: Trail, cli: CliRunner,
                                               tmp_path: Path) -> None:
    path = tmp_path / "anchor.json"
    assert cli.invoke(app, ["audit", "anchor", "-o", str(path)]).exit_code == 0
    ok = cli.invoke(app, ["audit", "verify", "--anchor", str(path), "--json"])
    assert (ok.exit_code, json.loads(ok.stdout)) == (0, {
        "ok": True, "events": 6, "broken_at": None, "problem": None, "anchors": 1,
        "anchored": 6, "anchor": None})
    text_ok = cli.invoke(app, ["audit", "verify", "--anchor", str(path), "--anchor", str(path)])
    assert (text_ok.exit_code, text_ok.stdout) == (
        0, "audit trail intact: 6 events, 6 of them vouched for by 2 anchors\n")

    remove(ctx, trail.ids[3])
    rechain(ctx)
    assert cli.invoke(app, ["audit", "verify"]).exit_code == 0  # no anchor: nothing to see
    broken = cli.invoke(app, ["audit", "verify", "--anchor", str(path), "--json"])
    problem = (f"event {trail.ids[5]} is #5 of the trail, but #6 by anchor {path}: 1 events "
               f"before it were deleted; {gone(1, trail.ids[0])}")
    assert (broken.exit_code, json.loads(broken.stdout)) == (1, {
        "ok": False, "events": 1, "broken_at": trail.ids[0], "problem": problem,
        "anchors": 1, "anchored": 0, "anchor": str(path)})
    said = cli.invoke(app, ["audit", "verify", "--anchor", str(path)])
    assert (said.exit_code, said.stdout) == (1, "")
    assert flat(said.stderr) == flat(f"audit trail broken at event {trail.ids[0]}: {problem}")
    truncate(ctx)
    emptied = cli.invoke(app, ["audit", "verify", "--anchor", str(path)])
    assert emptied.exit_code == 1 and flat(emptied.stderr).startswith("audittrailbroken:the")

    path.write_text("{}")
    unreadable = cli.invoke(app, ["audit", "verify", "--anchor", str(path)])
    assert (unreadable.exit_code, flat(unreadable.stderr)) == (2, flat(
        f"error: {path}: not a readable anchor (neither an anchor (einvoice-audit-anchor/1) "
        "nor an export manifest)"))


def test_audit_verify_checks_the_export_manifests(ctx: Context, corpus: Path,
                                                  cli: CliRunner) -> None:
    ctx.settings.four_eyes_threshold = Decimal("1e12")
    _add(ctx, corpus, TWO_LINES, "R-1")
    folder = batch.export(ctx, "bob").folder
    assert folder is not None
    ok = cli.invoke(app, ["audit", "verify", "--json"])
    assert (ok.exit_code, json.loads(ok.stdout)["anchors"]) == (0, 1)
    with ctx.engine.begin() as conn:  # the approval, forged and the chain recomputed
        conn.execute(update(EVENTS).where(EVENTS.c.action == "approve").values(actor="mallory"))
    rechain(ctx)
    broken = cli.invoke(app, ["audit", "verify", "--json"])
    assert (broken.exit_code, json.loads(broken.stdout)["anchor"]) == (
        1, str(folder / "manifest.json"))


# ------------------------------------------------------------------ database grants

@pytest.mark.postgres
def test_a_staff_role_may_add_events_but_not_change_them(pg_url: str, tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", database_url=pg_url)
    owner = open_context(settings)
    role = f"staff_{uuid.uuid4().hex[:10]}"
    try:
        with owner.engine.begin() as conn:
            conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
            assert grants.grant_staff(conn, role)
            chain.append(conn, invoice_id=None, actor="owner", action="note", before=None,
                         after=None)
        login = pg_url.replace("postgres@", f"{role}@", 1)
        staff = open_context(load_settings(data_dir=tmp_path / "data", database_url=login))
        try:
            with staff.engine.begin() as conn:  # what staff do: read the head, add an event
                assert conn.execute(text("SELECT current_user")).scalar() == role
                chain.append(conn, invoice_id=None, actor=role, action="note", before=None,
                             after=None)
                conn.execute(update(t.Invoice).values(note="x"))
            for sql in ("UPDATE auditevent SET actor = 'mallory'", "DELETE FROM auditevent",
                        "TRUNCATE auditevent", "DELETE FROM invoice",
                        "UPDATE alembic_version SET version_num = 'x'",
                        "UPDATE staff SET role = 'admin'", "UPDATE supplier SET ibans = 'X'",
                        "INSERT INTO staff (login, name, role) VALUES ('m', 'M', 'admin')"):
                with pytest.raises(ProgrammingError) as refused, staff.engine.begin() as conn:
                    conn.execute(text(sql))
                assert "permission denied" in str(refused.value), sql
        finally:
            staff.close()
        assert audit.verify(owner.engine) == ChainCheck(True, 2)
    finally:
        with owner.engine.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        owner.close()


def test_there_is_nothing_to_grant_on_sqlite(tmp_path: Path) -> None:
    ctx = open_context(load_settings(data_dir=tmp_path / "data"))
    try:
        with ctx.engine.begin() as conn:
            assert not grants.grant_staff(conn, "anyone")
    finally:
        ctx.close()
