"""No input fills the disk: one budget per submission (members, unpacked bytes, ZIP levels,
across nested ZIPs and mail parts), only the original and the invoices taken archived, an
archive quota per sender and day, junk removed after its retention (audited), and the temp
files of killed archive writes swept when intake starts. Through the real ingest paths (the
upload app over httpx, the drop-folder scan, mail intake) on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import subprocess
import tempfile
import time
import zipfile
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from sqlmodel import Session, col, func, select

from einvoice.approval import audit
from einvoice.approval.suppliers import SupplierData, save_supplier
from einvoice.approval.tokens import create_token
from einvoice.config import DropFolder, Settings, Smtp
from einvoice.context import Context
from einvoice.errors import OverBudget
from einvoice.formats.ziparchive import Budget, Opened, open_zip
from einvoice.intake import mail, mime
from einvoice.intake.folder import FAILED, scan
from einvoice.intake.http import create_app
from einvoice.pipeline import Submission, ingest, ingest_parts
from einvoice.scheduler.jobs import RETENTION, Service
from einvoice.store import tables as t
from einvoice.store.archive import Archive, sha256_hex, writer_gone
from einvoice.store.types import utcnow

MINIMAL = "valid/xrechnung-testsuite/technical-cases/cius/01.05_minimal_test_ubl.xml"
API = "/api/v1/invoices"
MB = 1024 * 1024


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A 5 KB ZIP of 4 ZIPs of 4 ZIPs, each holding 100 MB of zeros: 1.6 GB unpacked, two
    levels of nesting (allowed), 36 members (allowed)."""
    inner = zip_of({"zeros.xml": bytes(100 * MB)})
    middle = zip_of({f"inner{i}.zip": inner for i in range(4)})
    return zip_of({f"middle{i}.zip": middle for i in range(4)})


def invoice(corpus: Path, number: str) -> bytes:
    data = (corpus / MINIMAL).read_bytes()
    out = data.replace(b"<cbc:ID>1234567</cbc:ID>", f"<cbc:ID>{number}</cbc:ID>".encode(), 1)
    assert out != data
    return out


def archived(ctx: Context) -> dict[str, int]:
    """Every file in the archive (temp files included) and its size."""
    root = ctx.archive.root
    return {p.name: p.stat().st_size for p in root.rglob("*") if p.is_file()} if root.exists() \
        else {}


def rows(ctx: Context, table: type) -> int:
    with Session(ctx.engine) as s:
        return s.exec(select(func.count()).select_from(table)).one()


def token_for(ctx: Context, name: str) -> str:
    supplier = save_supplier(ctx, SupplierData(name))
    assert supplier.id is not None
    return create_token(ctx, supplier.id, "test")[1]


def upload(settings: Settings, token: str,
           *files: tuple[str, bytes]) -> list[tuple[httpx.Response, float]]:
    """POST each file to the real upload app (its own context, as in production), in order;
    each answer with the seconds it took."""
    app = create_app(settings)

    async def post(client: httpx.AsyncClient, name: str,
                   data: bytes) -> tuple[httpx.Response, float]:
        started = time.perf_counter()
        answer = await client.post(API, content=data, params={"filename": name},
                                   headers={"Authorization": f"Bearer {token}"})
        return answer, time.perf_counter() - started

    async def run() -> list[tuple[httpx.Response, float]]:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://einvoice",
                timeout=120) as client:
            return [await post(client, name, data) for name, data in files]

    return asyncio.run(run())


def drop(ctx: Context, *files: tuple[str, bytes]) -> dict[str, Path]:
    """Put files into the inbox and scan it once; where each file went."""
    ctx.settings.settle_seconds = 0
    inbox = ctx.settings.inbox_dir
    inbox.mkdir(parents=True, exist_ok=True)
    for name, data in files:
        (inbox / name).write_bytes(data)
    folder = DropFolder(path=inbox)
    return {res.path.name: res.moved_to for res in scan(ctx, folder) if res.moved_to}


# ------------------------------------------------------------------ budget per submission

def test_a_nested_zip_bomb_is_refused_whole_before_it_is_unpacked(
        ctx: Context, bomb: bytes) -> None:
    """GIVEN a 5 KB upload that unpacks to 1.6 GB through nested ZIPs (before: 1.6 GB written
    to the archive in 54 s) WHEN it is uploaded THEN it is one quarantined case naming the
    size limit, only its 5 KB original is archived, and the request takes well under 1 s."""
    assert len(bomb) < 6 * 1024
    token = token_for(ctx, "Bomber GmbH")
    ((response, elapsed),) = upload(ctx.settings, token, ("bomb.zip", bomb))
    assert response.status_code == 422, response.text
    (doc,) = response.json()["documents"]
    assert doc["status"] == "quarantined" and doc["filename"] == "bomb.zip"
    assert doc["error"] == ("submission unpacks beyond the size limit of 268435456 bytes (ZIP "
                            "members and mail parts together): refused, nothing more unpacked")
    assert archived(ctx) == {sha256_hex(bomb): len(bomb)}
    assert rows(ctx, t.Document) == 1 and rows(ctx, t.Invoice) == 1
    assert elapsed < 1.0, elapsed


