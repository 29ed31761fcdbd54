"""Run groups of hostile cases in this process, warm, and write one JSON row per case.

    python -m tests.hostile GROUP:DATABASE... [--pg URL] --work DIR --corpus DIR --out FILE

A case is a function of the group's ``Env``: it builds its hostile input (not measured), does
the hostile thing inside ``with env.timed():`` (measured: wall time, CPU time of the process and
the growth of its peak resident memory, reset before each case through
``/proc/self/clear_refs``), then checks what must hold with plain ``assert``s and says where its
original is kept (``env.kept``). After each case the group's ``alive`` probe sends a normal
invoice through the same channel, which must be processed. A case that does not end within
``WATCHDOG`` seconds is stopped by SIGALRM with an exception no ``except Exception`` swallows.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import resource
import signal
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from einvoice.config import Settings, load_settings
from einvoice.context import Context, open_context
from einvoice.pipeline.ingest import examine
from einvoice.store.archive import sha256_hex
from tests.hostile.documents import COMPREHENSIVE, MINIMAL_CII

GROUPS = ("folder", "http", "mail", "views")  # modules tests.hostile.group_<name>
WATCHDOG = 20  # seconds: a case still running then is a hang
MB = 1024 * 1024


class Hung(BaseException):
    """Raised by the watchdog; a BaseException, so no ``except Exception`` in the code under
    test mistakes it for an error of its own (a ``TimeoutError`` is an ``OSError``)."""


@dataclass(frozen=True)
class Case:
    name: str
    run: Callable[[Any], None]
    xfail: str | None = None  # a bug found and not fixed here: the test is a strict xfail


class Cases(list[Case]):
    """A group's cases in the order they run; ``@cases.add()`` registers one."""

    def add(self, xfail: str | None = None) -> Callable[[Callable[[Any], None]],
                                                        Callable[[Any], None]]:
        def register(run: Callable[[Any], None]) -> Callable[[Any], None]:
            assert all(c.name != run.__name__ for c in self), run.__name__
            self.append(Case(run.__name__, run, xfail))
            return run
        return register


@dataclass
class Measure:
    wall: float = 0.0
    cpu: float = 0.0
    mem_mb: float = 0.0
    timed: int = 0


