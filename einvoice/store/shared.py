"""A data directory shared by the members of one OS group (``einvoice init --group NAME``).

Folders get the group, are group-writable and setgid, so that whatever any member creates in
them belongs to the group too; files get the group and the owner's read/write bits for the
group; others get nothing. A process working in such a directory uses umask 007, so the
folders and files it creates stay writable for the other members.
"""

from __future__ import annotations

import grp
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from einvoice.errors import ConfigError

SHARED_UMASK = 0o007


def group_id(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError as exc:
        raise ConfigError(f"no OS group named {name!r}") from exc


def share(roots: Iterable[Path], gid: int) -> None:
    """Give every folder and file below ``roots`` to the group (folders created as needed)."""
    for root in roots:
        root.mkdir(parents=True, exist_ok=True)
        for folder, _, files in os.walk(root):
            _own(Path(folder), gid, 0o2770)
            for name in files:
                path = Path(folder) / name
                owner = stat.S_IMODE(path.stat().st_mode) & 0o700
                _own(path, gid, owner | owner >> 3)


def _own(path: Path, gid: int, mode: int) -> None:
    try:
        os.chown(path, -1, gid)
        os.chmod(path, mode)
    except PermissionError as exc:
        raise ConfigError(f"cannot give {path} to the group: run `einvoice init --group` as "
                          "its owner or as root") from exc


def adopt_umask(data_dir: Path) -> None:
    """Use the shared umask when ``data_dir`` is a shared (setgid) directory."""
    try:
        shared = data_dir.stat().st_mode & stat.S_ISGID
    except FileNotFoundError:
        return
    if shared:
        os.umask(SHARED_UMASK)
