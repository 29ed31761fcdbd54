"""Scenarios as data (``schemas/releases/<id>/scenarios.toml``): which documents they match,
which XML Schema and rule packs run, which severities they override.

Matching is the official one: the document kind, and a BT-24 value exactly as written (a CII
document may carry several; any of them matches, like the XPath ``=`` of KoSIT)."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from einvoice.errors import ConfigError
from einvoice.validation.findings import Level

BUILTIN_SCENARIOS = (Path(__file__).resolve().parents[2] / "schemas" / "releases" / "xrechnung-2.5"
                     / "scenarios.toml")
ANY = "*"


@dataclass(frozen=True)
class Scenario:
    name: str
    kinds: frozenset[str]
    specifications: frozenset[str]
    schema: dict[str, str]  # document kind -> XML Schema pack
    packs: tuple[str, ...]
    levels: dict[str, Level] = field(default_factory=dict)

    def matches(self, kind: str, specifications: Sequence[str]) -> bool:
        """``specifications``: the BT-24 values of the document, as written."""
        return kind in self.kinds and (ANY in self.specifications
                                       or any(s in self.specifications for s in specifications))

    def schema_for(self, kind: str) -> str | None:
        return self.schema.get(kind)


def _scenario(raw: dict[str, Any]) -> Scenario:
    match = raw.get("match", {})
    kinds = frozenset(match.get("kinds", []))
    schema = raw.get("schema")
    by_kind = ({k: schema for k in kinds} if isinstance(schema, str) else dict(schema or {}))
    return Scenario(
        name=raw["name"], kinds=kinds, specifications=frozenset(match.get("specifications", [])),
        schema=by_kind, packs=tuple(raw.get("packs", [])),
        levels={rule: Level(level) for rule, level in raw.get("levels", {}).items()},
    )


def load_scenarios(path: Path = BUILTIN_SCENARIOS) -> list[Scenario]:
    """The scenarios of a TOML file, in the order they are tried."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return [_scenario(raw) for raw in data.get("scenario", [])]
    except (OSError, tomllib.TOMLDecodeError, KeyError, ValueError) as exc:
        raise ConfigError(f"cannot load validation scenarios from {path}: {exc}") from exc


def pick(scenarios: list[Scenario], kind: str,
         specifications: str | Sequence[str] | None) -> Scenario | None:
    """The first scenario that matches, as the KoSIT validator does; None: the document is
    rejected (there is no catch-all)."""
    found = [specifications] if isinstance(specifications, str) else list(specifications or [])
    return next((s for s in scenarios if s.matches(kind, found)), None)
