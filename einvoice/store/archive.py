"""Content-addressed archive of originals: written once, atomically, never modified.

A file's path is derived from its SHA-256, so storing the same bytes twice is a no-op and a
stored file can always be checked against its name. A write killed between its temp file and
the rename leaves a ``.tmp-*`` file behind; ``sweep`` removes it, once per process when intake
starts: at once when the name says its writer was a process of this host that is gone (a
service restarted right after a kill), else once older than a grace period (a writer still at
work, perhaps on another machine sharing the archive, is younger).
"""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from einvoice.errors import NotFound
from einvoice.store.durable import all_at_once, fsync_dir, make_dirs

TMP_PREFIX = ".tmp-"
TMP_GRACE_SECONDS = 3600.0  # far longer than writing the largest original takes


def _writer_prefix() -> str:
    """``.tmp-HOST-PID-``: whose write a temp file is (mkstemp appends letters, digits, _)."""
    return f"{TMP_PREFIX}{socket.gethostname()}-{os.getpid()}-"


def writer_gone(name: str) -> bool:
    """The temp file's name names a process of this host that no longer runs."""
    host, _, rest = name.removeprefix(TMP_PREFIX).rpartition("-")[0].rpartition("-")
    if host != socket.gethostname() or not rest.isdigit():
        return False
    try:
        os.kill(int(rest), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it runs under another account
        return False
    return False


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Archive:
    """Originals under ``root/ab/cd/<sha256>``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.swept = False  # ``sweep`` ran in this process

    def path_for(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a SHA-256 hex digest: {digest!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        """Store the bytes durably (temp file, fsync, rename, fsync folder); return the digest."""
        return self.put_many([data])[0]

    def put_many(self, blobs: Sequence[bytes]) -> list[str]:
        """Store several originals durably; their digests, in order. New folders are made
        durable in their parents first; each new file is written and fsynced under a temp name
        and renamed, then every folder that got a new file is fsynced once; the fsyncs run side
        by side (``durable.all_at_once``), so a batch waits for a few journal commits instead
        of one per file. Nothing is stored for sure before this returns."""
        digests = [sha256_hex(data) for data in blobs]
        new = {digest: data for digest, data in zip(digests, blobs, strict=True)
               if not self.path_for(digest).exists()}
        created: dict[Path, None] = {}  # the parents of new folders, top down
        for digest in new:
            created.update(dict.fromkeys(make_dirs(self.path_for(digest).parent, sync=False)))
        for depth in sorted({len(folder.parts) for folder in created}):  # top down
            all_at_once(fsync_dir, [f for f in created if len(f.parts) == depth])
        all_at_once(self._write, new.items())
        all_at_once(fsync_dir, sorted({self.path_for(digest).parent for digest in new}))
        return digests

    def _write(self, item: tuple[str, bytes]) -> None:
        """One file written and fsynced under a temp name, then renamed to its digest."""
        digest, data = item
        target = self.path_for(digest)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=_writer_prefix())
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, digest: str) -> bytes:
        try:
            return self.path_for(digest).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"no archived original with SHA-256 {digest}") from exc

    def verify(self, digest: str) -> bool:
        """True when the stored bytes still hash to their name."""
        return sha256_hex(self.get(digest)) == digest

    def remove(self, digest: str) -> int:
        """Delete a stored original (the caller decided it may go); its size, 0 when absent."""
        path = self.path_for(digest)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        fsync_dir(path.parent)
        return size

    def sweep(self, grace_seconds: float = TMP_GRACE_SECONDS) -> list[Path]:
        """Remove the temp files of writes that were killed (their writer gone, or older than
        ``grace_seconds``); the paths removed. Only ``ab/cd/`` folders hold them."""
        self.swept = True
        cutoff = time.time() - grace_seconds
        removed = []
        for tmp in self.root.glob(f"[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]/{TMP_PREFIX}*"):
            try:
                found = tmp.lstat()
                if stat.S_ISREG(found.st_mode) and (found.st_mtime < cutoff
                                                    or writer_gone(tmp.name)):
                    tmp.unlink()
                    removed.append(tmp)
            except FileNotFoundError:
                continue  # its writer renamed or removed it meanwhile
        return removed
