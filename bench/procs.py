"""Child processes measured from outside: wall time, CPU and peak RSS of exactly that child.

``os.wait4`` returns the resource usage of the one child it reaped (``ru_maxrss``, KiB on
Linux). But Linux starts a child's peak at the peak of the process it was forked (or vforked)
from and keeps it across ``exec``: a child of the bench (hundreds of MB with SaxonC) would
inherit the bench's peak. So each child is started by a small launcher (``LAUNCHER``, a bare
interpreter of ~10 MB, less than any child measured here), which forks, execs, reaps with
``wait4`` and writes the usage and its clock readings (``time.monotonic``: one clock for all
processes) to a file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAD_BYTES = 1 << 20  # a first JSON row later than this is not looked for
LAUNCHER = """
import json, os, sys, time
start = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
end = time.monotonic()
with open(sys.argv[1], "w") as out:
    json.dump([start, end, os.waitstatus_to_exitcode(status), usage.ru_maxrss,
               usage.ru_utime + usage.ru_stime], out)
"""


@dataclass(frozen=True)
class Child:
    wall: float  # seconds from start to exit
    cpu: float  # user + system seconds of the child
    rss_mb: float  # peak resident set size, MiB
    status: int  # exit status
    out: bytes
    first_row: float | None = None  # seconds until the first JSON array element was complete
    err: bytes = b""  # the end of its standard error


def einvoice_command() -> list[str]:
    """The installed ``einvoice`` script beside this interpreter (not a pyenv shim, whose own
    start-up would count against the product), else ``python -m einvoice.cli``."""
    script = Path(sys.executable).with_name("einvoice")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "einvoice.cli"]


def bench_module(name: str) -> list[str]:
    """A module of this folder in a fresh interpreter (run with ``cwd=ROOT``)."""
    return [sys.executable, "-m", f"bench.{name}"]


def run(argv: list[str], env: dict[str, str] | None = None, *, first_row: bool = False) -> Child:
    """Run ``argv`` to its end (through ``LAUNCHER``), reading its standard output as it comes;
    with ``first_row``, note when the first element of the JSON array it prints is complete."""
    with (tempfile.NamedTemporaryFile(prefix="bench-usage-") as usage,
          tempfile.TemporaryFile() as err):
        proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", LAUNCHER, usage.name, *argv],
                                stdout=subprocess.PIPE, stderr=err, env=env, cwd=ROOT)
        assert proc.stdout is not None
        chunks: list[bytes] = []
        head, seen = b"", None
        while chunk := os.read(proc.stdout.fileno(), 1 << 16):
            chunks.append(chunk)
            if first_row and seen is None and len(head) < HEAD_BYTES:
                head += chunk
                if first_element_done(head):
                    seen = time.monotonic()
        proc.stdout.close()
        if proc.wait() != 0:
            raise RuntimeError(f"the launcher failed for {argv[0]} (exit {proc.returncode})")
        start, end, status, maxrss, cpu = json.loads(Path(usage.name).read_text())
        err.seek(0)
        return Child(end - start, cpu, maxrss / 1024, status, b"".join(chunks),
                     None if seen is None else seen - start, err.read()[-2000:])


def first_element_done(head: bytes) -> bool:
    """True once ``head`` (the start of a JSON array) holds its first element complete, or the
    array closed empty; any indentation or spacing."""
    text = head.decode("utf-8", errors="ignore").lstrip()
    if not text.startswith("["):
        return False
    rest = text[1:].lstrip()
    if rest.startswith("]"):
        return True
    try:
        json.JSONDecoder().raw_decode(rest)
    except json.JSONDecodeError:
        return False
    return True


def peak_rss_mb(pid: int) -> float:
    """The peak RSS so far of a running process (``VmHWM``), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")
