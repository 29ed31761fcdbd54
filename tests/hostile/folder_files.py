"""ZIPs that nest, swarm, lie about their size or name paths and devices; what is no file (a
link, a pipe); an empty file, a hostile file name; the same invoice with cosmetic changes; the
temp file of a killed write."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from einvoice.context import open_context
from einvoice.intake.folder import FAILED, PROCESSED, ingest_files, scan
from einvoice.lifecycle import Status
from einvoice.store.records import Outcome
from tests.hostile import documents as d
from tests.hostile.facts import stored
from tests.hostile.folder_env import FolderEnv, cases, nothing_leaked, refused

# ------------------------------------------------------------------ ZIP


@cases.add()
def zip_of_zips_deep(env: FolderEnv) -> None:
    """Four levels of ZIPs: refused whole at the third, nothing but the original stored."""
    archived = _archived(env)
    data = d.zip_of_zips(4, 4, d.corpus_bytes(env.corpus, d.MINIMAL))
    refused(env, env.one("deep.zip", data), data, "nested deeper than 2 levels")
    assert _archived(env) == archived + 1, "members were archived"


@cases.add()
def zip_of_zips_wide(env: FolderEnv) -> None:
    """16 x 16 x 16 members of 1 MB zeros (4 GB) within the depth limit, in a 5 MB upload:
    refused by the budget of the whole submission, nothing but the original stored."""
    archived = _archived(env)
    data = d.zip_of_zips(3, 16, bytes(1024 * 1024))
    refused(env, env.one("wide.zip", data), data, "exceeds the limit")
    assert _archived(env) == archived + 1, "members were archived"


@cases.add()
def zip_20000_entries(env: FolderEnv) -> None:
    data = d.many_entries(20_000)
    refused(env, env.one("swarm.zip", data), data, "20000 members")


@cases.add()
def zip_member_lying_about_its_size(env: FolderEnv) -> None:
    """32 MB that say they are 1,000 bytes: never inflated beyond what they say."""
    data = d.lying_size(32, 1000)
    refused(env, env.one("liar.zip", data), data, "cannot be read")


def _archived(env: FolderEnv) -> int:
    return sum(1 for p in env.ctx.archive.root.rglob("*") if p.is_file())


def _unzipped(env: FolderEnv, names: list[str], expected: list[str]) -> None:
    invoice = d.corpus_bytes(env.corpus, d.MINIMAL)
    data = d.zipped([(name, d.renumber(invoice, env.unique())) for name in names])
    before = {p for p in env.work.rglob("*") if p.is_file()}
    res = env.one("paths.zip", data)
    assert res.result is not None, res.error
    assert [o.filename for o in res.result.outcomes] == expected
    assert all(o.status == Status.PENDING for o in res.result.outcomes), res.result.outcomes
    made = {p for p in env.work.rglob("*") if p.is_file()} - before
    assert all(env.ctx.archive.root in p.parents or p.parent.name in (PROCESSED, FAILED)
               for p in made), sorted(made)
    env.kept(data)


@cases.add()
def zip_path_traversal(env: FolderEnv) -> None:
    _unzipped(env, ["../../../../etc/passwd.xml", "/etc/cron.d/evil.xml",
                    "..\\..\\Windows\\win.ini.xml", "C:\\Windows\\System32\\evil.xml"],
              ["passwd.xml", "evil.xml", "win.ini.xml", "evil.xml"])


@cases.add()
def zip_nul_and_control_names(env: FolderEnv) -> None:
    _unzipped(env, ["a\x00b.xml", "\x1b]0;pwned\x07[/].xml", "zeile\r\numbruch.xml"],
              ["a", "].xml", "zeileumbruch.xml"])  # [/] is a path for a ZIP


@cases.add()
def zip_device_names(env: FolderEnv) -> None:
    _unzipped(env, ["CON", "NUL.xml", "COM1.xml", "aux.xml", "PRN", "dir/"],
              ["CON", "NUL.xml", "COM1.xml", "aux.xml", "PRN"])


# ------------------------------------------------------------------ not files, odd files


@cases.add()
def symlink_to_etc_passwd(env: FolderEnv) -> None:
    assert env.folder is not None
    link = env.folder.path / "passwd.xml"
    link.symlink_to("/etc/passwd")
    with env.timed():
        results = env.scan()
    assert results == [] and link.is_symlink(), results
    nothing_leaked(env)
    env.left(link, Path("/etc/passwd").read_bytes())
    link.unlink()


@cases.add()
def fifo_in_the_drop_folder(env: FolderEnv) -> None:
    """A named pipe nobody writes to: reading it would wait for ever, and every file after
    it with it."""
    assert env.folder is not None
    fifo = env.folder.path / "pipe.xml"
    os.mkfifo(fifo)
    try:
        with env.timed():
            results = env.scan()
        assert results == [], results
        assert fifo.exists(), "the pipe was moved or removed"
        env.kept_where.append("left:pipe.xml (no file: nothing to keep)")
    finally:
        fifo.unlink()


@cases.add()
def fifo_handed_to_ingest(env: FolderEnv) -> None:
    """A file that became a pipe after it was listed: refused, not waited on."""
    fifo = env.work / "later-a-pipe.xml"
    os.mkfifo(fifo)
    try:
        with env.timed():
            (res,) = ingest_files(env.ctx, [fifo], "cli")
        assert res.error == "not a regular file" and res.result is None, res
        env.kept_where.append("left:later-a-pipe.xml (no file: nothing to keep)")
    finally:
        fifo.unlink()


@cases.add()
def stale_temp_file_after_a_crash_and_quick_restart(env: FolderEnv) -> None:
    """A write killed before its rename leaves ``.tmp-HOST-PID-*``; the service restarts at
    once: its first scan removes the killed writer's file (young as it is) and keeps a young
    one of a writer still running."""
    folder = env.ctx.archive.root / "ee" / "ee"
    folder.mkdir(parents=True, exist_ok=True)
    gone = subprocess.Popen(["true"])  # a process of this host that is gone
    gone.wait()
    left = folder / f".tmp-{socket.gethostname()}-{gone.pid}-killed_"
    working = folder / f".tmp-{socket.gethostname()}-{os.getpid()}-writing"
    for path in (left, working):
        path.write_bytes(b"half an original")
    restarted = open_context(env.ctx.settings)  # a new process: its archive not swept yet
    try:
        assert env.folder is not None
        with env.timed():
            list(scan(restarted, env.folder))
        env.kept_where.append("no original: a temp file of a killed write")
        assert not left.exists(), "the killed writer's temp file is still there"
        assert working.exists(), "a running writer's temp file was removed"
    finally:
        restarted.close()
        for path in (left, working):
            path.unlink(missing_ok=True)


@cases.add()
def empty_file(env: FolderEnv) -> None:
    refused(env, env.one("leer.xml", b""), b"", "empty")


@cases.add()
def hostile_file_name(env: FolderEnv) -> None:
    """Escapes, markup and a line break in the file name: stored as given, the note beside
    the failed file written next to it, nothing created elsewhere."""
    name = "\x1b[2J\x1b]0;pwned\x07[bold]x[link=https:evil.example]{{7*7}}<script>\r\nx.xml"
    data = b"<kaputt"
    before = {p for p in env.work.rglob("*") if p.is_file()}
    res = env.one(name, data)
    refused(env, res, data, "not well-formed")
    made = {p for p in env.work.rglob("*") if p.is_file()} - before
    assert {p.parent.name for p in made if env.ctx.archive.root not in p.parents} == {FAILED}


@cases.add()
def cosmetic_duplicates(env: FolderEnv) -> None:
    """The same invoice four more times, its number changed only to the eye: each a duplicate
    of the first, whose number is kept as read."""
    number = env.unique("RE-2024")
    first = env.comprehensive(number)
    variants = [number.lower(), number.replace("-", "\u2010"), number + "\u200b",
                "\uff32\uff25" + number[2:], number.replace("-", " - ")]
    names = [f"dup{i}.xml" for i in range(len(variants))]
    (original,) = _scanned(env, [("dup-original.xml", first)])
    copies = [d.renumber(d.corpus_bytes(env.corpus, d.COMPREHENSIVE), v) for v in variants]
    with env.timed():
        outcomes = _scanned(env, list(zip(names, copies, strict=True)))
    assert [o.status for o in outcomes] == [Status.DUPLICATE] * len(variants), outcomes
    for outcome, variant in zip(outcomes, variants, strict=True):
        case = stored(env.ctx, outcome.invoice_id)
        assert case.invoice.duplicate_of == original.invoice_id
        assert case.invoice.number == variant
    env.kept(first, *copies)


def _scanned(env: FolderEnv, files: list[tuple[str, bytes]]) -> list[Outcome]:
    for name, data in files:
        env.put(name, data)
    results = env.scan()
    return [o for r in results if r.result for o in r.result.outcomes]
