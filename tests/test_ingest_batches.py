"""Ingest in batches (issue 15, item 5): many files in one transaction decide what one by one
would, a kill anywhere in a batch loses and doubles nothing, nothing is moved out of the inbox
before it is committed, and PostgreSQL writers share a folder by claiming files."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from einvoice.approval.audit import verify
from einvoice.config import DropFolder, load_settings
from einvoice.context import Context, open_context
from einvoice.errors import QuotaExceeded
from einvoice.intake.folder import scan
from einvoice.model import Invoice as InvoiceModel
from einvoice.pipeline import IngestResult, Submission, examine, ingest
from einvoice.pipeline.batch import ingest_batch
from einvoice.store import tables as t
from einvoice.store.locks import claim, release
from tests.forks import Forks

MINIMAL = "valid/xrechnung-testsuite/technical-cases/cius/01.05_minimal_test_ubl.xml"
NUMBER = b"<cbc:ID>1234567</cbc:ID>"


@pytest.fixture(scope="module")
def template(corpus: Path) -> bytes:
    data = (corpus / MINIMAL).read_bytes()
    assert NUMBER in data
    return data


def numbered(template: bytes, number: str, tail: str = "") -> bytes:
    """The minimal invoice with another number (and a comment making other bytes)."""
    return template.replace(NUMBER, f"<cbc:ID>{number}</cbc:ID>".encode(), 1) + tail.encode()


def batch(ctx: Context, *files: tuple[str, bytes]) -> list[IngestResult]:
    results = ingest_batch(ctx, [(Submission(data, "folder", filename=name), None)
                                 for name, data in files])
    assert all(isinstance(r, IngestResult) for r in results), results
    return [r for r in results if isinstance(r, IngestResult)]


def invoice(ctx: Context, invoice_id: int) -> t.Invoice:
    with Session(ctx.engine) as s:
        found = s.get(t.Invoice, invoice_id)
    assert found is not None
    return found


def ingest_events(ctx: Context) -> Counter[int | None]:
    with Session(ctx.engine) as s:
        return Counter(s.exec(select(t.AuditEvent.invoice_id)
                              .where(t.AuditEvent.action == "ingest")).all())


# ------------------------------------------------------------------ deciding in a batch

def test_a_copy_in_the_same_batch_is_a_duplicate_of_the_first(ctx: Context,
                                                              template: bytes) -> None:
    first, other, copy, again = batch(
        ctx, ("a.xml", numbered(template, "RE-1")), ("b.xml", numbered(template, "RE-2")),
        ("c.xml", numbered(template, "re-1", "<!-- resent -->")),
        ("d.xml", numbered(template, "RE-1")))
    statuses = [(r.outcomes[0].status, r.outcomes[0].new) for r in (first, other, copy, again)]
    assert statuses == [("pending", True), ("pending", True), ("duplicate", True),
                        ("pending", False)]
    assert invoice(ctx, copy.outcomes[0].invoice_id).duplicate_of == first.outcomes[0].invoice_id
    assert invoice(ctx, other.outcomes[0].invoice_id).duplicate_of is None
    # the same bytes again: the first one's document, under the name it came with
    assert again.outcomes[0].document_id == first.outcomes[0].document_id
    assert again.outcomes[0].filename == "d.xml"
    assert again.submission_id == first.submission_id
    ids = {r.outcomes[0].invoice_id for r in (first, other, copy)}
    assert ingest_events(ctx) == Counter(dict.fromkeys(ids, 1))
    assert verify(ctx.engine).ok


def test_a_stored_original_comes_before_a_copy_earlier_in_the_batch(
        ctx: Context, template: bytes) -> None:
    (stored,) = ingest(ctx, Submission(numbered(template, "RE-7"), "cli")).outcomes
    one, two = batch(ctx, ("x.xml", numbered(template, "re-7", "<!-- 1 -->")),
                     ("y.xml", numbered(template, "RE\u20107", "<!-- 2 -->")))
    for copy in (one, two):
        assert copy.outcomes[0].status == "duplicate"
        assert invoice(ctx, copy.outcomes[0].invoice_id).duplicate_of == stored.invoice_id


VARIANTS = {"A": ("RE-100", ""), "A-cosmetic": ("re-100", "<!-- copy -->"),
            "B": ("RE-200", ""), "junk": None}


@settings(max_examples=12, deadline=None)
@given(st.lists(st.sampled_from(sorted(VARIANTS)), min_size=1, max_size=7))
def test_a_batch_decides_what_one_by_one_would(sqlite_template: Path, template: bytes,
                                               picks: list[str]) -> None:
    """Status, novelty, document and original of every file are the same whether the files
    come one at a time or all in one batch (same bytes twice included)."""
    files = [(f"{i}.xml", b"no invoice at all" if VARIANTS[v] is None
              else numbered(template, *VARIANTS[v]))  # type: ignore[misc]
             for i, v in enumerate(picks)]
    seen: list[list[tuple[str, bool, int, int | None]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("one by one", "batch"):
            db = Path(tmp) / f"{mode}.db"
            db.write_bytes(sqlite_template.read_bytes())
            cfg = load_settings(data_dir=Path(tmp) / mode, database_url=f"sqlite:///{db}")
            ctx = open_context(cfg)
            items = [(Submission(data, "folder", filename=name), examine(data, cfg, name))
                     for name, data in files]
            results = (ingest_batch(ctx, items) if mode == "batch"
                       else [ingest(ctx, sub, ex) for sub, ex in items])
            position: dict[int, int] = {}  # invoice id -> position of the file that made it
            decided = []
            for i, result in enumerate(results):
                assert isinstance(result, IngestResult)
                (outcome,) = result.outcomes
                position.setdefault(outcome.invoice_id, i)
                original = invoice(ctx, outcome.invoice_id).duplicate_of
                decided.append((outcome.status, outcome.new, position[outcome.invoice_id],
                                None if original is None else position[original]))
            assert verify(ctx.engine).ok
            ctx.close()
            seen.append(decided)
    assert seen[0] == seen[1]


def test_the_quota_counts_what_the_batch_admits(tmp_path: Path, db_url: str,
                                                template: bytes) -> None:
    files = [numbered(template, f"Q-{i}") for i in range(3)]
    cfg = load_settings(data_dir=tmp_path / "data", database_url=db_url,
                        max_archive_bytes_per_sender_day=len(files[0]) + len(files[1]))
    ctx = open_context(cfg)
    results = ingest_batch(ctx, [(Submission(data, "folder", filename=f"{i}.xml"), None)
                                 for i, data in enumerate([files[0], files[1], files[0],
                                                           files[2]])])
    # the same bytes again fit (already counted); the third invoice is one byte too many
    assert [type(r).__name__ for r in results] == ["IngestResult"] * 3 + ["QuotaExceeded"]
    assert isinstance(results[3], QuotaExceeded)
    assert not ctx.archive.path_for(hashlib.sha256(files[2]).hexdigest()).exists()
    ctx.close()


# ------------------------------------------------------------------ kills inside a batch

# the scan in a process of its own that kills itself with SIGKILL at the ``at``-th call of a
# function: after a batch is archived and before its transaction (``archived``), inside the
# transaction after documents and invoices were written (``writing``), or after a batch was
# committed while its files are being moved out of the inbox (``moving``)
KILLER = """
import os, runpy, signal, sys
import einvoice.intake.folder as folder
import einvoice.pipeline.batch as batch
import einvoice.store.records as records
point, at = sys.argv[1], int(sys.argv[2])
module, name = {"archived": (batch, "persist_batch"), "writing": (records, "insert_lines"),
                "moving": (folder, "_settle")}[point]
