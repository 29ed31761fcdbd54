"""Store rules: the archive writes durably, and ingest is idempotent, also under concurrency.

GIVEN ``Archive.put`` with ``os.fsync`` and ``os.replace`` recorded, THEN the new file is fsynced
under its temporary name before it is renamed into place, in the same folder, and the folder is
fsynced after the rename (a dropped fsync fails the test). GIVEN the same bytes ingested twice, or
by two threads at the same moment on PostgreSQL, THEN there is one document and one invoice,
exactly one call reports it as new, and every returned submission id is a committed row. GIVEN two
copies of one invoice in other bytes ingested at the same moment, THEN exactly one is the
original and the other its duplicate.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, func, select

from einvoice.config import load_settings
from einvoice.context import Context, open_context
from einvoice.pipeline import IngestResult, Submission, ingest
from einvoice.store import tables as t
from einvoice.store.archive import Archive, sha256_hex

MINIMAL = "valid/xrechnung-testsuite/technical-cases/cius/01.05_minimal_test_ubl.xml"


# ------------------------------------------------------------------ durable archive

def _record_io(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Record every fsync (with the path its descriptor points at) and every rename."""
    events: list[tuple[str, ...]] = []
    real_fsync, real_replace, real_rename = os.fsync, os.replace, os.rename

    def fsync(fd: Any) -> None:
        fileno = fd if isinstance(fd, int) else fd.fileno()
        path = os.readlink(f"/proc/self/fd/{fileno}")
        kind = "dir" if os.path.isdir(path) else "file"
        events.append(("fsync", kind, path))
        real_fsync(fd)

    def replace(src: Any, dst: Any, **kw: Any) -> None:
        events.append(("rename", os.fspath(src), os.fspath(dst)))
        real_replace(src, dst, **kw)

    def rename(src: Any, dst: Any, **kw: Any) -> None:
        events.append(("rename", os.fspath(src), os.fspath(dst)))
        real_rename(src, dst, **kw)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "rename", rename)
    return events


def test_archive_put_syncs_the_file_renames_it_and_syncs_its_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = Archive(tmp_path / "archive")
    data = b"<Invoice>original</Invoice>"
    events = _record_io(monkeypatch)
    digest = archive.put(data)
    target = archive.path_for(digest)
    assert digest == sha256_hex(data) and target.read_bytes() == data

    renames = [e for e in events if e[0] == "rename"]
    assert len(renames) == 1, events
    _, temp, final = renames[0]
    assert Path(final) == target
    assert Path(temp).parent == target.parent, "the temporary file is renamed within its folder"
    at_rename = events.index(renames[0])
    before, after = events[:at_rename], events[at_rename + 1:]
    assert ("fsync", "file", temp) in before, f"file not fsynced before the rename: {events}"
    assert ("fsync", "dir", str(target.parent)) in after, (
        f"folder not fsynced after the rename: {events}")
    assert not [p for p in target.parent.iterdir() if p != target], "a temporary file was left"
    assert not stat.S_IMODE(target.stat().st_mode) & 0o222, "originals are read-only"


