"""The handful of long-lived objects every stage needs, built once by a shell."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from einvoice.config import Settings
from einvoice.store.archive import Archive
from einvoice.store.db import make_engine, migrate


@dataclass
class Context:
    settings: Settings
    engine: Engine
    archive: Archive

    def close(self) -> None:
        self.engine.dispose()


def open_context(settings: Settings, *, migrate_schema: bool = True) -> Context:
    """Engine and archive for the settings; the schema is brought up to date unless told not."""
    engine = make_engine(settings.db_url)
    if migrate_schema:
        migrate(engine)
    return Context(settings=settings, engine=engine, archive=Archive(settings.archive_path))
