"""A throwaway Dovecot IMAP server for the mail-intake tests.

Runs the real Debian ``dovecot`` on a free loopback port with its own configuration, maildir and
runtime folder under a temporary directory; logins use a passwd-file with a plain password.
As root: Dovecot refuses to run mail processes as root, so mail is owned by ``nobody``. As any
other account: every Dovecot process runs as that account (no chroot), so the tests need no root.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests import system

USER = "rechnung"
PASSWORD = "geheim"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = einvoice-test-{port}
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
mail_uid = {mail_user}
mail_gid = {mail_group}
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
mail_plugins =
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
service imap-login {{
  {login_chroot}
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  {login_chroot}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def dovecot_binary() -> str:
    """The dovecot binary; in CI its absence is an error, elsewhere the test is skipped
    (``tests.system``: the same rule as for the browser)."""
    return system.dovecot()


@dataclass
class Dovecot:
    """One running server: ``stop`` cuts every connection, ``start`` brings it back on the same
    port with the same mail."""

    root: Path
    port: int
    binary: str
    process: subprocess.Popen[bytes] | None = None

    host = "127.0.0.1"
    user = USER
    password = PASSWORD

    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"

    def start(self) -> None:
        # foreground, in a session of its own: stop() then ends master and children together
        self.process = subprocess.Popen([self.binary, "-F", "-c", str(self.config)],
                                        start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), 1) as conn:
                    if conn.recv(64).startswith(b"* OK"):
                        break
            except OSError:
                time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError(f"dovecot did not start: {self.log()}")

    def stop(self) -> None:
        """Kill the master and every IMAP process at once: open connections are cut."""
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=15)
        self.process = None

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _accounts() -> dict[str, str]:
    """Who Dovecot's processes run as: its own accounts under root, else the running account."""
    if os.geteuid() == 0:
        return {"login_user": "dovenull", "internal_user": "dovecot",
                "internal_group": "dovecot", "mail_user": "nobody", "mail_group": "nogroup",
                "login_chroot": ""}
    me = pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(os.getegid()).gr_name
    return {"login_user": me, "internal_user": me, "internal_group": group, "mail_user": me,
            "mail_group": group, "login_chroot": "chroot ="}


def make_dovecot(root: Path) -> Dovecot:
    """Write the configuration, user database and mail folder; the server is not started."""
    binary = dovecot_binary()
    port = _free_port()
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n", encoding="utf-8")
    (root / "dovecot.conf").write_text(CONFIG.format(root=root, port=port, **_accounts()),
                                       encoding="utf-8")
    if os.geteuid() == 0:
        shutil.chown(root / "mail", "nobody", "nogroup")
    root.chmod(0o755)  # mail and auth processes run unprivileged and must reach their files
    return Dovecot(root, port, binary)
