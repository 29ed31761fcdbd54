"""Newer official rule releases, added by configuration instead of a code change.

A release is a folder (or a ZIP of one) with a ``release.toml`` naming its packs; each pack
replaces the built-in pack of the same name, and an optional ``scenarios.toml`` in the release
replaces the built-in scenarios:

    [[pack]]
    name = "en16931-ubl"                        # the pack it replaces or adds
    type = "xslt"                               # "xslt" (compiled Schematron) or "xsd"
    file = "EN16931-UBL-validation.xslt"        # relative to the release folder
"""

from __future__ import annotations

import hashlib
import tomllib
import zipfile
from pathlib import Path
from typing import Any

from einvoice.errors import ConfigError
from einvoice.validation.packs import Registry, RulePack


def _folder(release: Path, unpack_root: Path) -> Path:
    """The release folder; a ZIP is unpacked once under ``unpack_root/<sha256>``."""
    if release.is_dir():
        return release
    digest = hashlib.sha256(release.read_bytes()).hexdigest()
    target = unpack_root / digest
    if not target.is_dir():
        with zipfile.ZipFile(release) as zf:
            for info in zf.infolist():
                if info.filename.startswith("/") or ".." in Path(info.filename).parts:
                    raise ConfigError(f"rule release {release}: unsafe member {info.filename}")
            zf.extractall(target)
    found = next(target.rglob("release.toml"), None)
    if found is None:
        raise ConfigError(f"rule release {release} has no release.toml")
    return found.parent


def _factory(folder: Path, spec: dict[str, Any]) -> tuple[str, Any]:
    name, kind, file = spec["name"], spec["type"], folder / spec["file"]
    if not file.is_file():
        raise ConfigError(f"rule release {folder}: {file.name} is missing")

    def make() -> RulePack:
        if kind == "xsd":
            from einvoice.validation.xsd import SchemaPack
            return SchemaPack(name, file)
        if kind == "xslt":
            from einvoice.validation.schematron import XsltPack
            return XsltPack(name, file.read_text(encoding="utf-8"))
        raise ConfigError(f"rule release {folder}: unknown pack type {kind!r}")

    return name, make


def register_releases(registry: Registry, releases: list[Path], unpack_root: Path) -> Path | None:
    """Register the packs of each release; returns the scenarios file of the last release that
    brings one."""
    scenarios: Path | None = None
    for release in releases:
        try:
            folder = _folder(release, unpack_root)
            data = tomllib.loads((folder / "release.toml").read_text(encoding="utf-8"))
            for spec in data.get("pack", []):
                registry.register(*_factory(folder, spec))
        except (OSError, KeyError, tomllib.TOMLDecodeError, zipfile.BadZipFile) as exc:
            raise ConfigError(f"cannot load rule release {release}: {exc}") from exc
        if (folder / "scenarios.toml").is_file():
            scenarios = folder / "scenarios.toml"
    return scenarios
