"""``einvoice`` commands in processes forked from one warm process, for tests that start many.

A cold ``python -m einvoice.cli …`` spends ~0.6 s (more on a loaded machine) starting the
interpreter and importing the CLI and what its commands import before it does anything. The
fork server pays that once: it imports ``einvoice.cli`` and the ``warm`` modules (``WARM``
unless told), then forks a child for every command. Each command is still a process of its own
(its own pid, killed with SIGKILL like any other, its database connections and files its own),
run as ``python -m einvoice.cli ARGS`` would run it (``runpy``, ``sys.argv[0]`` the module's
file), or a script given as text, with the environment of the server plus what the request
adds.

What no forked child can show: a mistake made while the interpreter starts or the CLI is
imported (for example a setting read from the environment at import time). Tests about that
start the command cold.

The server is ``python -c SERVER WARM...``, started by the test (``prefix``: e.g. ``runuser -u
LOGIN -- env -i …`` to run it as another account). Requests and answers are JSON lines on its
stdin and stdout: ``{"args", "script", "env", "capture", "stderr"}`` → the child's pid, then
``{"code", "stdout", "stderr"}`` when it ended (``code`` as ``Popen.returncode``: -9 if killed).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SERVER = r"""
import importlib.util, json, os, runpy, select, sys, traceback
import einvoice.cli
for name in sys.argv[1:]:
    __import__(name)
MAIN = importlib.util.find_spec("einvoice.cli.__main__").origin
answer = sys.stdout
answer.write('"ready"\n')
answer.flush()


def child(request, out, err):
    code = 1
    try:
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(out if out is not None else null, 1)
        os.dup2(err if err is not None else null, 2)
        os.environ.update(request.get("env") or {})
        if request.get("script") is None:
            sys.argv = [MAIN, *request["args"]]
            runpy.run_module("einvoice.cli", run_name="__main__", alter_sys=True)
        else:
            sys.argv = ["-c", *request["args"]]
            exec(compile(request["script"], "<string>", "exec"), {"__name__": "__main__"})
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        if not isinstance(exc.code, (int, type(None))):
            print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(code)


def read_all(fds):
    got = {fd: [] for fd in fds}
    while fds:
        for fd in select.select(fds, [], [])[0]:
            chunk = os.read(fd, 65536)
            if chunk:
                got[fd].append(chunk)
            else:
                os.close(fd)
                fds = [f for f in fds if f != fd]
    return [b"".join(got[fd]).decode("utf-8", "replace") for fd in got]


for line in sys.stdin:
    request = json.loads(line)
    pipes = [os.pipe(), os.pipe()] if request.get("capture") else []
    err_file = None
    if request.get("stderr"):
        err_file = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    pid = os.fork()
    if pid == 0:
        for read, _ in pipes:
            os.close(read)
        child(request, pipes[0][1] if pipes else None,
              pipes[1][1] if pipes else err_file)
    for _, write in pipes:
        os.close(write)
    if err_file is not None:
        os.close(err_file)
    answer.write(json.dumps(pid) + "\n")
    answer.flush()
    stdout, stderr = read_all([pipes[0][0], pipes[1][0]]) if pipes else ("", "")
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    answer.write(json.dumps({"code": code, "stdout": stdout, "stderr": stderr}) + "\n")
    answer.flush()
os._exit(0)  # nothing to clean up: tearing down the warm modules would take ~0.5 s of CPU
"""


# what most commands import when they run (settings, database, pipeline, intake, approval):
# imported once in the server, a command's child takes ~0.15 s instead of ~0.5 s
WARM = ("einvoice.context", "einvoice.pipeline", "einvoice.intake.folder",
        "einvoice.approval.workflow")


class Forks:
    """One fork server; one child at a time: ``start`` (then ``poll``/``wait``/``kill``, like
    ``Popen``) or ``run`` (like ``subprocess.run`` with ``capture_output=True, text=True``)."""

    def __init__(self, env: dict[str, str] | None = None, *, prefix: Sequence[str] = (),
                 warm: Sequence[str] = WARM, cwd: Path | None = None) -> None:
        self.server = subprocess.Popen([*prefix, sys.executable, "-c", SERVER, *warm], env=env,
                                       cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL)
        self._buffer = b""
        self.pid = 0
        self.returncode: int | None = None
        self.result: dict[str, Any] = {}
        assert self._answer(180) == "ready", "the fork server did not start"

    def _answer(self, timeout: float | None) -> Any:
        """The server's next answer; None when none came within ``timeout`` seconds."""
        assert self.server.stdout is not None
        fd = self.server.stdout.fileno()
        while b"\n" not in self._buffer:
            if not select.select([fd], [], [], timeout)[0]:
                return None
            chunk = os.read(fd, 65536)
            assert chunk, f"the fork server ended (exit {self.server.wait()})"
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def start(self, *args: str, script: str | None = None, env: dict[str, str] | None = None,
              stderr: Path | None = None, capture: bool = False) -> Forks:
        """``einvoice ARGS`` (or ``script`` with ``sys.argv[1:] == ARGS``) in a new child, its
        output to /dev/null (stderr to the file ``stderr``; both kept when ``capture``)."""
        assert self.server.stdin is not None
        request = {"args": list(args), "script": script, "env": env or {}, "capture": capture,
                   "stderr": None if stderr is None else str(stderr)}
        self.server.stdin.write(json.dumps(request).encode() + b"\n")
        self.server.stdin.flush()
        self.pid, self.returncode, self.result = int(self._answer(180) or 0), None, {}
        assert self.pid > 0
        return self

    def _ended(self, answer: Any) -> int:
        self.result = answer
        self.returncode = int(answer["code"])
        return self.returncode

    def poll(self) -> int | None:
        if self.returncode is None and (answer := self._answer(0)) is not None:
            self._ended(answer)
        return self.returncode

    def wait(self, timeout: float = 600) -> int:
        if self.returncode is None:
            answer = self._answer(timeout)
            assert answer is not None, f"the child {self.pid} still runs after {timeout} s"
            return self._ended(answer)
        return self.returncode

    def kill(self) -> None:
        """SIGKILL to the child, unless it ended already."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile, was reaped
                os.kill(self.pid, signal.SIGKILL)

    def run(self, *args: str, env: dict[str, str] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
        self.start(*args, env=env, capture=True).wait(timeout)
        return subprocess.CompletedProcess(list(args), self.returncode or 0,
                                           self.result["stdout"], self.result["stderr"])

    def end(self) -> None:
        """Tell the server to end (after its child, if one still runs), without waiting."""
        if self.pid and self.server.poll() is None:
            self.kill()
            with contextlib.suppress(AssertionError):
                self.wait(60)
        assert self.server.stdin is not None
        self.server.stdin.close()

    def close(self) -> None:
        """End the server and wait for it."""
        self.end()
        assert self.server.wait(timeout=60) == 0

    def __enter__(self) -> Forks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
