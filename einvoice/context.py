"""The handful of long-lived objects every stage needs, built once by a shell."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from einvoice.config import Settings
from einvoice.store.archive import Archive
from einvoice.store.db import is_current, make_engine, migrate


@dataclass
class Context:
    settings: Settings
    engine: Engine
    archive: Archive

    def close(self) -> None:
        self.engine.dispose()


def open_context(settings: Settings) -> Context:
    """Engine and archive for the settings; the schema is created or upgraded when needed."""
    engine = make_engine(settings.db_url)
    if not is_current(engine):
        migrate(engine)
    return Context(settings=settings, engine=engine, archive=Archive(settings.archive_path))
