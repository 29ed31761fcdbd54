"""A readable German HTML page (and PDF) of an invoice, for finance staff who cannot read XML.

The page is laid out like a paper invoice (parties, header data, lines, totals, VAT, payment),
and every business term is labelled in German with its EN 16931 id (``views.terms``). Whatever
the layout does not place explicitly lands in a "Weitere Angaben" section, so no value that was
read can go missing from the view.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel

from einvoice.model import AllowanceCharge, Invoice, Line
from einvoice.views.casepage import CaseSection
from einvoice.views.formatting import count, day, money, number, size
from einvoice.views.labels import DOCUMENT_TYPES, LEVEL_DE
from einvoice.views.terms import Entry, TermView

_env = Environment(loader=PackageLoader("einvoice", "templates"),
                   autoescape=select_autoescape(["html"]))

ADDRESS_LAYOUT = (("line1",), ("line2",), ("line3",), ("post_code", "city"), ("subdivision",),
                  ("country",))
CONTACT_LAYOUT = (("name",), ("phone",), ("email",))

# ---------------------------------------------------------------- page sections

def _vat(rate: str, category: str) -> str:
    """``19 % (S)``: rate with the VAT category code."""
    return f"{rate} ({category})".strip() if category else rate


def _line(v: TermView, line: Line) -> dict[str, Any]:
    item = line.item
    row: dict[str, Any] = {"id": v.cell(line, "id"), "name": v.cell(item, "name"),
           "description": v.cell(item, "description"), "quantity": v.cell(line, "quantity"),
           "unit": v.cell(line, "unit_code"), "price": v.cell(line.price, "net"),
           "per": " ".join(p for p in (v.cell(line.price, "base_quantity"),
                                      v.cell(line.price, "base_quantity_unit")) if p),
           "vat": _vat(v.cell(line, "vat_rate"), v.cell(line, "vat_category", raw=True)),
           "net": v.cell(line, "net_amount")}
    details = [e for ac in line.allowances_charges for e in _line_charge(v, ac)]
    for c in item.classifications:
        details += v.phrase("Klassifizierung des Artikels", c, None,
                            [("code", ""), ("scheme", ", Schema "), ("version", ", Version ")])
    for a in item.attributes:
        details += v.phrase("Artikelattribut", a, None, [("name", ""), ("value", ": ")])
    row["details"] = details + v.all(line, "BG-25")
    return row


def _line_charge(v: TermView, ac: AllowanceCharge) -> list[Entry]:
    """A line allowance or charge in one phrase: ``10,00 € (10 % von 100,00 €) – 95: Rabatt``."""
    taken = {a: v.take(ac, a, "BG-27/BG-28")
             for a in ("amount", "percent", "base_amount", "reason_code", "reason")}
    val = {a: ", ".join(e.value for e in entries) for a, entries in taken.items()}
    terms = [e.term for entries in taken.values() for e in entries]
    basis = " von ".join(p for p in (val["percent"], val["base_amount"]) if p)
    reason = ": ".join(p for p in (val["reason_code"], val["reason"]) if p)
    text = " – ".join(p for p in (val["amount"] + (f" ({basis})" if basis else ""), reason) if p)
    label = "Zuschlag zur Position" if ac.is_charge else "Nachlass zur Position"
    return [Entry(", ".join(terms), label, text.strip())] if terms else []


def _charge(v: TermView, ac: AllowanceCharge, role: str) -> dict[str, Any]:
    reason = " – ".join(p for p in (v.cell(ac, "reason_code", role), v.cell(ac, "reason", role))
                        if p)
    vat = _vat(v.cell(ac, "vat_rate", role), v.cell(ac, "vat_category", role, raw=True))
    return {"kind": "Zuschlag" if ac.is_charge else "Nachlass", "reason": reason,
            "base": v.cell(ac, "base_amount", role), "percent": v.cell(ac, "percent", role),
            "vat": vat, "amount": v.cell(ac, "amount", role)}


def _skonto(inv: Invoice) -> list[str]:
    """Skonto terms in words, with the last day to pay when the invoice date is known."""
    texts = []
    for s in inv.skonto:
        text = f"{number(s.percent)} % Skonto bei Zahlung innerhalb von {s.days} Tagen"
        if inv.issue_date:
            text += f" ab Rechnungsdatum, also bis {day(inv.issue_date + timedelta(days=s.days))}"
        if s.base_amount is not None:
            text += f"; Basisbetrag {money(s.base_amount, inv.currency)}"
        texts.append(text)
    return texts


def _party(v: TermView, party: BaseModel | None, role: str) -> list[Entry]:
    """A party block: names first, then postal address and contact as on a letter, then the
    rest (identifiers, tax numbers) term by term."""
    if party is None:
        return []
    names = [e for a in ("name", "trading_name", "party_name") if a in type(party).model_fields
             for e in v.take(party, a)]
    address = getattr(party, "address", None)
    contact = getattr(party, "contact", None)
    sub = {"BG-4": ("BG-5", "BG-6"), "BG-7": ("BG-8", "BG-9"), "BG-11": ("BG-12", None),
           "BG-13": ("BG-15", None)}[role]
    return (names + v.joined("Anschrift", address, sub[0], ADDRESS_LAYOUT)
            + v.joined("Kontakt", contact, sub[1], CONTACT_LAYOUT) + v.all(party, role))


def _page(inv: Invoice) -> dict[str, Any]:
    """Everything the template shows, formatted; ``rest`` collects what no section placed."""
    v = TermView(inv)
    take = v.take
    header = [e for a in ("number", "issue_date", "type_code", "due_date", "buyer_reference",
                          "currency", "vat_currency", "tax_point_date", "tax_point_date_code")
              for e in take(inv, a)]
    header += v.all(inv.invoicing_period, "BG-14")
    header += take(inv, "business_process") + take(inv, "specification_id")
    references = [e for a in ("purchase_order_reference", "sales_order_reference",
                              "contract_reference", "project_reference", "tender_reference",
                              "receiving_advice_reference", "despatch_advice_reference",
                              "invoiced_object_id", "buyer_accounting_reference")
                  for e in take(inv, a)]
    for preceding in inv.preceding_invoices:
        references += v.phrase("Vorausgegangene Rechnung", preceding, "BG-3",
                               [("number", ""), ("issue_date", " vom ")])
    notes = [{"subject": take(note, "subject_code"), "text": take(note, "text")}
             for note in inv.notes]
    lines = [_line(v, line) for line in inv.lines]
    charges = [_charge(v, ac, "BG-20/BG-21") for ac in inv.allowances_charges]
    vat = [{"category": v.cell(b, "category"), "rate": v.cell(b, "rate"),
            "taxable": v.cell(b, "taxable_amount"), "tax": v.cell(b, "tax_amount"),
            "exemption": " – ".join(p for p in (v.cell(b, "exemption_reason_code"),
                                                v.cell(b, "exemption_reason")) if p)}
           for b in inv.vat_breakdown]
    attachments = [{"reference": v.cell(d, "reference"), "description": v.cell(d, "description"),
                    "uri": v.cell(d, "external_uri"),
                    "filename": v.cell(d.attachment, "filename"),
                    "mime": v.cell(d.attachment, "mime_code"),
                    "size": size(len(d.attachment.content))
                    if d.attachment and take(d.attachment, "content") else ""}
                   for d in inv.supporting_documents]
    return {
        "title": f"{DOCUMENT_TYPES.get(inv.type_code or '', 'Rechnung')} {inv.number or ''}",
        "seller": _party(v, inv.seller, "BG-4"), "buyer": _party(v, inv.buyer, "BG-7"),
        "header": header, "references": references, "notes": notes, "lines": lines,
        "charges": charges, "totals": v.all(inv.totals, "BG-22"), "vat": vat,
        "payment_terms": take(inv, "payment_terms"), "skonto": _skonto(inv),
        "payment": [e for a in ("means_code", "means_text", "remittance_information")
                    for e in take(inv.payment, a)],
        "accounts": [{"name": v.cell(t, "account_name"), "iban": v.cell(t, "account_id"),
                      "bic": v.cell(t, "service_provider_id")}
                     for t in (inv.payment.credit_transfers if inv.payment else [])],
        "payment_other": v.all(inv.payment, "BG-16"), "payee": v.all(inv.payee, "BG-10"),
        "tax_representative": _party(v, inv.tax_representative, "BG-11"),
        "delivery": _party(v, inv.delivery, "BG-13"), "attachments": attachments,
        "rest": v.all(inv),
    }


def render_invoice_html(model: Invoice | None, case: CaseSection | None = None) -> str:
    """The invoice as a self-contained German HTML page, below its case data when given (see
    ``casepage.case_section``); a document that could not be read has the case data alone."""
    return _env.get_template("invoice.html").render(p=_page(model) if model else None,
                                                    case=case, level_de=LEVEL_DE, count=count)
