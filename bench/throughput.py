"""Ingest throughput, validation included: ``bench/ingest.py`` in a fresh process per run (a
drop folder of suite invoices with unique numbers, a fresh store): SQLite with one worker, and
PostgreSQL (a database of the bench's own, made anew per run) with one and with two workers.
The rate is the steady one (the first tenth of the invoices left out: rules compiled, workers
started).
"""

from __future__ import annotations

import json
from typing import Any

from bench.measure import Row, Target
from bench.procs import bench_module, run

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_DATABASE = "bench_ingest"


def fresh_database(server: str = PG_SERVER, name: str = PG_DATABASE) -> str | None:
    """The URL of an empty database ``name`` (dropped and made again), or None when the server
    cannot be reached or refuses."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    maintenance = make_url(f"{server}/postgres").set(drivername="postgresql")
    try:
        with psycopg.connect(maintenance.render_as_string(hide_password=False), autocommit=True,
                             connect_timeout=3) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error:
        return None
    return f"{server}/{name}"


def ingest_once(count: int, workers: int, database_url: str | None) -> dict[str, Any]:
    argv = [*bench_module("ingest"), "--count", str(count), "--workers", str(workers), "--json"]
    if database_url is not None:
        argv += ["--database-url", database_url]
    child = run(argv)
    if child.status != 0:
        raise RuntimeError(f"bench.ingest exited with {child.status}: {child.err.decode()}")
    measured: dict[str, Any] = json.loads(child.out)
    measured["child_peak_rss_mib"] = child.rss_mb
    return measured


def measure(count: int) -> dict[str, dict[str, Any] | None]:
    runs: dict[str, dict[str, Any] | None] = {"sqlite-1": ingest_once(count, 1, None)}
    for workers in (1, 2):
        url = fresh_database()
        runs[f"postgresql-{workers}"] = None if url is None else ingest_once(count, workers, url)
    return runs


def rows(runs: dict[str, dict[str, Any] | None], count: int) -> list[Row]:
    def rate(key: str) -> float | None:
        found = runs.get(key)
        return None if found is None else float(found["steady_per_s"])

    def note(key: str) -> str:
        found = runs.get(key)
        if found is None:
            return "PostgreSQL not reachable at 127.0.0.1:5432"
        peak = found["child_peak_rss_mib"]
        return f"{found['ok']}/{found['invoices']} ok, peak RSS {peak:.0f} MB"

    section = f"ingest ({count:,} invoices)"
    one, two = rate("postgresql-1"), rate("postgresql-2")
    return [Row(section, "SQLite, 1 worker", "/s", rate("sqlite-1"),
                target=Target(">=", 150, "/s"), note=note("sqlite-1")),
            Row(section, "PostgreSQL, 1 worker", "/s", one, note=note("postgresql-1")),
            Row(section, "PostgreSQL, 2 workers", "/s", two, note=note("postgresql-2")),
            Row(section, "PostgreSQL, 2 ÷ 1 workers", "×",
                two / one if one and two is not None else None, target=Target(">=", 1.7, "×"))]