def test_unpacked_bytes_count_across_nested_zips(ctx: Context) -> None:
    """Every member's size counts, the nested ZIP's own too: exactly the limit is taken, one
    byte less and the whole submission is refused (drop folder)."""
    inner = zip_of({"a.txt": b"a" * 100, "b.txt": b"b" * 200})
    outer = zip_of({"inner.zip": inner})
    ctx.settings.max_zip_total_bytes = len(inner) + 300
    moved = drop(ctx, ("fits.zip", outer))
    assert moved["fits.zip"].parent.name == FAILED  # its members are junk, but taken apart
    assert rows(ctx, t.Document) == 4  # outer, inner and the two members
    ctx.settings.max_zip_total_bytes = len(inner) + 299
    again = zip_of({"inner.zip": inner, "empty.txt": b""})  # other bytes, same size
    drop(ctx, ("over.zip", again))
    note = (ctx.settings.inbox_dir / FAILED / "over.zip.error.txt").read_text()
    assert note == (f"over.zip: submission unpacks beyond the size limit of {len(inner) + 299} "
                    "bytes (ZIP members and mail parts together): refused, nothing more "
                    "unpacked\n")
    assert rows(ctx, t.Document) == 5


def test_every_central_directory_entry_is_a_member_counted_before_parsing(
        ctx: Context) -> None:
    """A ZIP of 20,000 empty entries is refused by its signature count, without parsing the
    directory; directories count too."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for i in range(20_000):
            zf.writestr(f"d{i}/" if i % 2 else f"f{i}", b"")
    started = time.perf_counter()
    outcome = ingest(ctx, Submission(buf.getvalue(), "cli", filename="many.zip")).outcomes[0]
    assert time.perf_counter() - started < 1.0
    assert outcome.error == ("submission with 20000 members exceeds the limit of 500 (ZIP "
                             "entries and mail parts together): refused, nothing more unpacked")


def test_a_member_that_lies_about_its_size_is_broken_not_unpacked_beyond(
        ctx: Context) -> None:
    """The central directory says 10 bytes, the stream holds 1 MB: inflating stops at 10 and
    the CRC check fails, so the ZIP is quarantined as unreadable."""
    data = bytearray(zip_of({"a.txt": b"x" * MB}))
    central = data.rindex(b"PK\x01\x02")
    data[central + 24:central + 28] = (10).to_bytes(4, "little")  # uncompressed size
    outcome = ingest(ctx, Submission(bytes(data), "cli", filename="liar.zip")).outcomes[0]
    assert outcome.status == "quarantined" and outcome.kind == "zip"
    assert outcome.error is not None
    assert outcome.error.startswith("ZIP member 'a.txt' cannot be read: Bad CRC-32")


def test_mail_parts_and_their_zip_entries_share_one_budget(ctx: Context, corpus: Path) -> None:
    """Two attachments (a ZIP of two entries and an XML) are four members: at a limit of 4
    both are taken; at 3 the message is refused whole, its raw bytes one quarantined case."""
    def message(number: str) -> bytes:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "lieferant@example.org", "r@example.org", number
        msg.set_content("Rechnungen anbei")
        msg.add_attachment(zip_of({"x.txt": b"x", "y.txt": number.encode()}),
                           maintype="application", subtype="zip", filename="batch.zip")
        msg.add_attachment(invoice(corpus, number), maintype="application", subtype="xml",
                           filename=f"{number}.xml")
        return msg.as_bytes()

    ctx.settings.max_zip_members = 4
    taken = mail.handle(ctx, message("RE-1"), 1, None)
    assert taken.submission_id is not None and rows(ctx, t.Invoice) == 3  # x, y, RE-1
    ctx.settings.max_zip_members = 3
    refused = mail.handle(ctx, message("RE-2"), 2, None)
    assert refused.outcome == mail.FAILED
    assert refused.problem == ("document: submission with 4 members exceeds the limit of 3 (ZIP "
                               "entries and mail parts together): refused, nothing more "
                               "unpacked")
    with Session(ctx.engine) as s:
        docs = s.exec(select(t.Document).where(
            col(t.Document.submission_id) == refused.submission_id)).all()
    assert [(d.kind, d.filename) for d in docs] == [("not-an-invoice", None)]


Tree = dict[str, "bytes | Tree"]
trees = st.recursive(
    st.binary(max_size=300).map(lambda b: b.replace(b"PK", b"pk")),  # no stray signature
    lambda children: st.dictionaries(st.text("abc", min_size=1, max_size=3), children,
                                     min_size=1, max_size=4),
    max_leaves=12)


def packed(tree: Tree) -> bytes:
    return zip_of({name: node if isinstance(node, bytes) else packed(node)
                   for name, node in tree.items()})


def totals(tree: Tree, level: int = 0) -> tuple[int, int, int]:
    """Members, unpacked bytes and the deepest ZIP level of a tree packed by ``packed``."""
    members, size, deepest = len(tree), 0, level
    for node in tree.values():
        data = node if isinstance(node, bytes) else packed(node)
        size += len(data)
        if not isinstance(node, bytes):
            inner = totals(node, level + 1)
            members, size, deepest = members + inner[0], size + inner[1], max(deepest, inner[2])
    return members, size, deepest


@settings(max_examples=150, deadline=None)
@given(tree=st.dictionaries(st.text("xyz", min_size=1, max_size=3), trees, min_size=1,
                            max_size=4),
       limits=st.tuples(st.integers(1, 40), st.integers(0, 6000), st.integers(0, 4)))
def test_the_budget_counts_every_level_of_a_submission(
        tree: Tree, limits: tuple[int, int, int]) -> None:
    """A ZIP of ZIPs is refused exactly when all its levels together exceed a limit."""
    members, size, deepest = totals(tree)
    over = members > limits[0] or size > limits[1] or deepest > limits[2]
    try:
        opened = open_zip(packed(tree), Budget(*limits))
    except OverBudget:
        assert over
    else:
        assert not over and isinstance(opened, Opened) and opened.error is None


# ------------------------------------------------------------------ what is archived

def test_only_the_original_and_the_invoices_taken_are_archived(
        ctx: Context, corpus: Path) -> None:
    xml = invoice(corpus, "RE-7")
    junk, nested = b"not an invoice", zip_of({"logo.png": b"\x89PNG junk"})
    batch = zip_of({"re-7.xml": xml, "notes.txt": junk, "more.zip": nested})
    moved = drop(ctx, ("batch.zip", batch))
    assert moved["batch.zip"].parent.name == FAILED  # two members are not invoices
    assert set(archived(ctx)) == {sha256_hex(batch), sha256_hex(xml)}
    with Session(ctx.engine) as s:
        kinds = sorted(s.exec(select(t.Document.kind)).all())
    assert kinds == ["not-an-invoice", "not-an-invoice", "ubl-invoice", "zip", "zip"]


def test_mail_parts_that_are_no_invoice_are_not_archived(ctx: Context, corpus: Path) -> None:
    xml = invoice(corpus, "RE-8")
    raw = b"From: a@example.org\r\nSubject: x\r\n\r\nbody"
    result = ingest_parts(ctx, Submission(raw, "mail", sender="a@example.org"),
                          [("re-8.xml", xml), ("scan.pdf", b"%PDF-1.4 not really")])
    assert [o.status for o in result.outcomes] == ["pending", "quarantined"]
    assert set(archived(ctx)) == {sha256_hex(raw), sha256_hex(xml)}


# ------------------------------------------------------------------ archive quota

def test_upload_quota_per_supplier_and_day(ctx: Context, corpus: Path) -> None:
    """Exactly the quota is taken; beyond it HTTP 413 with the reason and nothing kept; the same
    bytes again (a retry) are no new bytes; another supplier has a quota of its own."""
    first, second, third = (invoice(corpus, f"Q-{i}") for i in range(3))
    app_settings = ctx.settings.model_copy(
        update={"max_archive_bytes_per_sender_day": len(first) + len(second)})
    token, other = token_for(ctx, "Quota GmbH"), token_for(ctx, "Other GmbH")
    answers = [r for r, _ in upload(app_settings, token, ("1.xml", first), ("2.xml", second),
                                    ("3.xml", third), ("1.xml", first))]
    assert [r.status_code for r in answers] == [200, 200, 413, 200]
    limit = len(first) + len(second)
    assert answers[2].json()["detail"] == (
        f"archive quota used up: {limit} of {limit} bytes archived today for this sender, "
        f"this submission of {len(third)} bytes does not fit; send it again tomorrow")
    assert sha256_hex(third) not in archived(ctx) and rows(ctx, t.Submission) == 2
    ((elsewhere, _),) = upload(app_settings, other, ("3.xml", third))
    assert elsewhere.status_code == 200 and rows(ctx, t.Submission) == 3


def test_quota_counts_only_the_local_day(ctx: Context) -> None:
    """Yesterday's bytes (local time) do not count today."""
    ctx.settings.max_archive_bytes_per_sender_day = 10
    assert drop(ctx, ("a.bin", b"0123456789"))["a.bin"].parent.name == FAILED  # junk, kept
    assert drop(ctx, ("b.bin", b"x"))["b.bin"].parent.name == FAILED
    note = (ctx.settings.inbox_dir / FAILED / "b.bin.error.txt").read_text()
    assert note.startswith("archive quota used up: 10 of 10 bytes archived today")
    assert sha256_hex(b"x") not in archived(ctx)
    with ctx.engine.begin() as conn:
        conn.execute(update(t.Submission).values(received_at=utcnow() - timedelta(days=1)))
    (ctx.settings.inbox_dir / FAILED / "b.bin").rename(ctx.settings.inbox_dir / "b.bin")
    assert drop(ctx)["b.bin"].parent.name == FAILED  # taken (junk): archived now
    assert sha256_hex(b"x") in archived(ctx)


