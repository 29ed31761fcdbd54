"""Members of a ZIP submission, unpacked defensively.

Limits on member count, total unpacked size and per-member size (checked while reading, not
trusted from the header) stop zip bombs; member names are reduced to their base name so that no
path trick ever reaches the file system.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from dataclasses import dataclass

from einvoice.errors import BrokenArchive

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Member:
    name: str
    data: bytes


def safe_name(name: str) -> str:
    """The base name of a member, without directories, drive letters or control characters."""
    base = posixpath.basename(name.replace("\\", "/"))
    base = "".join(ch for ch in base if ch.isprintable())
    return base or "unnamed"


def _read_limited(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    out = bytearray()
    with zf.open(info) as fh:
        while chunk := fh.read(CHUNK):
            out += chunk
            if len(out) > budget:
                raise BrokenArchive(f"ZIP member {info.filename!r} unpacks beyond the size limit")
    return bytes(out)


def unpack(data: bytes, max_members: int, max_total_bytes: int) -> list[Member]:
    """The file members of a ZIP, in archive order; directories and empty names are skipped."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BrokenArchive(f"not a readable ZIP archive: {exc}") from exc
    members: list[Member] = []
    remaining = max_total_bytes
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > max_members:
            raise BrokenArchive(f"ZIP with {len(infos)} members exceeds the limit of {max_members}")
        for info in infos:
            if info.flag_bits & 0x1:
                raise BrokenArchive(f"ZIP member {info.filename!r} is encrypted")
            try:
                content = _read_limited(zf, info, remaining)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                raise BrokenArchive(f"ZIP member {info.filename!r} cannot be read: {exc}") from exc
            remaining -= len(content)
            members.append(Member(safe_name(info.filename), content))
    return members
