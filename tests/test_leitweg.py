"""Leitweg-ID (BT-10): routing to the receiving office (exact ID, else the longest configured
prefix, else none) and the warnings of the rule pack (format and check digits; not ours)."""

from __future__ import annotations

import pytest
from lxml import etree

from einvoice.formats.detect import Kind
from einvoice.model import Invoice
from einvoice.validation.document import Doc
from einvoice.validation.findings import Finding, Flag
from einvoice.validation.leitweg import FORMAT, UNKNOWN, LeitwegPack, office_for, pack

# check digits by ISO 7064 MOD 97-10 (stdnum.iso7064.mod_97_10.calc_check_digits)
CITY = "05117000-27"
TIEFBAU = "05117000-TIEFBAU-56"
TIEFBAU_EXACT = "05117000-TIEFBAU2-60"
MUNICH = "09162000-18"

ROUTES = {
    "05117000": "Kämmerei",
    "05117000-TIEFBAU": "Tiefbauamt",
    TIEFBAU_EXACT: "Brückenbau",
}


def test_the_example_ids_are_valid() -> None:
    from stdnum.de import leitweg

    assert all(leitweg.is_valid(i) for i in (CITY, TIEFBAU, TIEFBAU_EXACT, MUNICH))


@pytest.mark.parametrize(("leitweg_id", "office"), [
    (TIEFBAU_EXACT, "Brückenbau"),  # the exact ID
    (TIEFBAU, "Tiefbauamt"),        # the longest prefix: the fine address beats the city
    (CITY, "Kämmerei"),             # the coarse address only
    (MUNICH, None),                 # not ours
    (None, None),
    ("", None),
])
def test_office_for(leitweg_id: str | None, office: str | None) -> None:
    assert office_for(leitweg_id, ROUTES) == office


def test_longest_prefix_wins_whatever_the_order_of_the_table() -> None:
    reordered = dict(reversed(list(ROUTES.items())))
    assert office_for(TIEFBAU, reordered) == "Tiefbauamt"
    assert office_for(TIEFBAU, {"05117000-TIEFBAU": "Tiefbauamt", "05117000": "Kämmerei"}) == (
        "Tiefbauamt")


def test_exact_id_wins_over_its_prefixes() -> None:
    routes = {"05117000": "Kämmerei", CITY: "Stadtkasse"}
    assert office_for(CITY, routes) == "Stadtkasse"


def test_a_prefix_is_whole_parts_of_the_id() -> None:
    """GIVEN only the Tiefbauamt's fine address configured, THEN an ID whose fine address merely
    starts with the same letters is not routed there, and a coarse address that is a digit
    short catches nothing."""
    assert office_for("05117000-TIEFBAU2-60", {"05117000-TIEFBAU": "Tiefbauamt"}) is None
    assert office_for(TIEFBAU, {"05117000-TIEFBAU": "Tiefbauamt"}) == "Tiefbauamt"
    assert office_for(CITY, {"0511700": "Kämmerei"}) is None
    assert office_for(CITY, {"05117000-": "Kämmerei"}) == "Kämmerei"  # a trailing dash is fine


def test_no_routes_no_office() -> None:
    assert office_for(CITY, {}) is None


def doc(buyer_reference: str | None, with_invoice: bool = True) -> Doc:
    model = Invoice(buyer_reference=buyer_reference) if with_invoice else None
    return Doc(xml=b"<Invoice/>", root=etree.fromstring(b"<Invoice/>"), kind=Kind.UBL_INVOICE,
               syntax="ubl", invoice=model)


def format_finding(value: str) -> Finding:
    return Finding(
        FORMAT, Flag.WARNING, term="BT-10", pack="leitweg",
        message=f"Die Käuferreferenz (BT-10) '{value}' ist keine gültige Leitweg-ID (Aufbau oder "
                "Prüfziffer nach ISO 7064 MOD 97-10). / Buyer reference (BT-10) "
                f"'{value}' is not a valid Leitweg-ID (format or check digits).")


def unknown_finding(value: str) -> Finding:
    return Finding(
        UNKNOWN, Flag.WARNING, term="BT-10", pack="leitweg",
        message=f"Die Leitweg-ID '{value}' gehört zu keiner Stelle dieser Verwaltung. / "
                f"Leitweg-ID '{value}' does not belong to this administration.")


def test_rule_ids() -> None:
    assert (FORMAT, UNKNOWN) == ("EINVOICE-LEITWEG-1", "EINVOICE-LEITWEG-2")


@pytest.mark.parametrize("value", ["05117000-99", "05117000-TIEFBAU-12", "Projekt 4711", "5-00"])
def test_invalid_leitweg_id_is_a_warning(value: str) -> None:
    assert LeitwegPack(ROUTES).validate(doc(value)) == [format_finding(value)]
    assert pack().validate(doc(value)) == [format_finding(value)]


def test_valid_id_without_routing_table_is_fine() -> None:
    assert pack().routes == {}
    assert LeitwegPack().routes == {}
    assert LeitwegPack(None).routes == {}
    assert pack().validate(doc(MUNICH)) == []
    assert pack().validate(doc(CITY)) == []


def test_with_routing_table_a_foreign_id_is_a_warning() -> None:
    routed = LeitwegPack(ROUTES)
    assert routed.routes == ROUTES
    assert routed.validate(doc(MUNICH)) == [unknown_finding(MUNICH)]
    assert routed.validate(doc(CITY)) == []
    assert routed.validate(doc(TIEFBAU)) == []
    assert routed.validate(doc(TIEFBAU_EXACT)) == []


@pytest.mark.parametrize(("value", "with_invoice"), [(None, True), ("", True), (None, False)])
def test_nothing_to_check_without_buyer_reference(value: str | None, with_invoice: bool) -> None:
    assert LeitwegPack(ROUTES).validate(doc(value, with_invoice)) == []
