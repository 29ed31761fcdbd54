"""The CVD (Clean Vehicles Directive) code rules whose logic both syntaxes share; only the
paths differ."""

from __future__ import annotations

from einvoice.validation.xrechnung import checks, codelists
from einvoice.validation.xrechnung.engine import Rule, fatal


def code_rules(code: str, cva: str, cva_value: str, ns: dict[str, str]) -> tuple[Rule, ...]:
    """BR-TMP-CVD-01, BR-DE-CVD-04 on each item classification code (context ``code``) and
    BR-DE-CVD-05 on each 'cva' item attribute (context ``cva``, value at ``cva_value``)."""
    return (
        fatal("BR-TMP-CVD-01", code, checks.code_in(codelists.UNTDID_7143_CVD, "listID"),
              "BT-158"),
        fatal("BR-DE-CVD-04", code,
              checks.any_of(lambda el: checks.nspace(el.get("listID", "")) != "CVD",
                            checks.value_in(codelists.CVD_VEHICLE_CATEGORIES, ".", ns)),
              "BT-158"),
        fatal("BR-DE-CVD-05", cva, checks.value_in(codelists.CVA_CODES, cva_value, ns), "BT-161"),
    )
