"""The KoSIT validator configuration's ``scenarios.xml`` as our scenario table (scenarios.toml).

KoSIT publishes scenario changes (a new BT-24, a changed ``customLevel``) only in its
validator-configuration archive; converting that file takes them as published instead of
transcribed by hand. A ``match`` is an XPath, and we match on document kind and BT-24 only, so
just the shapes the official configuration uses are understood: a guessed reading of any other
expression could route documents to the wrong rules, so it is refused, naming the scenario.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePosixPath

from einvoice.errors import ConfigError, InputError
from einvoice.formats.xmlsafe import parse_xml
from einvoice.validation.findings import Level
from einvoice.validation.scenarios import Scenario

NS = "http://www.xoev.de/de/validator/framework/1/scenarios"
_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
_RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
_RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
ROOTS = {("urn:oasis:names:specification:ubl:schema:xsd:Invoice-2", "Invoice"): "ubl-invoice",
         ("urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2", "CreditNote"):
             "ubl-creditnote",
         (_RSM, "CrossIndustryInvoice"): "cii"}
_UBL_BT24 = ((_CBC, "CustomizationID"),)
BT24 = {"ubl-invoice": _UBL_BT24, "ubl-creditnote": _UBL_BT24,
        "cii": ((_RSM, "ExchangedDocumentContext"),
                (_RAM, "GuidelineSpecifiedDocumentContextParameter"), (_RAM, "ID"))}
SCHEMAS = {"UBL-Invoice-2.1.xsd": "ubl-invoice-xsd", "UBL-CreditNote-2.1.xsd": "ubl-creditnote-xsd",
           "CrossIndustryInvoice_100pD16B.xsd": "cii-xsd"}
RULES = {"EN16931-UBL-validation.xsl": "en16931-ubl", "EN16931-CII-validation.xsl": "en16931-cii",
         "XRechnung-UBL-validation.xsl": "xrechnung-ubl",
         "XRechnung-CII-validation.xsl": "xrechnung-cii"}
LEITWEG = "leitweg"  # ours, beside the official rules of every XRechnung scenario
OFFICIAL_PACKS = frozenset(SCHEMAS.values()) | frozenset(RULES.values()) | {LEITWEG}
POLICY_MARK = "# ---- not in the official configuration: profiles the document policy lets in"
SHAPES = ("/invoice:Invoice/cbc:CustomizationID[. = '…'], /creditnote:CreditNote[cbc:"
          "CustomizationID/text() = '…'], /rsm:CrossIndustryInvoice[rsm:ExchangedDocumentContext"
          "/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID/text() = '…'], optionally "
          "inside exists(…)")

_QN = r"[\w.-]+:[\w.-]+"
_LIT = r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\""
_VALUES = rf"{_LIT}|\(\s*(?:{_LIT})(?:\s*,\s*(?:{_LIT}))*\s*\)"
_ON_PATH = re.compile(  # /root/path[. = 'v']
    rf"/(?P<root>{_QN})/(?P<path>{_QN}(?:/{_QN})*)\[\s*(?:\.|text\(\))\s*=\s*(?P<v>{_VALUES})\s*\]")
_ON_ROOT = re.compile(  # /root[path/text() = 'v']
    rf"/(?P<root>{_QN})\[\s*(?P<path>{_QN}(?:/{_QN})*)(?:/text\(\))?\s*=\s*(?P<v>{_VALUES})\s*\]")
_EXISTS = re.compile(r"exists\s*\((.*)\)", re.S)
_TOKEN = re.compile(r"@[\w.-]+@")


def _refuse(scenario: str, why: str) -> ConfigError:
    return ConfigError(f"scenarios.xml: scenario {scenario!r}: {why}")


def _match(name: str, match: str, prefixes: dict[str, str]) -> tuple[str, list[str]]:
    """Document kind and BT-24 values of a recognised ``match`` expression."""
    text = match.strip()
    inner = _EXISTS.fullmatch(text)
    text = inner.group(1).strip() if inner else text
    found = _ON_PATH.fullmatch(text) or _ON_ROOT.fullmatch(text)

    def resolve(qname: str) -> tuple[str, str]:
        prefix, local = qname.split(":")
        if prefix not in prefixes:
            raise _refuse(name, f"namespace prefix {prefix!r} of its match is not declared")
        return prefixes[prefix], local

    kind = ROOTS.get(resolve(found.group("root"))) if found else None
    if found is None or kind is None or tuple(
            resolve(step) for step in found.group("path").split("/")) != BT24[kind]:
        raise _refuse(name, f"cannot take the match expression {match.strip()!r}; understood "
                            f"are: {SHAPES}")
    values = [lit[1:-1].replace(lit[0] * 2, lit[0])
              for lit in re.findall(_LIT, found.group("v"))]
    for value in values:
        if _TOKEN.search(value):
            raise _refuse(name, f"unsubstituted build token in {value!r} (the configuration's "
                                "source file, not a published scenarios.xml)")
    return kind, values


def _pack(name: str, location: str, table: dict[str, str], what: str) -> str:
    pack = table.get(PurePosixPath(location.strip()).name)
    if pack is None:
        raise _refuse(name, f"unknown {what} {location.strip()!r}; known: {', '.join(table)}")
    return pack


def official_scenarios(xml: bytes) -> list[Scenario]:
    """The scenarios of a published KoSIT ``scenarios.xml``, in order."""
    try:
        root = parse_xml(xml).getroot()
    except InputError as exc:
        raise ConfigError(f"scenarios.xml: {exc}") from exc
    if root.tag != f"{{{NS}}}scenarios":
        raise ConfigError(f"scenarios.xml: not a KoSIT scenario configuration ({NS})")
    ns = {"s": NS}
    out = []
    for sc in root.iterfind("s:scenario", ns):
        name = " ".join((sc.findtext("s:name", "", ns)).split())
        prefixes = {str(n.get("prefix")): (n.text or "").strip()
                    for n in sc.iterfind("s:namespace", ns)}
        kind, values = _match(name, sc.findtext("s:match", "", ns), prefixes)
        schemas = [r.findtext("s:location", "", ns)
                   for r in sc.iterfind("s:validateWithXmlSchema/s:resource", ns)]
        if len(schemas) != 1:
            raise _refuse(name, f"needs exactly one XML Schema, has {len(schemas)}")
        packs = [_pack(name, r.findtext("s:location", "", ns), RULES, "Schematron")
                 for r in sc.iterfind("s:validateWithSchematron/s:resource", ns)]
        if {"xrechnung-ubl", "xrechnung-cii"} & set(packs):
            packs.append(LEITWEG)
        levels: dict[str, Level] = {}
        for custom in sc.iterfind("s:createReport/s:customLevel", ns):
            rule = "".join(str(t) for t in custom.itertext()).strip()
            try:
                levels[rule] = Level(custom.get("level", ""))
            except ValueError as exc:
                raise _refuse(name, f"unknown customLevel {custom.get('level')!r}") from exc
        out.append(Scenario(name, frozenset({kind}), frozenset(values),
                            {kind: _pack(name, schemas[0], SCHEMAS, "XML Schema")},
                            tuple(packs), levels))
    if not out:
        raise ConfigError("scenarios.xml: no scenario")
    return out


def policy_scenarios(base: Sequence[Scenario], official: Sequence[Scenario]) -> list[Scenario]:
    """The scenarios of ``base`` that the official configuration does not have: those that run
    a pack of their own (Peppol, Factur-X, ZUGFeRD 1.0 for the document policy). A scenario made
    of official packs only is the configuration's to give, so one it dropped stays dropped."""
    names = {s.name for s in official}
    return [s for s in base if s.name not in names
            and not {*s.schema.values(), *s.packs} <= OFFICIAL_PACKS]


