"""The meters of the hostile suite measure what they say: memory a case takes, CPU it burns, a
failed check, a failed probe afterwards, and a case that hangs."""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.hostile import harness
from tests.hostile.harness import Case, Env, run_case


def _env(tmp_path: Path) -> Env:
    return Env(ctx=None, corpus=tmp_path, work=tmp_path)  # type: ignore[arg-type]


def _fine(env: Env) -> None:
    """A probe that finds the channel alive."""


def test_memory_a_case_takes_is_measured(tmp_path: Path) -> None:
    def greedy(env: Env) -> None:
        with env.timed():
            block = bytearray(200 * harness.MB)
            block[:: 4096] = b"x" * len(block[:: 4096])  # touch every page
            del block
        env.kept_where.append("none")

    row = run_case(_env(tmp_path), Case("greedy", greedy), _fine)
    assert row["error"] is None and row["timed"] == 1
    assert 190 <= row["mem_mb"] < 260, row["mem_mb"]


def test_cpu_and_wall_time_are_measured_apart(tmp_path: Path) -> None:
    def busy_then_idle(env: Env) -> None:
        with env.timed():
            until = time.process_time() + 0.3
            while time.process_time() < until:
                pass
            time.sleep(0.3)

    row = run_case(_env(tmp_path), Case("busy", busy_then_idle), _fine)
    assert 0.3 <= row["cpu"] < 0.5 and row["wall"] >= 0.6, row


def test_a_failed_check_and_a_failed_probe_are_reported(tmp_path: Path) -> None:
    def wrong(env: Env) -> None:
        with env.timed():
            pass
        assert 1 + 1 == 3, "arithmetic"

    def dead(env: Any) -> None:
        raise RuntimeError("channel down")

    row = run_case(_env(tmp_path), Case("wrong", wrong), dead)
    assert "AssertionError: arithmetic" in row["error"]
    assert "RuntimeError: channel down" in row["alive"]
    assert row["kept"] == []


def test_a_hanging_case_is_stopped_and_reported(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def hangs(env: Env) -> None:
        # what code under test may do; it must not swallow the watchdog
        with contextlib.suppress(Exception):
            time.sleep(30)

    monkeypatch.setattr(harness, "WATCHDOG", 1)
    previous = signal.signal(signal.SIGALRM, harness._alarm)
    try:
        started = time.monotonic()
        row = run_case(_env(tmp_path), Case("hangs", hangs), _fine)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - started < 5
    assert "Hung: still running after 1 s" in row["error"]
    assert row["alive"] is None