def test_a_mail_over_quota_is_a_case_that_keeps_nothing_and_its_sender_is_told(
        ctx: Context) -> None:
    ctx.settings.smtp = Smtp(send_receipts=True)
    raws = [f"From: viel@example.org\r\nSubject: {n}\r\n\r\n{'x' * size}".encode()
            for n, size in (("1", 100), ("2", 200), ("3", 10))]
    ctx.settings.max_archive_bytes_per_sender_day = len(raws[0]) + len(raws[2])
    outcomes = [ingest_parts(ctx, Submission(raw, "mail", sender="viel@example.org"), [])
                for raw in raws]
    refused = outcomes[1]
    assert [o.outcomes for o in (outcomes[0], outcomes[2])] == [[], []]  # taken: no invoice
    (case,) = refused.outcomes
    assert case.status == "quarantined"
    assert case.error is not None and case.error.startswith("archive quota used up")
    assert set(archived(ctx)) == {sha256_hex(raws[0]), sha256_hex(raws[2])}
    with Session(ctx.engine) as s:
        sub = s.get(t.Submission, refused.submission_id)
        assert sub is not None and sub.archive_removed_at is not None  # never kept
    result = mail.handle(ctx, b"From: viel@example.org\r\nSubject: 4\r\n\r\nmore", 4, None)
    assert result.outcome == mail.FAILED and "archive quota used up" in (result.problem or "")
    with Session(ctx.engine) as s:
        told = s.exec(select(t.Notice.recipient).where(
            col(t.Notice.submission_id) == result.submission_id)).all()
    assert told == ["viel@example.org"]


