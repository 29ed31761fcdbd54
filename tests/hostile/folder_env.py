"""The drop folder's world: an inbox scanned as ``einvoice scan`` and the service scan it
(``intake.folder.scan``), and a loopback port that would notice a call to the network."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from einvoice.config import DropFolder
from einvoice.context import Context
from einvoice.intake.folder import FAILED, FileResult, scan
from einvoice.lifecycle import Status
from tests.hostile import documents as d
from tests.hostile.facts import Listener, text_of
from tests.hostile.harness import Cases, Env

cases = Cases()


@dataclass
class FolderEnv(Env):
    folder: DropFolder | None = None
    listener: Listener | None = None

    def put(self, name: str, data: bytes) -> Path:
        assert self.folder is not None
        path = self.folder.path / name
        path.write_bytes(data)
        return path

    def scan(self) -> list[FileResult]:
        assert self.folder is not None
        return list(scan(self.ctx, self.folder))

    def comprehensive(self, number: str | None = None) -> bytes:
        data = d.corpus_bytes(self.corpus, d.COMPREHENSIVE)
        return d.renumber(data, number) if number else data

    def one(self, name: str, data: bytes) -> FileResult:
        """Drop one file and scan (measured); the one result."""
        self.put(name, data)
        with self.timed():
            results = self.scan()
        assert [r.path.name for r in results] == [name], results
        return results[0]


def make(ctx: Context, corpus: Path, work: Path) -> FolderEnv:
    inbox = work / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    return FolderEnv(ctx, corpus, work, folder=DropFolder(path=inbox), listener=Listener())


def alive(env: FolderEnv) -> None:
    number = env.unique("OK")
    data = d.renumber(d.corpus_bytes(env.corpus, d.MINIMAL), number)
    env.put(f"{number}.xml", data)
    (res,) = env.scan()
    assert res.ok and res.result is not None, res.problem
    (outcome,) = res.result.outcomes
    assert outcome.status == Status.PENDING, outcome


def close(env: FolderEnv) -> None:
    if env.listener is not None:
        env.listener.close()




def refused(env: FolderEnv, res: FileResult, data: bytes, *words: str) -> None:
    """Quarantined with an error naming ``words``, the file moved to failed/ beside a note
    saying why, its original kept, and nothing reached for outside."""
    assert res.result is not None, res.error
    (outcome,) = res.result.outcomes
    assert outcome.status == Status.QUARANTINED, outcome
    for word in words:
        assert word in (outcome.error or ""), (word, outcome.error)
    assert res.moved_to is not None and res.moved_to.parent.name == FAILED
    assert res.moved_to.read_bytes() == data
    note = res.moved_to.with_name(res.moved_to.name + ".error.txt").read_text(encoding="utf-8")
    assert words[0] in note if words else note
    env.kept(data)
    nothing_leaked(env, text_of(env.ctx, [outcome.invoice_id]))


def nothing_leaked(env: FolderEnv, stored_text: str = "") -> None:
    assert env.listener is not None and not env.listener.called(), "a call to the network"
    assert "root:x:0:0" not in stored_text, "/etc/passwd was read"
