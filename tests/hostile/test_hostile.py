"""One test per hostile case: it held (its checks passed), it stayed within 1 s of CPU and
150 MB of memory, its original is kept, and the channel took a normal invoice afterwards.

The rows come from the group's run in a subprocess (``conftest.hostile_rows``). Wall time is
bounded too, more loosely: the full suite shares two cores with other test processes, so a case
may wait for a core; a case that sleeps or waits on the network shows up there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.hostile.conftest import RUNS
from tests.hostile.harness import GROUPS, group_module

CPU_SECONDS = 1.0
WALL_SECONDS = 3.0  # CPU_SECONDS on a machine of its own; see the module text
MEMORY_MB = 150.0


def _params() -> list[Any]:
    params = []
    for pair in (pair for run in RUNS for pair in run):
        group, db = pair.split(":")
        for case in group_module(group).cases:
            marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
            if db == "postgresql":
                marks.append(pytest.mark.postgres)
            params.append(pytest.param(group, db, case.name, marks=marks,
                                       id=f"{group}-{db}-{case.name}"))
    return params


PARAMS = _params()


def test_the_suite_has_60_cases_over_every_channel() -> None:
    names = {(p.values[0], p.values[2]) for p in PARAMS}
    assert len(names) >= 60, len(names)
    assert {group for group, _ in names} == set(GROUPS)


@pytest.mark.parametrize(("group", "db", "name"), PARAMS)
def test_hostile_case(hostile_rows: Callable[[str, str], dict[str, dict[str, Any]]],
                      group: str, db: str, name: str) -> None:
    row = hostile_rows(group, db).get(name)
    assert row is not None, f"{name} did not report"
    assert row["error"] is None, row["error"]
    assert row["timed"] >= 1, "the case measured nothing"
    assert row["kept"], "the case did not say where its original is"
    assert row["alive"] is None, f"a normal invoice afterwards failed: {row['alive']}"
    assert row["cpu"] < CPU_SECONDS, f"{row['cpu']:.2f} s of CPU"
    assert row["wall"] < WALL_SECONDS, f"{row['wall']:.2f} s"
    assert row["mem_mb"] < MEMORY_MB, f"peak memory grew by {row['mem_mb']:.0f} MB"
