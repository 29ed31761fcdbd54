"""System components the tests drive for real (headless Chromium, Dovecot): one rule for all.

In CI (``CI=true``) a missing component FAILS the test, so that a broken image cannot turn a
browser or mail test into a silent skip; on a developer machine the test is skipped with a
message naming the Debian package to install.

Also the checks the screenshot tests share: what a page shows (``dump_dom``) and that a PNG is a
picture of the expected size and not one flat colour (``png_facts``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = ("chromium", "chromium")  # (binary, Debian package)
DOVECOT = ("dovecot", "dovecot-imapd")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require(binary: str, package: str, *, extra_paths: tuple[str, ...] = ()) -> str:
    """The path of ``binary``; when it is missing, fail in CI and skip elsewhere, naming the
    Debian ``package`` that provides it."""
    found = shutil.which(binary) or next(
        (p for p in extra_paths if os.access(p, os.X_OK)), None)
    if found is not None:
        return found
    message = f"{binary} not installed (Debian package {package}: apt-get install -y {package})"
    if in_ci():
        pytest.fail(f"{message}; required in CI", pytrace=False)
    pytest.skip(message)


def chromium() -> str:
    return require(*CHROMIUM)


def dovecot() -> str:
    return require(*DOVECOT, extra_paths=("/usr/sbin/dovecot",))


def dump_dom(html_file: Path, timeout: float = 60.0) -> str:
    """The DOM headless Chromium built from a local page (``--dump-dom``), as HTML text."""
    from einvoice.views.chromium import CHROMIUM_FLAGS

    binary = chromium()
    with tempfile.TemporaryDirectory(prefix="einvoice-test-chromium-") as profile:
        done = subprocess.run(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
             html_file.resolve().as_uri()],
            capture_output=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done.stdout.decode("utf-8")


@dataclass(frozen=True)
class PngFacts:
    width: int
    height: int
    colours: int  # distinct colours, counted up to 257
    dark_share: float  # share of pixels that are clearly not background (text, lines)


def png_facts(path: Path) -> PngFacts:
    """Size and a rough content measure of a PNG file (a blank or flat image has one colour)."""
    from PIL import Image

    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), "not a PNG file"
    with Image.open(path) as img:
        grey = img.convert("L")
        colours = img.convert("RGB").getcolors(maxcolors=256)
        histogram = grey.histogram()
        dark = sum(histogram[:160]) / (grey.width * grey.height)
        return PngFacts(img.width, img.height, 257 if colours is None else len(colours), dark)
