"""Settings sources and the store's guarantees (schema = migrations, exact money, aware time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import Session, SQLModel, select

from einvoice.config import load_settings
from einvoice.context import Context
from einvoice.errors import ConfigError
from einvoice.store import tables as t


def test_defaults_live_under_einvoice_data(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("EINVOICE_DATA_DIR", "EINVOICE_DATABASE_URL", "EINVOICE_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.db_url == "sqlite:///einvoice-data/einvoice.db"
    assert s.archive_path == Path("einvoice-data/archive")
    assert s.export_path == Path("einvoice-data/exports")
    assert s.inbox_dir == Path("inbox")


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "einvoice.toml"
    cfg.write_text('data_dir = "/srv/a"\ninbox_dir = "/srv/in"\n')
    monkeypatch.setenv("EINVOICE_CONFIG", str(cfg))
    assert load_settings().archive_path == Path("/srv/a/archive")
    monkeypatch.setenv("EINVOICE_DATA_DIR", "/srv/b")
    s = load_settings()
    assert s.data_dir == Path("/srv/b") and s.inbox_dir == Path("/srv/in")


def test_bad_settings_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("data_dir = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text('data_dri = "/x"\n')
    with pytest.raises(ConfigError, match="data_dri"):
        load_settings(typo)


def test_migrations_create_exactly_the_tables_of_the_code(ctx: Context) -> None:
    with ctx.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_money_is_exact_and_time_is_aware(ctx: Context) -> None:
    berlin = timezone(timedelta(hours=1))
    with Session(ctx.engine) as s:
        sub = t.Submission(sha256="a" * 64, size=1, channel="cli",
                           received_at=datetime(2026, 11, 25, 12, 0, tzinfo=berlin))
        s.add(sub)
        s.flush()
        doc = t.Document(submission_id=sub.id, sha256="b" * 64, size=1, kind="cii")
        s.add(doc)
        s.flush()
        s.add(t.Invoice(document_id=doc.id, status="received",
                        gross_total=Decimal("1234567890123.1000000001")))
        s.commit()
    with Session(ctx.engine) as s:
        inv = s.exec(select(t.Invoice)).one()
        sub2 = s.exec(select(t.Submission)).one()
    assert inv.gross_total == Decimal("1234567890123.1000000001")
    assert sub2.received_at == datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
    assert sub2.received_at.tzinfo is not None


def test_schema_revision_constant_is_alembics_head(ctx: Context) -> None:
    from alembic.script import ScriptDirectory

    from einvoice.store.db import SCHEMA_REVISION, alembic_config, is_current

    assert ScriptDirectory.from_config(alembic_config(ctx.engine)).get_current_head() == (
        SCHEMA_REVISION)
    assert is_current(ctx.engine)
