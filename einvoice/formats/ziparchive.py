"""ZIP submissions taken apart defensively, within one budget per submission.

A ``Budget`` counts members, unpacked bytes and ZIP levels across everything one submission
holds (every nested ZIP and every mail part together), so a ZIP of ZIPs cannot multiply a
per-ZIP limit. Every entry of a central directory is a member (directories too: each costs
parsing); before the directory is parsed at all, its records are counted by their signature,
an upper bound, so a ZIP of a million empty entries is refused in milliseconds. Sizes are
charged from the central directory before a byte is inflated (Python's ``zipfile`` never yields
more than a member's declared size, and the CRC check catches a member that lied), so a bomb is
refused before it is unpacked.
``open_zip`` unpacks the nested ZIPs (they must be opened to be counted) and checks every other
member, but keeps only its place: ``Packed.read`` inflates it when it is processed, one at a
time. Member names are reduced to their base name so that no path trick reaches a file system.
"""

from __future__ import annotations

import io
import lzma
import posixpath
import zipfile
import zlib
from dataclasses import dataclass, field

from einvoice.errors import BrokenArchive, OverBudget
from einvoice.formats.detect import Container, sniff

CHUNK = 1024 * 1024
HEAD = 1024  # what ``sniff`` looks at
CENTRAL_RECORD = b"PK\x01\x02"  # starts every entry of a central directory
REFUSED = "refused, nothing more unpacked"
# what a damaged member raises while it is inflated (bad CRC, broken stream, unknown method)
UNREADABLE = (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError,
              zlib.error, lzma.LZMAError)


@dataclass
class Budget:
    """What one submission may still unpack; ``take`` and ``enter`` raise ``OverBudget``."""

    members: int
    bytes: int
    depth: int
    _members_taken: int = 0
    _bytes_taken: int = 0

    def take(self, members: int, size: int) -> None:
        """Charge ``members`` members of ``size`` unpacked bytes in all."""
        self._members_taken += members
        self._bytes_taken += size
        self.ahead(0)
        if self._bytes_taken > self.bytes:
            raise OverBudget(f"submission unpacks beyond the size limit of {self.bytes} "
                             f"bytes (ZIP members and mail parts together): {REFUSED}")

    def ahead(self, members: int) -> None:
        """Refuse when ``members`` more would not fit (nothing is charged)."""
        if self._members_taken + members > self.members:
            raise OverBudget(f"submission with {self._members_taken + members} members "
                             f"exceeds the limit of {self.members} (ZIP entries and mail parts "
                             f"together): {REFUSED}")

    def enter(self, depth: int) -> None:
        """A ZIP found at nesting level ``depth`` (a ZIP inside the submission's ZIP: 1)."""
        if depth > self.depth:
            raise OverBudget(f"ZIP nested deeper than {self.depth} levels: {REFUSED}")


@dataclass(frozen=True)
class Packed:
    """A member that is not a ZIP, checked but not kept: read it when it is processed."""

    _zip: zipfile.ZipFile
    _info: zipfile.ZipInfo

    def read(self) -> bytes:
        return _read(self._zip, self._info)

    def check(self) -> None:
        """Inflate it without keeping it: ``BrokenArchive`` when it cannot be read."""
        _read(self._zip, self._info, keep=False)


@dataclass
class Opened:
    """A ZIP taken apart: its members in archive order (nested ZIPs opened in turn), or
    ``error`` when it cannot be (broken, encrypted, empty)."""

    data: bytes
    members: list[tuple[str, Opened | Packed]] = field(default_factory=list)
    error: str | None = None


def safe_name(name: str) -> str:
    """The base name of a member, without directories, drive letters or control characters."""
    base = posixpath.basename(name.replace("\\", "/"))
    base = "".join(ch for ch in base if ch.isprintable())
    return base or "unnamed"


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int | None = None,
          keep: bool = True) -> bytes:
    """The member's bytes (its first ``limit``; none unless ``keep``), inflated in chunks:
    ``zipfile`` stops at the declared size, and a member that lied fails its CRC check."""
    if info.flag_bits & 0x1:
        raise BrokenArchive(f"ZIP member {info.filename!r} is encrypted")
    out = bytearray()
    seen = 0
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(CHUNK if limit is None else limit - seen):
                seen += len(chunk)
                if keep:
                    out += chunk
                if limit is not None and seen >= limit:
                    break
    except UNREADABLE as exc:
        raise BrokenArchive(f"ZIP member {info.filename!r} cannot be read: {exc}") from exc
    return bytes(out)


def open_zip(data: bytes, budget: Budget, depth: int = 0) -> Opened:
    """Take a ZIP (found at nesting level ``depth``) apart within ``budget``; ``OverBudget``
    when the submission holds too much, ``Opened.error`` when this ZIP is merely broken.

    First the shape: every member's head is read to tell a nested ZIP (opened in turn) from a
    document, and everything is charged, so that a bomb is refused before a document is
    inflated; then every document is inflated once to check it (CRC), and dropped."""
    opened = _shape(data, budget, depth)
    _check(opened)
    return opened


def _shape(data: bytes, budget: Budget, depth: int) -> Opened:
    budget.enter(depth)
    budget.ahead(data.count(CENTRAL_RECORD))
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return Opened(data, error=f"not a readable ZIP archive: {exc}")
    entries = zf.infolist()
    budget.take(len(entries), sum(i.file_size for i in entries))
    opened = Opened(data)
    try:
        for info in (i for i in entries if not i.is_dir()):
            name = safe_name(info.filename)
            if sniff(_read(zf, info, HEAD)) is Container.ZIP:
                opened.members.append((name, _shape(_read(zf, info), budget, depth + 1)))
            else:
                opened.members.append((name, Packed(zf, info)))
    except BrokenArchive as exc:
        return Opened(data, error=str(exc))
    if not opened.members:
        opened.error = "ZIP archive contains no files"
    return opened


def _check(opened: Opened) -> None:
    """Inflate every document once: a ZIP with a member that cannot be read is broken whole."""
    try:
        for _, member in opened.members:
            if isinstance(member, Opened):
                _check(member)
            else:
                member.check()
    except BrokenArchive as exc:
        opened.members, opened.error = [], str(exc)
