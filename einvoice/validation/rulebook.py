"""The installed rule releases, each with its own validator; every document is checked by the
release in force on the day it was received (or the pinned one), and its report names it.

Native rule code is fast but follows one release; each release also brings its official
artefacts. Per native pack, the rules whose official assertion (context, test, flag) differs
from the one the native code implements — changed, added or, for a compiled archive, not
comparable — run on the official engine for that release, so a new release is right on the day
it is added and fast once the native code catches up (``einvoice rules`` lists them).
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from einvoice.config import DocumentRule, Settings
from einvoice.errors import ConfigError
from einvoice.formats.reader import Reading, read_document
from einvoice.validation import xrechnung
from einvoice.validation.document import Doc
from einvoice.validation.engine import Validator
from einvoice.validation.findings import Finding, Report, Verdict
from einvoice.validation.official.assertions import assertions
from einvoice.validation.packs import Registry, RulePack
from einvoice.validation.policy import Policy
from einvoice.validation.releases import (
    MANIFEST,
    Official,
    PackFile,
    Release,
    added_releases,
    in_force,
    installed,
)
from einvoice.validation.scenarios import load_scenarios

NATIVE_FINGERPRINTS = (Path(__file__).resolve().parent / "xrechnung" / "fingerprints.toml",
                       Path(__file__).resolve().parent / "native" / "fingerprints.toml")
# packs whose official source the native engine compiles whole: setting ``rule_engine`` applies
ENGINE_CHOICE = {"en16931-ubl"}


def native_fingerprints() -> dict[str, dict[str, str]]:
    """pack → rule id → fingerprint of the official assertion the native code implements."""
    found: dict[str, dict[str, str]] = {}
    for path in NATIVE_FINGERPRINTS:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        found.update({pack: dict(rules) for pack, rules in data.items()
                      if isinstance(rules, dict)})
    return found


@dataclass(frozen=True)
class Plan:
    """How one native pack runs under one release."""

    pack: str
    official: Official
    lagging: frozenset[str]  # run on the official engine
    dropped: frozenset[str]  # native rules the release no longer has
    peppol_bis: str | None = None  # the Peppol rules of the release (native: no official source)
    engine: str = "native"  # setting ``rule_engine`` for the packs of ENGINE_CHOICE

    @property
    def wholly_official(self) -> bool:
        return self.official.compiled or self.engine == "official"


def plan(official: Official, peppol_bis: str | None = None, engine: str = "native") -> Plan:
    native = native_fingerprints().get(official.pack, {})
    engine = engine if official.pack in ENGINE_CHOICE else "native"
    if official.compiled:  # no source to compare with: the archive's XSLT decides alone
        return Plan(official.pack, official, frozenset(), frozenset(native))
    release = {rule: a.fingerprint for rule, a in assertions(official.path).items()}
    lagging = frozenset(rule for rule, fp in release.items() if native.get(rule) != fp)
    return Plan(official.pack, official, lagging, frozenset(native.keys() - release.keys()),
                peppol_bis, engine)


def _native(pack: str, peppol_bis: str | None) -> RulePack:
    """The native pack, with the Peppol rules of the release where it says which."""
    if pack == "xrechnung-ubl" and peppol_bis is not None:
        try:
            return xrechnung.ubl(peppol_bis)
        except KeyError:
            raise ConfigError(f"no native rules for Peppol BIS {peppol_bis}") from None
    return Registry().get(pack)


class ReleasePack:
    """A native pack under one release: native findings except for the lagging and dropped
    rules, plus the official engine's findings for the lagging ones."""

    def __init__(self, native: RulePack, official: RulePack | None, skip: frozenset[str]) -> None:
        self.name = native.name
        self._native, self._official, self._skip = native, official, skip

    def validate(self, doc: Doc) -> list[Finding]:
        found = [f for f in self._native.validate(doc) if f.rule_id not in self._skip]
        return found + (self._official.validate(doc) if self._official else [])


def _stamp(path: Path) -> tuple[int, int]:
    """Which version of an artefact file a compiled pack was built from."""
    info = path.stat()
    return info.st_mtime_ns, info.st_size


