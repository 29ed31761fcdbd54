"""``einvoice rules add``: an official archive, as KoSIT publishes it, becomes a release.

Accepted: the xrechnung-schematron release ZIP — the XRechnung Schematron for UBL and CII as
sources (``*.sch``) and/or compiled (``*.xsl``), its ``CHANGELOG.md`` naming version and date —,
the validator-configuration ZIP (``scenarios.xml``, ``resources/`` with the compiled CEN and
XRechnung XSLT), both together as one folder (unpacked or as the two ZIPs), or a release
folder/ZIP of our own layout (``release.toml``). A ``scenarios.xml`` becomes the release's
scenarios (else it keeps those of the newest release); compiled CEN XSLT replaces the packs
``en16931-ubl``/``-cii``. The release is staged beside the installed ones, checked (its
manifest, every scenario's packs compile, every ``<?xmute?>`` expectation of the archive's test
instances is met) and only then moved into place in one rename: a broken archive leaves nothing
behind.
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
from einvoice.validation.kosit_config import scenarios_toml, toml_string
from einvoice.validation.releases import MANIFEST, Release, load_release, seal
from einvoice.validation.rulebook import release_validator
from einvoice.validation.scenarios import load_scenarios

MAX_MEMBERS = 5000
MAX_UNPACKED = 256 * 1024 * 1024
_VERSION = re.compile(r"schematron-(\d+\.\d+\.\d+)")
_CHANGELOG = re.compile(r"^## v?(\d+\.\d+\.\d+) on (\d{4}-\d{2}-\d{2})", re.MULTILINE)
_CONFIG = re.compile(r"(?:xrechnung-(\d+\.\d+\.\d+)-)?validator-configuration-(\d{4}-\d{2}-\d{2})")
SYNTAXES = {"xrechnung-ubl": "XRechnung-UBL-validation",
            "xrechnung-cii": "XRechnung-CII-validation"}
CEN = {"en16931-ubl": "EN16931-UBL-validation", "en16931-cii": "EN16931-CII-validation"}
SCENARIOS_XML = "scenarios.xml"


@dataclass(frozen=True)
class Installed:
    release: Release
    cases: int  # xmute expectations checked


def _unpack(source: Path, into: Path) -> None:
    """The archive (or folder) into ``into``; a ZIP at its top (both official archives given
    together) is unpacked into a folder of its name."""
    if source.is_dir():
        shutil.copytree(source, into, symlinks=False)
    else:
        _extract(source, into)
    for inner in sorted(into.glob("*.zip")):
        _extract(inner, into / inner.stem)
        inner.unlink()


def _extract(source: Path, into: Path) -> None:
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


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"not a date: {text!r}") from exc


def _first(pattern: re.Pattern[str], texts: list[str]) -> re.Match[str] | None:
    return next((found for text in texts if (found := pattern.search(text))), None)


def _version(source: Path, root: Path, version: str | None,
             valid_from: dt.date | None) -> tuple[str, dt.date, str]:
    """Version, valid-from date and title: of the Schematron release (its name or
    CHANGELOG.md), else of a validator configuration alone (its name), else as given."""
    names = [source.name, *sorted(p.name for p in root.iterdir())]
    logged = _first(_CHANGELOG, [p.read_text("utf-8", "replace")
                                 for p in sorted(root.rglob("CHANGELOG.md"))])
    named = _first(_VERSION, names)
    config = _first(_CONFIG, names)
    release = (named.group(1) if named else None) or (logged.group(1) if logged else None)
    title = f"XRechnung Schematron {version or release}"
    if release is None and config is not None:  # a validator configuration alone
        release = f"config-{config.group(2)}"
        valid_from = valid_from or _day(config.group(2))
        title = f"XRechnung {config.group(1) or ''} validator configuration {config.group(2)}"
    elif config is not None:
        title += f" + validator configuration {config.group(2)}"
    version = version or release
    if logged and valid_from is None and logged.group(1) == version:
        valid_from = _day(logged.group(2))
    if version is None or valid_from is None:
        raise ConfigError(f"{source.name}: cannot tell the release's version and date (no "
                          "CHANGELOG.md entry for it, no validator-configuration-YYYY-MM-DD "
                          "name); give --version and --valid-from")
    return version, valid_from, " ".join(title.split())


def _scenarios(root: Path, base: Path) -> str:
    """The archive's ``scenarios.xml`` converted (with the policy scenarios of ``base``), else
    the text of ``base``."""
    found = sorted(root.rglob(SCENARIOS_XML))
    if len(found) > 1:
        raise ConfigError(f"several {SCENARIOS_XML} in the archive: "
                          + ", ".join(p.relative_to(root).as_posix() for p in found))
    if not found:
        return base.read_text(encoding="utf-8")
    return scenarios_toml(found[0].read_bytes(), load_scenarios(base),
                          found[0].relative_to(root).as_posix())


def _manifest(folder: Path, source: Path, version: str, valid_from: dt.date, title: str,
              scenarios: str) -> None:
    (folder / "scenarios.toml").write_text(scenarios, encoding="utf-8")
    lines = [f"id = {toml_string('xrechnung-' + version)}",
             f"title = {toml_string(f'{title} (added from {source.name})')}",
             f"official_version = {toml_string(version)}",
             f"valid_from = {valid_from.isoformat()}",
             f"source = {toml_string(f'{source.name}, as published by KoSIT')}",
             'scenarios = "scenarios.toml"', ""]
    for pack, stem in SYNTAXES.items():
        found = _artefact(folder / "archive", stem)
        if found is None:
            raise ConfigError(f"{source.name}: no {stem}.sch or .xsl in the archive")
        key = "schematron" if found.suffix == ".sch" else "xslt"
        lines += [f"[official.{pack}]",
                  f"{key} = {toml_string(found.relative_to(folder).as_posix())}", ""]
    for pack, stem in CEN.items():  # the compiled CEN rules of a validator configuration
        compiled = sorted((folder / "archive").rglob(stem + ".xsl"))
        if compiled:
            lines += ["[[pack]]", f"name = {toml_string(pack)}", 'type = "xslt"',
                      f"file = {toml_string(compiled[0].relative_to(folder).as_posix())}", ""]
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
    """Stage, check and install the release in ``source`` (scenarios: its ``scenarios.xml``
    converted, else those of the newest ``installed`` release); nothing stays behind on
    failure."""
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
            archive = folder / "archive"
            found_version, found_date, title = _version(source, archive, version, valid_from)
            _manifest(folder, source, found_version, found_date, title,
                      _scenarios(archive, installed[-1].scenarios))
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
