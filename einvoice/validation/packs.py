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
    "en16931-ubl": "einvoice.validation.schematron:en16931_ubl",
    "en16931-cii": "einvoice.validation.cen_cii:en16931_cii",
    "xrechnung-ubl": "einvoice.validation.xrechnung:ubl",
    "xrechnung-cii": "einvoice.validation.xrechnung:cii",
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
