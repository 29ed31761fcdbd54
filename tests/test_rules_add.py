"""``einvoice rules add``: an archive in the official KoSIT layout, built here from the shipped
2.5 sources with a changed flag (BR-DE-1), a changed assertion (BR-DE-15) and an added rule,
takes effect; those rules run on the official engine; a broken archive is refused with a clear
message and nothing half-installed."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from einvoice.validation.official.compiler import compile_schematron
from einvoice.validation.releases import BUILTIN_RELEASES
from tests.conftest import Cli

SOURCES = BUILTIN_RELEASES / "xrechnung-2.5" / "official"
UBL = "ubl/XRechnung-UBL-validation.sch"
CII = "cii/XRechnung-CII-validation.sch"
SAMPLE = "valid/xrechnung-testsuite/technical-cases/cius/01.01_comprehensive_test_ubl.xml"
CHANGELOG = "# Changelog\n\n## v2.7.0 on 2027-02-01\n\n* test release\n\n## v2.5.0 on 2026-01-31\n"
NEW_RULE = ('<assert test="not(contains(cbc:ID, \'TEST\'))" flag="fatal" id="BR-DE-99">[BR-DE-99] '
            'Die Rechnungsnummer (BT-1) darf nicht TEST enthalten.</assert>\n      ')


def _ubl_source() -> str:
    text = (SOURCES / UBL).read_text(encoding="utf-8")
    old_flag = ('<assert test="cac:PaymentMeans"\n        flag="fatal"\n        id="BR-DE-1"')
    assert old_flag in text
    text = text.replace(old_flag, old_flag.replace('"fatal"', '"warning"'))
    old_test = 'test="cbc:BuyerReference[boolean(normalize-space(.))]"'
    assert old_test in text
    changed = "test=\"cbc:BuyerReference[starts-with(normalize-space(.), '99')]\""
    text = text.replace(old_test, changed)
    anchor = '<assert test="cac:PaymentMeans"'
    return text.replace(anchor, NEW_RULE + anchor, 1)


def _instance(corpus: Path, must_fire: str) -> bytes:
    """An official-style test instance: the sample with one xmute expectation on BT-1."""
    text = (corpus / SAMPLE).read_text(encoding="utf-8")
    pi = (f'<?xmute mutator="code" values="TEST-1" schematron-invalid="xrubl:{must_fire}" '
          'id="bt-1" description="BT-1 with TEST" ?>')
    return text.replace("<cbc:ID>", pi + "<cbc:ID>", 1).encode("utf-8")


def _archive(path: Path, corpus: Path, ubl: str | None = None, compiled: bool = False,
             must_fire: str = "BR-DE-99", extra: dict[str, str] | None = None) -> Path:
    members = {"schematron/common.sch": (SOURCES / "common.sch").read_text(encoding="utf-8"),
               "schematron/" + CII: (SOURCES / CII).read_text(encoding="utf-8"),
               "schematron/" + UBL: ubl if ubl is not None else _ubl_source(),
               "CHANGELOG.md": CHANGELOG, "LICENSE": "Apache License 2.0\n",
               **(extra or {})}
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
        archive.writestr("test/instances/ubl-inv/note.xml", _instance(corpus, must_fire))
    if compiled:  # the release as KoSIT ships compiled stylesheets, without sources
        work = path.parent / "src"
        with zipfile.ZipFile(path) as archive:
            archive.extractall(work)
        with zipfile.ZipFile(path, "w") as archive:
            for syntax in (UBL, CII):
                archive.writestr("schematron/" + syntax.replace(".sch", ".xsl"),
                                 compile_schematron(work / "schematron" / syntax))
            archive.writestr("CHANGELOG.md", CHANGELOG)
    return path


def _releases(tmp_path: Path) -> list[str]:
    folder = tmp_path / "data" / "rules" / "releases"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_an_official_archive_takes_effect_with_lagging_rules_on_the_official_engine(
        rules_admin: Cli, tmp_path: Path, corpus: Path) -> None:
    zipped = _archive(tmp_path / "xrechnung-3.0.2-schematron-2.7.0.zip", corpus)
    added = rules_admin("rules", "add", str(zipped))
    assert added.exit_code == 0, added.output
    assert "added xrechnung-2.7.0 (valid from 01.02.2027); 1 official test expectation met" \
        in added.output
    assert _releases(tmp_path) == ["xrechnung-2.7.0"]
    listed = {r["id"]: r for r in json.loads(rules_admin("rules", "--json").output)}
    assert listed["xrechnung-2.7.0"]["valid_from"] == "2027-02-01"
    assert listed["xrechnung-2.7.0"]["packs"]["xrechnung-ubl"]["official_rules"] == [
        "BR-DE-1", "BR-DE-15", "BR-DE-99"]
    assert listed["xrechnung-2.7.0"]["packs"]["xrechnung-cii"]["engine"] == "native"
    # the changes take effect: the sample's BuyerReference does not start with 99, it has no
    # payment means once removed (BR-DE-1 now a warning) and the new rule fires without a note
    text = (corpus / SAMPLE).read_text(encoding="utf-8")
    start, end = text.index("<cac:PaymentMeans>"), text.rindex("</cac:PaymentMeans>")
    sample = tmp_path / "sample.xml"
    sample.write_text(text[:start] + text[end + len("</cac:PaymentMeans>"):], encoding="utf-8")
    out = rules_admin("validate", str(sample), "-f", "json", "--release", "xrechnung-2.7.0")
    report = json.loads(out.output)[0]
    levels = {f["rule_id"]: f["level"] for f in report["findings"]}
    assert report["release"] == "xrechnung-2.7.0"
    assert levels.get("BR-DE-1") == "warning" and levels.get("BR-DE-15") == "error"
    before = json.loads(rules_admin("validate", str(sample), "-f", "json", "--release",
                            "xrechnung-2.5").output)[0]
    assert {f["rule_id"]: f["level"] for f in before["findings"]}.get("BR-DE-1") == "error"
    assert "BR-DE-15" not in {f["rule_id"] for f in before["findings"]}


def test_a_compiled_archive_runs_wholly_on_its_own_stylesheets(
        rules_admin: Cli, tmp_path: Path, corpus: Path) -> None:
    zipped = _archive(tmp_path / "xrechnung-3.0.2-schematron-2.7.0.zip", corpus, compiled=True)
    added = rules_admin("rules", "add", str(zipped))
    assert added.exit_code == 0, added.output
    packs = {r["id"]: r for r in json.loads(rules_admin("rules", "--json").output)}[
        "xrechnung-2.7.0"]["packs"]
    assert packs["xrechnung-ubl"]["engine"] == "official"
    assert packs["xrechnung-ubl"]["artefact"].endswith("XRechnung-UBL-validation.xsl")


@pytest.mark.parametrize("broken, message", [
    ("xpath", "a pack does not compile"),
    ("expectation", "fails 1 of its own test expectations: note.xml: bt-1/1"),
    ("traversal", "unsafe member '../evil.sch'"),
    ("not-a-zip", "not a readable ZIP archive"),
    ("no-ubl", "no XRechnung-UBL-validation.sch or .xsl in the archive"),
])
def test_a_broken_archive_is_refused_and_nothing_stays(
        rules_admin: Cli, tmp_path: Path, corpus: Path, broken: str,
        message: str) -> None:
    path = tmp_path / "xrechnung-3.0.2-schematron-2.7.0.zip"
    if broken == "xpath":
        _archive(path, corpus, ubl=_ubl_source().replace("'TEST'))", "'TEST')[["))
    elif broken == "expectation":
        _archive(path, corpus, must_fire="BR-DE-1")
    elif broken == "traversal":
        _archive(path, corpus, extra={"../evil.sch": "<x/>"})
    elif broken == "not-a-zip":
        path.write_bytes(b"PK\x03\x04 not really")
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("CHANGELOG.md", CHANGELOG)
    refused = rules_admin("rules", "add", str(path))
    assert refused.exit_code == 2 and message in " ".join(refused.output.split()), refused.output
    assert _releases(tmp_path) == []  # neither the release nor its staging folder


def test_adding_needs_an_admin(rules_admin: Cli, tmp_path: Path,
                               corpus: Path) -> None:
    rules_admin("staff", "add", "nobody-else", "--name", "X", "--role", "viewer")
    zipped = _archive(tmp_path / "xrechnung-3.0.2-schematron-2.7.0.zip", corpus)
    from einvoice.approval import identity
    original = identity.os_login
    try:
        identity.os_login = lambda: "nobody-else"
        refused = rules_admin("rules", "add", str(zipped))
    finally:
        identity.os_login = original
    assert refused.exit_code == 3 and _releases(tmp_path) == []
