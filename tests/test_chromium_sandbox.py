"""Chromium on pages with supplier text (issue 14, item 8): sandboxed, never ``--no-sandbox``;
as root it runs as an unprivileged account; no script runs and no request leaves, even for a
page that does not forbid them itself; what it writes reaches the caller's own folder.

The sandbox is checked where it shows: the renderer processes of a running browser, in
``/proc`` (their account, their seccomp mode, their namespaces)."""

from __future__ import annotations

import http.server
import os
import pwd
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from einvoice.views.chromium import (
    BROWSER_ACCOUNT,
    CHROMIUM_FLAGS,
    CONTENT_FLAGS,
    browser_command,
    browser_folder,
    browser_options,
    guarded,
    html_to_pdf,
    run_chromium,
)
from einvoice.views.policy import POLICY_META
from tests import system

UNSANDBOXED = ("--no-sandbox", "--disable-setuid-sandbox", "--disable-namespace-sandbox",
               "--disable-seccomp-filter-sandbox", "--no-zygote", "--single-process")


@pytest.fixture(autouse=True)
def _chromium() -> None:
    system.chromium()  # in CI a missing browser fails; elsewhere it skips


def _proc(pid: int, name: str) -> str:
    return Path(f"/proc/{pid}/{name}").read_text(errors="replace")


def _renderers(session: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = _proc(int(entry.name), "stat")
            if int(stat.rsplit(")", 1)[1].split()[3]) == session and \
                    "--type=renderer" in _proc(int(entry.name), "cmdline"):
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return found


def _sealed(pid: int) -> bool:
    try:
        return "\nSeccomp:\t2\n" in _proc(pid, "status")
    except OSError:
        return False


def test_no_flag_turns_the_sandbox_off(tmp_path: Path) -> None:
    with browser_folder() as folder:
        command = browser_command(folder)
    assert not set(UNSANDBOXED) & {*CHROMIUM_FLAGS, *CONTENT_FLAGS, *command}


def test_renderers_run_in_the_sandbox_as_an_unprivileged_account(tmp_path: Path) -> None:
    page = tmp_path / "p.html"
    page.write_text("<!doctype html><title>t</title><p>Rechnung</p>", encoding="utf-8")
    with browser_folder() as folder:
        (folder / "p.html").write_bytes(page.read_bytes())
        proc = subprocess.Popen(browser_command(folder, "--remote-debugging-port=0",
                                                (folder / "p.html").as_uri()),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                **browser_options(folder))
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # a renderer is sealed shortly after its start
                renderers = _renderers(proc.pid)
                if renderers and all(_sealed(pid) for pid in renderers):
                    break
                time.sleep(0.2)
            assert renderers, "no renderer process started"
            account = pwd.getpwnam(BROWSER_ACCOUNT).pw_uid if os.geteuid() == 0 \
                else os.geteuid()
            for pid in renderers:
                status = _proc(pid, "status")
                assert re.search(rf"^Uid:\t{account}\t", status, re.M), status
                assert re.search(r"^Seccomp:\t2$", status, re.M), "no seccomp-BPF filter"
                for ns in ("user", "pid", "net"):
                    assert os.readlink(f"/proc/{pid}/ns/{ns}") != \
                        os.readlink(f"/proc/self/ns/{ns}"), f"renderer shares our {ns} namespace"
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class _Counter(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[str]]  # each server's own list (``listener``)

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that records every request it gets."""
    seen: list[str] = []
    handler = type("Counter", (_Counter,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    thread.join()


def _bait(where: str) -> str:
    """A page that forbids nothing itself: scripts and requests to ``where``."""
    return (f'<!DOCTYPE html><html lang="de"><head><meta charset="utf-8"><title>t</title>'
            f'<link rel="stylesheet" href="http://{where}/css"></head><body><p id="x">still</p>'
            f'<img src="http://{where}/img"><img src="http://localhost:{where.split(":")[1]}'
            f'/named"><iframe src="http://{where}/frame"></iframe>'
            f'<img src="nothing" onerror="document.getElementById(\'x\').textContent=\'ran\'">'
            f"<script>document.getElementById('x').textContent='ran';"
            f"fetch('http://{where}/fetch')</script></body></html>")


def test_a_page_runs_no_script_and_reaches_no_network(
        tmp_path: Path, listener: tuple[str, list[str]]) -> None:
    where, seen = listener
    page = tmp_path / "bait.html"
    page.write_text(_bait(where), encoding="utf-8")
    dom = run_chromium(page, "--dump-dom").decode()
    assert '<p id="x">still</p>' in dom and seen == []
    # the same page opened without our guard runs its script and calls out: the check bites
    with browser_folder() as folder:
        (folder / "bait.html").write_bytes(page.read_bytes())
        done = subprocess.run(browser_command(folder, "--dump-dom",
                                              (folder / "bait.html").as_uri()),
                              capture_output=True, timeout=60, check=True,
                              **browser_options(folder))
    assert '<p id="x">ran</p>' in done.stdout.decode() and "/img" in seen


def test_the_policy_goes_first_after_the_doctype() -> None:
    meta = POLICY_META.encode()
    assert guarded(b"<!DOCTYPE html>\n<html>") == b"<!DOCTYPE html>" + meta + b"\n<html>"
    assert guarded(b"\xef\xbb\xbf <!doctype html><p>") == \
        b"\xef\xbb\xbf <!doctype html>" + meta + b"<p>"
    assert guarded(b"<p>no doctype</p>") == meta + b"<p>no doctype</p>"


def test_the_pdf_lands_in_a_folder_only_the_caller_may_enter(tmp_path: Path) -> None:
    private = tmp_path / "privat"
    private.mkdir(mode=0o700)
    page = private / "p.html"
    page.write_text("<!doctype html><title>t</title><p>Rechnung 1234567</p>", encoding="utf-8")
    html_to_pdf(page, private / "p.pdf")
    pdf = private / "p.pdf"
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_uid == os.geteuid()
    assert sorted(p.name for p in private.iterdir()) == ["p.html", "p.pdf"]