def test_the_letter_parser_keeps_every_candidate_for_the_budget_to_count() -> None:
    msg = EmailMessage()
    msg["From"] = "a@example.org"
    msg.set_content("x")
    for i in range(600):
        msg.add_attachment(b"<a/>", maintype="application", subtype="xml", filename=f"{i}.xml")
    assert len(mime.parse(msg.as_bytes(), MB).parts) == 600


# ------------------------------------------------------------------ junk retention

def _age(ctx: Context, submission_id: int, days: float) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(update(t.Submission).where(col(t.Submission.id) == submission_id)
                     .values(received_at=utcnow() - timedelta(days=days)))


def test_junk_past_its_retention_is_removed_and_audited(ctx: Context, corpus: Path) -> None:
    """Junk older than ``junk_retention_days`` loses its original (one audit event each, the
    trail still intact); younger junk, invoices, unreadable invoices and PDFs stay; bytes
    another submission refers to stay; the job runs once a day."""
    xml, pdf = invoice(corpus, "RE-9"), b"%PDF-1.4 broken"
    old_junk = ingest(ctx, Submission(b"junk one", "cli"))
    young_junk = ingest(ctx, Submission(b"junk two", "cli"))
    bad_zip = ingest(ctx, Submission(b"PK\x03\x04 broken", "cli"))
    kept = [ingest(ctx, Submission(data, "cli")) for data in (
        xml, pdf, b"<Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'/>")]
    shared = ingest(ctx, Submission(zip_of({"same.bin": b"junk three",
                                            "re.xml": invoice(corpus, "RE-10")}), "cli"))
    alone = ingest(ctx, Submission(b"junk three", "cli"))  # a known document: no case of its own
    for result in (old_junk, bad_zip, *kept, shared, alone):
        _age(ctx, result.submission_id, 90 + 1 / 1440)
    _age(ctx, young_junk.submission_id, 90 - 1 / 1440)
    before = archived(ctx)
    Service(ctx).retention()
    gone = {sha256_hex(b"junk one"), sha256_hex(b"PK\x03\x04 broken")}
    assert set(before) - set(archived(ctx)) == gone
    with Session(ctx.engine) as s:
        events = s.exec(select(t.AuditEvent).where(col(t.AuditEvent.action) == "remove-junk")
                        .order_by(col(t.AuditEvent.id))).all()
        marked = set(s.exec(select(t.Submission.id).where(
            col(t.Submission.archive_removed_at).is_not(None))).all())
        runs = s.exec(select(t.JobRun.detail).where(col(t.JobRun.job) == RETENTION)).all()
    assert [(e.invoice_id, e.actor, e.reason) for e in events] == [
        (None, "einvoice", "kein Rechnungsinhalt, nach 90 Tagen entfernt / no invoice in it, "
                           "removed after 90 days")] * 2
    assert [e.detail for e in events] == [
        f'{{"sha256": ["{sha256_hex(data)}"], "submission_id": {sub}}}'
        for data, sub in ((b"junk one", old_junk.submission_id),
                          (b"PK\x03\x04 broken", bad_zip.submission_id))]
    assert marked == {old_junk.submission_id, bad_zip.submission_id, alone.submission_id}
    assert runs == [f"2 junk submissions removed, {len(b'junk one') + 11} bytes"]
    assert audit.verify(ctx.engine).ok
    Service(ctx).retention()  # once a day
    with Session(ctx.engine) as s:
        assert len(s.exec(select(t.JobRun).where(col(t.JobRun.job) == RETENTION)).all()) == 1