def toml_string(text: str) -> str:
    """A TOML basic string (quotes, backslashes and control characters escaped)."""
    return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x20 or c in '"\\\x7f' else c
                         for c in text) + '"'


def _entry(s: Scenario) -> list[str]:
    def strings(items: Sequence[str]) -> str:
        return "[" + ", ".join(toml_string(i) for i in items) + "]"

    def table(pairs: dict[str, str]) -> str:
        return "{ " + ", ".join(f"{toml_string(k)} = {toml_string(v)}"
                                for k, v in pairs.items()) + " }"

    kinds = sorted(s.kinds)
    single = len(set(s.schema.values())) == 1 and set(s.schema) == set(kinds)
    lines = ["[[scenario]]", f"name = {toml_string(s.name)}",
             f"match = {{ kinds = {strings(kinds)}, specifications = "
             f"{strings(sorted(s.specifications))} }}"]
    if s.schema:
        lines.append("schema = " + (toml_string(next(iter(s.schema.values()))) if single
                                    else table(s.schema)))
    lines.append(f"packs = {strings(s.packs)}")
    if s.levels:
        lines.append("levels = " + table({k: v.value for k, v in s.levels.items()}))
    return [*lines, ""]


def scenarios_toml(xml: bytes, base: Sequence[Scenario], source: str) -> str:
    """Our scenarios.toml for a published ``scenarios.xml``: its scenarios one for one (plus
    ``leitweg`` in the XRechnung ones), then the policy scenarios of ``base``."""
    official = official_scenarios(xml)
    lines = ["# Validation scenarios, tried in order; the first that matches a document is used.",
             f"# Converted by `einvoice rules add` from {source} (KoSIT validator",
             "# configuration): its scenarios one for one, the pack `leitweg` added to each",
             "# XRechnung scenario; then the scenarios for the document policy.", ""]
    for scenario in official:
        lines += _entry(scenario)
    extra = policy_scenarios(base, official)
    if extra:
        lines += [POLICY_MARK, ""]
    for scenario in extra:
        lines += _entry(scenario)
    return "\n".join(lines)

