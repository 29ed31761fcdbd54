"""The overview for the head of finance: numbers, charts, a page that needs nothing else."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import html as lxml_html
from sqlalchemy import update
from sqlmodel import Session, col, select

from einvoice.approval.workflow import approve, reject
from einvoice.context import Context
from einvoice.pipeline import Submission, ingest
from einvoice.store import tables as t
from einvoice.store.types import utcnow
from einvoice.views.report import gather, percentile, write_report

XR = "valid/xrechnung-testsuite/technical-cases/cius"
SVG = "{http://www.w3.org/2000/svg}svg"


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([], 50) is None
    assert percentile([4.0], 90) == 4.0
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 90) == pytest.approx(7.6)


def _ingest(ctx: Context, data: bytes, channel: str, name: str) -> int:
    result = ingest(ctx, Submission(data, channel, filename=name))
    [outcome] = result.outcomes
    assert outcome.invoice_id is not None
    return outcome.invoice_id


def _approve(ctx: Context, invoice_id: int) -> None:
    if approve(ctx, invoice_id, "alice").after != "approved":
        approve(ctx, invoice_id, "bob")


def test_report_shows_charts_and_numbers(ctx: Context, corpus: Path, tmp_path: Path) -> None:
    original = (corpus / XR / "01.01_comprehensive_test_ubl.xml").read_bytes()

    def numbered(n: int) -> bytes:  # distinct invoice numbers: no duplicates
        return original.replace(b"<cbc:ID>1234567</cbc:ID>", f"<cbc:ID>R-{n}</cbc:ID>".encode(),
                                1)

    ids = [_ingest(ctx, numbered(i), "mail" if i % 2 else "upload", f"{i}.xml")
           for i in range(6)]
    broken = numbered(7).replace(b"<cbc:BuyerReference>90000000-03083-72"
                                 b"</cbc:BuyerReference>", b"")
    bad = _ingest(ctx, broken, "folder", "no-leitweg.xml")
    for invoice_id in ids[:4]:
        _approve(ctx, invoice_id)
    reject(ctx, ids[4], "carol", "not ordered")
    today = date.today()
    with Session(ctx.engine) as s:
        assert s.get(t.Invoice, bad).status == "invalid"  # type: ignore[union-attr]
        s.exec(update(t.Invoice).where(col(t.Invoice.id) == ids[5])  # type: ignore[call-overload]
               .values(skonto_until=today + timedelta(days=3), pay_by=today + timedelta(days=20)))
        s.add(t.ExportBatch(created_at=utcnow(), folder="exports/1", invoice_count=4,
                            gross_total=Decimal("12345.67"), manifest_sha256="0" * 64,
                            actor="scheduler"))
        s.commit()
        rules = s.exec(select(t.Finding.rule_id).where(col(t.Finding.invoice_id) == bad,
                                                       col(t.Finding.level) == "error")).all()
    assert rules

    out = tmp_path / "report.html"
    ov = write_report(ctx, today - timedelta(days=6), out)
    assert ov.received == 7 and len(ov.approval_hours) == 4
    assert ov.by_status["rejected"] == 1 and ov.by_status["invalid"] == 1

    page = out.read_text(encoding="utf-8")
    doc = lxml_html.fromstring(page.encode())
    # self-contained: no scripts, stylesheets, images or fonts from elsewhere
    assert not doc.xpath("//script|//link|//img|//iframe")
    assert "http://" not in page.replace("http://www.w3.org", "")
    assert all(ref.startswith("#") for ref in doc.xpath("//@*[local-name()='href']"))
    assert "https://" not in page
    charts = {fig.get("id"): fig for fig in doc.xpath("//figure")}
    assert set(charts) == {"chart-received", "chart-rules", "chart-approval", "chart-exported"}
    for fig in charts.values():
        assert fig.xpath(".//*[local-name()='svg']"), fig.get("id")
    # the numbers
    assert doc.get_element_by_id("received").text == "7"
    median, p90 = ov.median_hours, ov.p90_hours
    assert median is not None and p90 is not None and median <= p90
    assert float(doc.get_element_by_id("median").get("data-hours")) == round(median, 2)
    assert float(doc.get_element_by_id("p90").get("data-hours")) == round(p90, 2)
    assert doc.get_element_by_id("rejected-share").text == "14,3 %"
    assert doc.get_element_by_id("invalid-share").text == "14,3 %"
    top = [row.xpath("string(td[1])") for row in doc.xpath("//table[@id='top-rules']/tbody/tr")]
    assert set(rules) <= set(top)
    due = doc.xpath("//table[@id='due-soon']/tbody/tr")
    assert [row.xpath("string(td[1])") for row in due] == [str(ids[5])]
    exported = doc.xpath("string(//table[@id='exported']/tbody/tr/td[3])")
    assert exported == "12.345,67\xa0€"
    # the channels appear in the legend of the first chart
    legend = charts["chart-received"].xpath("string(.)")
    assert "mail" in legend and "upload" in legend and "folder" in legend


def test_report_on_an_empty_database(ctx: Context, tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    ov = gather(ctx, date.today() - timedelta(days=30))
    assert ov.received == 0 and ov.median_hours is None
    write_report(ctx, date.today() - timedelta(days=30), out)
    doc = lxml_html.fromstring(out.read_bytes())
    assert len(doc.xpath("//*[local-name()='svg']")) == 4
    assert doc.get_element_by_id("median").text == "–"


def test_nothing_is_due_on_a_finished_document(ctx: Context, corpus: Path) -> None:
    """Due soon lists every status but the finished ones, closed by a person included."""
    from einvoice.lifecycle import Status

    data = (corpus / XR / "01.01_comprehensive_test_ubl.xml").read_bytes()
    today = date.today()
    ids = {}
    for status in Status:
        ids[status] = _ingest(ctx, data.replace(b"<cbc:ID>1234567</cbc:ID>",
                                                f"<cbc:ID>S-{status}</cbc:ID>".encode(), 1),
                              "cli", f"{status}.xml")
        with ctx.engine.begin() as conn:
            conn.execute(update(t.Invoice).where(col(t.Invoice.id) == ids[status])
                         .values(status=status, skonto_until=today + timedelta(days=1)))
    finished = {Status.REJECTED, Status.INVALID, Status.DUPLICATE, Status.QUARANTINED,
                Status.CLOSED, Status.PAID}
    due = {d.invoice_id for d in gather(ctx, today).due_soon}
    assert due == {ids[s] for s in Status if s not in finished}
