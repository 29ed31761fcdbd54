"""Documents the validation engine could not decide (``received``, verdict ``undefined``) are
validated again by the job that follows each intake run once due (a minute after arrival, then
with back-off: tests/test_waiting.py), moved on by the lifecycle decision and audited like
ingest; one the engine still cannot decide keeps waiting, its status unchanged."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import update
from sqlmodel import Session, col, select

from einvoice.config import load_settings
from einvoice.context import Context, open_context
from einvoice.lifecycle import Status
from einvoice.lifecycle.ingest import status_after_revalidation
from einvoice.pipeline import Submission, ingest
from einvoice.scheduler.jobs import REVALIDATE, Service
from einvoice.store import tables as t
from einvoice.validation.engine import Validator
from einvoice.validation.findings import Finding, Verdict
from einvoice.validation.rulebook import rulebook_for

STANDARD = "valid/xrechnung-testsuite/business-cases/standard"


def sample(corpus: Path, name: str) -> bytes:
    return (corpus / STANDARD / name).read_bytes()


def doubled(data: bytes, xpath: str) -> bytes:
    """The document with the first node at ``xpath`` repeated right after itself."""
    root = etree.fromstring(data)
    node = root.xpath(xpath, namespaces=root.nsmap)[0]
    node.addnext(copy.deepcopy(node))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

class _Broken:
    def __init__(self, name: str) -> None:
        self.name = name

    def validate(self, doc: object) -> list[Finding]:
        raise RuntimeError(f"{self.name}: stylesheet failed")


@pytest.fixture
def sqlite_ctx(tmp_path: Path) -> Iterator[Context]:
    # the official CEN UBL engine: a document it stops on stays undefined (natively, only the
    # one rule that cannot run is an engine error, and the other rules decide)
    ctx = open_context(load_settings(data_dir=tmp_path / "data", inbox_dir=tmp_path / "inbox",
                                     database_url=f"sqlite:///{tmp_path / 'e.db'}",
                                     rule_engine="official"))
    yield ctx
    ctx.close()


def _break(ctx: Context, monkeypatch: pytest.MonkeyPatch, *packs: str) -> None:
    """Until ``monkeypatch.undo()``: ``packs`` crash in the validator ingest uses."""
    broken = Validator()
    for name in packs:
        broken.registry.register(name, lambda name=name: _Broken(name))  # type: ignore[misc]
    monkeypatch.setattr(rulebook_for(ctx.settings), "validator", lambda release: broken)


def _case(ctx: Context, invoice_id: int) -> tuple[t.Invoice, list[str], list[t.AuditEvent]]:
    with Session(ctx.engine) as s:
        inv = s.get(t.Invoice, invoice_id)
        assert inv is not None
        rules = list(s.exec(select(t.Finding.rule_id)
                            .where(col(t.Finding.invoice_id) == invoice_id)).all())
        events = list(s.exec(select(t.AuditEvent).where(col(t.AuditEvent.invoice_id) == invoice_id)
                             .order_by(col(t.AuditEvent.id))).all())
    return inv, rules, events


def _due(ctx: Context, invoice_id: int) -> None:
    """Move the arrival back past the first wait, so the first attempt is due now."""
    with ctx.engine.begin() as conn:
        at = conn.execute(select(t.Invoice.received_at).where(col(t.Invoice.id) == invoice_id))
        conn.execute(update(t.Invoice).where(col(t.Invoice.id) == invoice_id).values(
            received_at=at.scalar_one() - timedelta(minutes=2)))


def _runs(ctx: Context) -> list[str | None]:
    with Session(ctx.engine) as s:
        return list(s.exec(select(t.JobRun.detail).where(col(t.JobRun.job) == REVALIDATE)))


def test_an_undefined_invoice_is_validated_again_by_the_job(
        corpus: Path, sqlite_ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    _break(sqlite_ctx, monkeypatch, "en16931-ubl")
    data = sample(corpus, "01.20a-INVOICE_ubl.xml")
    invoice_id = ingest(sqlite_ctx, Submission(data, "cli")).outcomes[0].invoice_id
    inv, _, _ = _case(sqlite_ctx, invoice_id)
    assert (inv.status, inv.verdict) == ("received", "undefined") and inv.error
    monkeypatch.undo()  # the engine works again
    _due(sqlite_ctx, invoice_id)
    Service(sqlite_ctx).intake()  # the intake run ends with the revalidate job
    inv, _, events = _case(sqlite_ctx, invoice_id)
    assert (inv.status, inv.verdict, inv.error, inv.version) == ("pending", "accept", None, 1)
    assert [(e.actor, e.action, e.before, e.after) for e in events] == [
        ("einvoice", "ingest", None, "received"), ("einvoice", "revalidate", "received",
                                                    "pending")]
    assert _runs(sqlite_ctx) == ["1 decided, 0 still undefined"]
    Service(sqlite_ctx).revalidate()  # nothing left to do: no run recorded
    assert len(_runs(sqlite_ctx)) == 1


def test_one_ingest_found_unbound_goes_on_hold_not_pending(
        corpus: Path, sqlite_ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """The binding check ran at ingest (the channel does not speak for the seller); the
    verdict that comes later must not release the document to the inbox."""
    _break(sqlite_ctx, monkeypatch, "en16931-ubl")
    data = sample(corpus, "01.20a-INVOICE_ubl.xml")
    invoice_id = ingest(sqlite_ctx, Submission(data, "cli")).outcomes[0].invoice_id
    monkeypatch.undo()
    with sqlite_ctx.engine.begin() as conn:
        conn.execute(update(t.Invoice).where(col(t.Invoice.id) == invoice_id)
                     .values(unbound=True))
    _due(sqlite_ctx, invoice_id)
    Service(sqlite_ctx).revalidate()
    inv, _, events = _case(sqlite_ctx, invoice_id)
    assert (inv.status, inv.verdict) == ("on_hold", "accept")
    assert (events[-1].action, events[-1].after) == ("revalidate", "on_hold")


def test_one_now_invalid_gets_its_findings_and_its_notice(
        corpus: Path, sqlite_ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    _break(sqlite_ctx, monkeypatch, "en16931-ubl", "xrechnung-ubl")
    data = sample(corpus, "01.20a-INVOICE_ubl.xml").replace(
        b"<cbc:BuyerReference>1234567890-54321-40</cbc:BuyerReference>", b"")  # BR-DE-15
    sub = Submission(data, "mail", filename="a.xml", sender="lieferant@example.org")
    result = ingest(sqlite_ctx, sub)
    invoice_id = result.outcomes[0].invoice_id
    assert _case(sqlite_ctx, invoice_id)[0].status == "received"
    monkeypatch.undo()
    _due(sqlite_ctx, invoice_id)
    queued: list[int] = []
    monkeypatch.setattr("einvoice.notify.outbox.queue_for_ingest",
                        lambda ctx, submission_id: queued.append(submission_id) or [])
    Service(sqlite_ctx).revalidate()
    inv, rules, events = _case(sqlite_ctx, invoice_id)
    assert (inv.status, inv.verdict) == ("invalid", "reject") and "BR-DE-15" in rules
    assert events[-1].after == "invalid" and queued == [result.submission_id]


def test_a_document_the_engine_still_cannot_decide_keeps_waiting(
        corpus: Path, sqlite_ctx: Context) -> None:
    data = doubled(sample(corpus, "01.20a-INVOICE_ubl.xml"),  # the CEN UBL stylesheet crashes
                   "//cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity")
    invoice_id = ingest(sqlite_ctx, Submission(data, "cli")).outcomes[0].invoice_id
    _due(sqlite_ctx, invoice_id)
    Service(sqlite_ctx).revalidate()
    inv, _, events = _case(sqlite_ctx, invoice_id)
    assert (inv.status, inv.verdict, inv.version, len(events)) == ("received", "undefined", 0, 1)
    assert _runs(sqlite_ctx) == ["0 decided, 1 still undefined"]


@pytest.mark.parametrize(("status", "verdict_", "after"), [
    (Status.RECEIVED, Verdict.ACCEPT, Status.PENDING),
    (Status.RECEIVED, Verdict.REJECT, Status.INVALID),
    (Status.RECEIVED, Verdict.UNDEFINED, None),
    (Status.RECEIVED, None, None),
    (Status.PENDING, Verdict.REJECT, None),  # moved meanwhile: not the job's to change
    (Status.CLOSED, Verdict.ACCEPT, None),
])
def test_status_after_revalidation(status: Status, verdict_: Verdict | None,
                                   after: Status | None) -> None:
    assert status_after_revalidation(status, verdict_) is after