real, calls = getattr(module, name), []
def killing(*args, **kwargs):
    calls.append(1)
    if len(calls) == at:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)
setattr(module, name, killing)
sys.argv = ["einvoice", "scan", "--json"]
runpy.run_module("einvoice.cli", run_name="__main__")
"""


def _committed(ctx: Context) -> set[str]:
    with Session(ctx.engine) as s:
        return set(s.exec(select(t.Document.sha256)).all())


def _digests(folder: Path) -> set[str]:
    return {hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.xml")}


@pytest.mark.parametrize(("point", "at"), [("archived", 2), ("writing", 2), ("moving", 3)])
def test_a_kill_inside_a_batch_loses_and_doubles_nothing(
        tmp_path: Path, db_url: str, template: bytes, point: str, at: int) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(120):
        (inbox / f"k-{i:03d}.xml").write_bytes(numbered(template, f"K-{i}"))
    everything = _digests(inbox)
    # PostgreSQL with one writer: the scan writes in this process, where the killer is
    env = {**os.environ, "EINVOICE_DATA_DIR": str(tmp_path / "data"),
           "EINVOICE_DATABASE_URL": db_url, "EINVOICE_INBOX_DIR": str(inbox),
           "EINVOICE_SETTLE_SECONDS": "0",
           "EINVOICE_WORKERS": "1" if db_url.startswith("postgresql") else "2"}
    # the commands run in processes forked from one warm process that imported the CLI once
    # (tests.forks): each a process of its own, without a cold interpreter start and imports
    with Forks(env) as forks:
        assert forks.run("init").returncode == 0
        # no pipes: reader processes outliving the killed scan would keep them open
        killed = forks.start(point, str(at), script=KILLER, stderr=tmp_path / "killed.err")
        assert killed.wait(600) == -9, (tmp_path / "killed.err").read_text()[-2000:]

        ctx = open_context(load_settings(data_dir=tmp_path / "data", database_url=db_url))
        committed, moved = _committed(ctx), _digests(inbox / "processed")
        assert moved <= committed  # nothing left the inbox before its batch was committed
        assert all(ctx.archive.verify(d) for d in committed)  # nor was committed before archived
        archived = {p.name for p in ctx.archive.root.rglob("*") if p.is_file()}
        if point == "moving":
            assert len(moved) == at - 1 and len(committed) > len(moved)
        else:  # the first batch committed and moved, nothing of the second
            assert committed == moved and 0 < len(moved) < 120
        if point == "archived":
            assert archived > committed  # the kill came between the archive and the commit

        assert forks.start("scan", "--json").wait(600) == 0
        assert not list(inbox.glob("*.xml"))
        assert _digests(inbox / "processed") == everything == _committed(ctx)
        with Session(ctx.engine) as s:
            invoices = s.exec(select(t.Invoice)).all()
            lines = Counter(s.exec(select(t.InvoiceLine.invoice_id)).all())
        assert len(invoices) == 120 and {i.status for i in invoices} == {"pending"}
        for inv in invoices:
            assert inv.model_json is not None and inv.id is not None
            assert lines[inv.id] == len(InvoiceModel.model_validate_json(inv.model_json).lines)
        assert ingest_events(ctx) == Counter({inv.id: 1 for inv in invoices})
        assert verify(ctx.engine).ok
        ctx.close()


# ------------------------------------------------------------------ PostgreSQL: claims

def test_a_claim_is_held_by_one_session_until_released_or_gone(pg_url: str) -> None:
    ctx = open_context(load_settings(data_dir=Path(tempfile.mkdtemp()), database_url=pg_url))
    with ctx.engine.connect() as one, ctx.engine.connect() as two:
        one, two = (c.execution_options(isolation_level="AUTOCOMMIT") for c in (one, two))
        assert claim(one, ["a", "b", "c"]) == ["a", "b", "c"]
        assert claim(two, ["b", "c", "d"]) == ["d"]
        release(one, ["b"])
        assert claim(two, ["a", "b"]) == ["b"]
        one.invalidate()  # the process died: its claims end with its session
        assert claim(two, ["a", "c"]) == ["a", "c"]
    ctx.close()


def test_two_workers_share_a_folder_and_leave_a_claimed_file_alone(
        tmp_path: Path, pg_url: str, template: bytes) -> None:
    """Files 0-19 and their copies 20-39 (other bytes, same invoice): the two workers start
    at either half, so copies are decided at the same time in two processes."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(20):
        (inbox / f"w-{i:02d}.xml").write_bytes(numbered(template, f"W-{i}"))
        (inbox / f"w-{i + 20:02d}.xml").write_bytes(numbered(template, f"w-{i}", "<!-- 2 -->"))
    cfg = load_settings(data_dir=tmp_path / "data", database_url=pg_url, inbox_dir=inbox,
                        settle_seconds=0, workers=2)
    ctx = open_context(cfg)
    held = [inbox / "w-05.xml", inbox / "w-33.xml"]
    with ctx.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        assert claim(conn, [str(p.resolve()) for p in held]) == [str(p.resolve()) for p in held]
        first = list(scan(ctx, DropFolder(path=inbox), workers=2))
        assert sorted(p.name for p in inbox.glob("*.xml")) == ["w-05.xml", "w-33.xml"]
    rest = list(scan(ctx, DropFolder(path=inbox), workers=1))
    results = first + rest
    assert sorted(r.path.name for r in results) == sorted(f"w-{i:02d}.xml" for i in range(40))
    assert all(r.ok and r.result and r.result.outcomes[0].new for r in results)
    with Session(ctx.engine) as s:
        invoices = s.exec(select(t.Invoice)).all()
    by_key = Counter(inv.number_key for inv in invoices)
    assert len(by_key) == 20 and set(by_key.values()) == {2}
    statuses = Counter(inv.status for inv in invoices)
    assert statuses == Counter({"pending": 20, "duplicate": 20})
    pending = {inv.id: inv.number_key for inv in invoices if inv.status == "pending"}
    assert all(pending[inv.duplicate_of] == inv.number_key
               for inv in invoices if inv.status == "duplicate" and inv.duplicate_of)
    assert ingest_events(ctx) == Counter({inv.id: 1 for inv in invoices})
    assert verify(ctx.engine).ok
    ctx.close()