@functools.cache
def _built(spec: Plan | PackFile, stamp: tuple[int, int]) -> RulePack:
    """One compiled pack per artefact and plan in a process, shared by every rulebook: compiling
    costs up to a second and tens of MB of Saxon memory, and rulebooks differ per settings
    (routes, policy, data folder) far more often than the artefacts they run. Saxon is loaded
    only here, by packs that need it (none with native rules)."""
    from einvoice.validation.official.pack import OfficialPack
    from einvoice.validation.schematron import XsltPack

    if isinstance(spec, PackFile):
        if spec.type == "xsd":
            from einvoice.validation.xsd import SchemaPack
            return SchemaPack(spec.name, spec.path)
        return XsltPack(spec.name, spec.path.read_text(encoding="utf-8"))
    official = spec.official
    if official.compiled:
        return XsltPack(spec.pack, official.path.read_text(encoding="utf-8"))
    if spec.wholly_official:
        return OfficialPack(spec.pack, official.path)
    native = _native(spec.pack, spec.peppol_bis)
    engine = OfficialPack(spec.pack, official.path, only=spec.lagging) if spec.lagging else None
    pack = ReleasePack(native, engine, spec.lagging | spec.dropped)
    if spec.engine == "both":
        from einvoice.validation.native.cen import BothEngines
        return BothEngines(pack, OfficialPack(spec.pack, official.path))
    return pack


def _factory(spec: Plan | PackFile) -> Callable[[], RulePack]:
    path = spec.path if isinstance(spec, PackFile) else spec.official.path
    return lambda: _built(spec, _stamp(path))


def release_validator(release: Release, routes: dict[str, str],
                      scenarios_file: Path | None = None,
                      policy: Policy | None = None, engine: str = "native") -> Validator:
    validator = Validator(load_scenarios(scenarios_file or release.scenarios), routes, policy)
    for pack in release.packs:
        validator.registry.register(pack.name, _factory(pack))
    for official in release.official:
        validator.registry.register(official.pack,
                                    _factory(plan(official, release.peppol_bis, engine)))
    return validator


class Rulebook:
    """Validators per release, built on first use and reused for every document."""

    def __init__(self, releases: list[Release], routes: dict[str, str] | None = None,
                 pinned: str | None = None, scenarios_file: Path | None = None,
                 policy: Policy | None = None, engine: str = "native") -> None:
        self.releases = releases
        self.pinned = pinned
        self.engine = engine
        self._policy = policy
        self._routes = routes or {}
        self._scenarios_file = scenarios_file
        self._validators: dict[str, Validator] = {}
        self._lock = threading.Lock()

    def release_for(self, day: dt.date | None = None, release: str | None = None) -> Release:
        return in_force(self.releases, day or dt.date.today(), release or self.pinned)

    def validator(self, release: Release) -> Validator:
        with self._lock:
            if release.id not in self._validators:
                self._validators[release.id] = release_validator(
                    release, self._routes, self._scenarios_file, self._policy, self.engine)
            return self._validators[release.id]

    def validate(self, reading: Reading, source: str, max_xml_bytes: int,
                 day: dt.date | None = None, release: str | None = None) -> Report:
        chosen = self.release_for(day, release)
        report = self.validator(chosen).validate(reading, source, max_xml_bytes)
        report.release = chosen.id
        return report

    def validate_files(self, paths: Iterable[Path], max_xml_bytes: int,
                       release: str | None = None) -> list[Report]:
        """One report per file (checked by the release in force today, or ``release``)."""
        reports = []
        for path in paths:
            try:
                data = path.read_bytes()
            except OSError as exc:
                reports.append(Report(str(path), Verdict.UNDEFINED, None, error=str(exc)))
                continue
            reports.append(self.validate(read_document(data, max_xml_bytes), str(path),
                                         max_xml_bytes, release=release))
        return reports


@functools.cache
def _cached(added: Path | None, routes: tuple[tuple[str, str], ...], pinned: str | None,
            scenarios_file: Path | None, policy: tuple[tuple[str, str], ...],
            engine: str) -> Rulebook:
    rules = {name: DocumentRule.model_validate_json(row) for name, row in policy}
    return Rulebook(installed(added), dict(routes), pinned, scenarios_file, Policy(rules),
                    engine)


def rulebook_for(settings: Settings) -> Rulebook:
    """The rulebook of these settings, built once per process (compiled rules are reused)."""
    policy = tuple((name, row.model_dump_json()) for name, row in settings.document_policy.items())
    added = added_releases(settings)
    return _cached(added if any(added.glob(f"*/{MANIFEST}")) else None,
                   tuple(sorted(settings.leitweg_routes.items())),
                   settings.rule_release, settings.scenarios_file, policy, settings.rule_engine)


def forget() -> None:
    """Drop cached rulebooks (after ``rules add`` in the same process). Compiled packs stay:
    they are keyed by their artefact file's path, time and size, so new files make new ones."""
    _cached.cache_clear()
