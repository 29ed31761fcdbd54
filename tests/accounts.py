"""Real operating-system accounts for the identity tests, and ``einvoice`` run as each of them.

The accounts are made with ``groupadd``/``useradd`` (each with a group of its own, all members
of one shared group) and removed afterwards; commands run as them with ``runuser -u`` and a
clean environment, so nothing of the test process's identity leaks in. The accounts must reach
the Python interpreter, which may live in root's home (pyenv): folders on the way that others
cannot enter get an ACL entry for the shared group (``setfacl``), taken away afterwards.

Needs root and the Debian packages passwd (useradd), util-linux (runuser) and acl (setfacl). In
CI (``CI=true``) a missing piece fails the test, elsewhere it skips with the reason
(``tests.system``). Test processes running at once (pytest-xdist) take turns at the account
database and at the ACLs of the shared folders (a file lock): ``useradd`` refuses to run while
another one holds ``/etc/passwd``, and two ``setfacl`` on one folder could lose an entry.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests import system

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Accounts:
    group: str
    logins: dict[str, str]  # short name -> OS login
    base: Path  # the shared folder: settings, sample files, the data directory

    @property
    def config(self) -> Path:
        return self.base / "einvoice.toml"

    def run(self, who: str, *args: str, code: int | None = 0,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``einvoice ARGS`` as the account ``who``; its exit code must be ``code``."""
        done = subprocess.run(
            [shutil.which("runuser") or "runuser", "-u", self.logins[who], "--", "env", "-i",
             f"PATH={os.environ.get('PATH', '/usr/bin:/bin')}", f"HOME={self.base}",
             "LANG=C.UTF-8", "COLUMNS=200", "PYTHONDONTWRITEBYTECODE=1",
             f"EINVOICE_CONFIG={self.config}", *(f"{k}={v}" for k, v in (env or {}).items()),
             sys.executable, "-m", "einvoice.cli", *args],
            cwd=self.base, capture_output=True, text=True, timeout=180, check=False)
        if code is not None:
            assert done.returncode == code, (who, args, done.stdout, done.stderr)
        return done


def _need(what: str, package: str) -> None:
    system.require(what, package, extra_paths=(f"/usr/sbin/{what}", f"/sbin/{what}"))


def _closed_folders(*paths: Path) -> list[Path]:
    """Folders on the way to ``paths`` that other accounts cannot enter."""
    found: list[Path] = []
    for path in paths:
        for folder in [path, *path.parents]:
            if folder.is_dir() and not folder.stat().st_mode & stat.S_IXOTH:
                found.append(folder)
    return sorted(set(found))


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


@contextmanager
def _one_at_a_time() -> Iterator[None]:
    """Hold the lock every test process takes before it changes accounts or folder ACLs."""
    with (Path(tempfile.gettempdir()) / "einvoice-test-accounts.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def os_accounts(*names: str, settings: str) -> Iterator[Accounts]:
    """Accounts ``names`` (the first owns the shared folder) in one new group, and the settings
    file ``settings`` (``{base}`` is the shared folder) readable by all of them."""
    system.require_root("creating OS accounts (useradd)")
    for binary, package in (("groupadd", "passwd"), ("useradd", "passwd"),
                            ("runuser", "util-linux")):
        _need(binary, package)
    closed = _closed_folders(Path(sys.executable).resolve().parent, ROOT)
    if closed:
        _need("setfacl", "acl")
    tag = uuid.uuid4().hex[:6]
    group = f"einv_{tag}"
    logins = {name: f"{name}_{tag}" for name in names}
    base = Path(tempfile.mkdtemp(prefix="einvoice-accounts-"))
    made: list[str] = []
    try:
        with _one_at_a_time():
            _sh("groupadd", group)
            for login in logins.values():
                _sh("useradd", "--no-create-home", "--user-group", "--groups", group,
                    "--shell", "/usr/sbin/nologin", "--comment", login.title(), login)
                made.append(login)
            for folder in closed:
                _sh("setfacl", "-m", f"g:{group}:x", str(folder))
        (base / "einvoice.toml").write_text(settings.format(base=base), encoding="utf-8")
        _sh("chown", "-R", f"{logins[names[0]]}:{group}", str(base))
        base.chmod(0o2770)
        yield Accounts(group, logins, base)
    finally:
        with _one_at_a_time():
            for folder in closed:
                subprocess.run(["setfacl", "-x", f"g:{group}", str(folder)],
                               capture_output=True, check=False)
            for login in made:
                subprocess.run(["userdel", login], capture_output=True, check=False)
            subprocess.run(["groupdel", group], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)
