"""The inbox's query is served by its index (issue 15, item 4): the waiting invoices of an office
are ordered by urgency from ``ix_invoice_inbox_urgency`` alone (a covering index), and only
the rows shown are read. Checked in SQLite's own query plan, for every office selection."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from einvoice.config import load_settings
from einvoice.context import open_context
from einvoice.views.queries import UNASSIGNED, inbox


@pytest.mark.parametrize("office", ["Kämmerei", None, UNASSIGNED])
def test_the_inbox_picks_its_rows_from_one_covering_index(
        sqlite_template: Path, tmp_path: Path, office: str | None) -> None:
    shutil.copyfile(sqlite_template, tmp_path / "einvoice.db")
    ctx = open_context(load_settings(data_dir=tmp_path / "data",
                                     database_url=f"sqlite:///{tmp_path / 'einvoice.db'}"))
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
               _many: bool) -> None:
        sent.append((statement, parameters))

    event.listen(ctx.engine, "before_cursor_execute", record)
    try:
        inbox(ctx, office, 50)
        statement, parameters = sent[0]
        with ctx.engine.connect() as conn:
            plan = [row[3] for row in conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", parameters)]
    finally:
        ctx.close()
    assert "FROM invoice JOIN document" in statement
    assert any("USING COVERING INDEX ix_invoice_inbox_urgency" in step for step in plan), plan
