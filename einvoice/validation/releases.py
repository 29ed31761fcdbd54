"""Official rule releases as data: one folder each, with a manifest (``release.toml``).

A release names its official version, the date from which it applies, where its artefacts come
from and the SHA-256 of every artefact; a changed or missing artefact refuses to load, so what
runs is what the manifest says. Built-in releases live in ``schemas/releases/<id>/``; releases
added with ``einvoice rules add`` in ``<data_dir>/rules/releases/<id>/``.

    id = "xrechnung-2.5"
    title = "XRechnung 3.0.x, Schematron 2.5"
    official_version = "2.5.0"
    valid_from = 2026-01-31                     # applies to documents received from this day
    source = "itplr-kosit/xrechnung-schematron@3098f3da (Apache-2.0)"
    scenarios = "scenarios.toml"
    peppol_bis = "3.0.20"                       # the Peppol BIS rules inside (default: newest)

    [official.xrechnung-ubl]                    # reference engine of a native pack
    schematron = "official/ubl/XRechnung-UBL-validation.sch"   # or xslt = "…" (compiled)

    [[pack]]                                    # a pack replaced wholesale by an artefact
    name = "en16931-ubl"
    type = "xslt"                               # "xslt" (compiled Schematron) or "xsd"
    file = "EN16931-UBL-validation.xslt"

    [sha256]
    "scenarios.toml" = "…"
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from einvoice.errors import ConfigError

if TYPE_CHECKING:
    from einvoice.config import Settings

BUILTIN_RELEASES = Path(__file__).resolve().parents[2] / "schemas" / "releases"
MANIFEST = "release.toml"


@dataclass(frozen=True)
class Official:
    """The official artefact behind a native pack: Schematron source or compiled XSLT."""

    pack: str
    path: Path
    compiled: bool  # True: XSLT as KoSIT publishes it; False: the Schematron source


@dataclass(frozen=True)
class PackFile:
    """A pack replaced wholesale by an artefact of the release."""

    name: str
    type: str
    path: Path


@dataclass(frozen=True)
class Release:
    id: str
    title: str
    official_version: str
    valid_from: dt.date
    source: str
    folder: Path
    scenarios: Path
    official: tuple[Official, ...] = ()
    packs: tuple[PackFile, ...] = ()
    sha256: dict[str, str] = field(default_factory=dict)
    builtin: bool = True
    peppol_bis: str | None = None  # the Peppol BIS rules inside (native rules follow it)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def artefacts(folder: Path) -> list[Path]:
    """Every file of a release folder except its manifest, in a stable order."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def seal(folder: Path) -> dict[str, str]:
    """The ``[sha256]`` table of a release folder as it is now."""
    return {p.relative_to(folder).as_posix(): digest(p) for p in artefacts(folder)}


def seal_manifest(folder: Path) -> None:
    """Rewrite the ``[sha256]`` table (the last section) of a release's manifest."""
    manifest = folder / MANIFEST
    text = manifest.read_text(encoding="utf-8")
    head = text.split("\n[sha256]\n")[0].rstrip("\n")
    table = "".join(f'"{name}" = "{value}"\n' for name, value in seal(folder).items())
    manifest.write_text(f"{head}\n\n[sha256]\n{table}", encoding="utf-8")


def _inside(folder: Path, name: str) -> Path:
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise ConfigError(f"rule release {folder}: {name} lies outside the release folder")
    return path


def _official(folder: Path, raw: dict[str, Any]) -> tuple[Official, ...]:
    out = []
    for pack, spec in raw.items():
        compiled = "xslt" in spec
        name = spec["xslt"] if compiled else spec["schematron"]
        out.append(Official(pack, _inside(folder, name), compiled))
    return tuple(out)


def load_release(folder: Path, builtin: bool = True) -> Release:
    """The release of a folder; refuses a manifest that does not match the artefacts."""
    try:
        data = tomllib.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        valid_from = data["valid_from"]
        if not isinstance(valid_from, dt.date):
            raise ConfigError(f"valid_from must be a date, not {valid_from!r}")
        release = Release(
            id=str(data["id"]), title=str(data["title"]),
            official_version=str(data["official_version"]), valid_from=valid_from,
            source=str(data["source"]), folder=folder,
            scenarios=_inside(folder, data.get("scenarios", "scenarios.toml")),
            official=_official(folder, data.get("official", {})),
            packs=tuple(PackFile(p["name"], p["type"], _inside(folder, p["file"]))
                        for p in data.get("pack", [])),
            sha256=dict(data.get("sha256", {})), builtin=builtin,
            peppol_bis=data.get("peppol_bis"))
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot load rule release {folder}: {exc}") from exc
    verify(release)
    return release


def verify(release: Release) -> None:
    """Every artefact listed with its hash, every hash matching: else ``ConfigError``."""
    actual = seal(release.folder)
    if actual != release.sha256:
        changed = sorted(n for n in actual.keys() & release.sha256.keys()
                         if actual[n] != release.sha256[n])
        missing = sorted(release.sha256.keys() - actual.keys())
        unlisted = sorted(actual.keys() - release.sha256.keys())
        raise ConfigError(
            f"rule release {release.folder.name}: artefacts do not match its manifest"
            + "".join(f"; {label}: {', '.join(names)}" for label, names in
                      (("changed", changed), ("missing", missing), ("not listed", unlisted))
                      if names))


def added_releases(settings: Settings) -> Path:
    """Where ``einvoice rules add`` installs releases."""
    return settings.data_dir / "rules" / "releases"


def installed(added: Path | None = None) -> list[Release]:
    """The built-in releases and those added under ``added``, oldest first."""
    releases = [load_release(f.parent) for f in sorted(BUILTIN_RELEASES.glob(f"*/{MANIFEST}"))]
    if added is not None and added.is_dir():
        releases += [load_release(f.parent, builtin=False)
                     for f in sorted(added.glob(f"*/{MANIFEST}"))]
    ids = [r.id for r in releases]
    if len(ids) != len(set(ids)):
        raise ConfigError(f"rule releases with the same id: {sorted(ids)}")
    return sorted(releases, key=lambda r: (r.valid_from, r.id))


def in_force(releases: list[Release], day: dt.date, pinned: str | None = None) -> Release:
    """The release for a document received on ``day``: the pinned one, else the newest whose
    valid-from date has come (the oldest for a day before all of them)."""
    if pinned is not None:
        for release in releases:
            if release.id == pinned:
                return release
        raise ConfigError(f"unknown rule release {pinned!r}; installed: "
                          f"{', '.join(r.id for r in releases)}")
    if not releases:
        raise ConfigError("no rule release installed")
    due = [r for r in releases if r.valid_from <= day]
    return due[-1] if due else releases[0]

