"""``einvoice rules add``: an official archive, as KoSIT publishes it, becomes a release.

Accepted: the xrechnung-schematron release ZIP (or its unpacked folder) — the XRechnung
Schematron for UBL and CII as sources (``*.sch``) and/or compiled (``*.xsl``), its
``CHANGELOG.md`` naming version and date — or a release folder/ZIP of our own layout
(``release.toml``). The release is staged beside the installed ones, checked (its manifest,
every scenario's packs compile, every ``<?xmute?>`` expectation of the archive's test instances
is met) and only then moved into place in one rename: a broken archive leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tomllib
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

from einvoice.errors import ConfigError, InputError
from einvoice.formats.reader import read_document
from einvoice.validation import xmute
from einvoice.validation.releases import MANIFEST, Release, load_release, seal
from einvoice.validation.rulebook import release_validator

MAX_MEMBERS = 5000
MAX_UNPACKED = 256 * 1024 * 1024
_VERSION = re.compile(r"schematron-(\d+\.\d+\.\d+)")
_CHANGELOG = re.compile(r"^## v?(\d+\.\d+\.\d+) on (\d{4}-\d{2}-\d{2})", re.MULTILINE)
SYNTAXES = {"xrechnung-ubl": "XRechnung-UBL-validation",
            "xrechnung-cii": "XRechnung-CII-validation"}


@dataclass(frozen=True)
class Installed:
    release: Release
    cases: int  # xmute expectations checked


def _unpack(source: Path, into: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, into, symlinks=False)
        return
    try:
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
            if len(members) > MAX_MEMBERS or sum(m.file_size for m in members) > MAX_UNPACKED:
                raise ConfigError(f"{source.name}: archive too large to be a rule release")
            for member in members:
                parts = Path(member.filename).parts
                if member.filename.startswith("/") or ".." in parts or (
                        member.external_attr >> 16) & 0o170000 == 0o120000:
                    raise ConfigError(f"{source.name}: unsafe member {member.filename!r}")
            archive.extractall(into)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ConfigError(f"{source.name}: not a readable ZIP archive ({exc})") from exc


def _artefact(root: Path, stem: str) -> Path | None:
    """The Schematron source of a syntax, else its compiled XSLT."""
    for suffix in (".sch", ".xsl", ".xslt"):
        found = sorted(root.rglob(stem + suffix))
        if found:
            return found[0]
    return None


def _version(source: Path, root: Path, version: str | None,
             valid_from: dt.date | None) -> tuple[str, dt.date]:
    changelog = next(iter(sorted(root.rglob("CHANGELOG.md"))), None)
    logged = _CHANGELOG.search(changelog.read_text(encoding="utf-8")) if changelog else None
    named = _VERSION.search(source.name)
    version = version or (named.group(1) if named else None) or (
        logged.group(1) if logged else None)
    if logged and valid_from is None and logged.group(1) == version:
        valid_from = dt.date.fromisoformat(logged.group(2))
    if version is None or valid_from is None:
        raise ConfigError(f"{source.name}: cannot tell the release's version and date (no "
                          "CHANGELOG.md entry for it); give --version and --valid-from")
    return version, valid_from


def _manifest(folder: Path, source: Path, version: str, valid_from: dt.date,
              scenarios: Path) -> None:
    shutil.copyfile(scenarios, folder / "scenarios.toml")
    lines = [f'id = "xrechnung-{version}"',
             f'title = "XRechnung Schematron {version} (added from {source.name})"',
             f'official_version = "{version}"', f"valid_from = {valid_from.isoformat()}",
             f'source = "{source.name}, as published by KoSIT"',
             'scenarios = "scenarios.toml"', ""]
    for pack, stem in SYNTAXES.items():
        found = _artefact(folder / "archive", stem)
        if found is None:
            raise ConfigError(f"{source.name}: no {stem}.sch or .xsl in the archive")
        key = "schematron" if found.suffix == ".sch" else "xslt"
        lines += [f"[official.{pack}]", f'{key} = "{found.relative_to(folder).as_posix()}"', ""]
    lines += ["[sha256]"] + [f'"{name}" = "{value}"' for name, value in seal(folder).items()]
    (folder / MANIFEST).write_text("\n".join(lines) + "\n", encoding="utf-8")


def check(release: Release, routes: dict[str, str], tests: Path | None) -> int:
    """Compile every pack of every scenario and meet every xmute expectation under ``tests``;
    returns the number of expectations checked, raises ``ConfigError`` listing what failed."""
    validator = release_validator(release, routes)
    try:
        for scenario in validator.scenarios:
            for name in [*scenario.schema.values(), *scenario.packs]:
                validator.registry.get(name)
    except Exception as exc:  # any compile failure means the release cannot be used
        raise ConfigError(f"release {release.id}: a pack does not compile: {exc}") from exc
    problems: list[str] = []
    count = 0
    for instance in sorted(tests.rglob("*.xml")) if tests else []:
        data = instance.read_bytes()
        if b"<?xmute" not in data:
            continue
        try:
            for case in xmute.cases(data):
                count += 1
                report = validator.validate(read_document(case.xml, xmute.MAX_BYTES),
                                            case.id, xmute.MAX_BYTES)
                fired = {f.rule_id for f in report.findings}
                problem = case.problem(fired) or (
                    f"{case.id}: engine error {report.error}" if report.error else None)
                if problem:
                    problems.append(f"{instance.name}: {problem}")
        except (ValueError, InputError) as exc:
            problems.append(f"{instance.name}: {exc}")
    if problems:
        raise ConfigError(f"release {release.id} fails {len(problems)} of its own test "
                          "expectations: " + " | ".join(problems[:10]))
    return count


def add_release(source: Path, target_root: Path, installed: list[Release],
                routes: dict[str, str], version: str | None = None,
                valid_from: dt.date | None = None) -> Installed:
    """Stage, check and install the release in ``source`` (scenarios: those of the newest
    ``installed`` release unless it brings its own); nothing stays behind on failure."""
    target_root.mkdir(parents=True, exist_ok=True)
    staging = target_root / f".staging-{uuid.uuid4().hex}"
    try:
        _unpack(source, staging / "unpacked")
        own = next(iter(sorted((staging / "unpacked").rglob(MANIFEST))), None)
        if own is not None:
            folder = own.parent
        else:
            folder = staging / "release"
            folder.mkdir()
            (staging / "unpacked").rename(folder / "archive")
            found_version, found_date = _version(source, folder / "archive", version, valid_from)
            _manifest(folder, source, found_version, found_date, installed[-1].scenarios)
        release = load_release(folder, builtin=False)
        final = target_root / release.id
        if final.exists() or release.id in {r.id for r in installed}:
            raise ConfigError(f"rule release {release.id} is already installed")
        cases = check(release, routes, folder)
        folder.rename(final)
        return Installed(load_release(final, builtin=False), cases)
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot add rule release {source}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
