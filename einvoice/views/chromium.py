"""Headless Chromium (Debian's package) for PDF output and screenshots of local pages."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from einvoice.errors import EinvoiceError


class RenderError(EinvoiceError):
    """The HTML page could not be turned into PDF (or a screenshot)."""


class ChromiumMissing(RenderError):
    """Headless Chromium, needed for PDF output, is not installed."""


CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync")


def run_chromium(html_file: Path, *output_flags: str, timeout: float = 60.0) -> None:
    """Open a local HTML file in headless Chromium with a fresh profile, e.g. with
    ``--print-to-pdf=out.pdf`` or ``--screenshot=out.png``; killed after ``timeout`` seconds."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise ChromiumMissing("PDF output needs headless Chromium; install it with "
                              "`apt-get install -y chromium`")
    with tempfile.TemporaryDirectory(prefix="einvoice-chromium-") as profile:
        cmd = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *output_flags,
               html_file.resolve().as_uri()]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise RenderError(f"Chromium did not finish within {timeout:g} s") from None
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-3:]
        raise RenderError(f"Chromium failed (exit {proc.returncode}): {' '.join(tail)}")


def html_to_pdf(html_file: Path, pdf_file: Path, *, timeout: float = 60.0) -> None:
    """Print an HTML page to PDF (A4, as the page's print CSS lays it out)."""
    pdf_file.unlink(missing_ok=True)
    run_chromium(html_file, f"--print-to-pdf={pdf_file.resolve()}", "--no-pdf-header-footer",
                 timeout=timeout)
    if not pdf_file.is_file() or pdf_file.stat().st_size == 0:
        raise RenderError(f"Chromium wrote no PDF to {pdf_file}")
