"""XRechnung CIUS rules (BR-DE-*, BR-DEX-*, BR-DE-CVD-*, BR-TMP-*, BR-DE-TMP-*) and the
Peppol BIS rules XRechnung takes over, implemented natively: the packs ``xrechnung-ubl`` and
``xrechnung-cii`` of the registry, agreeing with the official Schematron of KoSIT. The Peppol
rules alone are the packs ``peppol-ubl`` and ``peppol-cii``, for Peppol BIS Billing 3.0
documents, which the document policy validates without the German CIUS."""

from __future__ import annotations

from einvoice.validation.xrechnung import cii as _cii
from einvoice.validation.xrechnung import peppol, texts
from einvoice.validation.xrechnung import ubl as _ubl
from einvoice.validation.xrechnung.engine import Pack


def ubl(peppol_bis: str = peppol.LATEST) -> Pack:
    """The pack for UBL Invoice and CreditNote, with the Peppol rules of ``peppol_bis``."""
    return Pack("xrechnung-ubl", (*peppol.ubl_rules(peppol_bis), *_ubl.CORE, *_ubl.EXTENSION,
                                  *_ubl.CVD), _ubl.NS, _ubl.SPEC_ID)


def cii() -> Pack:
    """The pack for CII (also the XML inside ZUGFeRD 2.x / Factur-X)."""
    return Pack("xrechnung-cii", (*peppol.CII, *_cii.CORE, *_cii.EXTENSION, *_cii.CVD),
                _cii.NS, _cii.SPEC_ID, texts.CII_MESSAGES)


def peppol_ubl() -> Pack:
    """The Peppol BIS rules XRechnung takes over, for UBL, without the XRechnung rules."""
    return Pack("peppol-ubl", peppol.UBL, _ubl.NS, _ubl.SPEC_ID)


def peppol_cii() -> Pack:
    """The same for CII."""
    return Pack("peppol-cii", peppol.CII, _cii.NS, _cii.SPEC_ID, texts.CII_MESSAGES)