def test_archive_put_makes_new_folders_durable_in_their_parents(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN an empty archive, WHEN the first original arrives, THEN each folder created for it
    (the root, ``ab/``, ``ab/cd/``) is synced in its parent before the file is renamed in."""
    archive = Archive(tmp_path / "archive")
    events = _record_io(monkeypatch)
    target = archive.path_for(archive.put(b"first"))
    at_rename = next(i for i, e in enumerate(events) if e[0] == "rename")
    synced = [e[2] for e in events[:at_rename] if e[:2] == ("fsync", "dir")]
    assert synced == [str(tmp_path), str(tmp_path / "archive"), str(target.parent.parent)]


def test_archive_put_of_stored_bytes_writes_nothing(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    archive = Archive(tmp_path / "archive")
    data = b"same bytes"
    digest = archive.put(data)
    events = _record_io(monkeypatch)
    assert archive.put(data) == digest
    assert events == []
    assert archive.verify(digest)


# ------------------------------------------------------------------ idempotence

def _count(ctx: Context, table: type) -> int:
    with Session(ctx.engine) as s:
        return int(s.exec(select(func.count()).select_from(table)).one())


def test_the_same_bytes_twice_are_one_document_and_the_second_is_not_new(
        ctx: Context, corpus: Path) -> None:
    data = (corpus / MINIMAL).read_bytes()
    first = ingest(ctx, Submission(data, "folder", filename="a.xml"))
    second = ingest(ctx, Submission(data, "mail", filename="b.xml"))
    assert [o.new for o in first.outcomes] == [True]
    assert [o.new for o in second.outcomes] == [False]
    assert second.submission_id == first.submission_id
    assert second.outcomes[0].invoice_id == first.outcomes[0].invoice_id
    assert second.outcomes[0].status == first.outcomes[0].status == "pending"
    assert (_count(ctx, t.Submission), _count(ctx, t.Document), _count(ctx, t.Invoice)) == (
        1, 1, 1)


def _submission_exists(ctx: Context, submission_id: int) -> bool:
    with Session(ctx.engine) as s:
        return s.get(t.Submission, submission_id) is not None


@pytest.mark.postgres
def test_two_concurrent_ingests_of_a_new_invoice_return_a_committed_submission(
        tmp_path: Path, pg_url: str, corpus: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", database_url=pg_url,
                             inbox_dir=tmp_path / "inbox")
    contexts = [open_context(settings), open_context(settings)]  # two engines, like processes
    template = (corpus / MINIMAL).read_bytes()
    try:
        for round_ in range(8):
            data = template.replace(b"<cbc:ID>1234567</cbc:ID>",
                                    f"<cbc:ID>RACE-{round_}</cbc:ID>".encode(), 1)
            gate = threading.Barrier(2)
            results: list[IngestResult | BaseException] = []

            def run(ctx: Context, data: bytes = data, gate: threading.Barrier = gate,
                    results: list[IngestResult | BaseException] = results) -> None:
                gate.wait()
                try:
                    results.append(ingest(ctx, Submission(data, "upload")))
                except BaseException as exc:  # reported below, with the round
                    results.append(exc)

            threads = [threading.Thread(target=run, args=(c,)) for c in contexts]
            for th in threads:
                th.start()
            for th in threads:
                th.join(60)
            assert all(isinstance(r, IngestResult) for r in results), results
            done = [r for r in results if isinstance(r, IngestResult)]
            assert len(done) == 2
            for result in done:
                assert _submission_exists(contexts[0], result.submission_id), (
                    round_, result.submission_id)
            assert done[0].submission_id == done[1].submission_id
            assert sorted(r.outcomes[0].new for r in done) == [False, True], round_
            assert done[0].outcomes[0].invoice_id == done[1].outcomes[0].invoice_id
        assert _count(contexts[0], t.Document) == 8 and _count(contexts[0], t.Invoice) == 8
        assert _count(contexts[0], t.Submission) == 8
    finally:
        for c in contexts:
            c.close()


def _race(contexts: list[Context], bodies: list[bytes]) -> list[IngestResult | BaseException]:
    """Ingest ``bodies[i]`` through ``contexts[i]``, all released at the same moment."""
    gate = threading.Barrier(len(bodies))
    results: list[IngestResult | BaseException] = []

    def run(ctx: Context, body: bytes) -> None:
        gate.wait()
        try:
            results.append(ingest(ctx, Submission(body, "upload")))
        except BaseException as exc:  # reported by the caller
            results.append(exc)

    threads = [threading.Thread(target=run, args=pair) for pair in zip(contexts, bodies,
                                                                         strict=True)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    return results


def test_two_concurrent_copies_in_other_bytes_make_one_original(
        tmp_path: Path, db_url: str, corpus: Path) -> None:
    """The same invoice arriving twice at once (say by mail and by upload) must not become two
    pending invoices that could both be approved and paid: one is the duplicate of the other."""
    settings = load_settings(data_dir=tmp_path / "data", database_url=db_url,
                             inbox_dir=tmp_path / "inbox")
    contexts = [open_context(settings), open_context(settings)]
    template = (corpus / MINIMAL).read_bytes()
    try:
        for round_ in range(20):
            data = template.replace(b"<cbc:ID>1234567</cbc:ID>",
                                    f"<cbc:ID>TWICE-{round_}</cbc:ID>".encode(), 1)
            copies = [data + b"<!-- by mail -->", data + b"<!-- by upload -->"]
            results = _race(contexts, copies)
            assert all(isinstance(r, IngestResult) for r in results), results
            statuses = sorted(r.outcomes[0].status for r in results
                              if isinstance(r, IngestResult))
            assert statuses == ["duplicate", "pending"], f"round {round_}: {statuses}"
    finally:
        for c in contexts:
            c.close()
