"""The three routes an invoice is validated by, side by side.

- ``NativeRoute``: the product, ``Rulebook.validate`` with its default engine (read, schema,
  rules of the release in force).
- ``SaxoncheRoute``: the official artefacts as the product would run them itself: the XML
  Schema in lxml, the CEN and XRechnung stylesheets in SaxonC (``XsltPack``).
- ``Jvm``: the official route as the KoSIT validator runs it: ``bench/jvm/Validate.java`` on a
  warm JVM with Saxon-HE (Debian ``libsaxonhe-java``), compiled with javac at bench time.

Official artefacts: the UBL 2.1 / CII D16B schemas the product ships, the CEN EN 16931 UBL XSLT
(release 1.3.16, as the product ships it), the CEN CII Schematron of the corpus and the
XRechnung Schematron of the release in force, both compiled to XSLT by the product's compiler.
Our XRechnung sources hold no Peppol BIS rules (the official compiled XSLT merges them in), so
the JVM route does a little less work than KoSIT's: ratios against it are on the safe side.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.procs import ROOT, peak_rss_mb, run
from einvoice.config import Settings
from einvoice.formats.detect import xml_kind
from einvoice.formats.reader import read_document
from einvoice.formats.xmlsafe import parse_xml
from einvoice.validation.document import Doc
from einvoice.validation.official.compiler import compile_schematron
from einvoice.validation.releases import Release
from einvoice.validation.rulebook import rulebook_for
from einvoice.validation.schematron import XsltPack
from einvoice.validation.xsd import CII_D16B, XSD_DIR, SchemaPack

CORPUS = ROOT.parent / "shared" / "corpus"
CEN_CII_SCH = CORPUS / "rules" / "en16931" / "cii" / "EN16931-CII-validation-preprocessed.sch"
CEN_UBL_XSLT = XSD_DIR / "ubl-2.1" / "EN16931-UBL-validation.xslt"
SAXON_JAR = Path("/usr/share/java/Saxon-HE.jar")
DRIVER = Path(__file__).resolve().parent / "jvm" / "Validate.java"


@dataclass(frozen=True)
class OfficialRoute:
    """What the official validator runs for one document kind: a schema, then stylesheets."""

    xsd: Path
    rules: tuple[Path, ...]

    def arg(self, kind: str) -> str:
        return f"{kind}={','.join(str(p) for p in (self.xsd, *self.rules))}"


def official_routes(release: Release, folder: Path) -> dict[str, OfficialRoute]:
    """Per document kind the official artefacts of ``release``; Schematron sources are compiled
    into ``folder`` (the same files go to SaxonC and to the JVM)."""

    def xslt(name: str, source: Path, compiled: bool) -> Path:
        if compiled:
            return source
        target = folder / f"{name}.xslt"
        target.write_text(compile_schematron(source), encoding="utf-8")
        return target

    official = {o.pack: xslt(o.pack, o.path, o.compiled) for o in release.official}
    cen_cii = xslt("en16931-cii", CEN_CII_SCH, False)
    ubl = (CEN_UBL_XSLT, official["xrechnung-ubl"])
    return {"ubl-invoice": OfficialRoute(XSD_DIR / "ubl-2.1/maindoc/UBL-Invoice-2.1.xsd", ubl),
            "ubl-creditnote": OfficialRoute(
                XSD_DIR / "ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd", ubl),
            "cii": OfficialRoute(CII_D16B, (cen_cii, official["xrechnung-cii"]))}


def kind_of(data: bytes) -> str:
    return xml_kind(parse_xml(data).getroot()).value


class NativeRoute:
    """The product's validation of one document from its bytes, as ingest and ``validate`` do."""

    def __init__(self, settings: Settings) -> None:
        self.book = rulebook_for(settings)
        self.release = self.book.release_for()
        self.limit = settings.max_xml_bytes

    def validate(self, data: bytes) -> tuple[str, int]:
        """(verdict, number of findings)."""
        report = self.book.validate(read_document(data, self.limit), "bench", self.limit)
        return report.verdict.value, len(report.findings)


class SaxoncheRoute:
    """The official artefacts run in-process: hardened parse, lxml schema, SaxonC stylesheets."""

    def __init__(self, routes: dict[str, OfficialRoute]) -> None:
        packs: dict[Path, XsltPack] = {}
        for route in routes.values():
            for path in route.rules:
                if path not in packs:
                    packs[path] = XsltPack(path.stem, path.read_text(encoding="utf-8"))
        self._routes = {kind: (SchemaPack(kind, r.xsd), [packs[p] for p in r.rules])
                        for kind, r in routes.items()}

    def validate(self, data: bytes) -> tuple[int, int]:
        """(schema errors, failed asserts and successful reports)."""
        root = parse_xml(data).getroot()
        kind = xml_kind(root)
        doc = Doc(data, root, kind, "", None)
        schema, rules = self._routes[kind.value]
        return len(schema.validate(doc)), sum(len(pack.validate(doc)) for pack in rules)


def jvm_missing() -> str | None:
    """Why the JVM route cannot run here, or None."""
    if shutil.which("java") is None or shutil.which("javac") is None:
        return "java/javac not installed (Debian package default-jdk-headless)"
    if not SAXON_JAR.is_file():
        return f"{SAXON_JAR} missing (Debian package libsaxonhe-java)"
    return None


def compile_driver(folder: Path) -> Path:
    """``Validate.java`` compiled into ``folder``; the class path to run it."""
    # the compiler's own JVM needs no optimising JIT for one file (about a third faster)
    subprocess.run(["javac", "-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC", "-nowarn",
                    "-cp", str(SAXON_JAR), "-d", str(folder), str(DRIVER)],
                   check=True, capture_output=True)
    return folder


def java_command(classes: Path, routes: dict[str, OfficialRoute]) -> list[str]:
    return ["java", "-cp", f"{SAXON_JAR}{os.pathsep}{classes}", "Validate",
            *(route.arg(kind) for kind, route in routes.items())]


class Jvm:
    """One warm JVM answering "validate this file N rounds" with its own timings."""

    def __init__(self, classes: Path, routes: dict[str, OfficialRoute]) -> None:
        self.proc = subprocess.Popen(java_command(classes, routes), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=ROOT)
        self.ready: dict[str, Any] = self._answer()

    def measure(self, kind: str, path: Path, rounds: int = 1) -> dict[str, Any]:
        """Per round ``wall_ms``, ``cpu_ms`` (process), ``thread_cpu_ms``; ``xsd_errors`` and
        ``findings`` of the last round."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{kind}\t{rounds}\t{path}\n")
        self.proc.stdin.flush()
        return self._answer()

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.proc.pid)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)

    def _answer(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the JVM route ended (exit {self.proc.wait()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the JVM route failed: {answer['error']}")
        return answer


def jvm_once(classes: Path, routes: dict[str, OfficialRoute], kind: str,
             path: Path) -> tuple[float, float, dict[str, Any]]:
    """A cold JVM validating one file and exiting: (wall s, peak RSS MiB, its answer)."""
    child = run([*java_command(classes, routes), "--once", kind, str(path)])
    if child.status != 0:
        raise RuntimeError(f"the JVM route exited with {child.status}: {child.err.decode()}")
    return child.wall, child.rss_mb, json.loads(child.out)
