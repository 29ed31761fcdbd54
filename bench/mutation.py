"""Mutation score per module of the business rules (mutmut; what is mutated and which tests run
is configured in pyproject.toml, ``[tool.mutmut]``).

    python3 bench/mutation.py                      # run (incrementally), then report
    python3 bench/mutation.py --fresh              # forget all earlier results first
    python3 bench/mutation.py 'einvoice.lifecycle.*'   # (re)run these mutants only
    python3 bench/mutation.py --report             # report the last results, run nothing

mutmut copies the package and the tests into ./mutants/ and keeps its results there. It keeps a
verdict until the mutated function changes, so after a run the survivors are run once more
against the current tests (a test added to kill one takes effect without ``--fresh``).

The report gives killed/total per module (a timeout counts as killed, as in mutmut's own score).
A survivor listed in mutation-equivalents.md (its mutant name in backquotes) is an equivalent
mutant; ``mutmut show NAME`` prints its diff. Exit status 1 when a module is below 90 % killed,
a survivor is not listed there, a listed mutant is no survivor (the list is stale: mutant
numbers move when the code changes), or a mutant has no result.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENTS = ROOT / "mutation-equivalents.md"
BAR = 0.90
KILLED = {"killed", "timeout", "caught by type check"}


def config() -> dict[str, list[str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mutmut: dict[str, list[str]] = data["tool"]["mutmut"]
    return mutmut


def mutmut_command() -> list[str]:
    beside = Path(sys.executable).with_name("mutmut")
    exe = str(beside) if beside.exists() else shutil.which("mutmut")
    if exe is None:
        sys.exit("mutmut is not installed (pip install -e '.[dev]')")
    return [exe]


def results() -> dict[str, dict[str, str]]:
    """module path → mutant name → status, from mutmut's result files."""
    from mutmut.stats import status_by_exit_code

    out: dict[str, dict[str, str]] = {}
    for path in config()["only_mutate"]:
        meta = ROOT / "mutants" / (path + ".meta")
        codes = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
        out[path] = {name: status_by_exit_code[code] for name, code in sorted(codes.items())}
    return out


def with_status(status: str) -> list[str]:
    return sorted(n for statuses in results().values() for n, s in statuses.items() if s == status)


def equivalents() -> set[str]:
    if not EQUIVALENTS.exists():
        return set()
    return set(re.findall(r"`([^`\s]+__mutmut_\d+)`", EQUIVALENTS.read_text(encoding="utf-8")))


def run(names: list[str], jobs: int) -> None:
    cmd = [*mutmut_command(), "run", "--max-children", str(jobs), *names]
    done = subprocess.run(cmd, cwd=ROOT, check=False)
    if done.returncode != 0:
        sys.exit(f"mutmut run failed (exit {done.returncode}): {' '.join(cmd)}")


def report() -> int:
    listed = equivalents()
    problems: list[str] = []
    rows = []
    for path, statuses in results().items():
        total = len(statuses)
        killed = sum(s in KILLED for s in statuses.values())
        survivors = sorted(n for n, s in statuses.items() if s == "survived")
        other = sorted(f"{n} ({s})" for n, s in statuses.items()
                       if s not in KILLED and s != "survived")
        unexplained = [n for n in survivors if n not in listed]
        rows.append((path, killed, total, len(survivors) - len(unexplained), len(unexplained),
                     len(other)))
        if total == 0:
            problems.append(f"{path}: no mutants (not run yet?)")
        elif killed / total < BAR:
            problems.append(f"{path}: {killed}/{total} killed is below {BAR:.0%}")
        problems += [f"survivor not in {EQUIVALENTS.name}: {n}" for n in unexplained]
        unchecked = sum(s == "not checked" for s in statuses.values())
        if unchecked:
            problems.append(f"{path}: {unchecked} mutants not run yet")
        problems += [f"no result: {n}" for n in other if not n.endswith("(not checked)")]
    every = {n for statuses in results().values() for n in statuses}
    alive = set(with_status("survived"))
    problems += [f"listed in {EQUIVALENTS.name} but {'killed' if n in every else 'unknown'}: {n}"
                 for n in sorted(listed - alive)]

    print(f"{'module':34} {'killed':>7} {'total':>6} {'score':>7} {'equiv.':>7} "
          f"{'survived':>9} {'other':>6}")
    for path, killed, total, equivalent, survived, other_count in rows:
        score = f"{killed / total:.1%}" if total else "-"
        print(f"{path:34} {killed:>7} {total:>6} {score:>7} {equivalent:>7} {survived:>9} "
              f"{other_count:>6}")
    for problem in problems:
        print("  !", problem)
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mutants", nargs="*", help="mutant names or globs to (re)run")
    parser.add_argument("--fresh", action="store_true", help="remove ./mutants/ first")
    parser.add_argument("--report", action="store_true", help="only report the last results")
    parser.add_argument("-j", "--jobs", type=int, default=1,
                        help="mutmut worker processes (default 1: the machine is shared)")
    args = parser.parse_args()
    if not args.report:
        if args.fresh:
            shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        run(args.mutants, args.jobs)
        if not args.mutants:
            survivors = with_status("survived")
            if survivors:
                run(survivors, args.jobs)  # against the current tests, not the cached verdict
            if with_status("not checked"):  # the code changed while mutmut ran
                run([], args.jobs)
    return report()


if __name__ == "__main__":
    sys.exit(main())