# ------------------------------------------------------------------ stale temp files

def test_stale_temp_files_of_killed_archive_writes_are_swept_when_intake_starts(
        ctx: Context) -> None:
    """A ``.tmp-*`` left by a write killed before its rename is removed at the first scan of
    a process once older than the grace period (1 h); a younger one (a writer at work) and
    anything else stay; later scans of the same process do not walk the archive again."""
    folder = ctx.archive.root / "ab" / "cd"
    folder.mkdir(parents=True)
    old, young = folder / ".tmp-killed", folder / ".tmp-writing"
    other, link = folder / ("ab" * 32), folder / ".tmp-link"
    for path in (old, young, other):
        path.write_bytes(b"partial")
    link.symlink_to(other)
    two_hours_ago = time.time() - 7200
    for path in (old, other):
        os.utime(path, (two_hours_ago, two_hours_ago))
    os.utime(link, (two_hours_ago, two_hours_ago), follow_symlinks=False)
    os.utime(young, (time.time() - 3500, time.time() - 3500))  # within the hour
    Service(ctx).intake()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [young.name, other.name, link.name])
    later = folder / ".tmp-later"
    later.write_bytes(b"partial")
    os.utime(later, (two_hours_ago, two_hours_ago))
    Service(ctx).intake()
    assert later.exists()  # swept once per process (per archive opened)


def test_a_killed_writers_temp_file_goes_at_once_a_running_writers_stays(
        tmp_path: Path) -> None:
    """``.tmp-HOST-PID-*``: a writer of this host that is gone (a service restarted right after
    a kill) leaves a file swept at once; one still running, another host's, or an unnamed one
    wait for the grace period; the archive names its own temp files so."""
    archive = Archive(tmp_path / "archive")
    folder = archive.root / "ab" / "cd"
    folder.mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    host = socket.gethostname()
    killed = folder / f".tmp-{host}-{gone.pid}-abc_1"
    kept = [folder / f".tmp-{host}-{os.getpid()}-abc_2", folder / f".tmp-other{host}-{gone.pid}-x",
            folder / ".tmp-killed", folder / f".tmp-{host}-x{gone.pid}-y"]
    for path in (killed, *kept):
        path.write_bytes(b"partial")
    assert archive.sweep() == [killed]
    assert all(path.exists() for path in kept)
    assert writer_gone(killed.name) and not any(writer_gone(p.name) for p in kept)
    seen: list[str] = []
    real = tempfile.mkstemp

    def spy(*args: Any, **kwargs: Any) -> tuple[int, str]:
        fd, name = real(*args, **kwargs)
        seen.append(Path(name).name)
        return fd, name
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tempfile, "mkstemp", spy)
        archive.put(b"an original")
    assert len(seen) == 1 and seen[0].startswith(f".tmp-{host}-{os.getpid()}-")