def _status_kb(key: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def _reset_peak() -> bool:
    """Set the process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


@dataclass
class Env:
    """What every case gets: the warm context, the corpus, a scratch folder, and the meters."""

    ctx: Context
    corpus: Path
    work: Path
    measure: Measure = field(default_factory=Measure)
    kept_where: list[str] = field(default_factory=list)
    _serial: int = 0

    def unique(self, prefix: str = "H") -> str:
        """A new invoice number, so that no case is a duplicate of another by accident."""
        self._serial += 1
        return f"{prefix}-{self._serial:04d}"

    @contextmanager
    def timed(self) -> Iterator[None]:
        gc.collect()  # cheap: the warm heap is frozen (``run_group``)
        exact = _reset_peak()
        before = _status_kb("VmRSS") if exact else resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.measure.wall += time.perf_counter() - wall
            self.measure.cpu += time.process_time() - cpu
            peak = _status_kb("VmHWM") if exact else resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss
            self.measure.mem_mb = max(self.measure.mem_mb, (peak - before) / 1024)
            self.measure.timed += 1

    def kept(self, *originals: bytes) -> None:
        """Each original is in the archive, byte for byte."""
        for data in originals:
            digest = sha256_hex(data)
            assert self.ctx.archive.verify(digest), f"original {digest[:12]} not kept"
            self.kept_where.append(f"archive:{digest[:12]}")

    def left(self, path: Path, data: bytes) -> None:
        """The original was not taken: it is still where it was, unchanged."""
        assert path.read_bytes() == data, f"{path} changed or gone"
        self.kept_where.append(f"left:{path.name}")


@dataclass(frozen=True)
class Group:
    """A channel's cases and how to run them: ``make`` builds the Env (and starts what the
    channel needs), ``alive`` sends a normal invoice through the channel, ``close`` stops."""

    cases: Cases
    make: Callable[[Context, Path, Path], Env]
    alive: Callable[[Any], None]
    close: Callable[[Any], None] = lambda env: None
    settings: dict[str, Any] = field(default_factory=dict)


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise Hung(f"still running after {WATCHDOG} s")


def _short(exc: BaseException) -> str:
    lines = traceback.format_exception(exc)
    return "".join(lines[-6:])[-3000:]


def run_case(env: Env, case: Case, alive: Callable[[Any], None]) -> dict[str, Any]:
    env.measure, env.kept_where = Measure(), []
    row: dict[str, Any] = {"name": case.name, "error": None, "alive": None}
    signal.alarm(WATCHDOG)
    try:
        case.run(env)
    except BaseException as exc:  # a failed check, a crash or a hang: all go in the row
        row["error"] = _short(exc)
    finally:
        signal.alarm(0)
    signal.alarm(WATCHDOG)
    try:
        alive(env)
    except BaseException as exc:
        row["alive"] = _short(exc)
    finally:
        signal.alarm(0)
    m = env.measure
    row.update(wall=round(m.wall, 4), cpu=round(m.cpu, 4), mem_mb=round(m.mem_mb, 1),
               timed=m.timed, kept=list(env.kept_where))
    return row


def group_module(name: str) -> Group:
    group = importlib.import_module(f"tests.hostile.group_{name}").GROUP
    assert isinstance(group, Group)
    return group


def settings_for(work: Path, db: str, extra: dict[str, Any]) -> Settings:
    return load_settings(data_dir=work / "data", database_url=db, inbox_dir=work / "inbox",
                         settle_seconds=0, workers=1, **extra)


def postgres_schema(base: str) -> tuple[str, Callable[[], None]]:
    """A fresh schema of the PostgreSQL database at ``base``, and a function dropping it."""
    import psycopg

    schema = f"hostile_{uuid.uuid4().hex[:12]}"
    plain = base.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")

    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", drop


def _nothing() -> None:
    """Nothing to drop: a SQLite database is a file in the group's folder."""


def run_group(name: str, db: str, pg: str | None, work: Path, corpus: Path) -> dict[str, Any]:
    """One group's cases on a database of its own (``db``: sqlite or postgresql)."""
    group = group_module(name)
    folder = work / f"{name}-{db}"
    (folder / "files").mkdir(parents=True)
    if db == "sqlite":
        url, drop = f"sqlite:///{folder / 'einvoice.db'}", _nothing
    else:
        assert pg is not None, "no PostgreSQL URL (--pg)"
        url, drop = postgres_schema(pg)
    try:
        ctx = open_context(settings_for(folder / "files", url, group.settings))
        try:
            env = group.make(ctx, corpus, folder / "files")
            try:
                group.alive(env)  # every import of the channel done, its caches warm
                gc.collect()
                gc.freeze()  # what is there now lives on: later collections skip it
                base = _status_kb("VmRSS") / 1024
                rows = [run_case(env, case, group.alive) for case in group.cases]
            finally:
                group.close(env)
        finally:
            ctx.close()
    finally:
        drop()
    return {"baseline_mb": round(base, 1), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pairs", nargs="+", help="GROUP:DATABASE, e.g. folder:sqlite")
    parser.add_argument("--pg", help="PostgreSQL URL for GROUP:postgresql")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, _alarm)
    warm = settings_for(args.work / "warm", "sqlite://", {})
    for sample in (COMPREHENSIVE, MINIMAL_CII):  # rule packs of both syntaxes, compiled once
        examine((args.corpus / sample).read_bytes(), warm)
    runs: dict[str, Any] = {}
    for pair in args.pairs:
        name, db = pair.split(":")
        try:
            runs[pair] = run_group(name, db, args.pg, args.work, args.corpus)
        except BaseException as exc:  # the group could not be set up: its tests say why
            runs[pair] = {"crashed": _short(exc), "rows": []}
    used = resource.getrusage(resource.RUSAGE_SELF)
    args.out.write_text(json.dumps({"runs": runs,
                                    "process_cpu": round(used.ru_utime + used.ru_stime, 2),
                                    "process_peak_mb": round(used.ru_maxrss / 1024, 1)},
                                   indent=1), encoding="utf-8")
