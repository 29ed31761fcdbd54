"""The document policy: what becomes of a document that is not XRechnung 3, by its profile.

The official KoSIT configuration knows XRechnung 3.0 and plain EN 16931 and rejects everything
else without a word. The settings table ``document_policy`` (``einvoice/config.py``) names the
other profiles (by BT-24, or by document kind) and says per profile whether its scenario
validates it or why it is rejected. The engine asks ``decide`` before it picks a scenario, and
``no_scenario`` for the finding that rejects a document no scenario takes: always with the BT-24
found and the ones accepted, so that a supplier learns what to send instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass

from stdnum.de import leitweg
from stdnum.exceptions import InvalidChecksum, ValidationError

from einvoice.config import DEFAULT_DOCUMENT_POLICY, DocumentRule
from einvoice.validation.document import Doc
from einvoice.validation.findings import Finding, Flag
from einvoice.validation.scenarios import ANY, Scenario
from einvoice.validation.xrechnung.texts import MESSAGES

POLICY_RULE = "EINVOICE-POLICY"
NO_SCENARIO = "EINVOICE-SCENARIO"
BR_DE_21 = "BR-DE-21"
_VERSION = re.compile(r"xrechnung_(\d+(?:\.\d+)*)")
_BUYER_REFERENCE = (
    "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}BuyerReference",
    "{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}SupplyChainTradeTransaction"
    "/{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}"
    "ApplicableHeaderTradeAgreement"
    "/{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}"
    "BuyerReference",
)
# BR-DE-21 speaks of syntaxes XRechnung has: UBL and CII
XRECHNUNG_KINDS = frozenset({"ubl-invoice", "ubl-creditnote", "cii"})


@dataclass(frozen=True)
class Decision:
    """The profile a document has (None: no row recognises its BT-24) and, when the policy
    rejects it, why."""

    profile: str | None = None
    reason: str | None = None


class _Placeholders(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Policy:
    """The rows of ``document_policy`` in order; the first that recognises a document rules, a
    row naming its kind before any that only knows its BT-24 (a ZUGFeRD 1.0 document claiming
    to be XRechnung is still ZUGFeRD 1.0)."""

    def __init__(self, rules: Mapping[str, DocumentRule] | None = None) -> None:
        self.rules = list((rules if rules is not None else {
            name: DocumentRule(**row) for name, row in DEFAULT_DOCUMENT_POLICY.items()}).values())

    def decide(self, kind: str, specification: str | None) -> Decision:
        spec = (specification or "").strip()
        rule = next((r for r in self.rules if kind in r.kinds), None) or next(
            (r for r in self.rules if spec in r.specifications
             or any(text in spec for text in r.contains)), None)
        if rule is None:
            return Decision()
        if rule.action == "validate":
            return Decision(rule.profile)
        version = _VERSION.search(spec)
        reason = rule.reason or ("Das Profil {profile} wird nicht angenommen. / Profile "
                                 "{profile} is not accepted.")
        with suppress(ValueError, IndexError):  # stray braces in an operator's text: as written
            reason = reason.format_map(_Placeholders(
                profile=rule.profile, specification=spec,
                version=version.group(1) if version else spec))
        return Decision(rule.profile, reason)

    def rejection(self, decision: Decision, specification: str | None) -> Finding:
        """The finding that rejects a document by the policy, with its reason."""
        return Finding(POLICY_RULE, Flag.FATAL, f"{decision.reason} (BT-24: "
                       f"'{specification or ''}')", term="BT-24", pack="policy")

    def accepted(self, scenarios: Sequence[Scenario], kind: str) -> list[str]:
        """The BT-24 values some scenario takes for this kind and the policy lets in."""
        specs = [spec for s in scenarios if kind in s.kinds for spec in sorted(s.specifications)
                 if spec != ANY]
        return [s for s in dict.fromkeys(specs) if self.decide(kind, s).reason is None]

    def no_scenario(self, doc: Doc, specifications: Sequence[str], decision: Decision,
                    scenarios: Sequence[Scenario]) -> Finding:
        """The finding that rejects a document no scenario takes, naming its BT-24 values as
        written (stray blanks make a known one unknown). An unknown or empty BT-24 on a UBL/CII
        document addressed by Leitweg-ID (BT-10) is meant as XRechnung: then it is BR-DE-21,
        fatal, in the official words."""
        kind = doc.kind.value
        found = (", ".join(repr(s) for s in specifications)
                 if any(s.strip() for s in specifications) else "keine / none")
        accepted = ", ".join(self.accepted(scenarios, kind)) or "-"
        why = f"BT-24 {found} ({kind}); angenommen / accepted: {accepted}"
        if decision.profile is None and kind in XRECHNUNG_KINDS and _leitweg(doc):
            return Finding(BR_DE_21, Flag.FATAL, f"{MESSAGES[BR_DE_21]} {why}", term="BT-24",
                           pack="scenario")
        return Finding(NO_SCENARIO, Flag.FATAL, "Kein Prüfszenario für diese "
                       f"Spezifikationskennung / no validation scenario for this specification "
                       f"identifier: {why}", term="BT-24", pack="scenario")


def _leitweg(doc: Doc) -> bool:
    """BT-10 has the syntax of a Leitweg-ID (its check digits aside: made-up IDs are common)."""
    value = doc.invoice.buyer_reference if doc.invoice else None
    if value is None:
        value = next((t.strip() for p in _BUYER_REFERENCE if (t := doc.root.findtext(p))), None)
    if not value:
        return False
    try:
        leitweg.validate(value)
    except InvalidChecksum:
        return True
    except ValidationError:
        return False
    return True
