"""Headless Chromium (Debian's package) for PDF output and screenshots of our pages.

The pages carry supplier text, so the browser is treated as exposed to hostile content:

- **Sandboxed, never ``--no-sandbox``.** Chromium refuses its sandbox to root ("Running as root
  without --no-sandbox is not supported"), and Debian ships no setuid helper: its sandbox is the
  user-namespace one (renderers in new user, PID and network namespaces, plus seccomp-BPF). So
  when we run as root (a service, CI), the browser runs as an unprivileged account
  (``BROWSER_ACCOUNT``); Chromium accepts that and sandboxes its renderers. Measured on Debian 12,
  kernel 6.x, as root: every renderer in namespaces of its own with seccomp mode 2
  (``tests/test_chromium_sandbox.py``). Run by anyone else, it runs as that account. A kernel
  without unprivileged user namespaces makes Chromium stop ("No usable sandbox"): that is a
  ``RenderError``, never a reason to drop the sandbox.
- **Nothing of the caller's in reach.** That account may neither read the caller's files nor
  write its folders: each run gets a private folder owned by it (``browser_folder``) holding the
  profile and a copy of the page; what Chromium writes there (``--print-to-pdf=``,
  ``--screenshot=``) is copied to the path asked for.
- **No scripts, no network.** Chromium gets the page with our Content-Security-Policy
  (``policy.PAGE_POLICY``: no script, no request) in front of it, whatever the page says itself,
  and ``CONTENT_FLAGS`` send every request to a proxy that is not there (loopback included) and
  make every host name unresolvable. (The switch ``--blink-settings=scriptEnabled=false`` would
  say "no scripts" too, but headless Chromium then prints no PDF and takes no screenshot, exit
  code 0: measured with Chromium 156.)

A PDF without a browser (WeasyPrint and the like) would be another large renderer of the same
hostile HTML, without a sandbox; Chromium, sandboxed, is the smaller risk and already required.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from einvoice.errors import EinvoiceError
from einvoice.views.policy import POLICY_META


class RenderError(EinvoiceError):
    """The HTML page could not be turned into PDF (or a screenshot)."""


class ChromiumMissing(RenderError):
    """Headless Chromium, needed for PDF output, is not installed."""


BROWSER_ACCOUNT = "nobody"  # who the browser runs as when we are root
CHROMIUM_FLAGS = ("--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync")
CONTENT_FLAGS = ("--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                 "--host-resolver-rules=MAP * ~NOTFOUND")
WRITES = ("--print-to-pdf=", "--screenshot=")  # flags naming a file Chromium writes
_KEPT_ENV = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ")
_DOCTYPE = re.compile(rb"(?:\xef\xbb\xbf)?\s*<!doctype[^>]*>", re.IGNORECASE)


def _account() -> pwd.struct_passwd | None:
    """The account the browser runs as: ``BROWSER_ACCOUNT`` for root, else None (ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(BROWSER_ACCOUNT)
    except KeyError:
        raise RenderError(f"Chromium refuses its sandbox to root; it runs as the account "
                          f"{BROWSER_ACCOUNT!r}, which does not exist here") from None


@contextmanager
def browser_folder() -> Iterator[Path]:
    """A fresh private folder for one browser (profile, page, what it writes), owned by the
    account it runs as; removed afterwards."""
    account = _account()
    name = tempfile.mkdtemp(prefix="einvoice-chromium-")
    try:
        if account is not None:
            os.chown(name, account.pw_uid, account.pw_gid)
        yield Path(name)
    finally:
        _remove(Path(name))


def _remove(folder: Path, attempts: int = 50) -> None:
    """Remove a browser's folder. Chromium's helper processes may still write to the profile
    for a moment after the browser exited (seen: "Directory not empty: 'Default'"), so a
    failed removal is tried again for up to ~5 s before it counts."""
    for _ in range(attempts - 1):
        try:
            shutil.rmtree(folder)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)
    shutil.rmtree(folder, ignore_errors=False)


def browser_command(folder: Path, *args: str) -> list[str]:
    """Chromium with our flags and its profile in ``folder``, then ``args``."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise ChromiumMissing("PDF output needs headless Chromium; install it with "
                              "`apt-get install -y chromium`")
    return [binary, *CHROMIUM_FLAGS, f"--user-data-dir={folder / 'profile'}", *args]


def browser_options(folder: Path) -> dict[str, Any]:
    """``subprocess.Popen`` options for the browser of ``folder``: its account (when we are
    root), a bare environment with ``folder`` as home, a session of its own."""
    env = {k: os.environ[k] for k in _KEPT_ENV if k in os.environ}
    env |= {"HOME": str(folder), "XDG_CONFIG_HOME": str(folder), "XDG_CACHE_HOME": str(folder)}
    options: dict[str, Any] = {"env": env, "cwd": folder, "start_new_session": True}
    account = _account()
    if account is not None:
        options |= {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    return options


def guarded(page: bytes) -> bytes:
    """``page`` with our policy as its first element (after the doctype, which keeps the page
    in standards mode): the HTML parser puts it into the head, before anything of the page."""
    doctype = _DOCTYPE.match(page)
    at = doctype.end() if doctype else 0
    return page[:at] + POLICY_META.encode() + page[at:]


def _redirect(flags: tuple[str, ...], folder: Path) -> tuple[list[str], list[tuple[Path, Path]]]:
    """``flags`` with each file Chromium writes moved into ``folder``, and (there, wanted)."""
    out, moves = [], []
    for i, flag in enumerate(flags):
        prefix = next((p for p in WRITES if flag.startswith(p)), None)
        if prefix is None:
            out.append(flag)
            continue
        wanted = Path(flag.removeprefix(prefix))
        inside = folder / f"out-{i}{wanted.suffix}"
        out.append(f"{prefix}{inside}")
        moves.append((inside, wanted))
    return out, moves


def run_chromium(html_file: Path, *flags: str, timeout: float = 60.0) -> bytes:
    """Open a local HTML page in sandboxed headless Chromium without scripts or network
    (``guarded``, ``CONTENT_FLAGS``), with a fresh profile, e.g. with
    ``--print-to-pdf=out.pdf``, ``--screenshot=out.png`` or ``--dump-dom``; killed after
    ``timeout`` seconds. Returns what Chromium wrote to stdout."""
    with browser_folder() as folder:
        cmd = browser_command(folder)
        page = folder / "page.html"
        page.write_bytes(guarded(html_file.read_bytes()))
        args, moves = _redirect(flags, folder)
        proc: subprocess.Popen[bytes] = subprocess.Popen(
            [*cmd, *CONTENT_FLAGS, *args, page.as_uri()], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, **browser_options(folder))
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise RenderError(f"Chromium did not finish within {timeout:g} s") from None
        if proc.returncode != 0:
            tail = err.decode(errors="replace").strip().splitlines()[-3:]
            raise RenderError(f"Chromium failed (exit {proc.returncode}): {' '.join(tail)}")
        for inside, wanted in moves:
            if inside.is_file():
                shutil.copyfile(inside, wanted)
    return out


def html_to_pdf(html_file: Path, pdf_file: Path, *, timeout: float = 60.0) -> None:
    """Print an HTML page to PDF (A4, as the page's print CSS lays it out)."""
    pdf_file.unlink(missing_ok=True)
    run_chromium(html_file, f"--print-to-pdf={pdf_file.resolve()}", "--no-pdf-header-footer",
                 timeout=timeout)
    if not pdf_file.is_file() or pdf_file.stat().st_size == 0:
        raise RenderError(f"Chromium wrote no PDF to {pdf_file}")
