"""CLI rules: `einvoice reject ID --reason TEXT` rejects and queues the supplier's notice in one
transaction (SQLite and PostgreSQL).

GIVEN a pending invoice and a settings file (``--config`` or ``EINVOICE_CONFIG``), WHEN an
approver on the staff register rejects it from the command line (as the account running it),
THEN the invoice is ``rejected`` with the reason and a ``Notice`` with event key
``rejected:invoice:ID`` is recorded; WHEN either half of that transaction fails, THEN neither
the status change nor the notice is there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner, Result

from einvoice.approval import identity
from einvoice.approval.suppliers import SupplierData, save_supplier
from einvoice.cli import app
from einvoice.config import load_settings
from einvoice.context import Context, open_context
from einvoice.notify import outbox
from einvoice.pipeline import Submission, ingest
from einvoice.store import chain
from einvoice.store import tables as t
from einvoice.views.queries import get_case
from tests.conftest import register

SAMPLE = "valid/xrechnung-testsuite/technical-cases/cius/01.01_comprehensive_test_ubl.xml"
ON_FILE = "buchhaltung@lieferant.example"  # the supplier's address in the master
REASON = "Leistung nicht erbracht"


@pytest.fixture
def config(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("EINVOICE_CONFIG", "EINVOICE_DATABASE_URL", "EINVOICE_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(identity, "os_login", lambda: "alice")  # the account running it
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "einvoice.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\ndatabase_url = "{db_url}"\n'
                    'four_eyes_threshold = "1000000"\n', encoding="utf-8")
    return path


@pytest.fixture
def shared(config: Path) -> Iterator[Context]:
    """The database the CLI uses, opened from the same settings file."""
    ctx = open_context(load_settings(config))
    register(ctx, "alice")
    yield ctx
    ctx.close()


def pending(ctx: Context, corpus: Path) -> int:
    """The sample from a supplier on file with its IBANs and address, so that its notices go
    there (an unknown IBAN would send them to the finance office only; the seller's contact in
    the invoice is never written to)."""
    (outcome,) = ingest(ctx, Submission((corpus / SAMPLE).read_bytes(), "upload")).outcomes
    case = get_case(ctx, outcome.invoice_id)
    assert case.model is not None
    save_supplier(ctx, SupplierData(case.model.seller.name or "", case.model.seller.vat_id,
                                    tuple((case.invoice.ibans or "").split(",")),
                                    email=ON_FILE))
    assert outcome.status == "pending"
    return outcome.invoice_id


def state(ctx: Context, invoice_id: int) -> tuple[str, str | None, list[t.Notice], list[str]]:
    with Session(ctx.engine) as s:
        inv = s.get(t.Invoice, invoice_id)
        assert inv is not None
        notices = list(s.exec(select(t.Notice).order_by(col(t.Notice.id))).all())
        actions = list(s.exec(select(t.AuditEvent.action)
                              .where(col(t.AuditEvent.invoice_id) == invoice_id)
                              .order_by(col(t.AuditEvent.id))).all())
    return inv.status, inv.note, notices, actions


def reject(*extra: str, invoice_id: int) -> Result:
    return CliRunner().invoke(app, ["reject", str(invoice_id), "--reason", REASON, *extra])


def test_reject_records_the_rejection_notice(shared: Context, config: Path,
                                             corpus: Path) -> None:
    invoice_id = pending(shared, corpus)
    result = reject("--config", str(config), invoice_id=invoice_id)
    assert result.exit_code == 0, result.output
    status, note, notices, actions = state(shared, invoice_id)
    assert (status, note, actions) == ("rejected", REASON, ["ingest", "reject"])
    (notice,) = notices
    assert (notice.event_key, notice.kind, notice.invoice_id) == (
        f"rejected:invoice:{invoice_id}", "rejected", invoice_id)
    assert notice.recipient == ON_FILE
    assert REASON in notice.body and notice.sent_at is None  # no SMTP configured: kept queued


def test_reject_reads_its_settings_from_einvoice_config(shared: Context, config: Path,
                                                        corpus: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    invoice_id = pending(shared, corpus)
    monkeypatch.setenv("EINVOICE_CONFIG", str(config))
    result = reject(invoice_id=invoice_id)
    assert result.exit_code == 0, result.output
    status, _, notices, _ = state(shared, invoice_id)
    assert status == "rejected"
    assert [n.event_key for n in notices] == [f"rejected:invoice:{invoice_id}"]


def _fail(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("injected failure")


def test_a_failed_status_change_leaves_no_notice(shared: Context, config: Path, corpus: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit append comes after the notice is queued: failing it must take the notice back."""
    invoice_id = pending(shared, corpus)
    monkeypatch.setattr(chain, "append", _fail)
    result = reject("--config", str(config), invoice_id=invoice_id)
    assert result.exit_code != 0
    assert isinstance(result.exception, RuntimeError)
    status, note, notices, actions = state(shared, invoice_id)
    assert (status, note, notices, actions) == ("pending", None, [], ["ingest"])


def test_a_failed_notice_leaves_the_invoice_pending(shared: Context, config: Path,
                                                    corpus: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    invoice_id = pending(shared, corpus)
    monkeypatch.setattr(outbox, "queue_rejection", _fail)
    result = reject("--config", str(config), invoice_id=invoice_id)
    assert result.exit_code != 0
    status, note, notices, actions = state(shared, invoice_id)
    assert (status, note, notices, actions) == ("pending", None, [], ["ingest"])
