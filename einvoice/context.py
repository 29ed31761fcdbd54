"""The handful of long-lived objects every stage needs, built once by a shell."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from einvoice.config import Settings
from einvoice.store import retry
from einvoice.store.archive import Archive
from einvoice.store.db import is_current, make_engine, migrate
from einvoice.store.locks import named_lock


@dataclass
class Context:
    settings: Settings
    engine: Engine
    archive: Archive

    def close(self) -> None:
        self.engine.dispose()

    def lock(self, name: str, *, wait: bool = True) -> contextlib.AbstractContextManager[bool]:
        """A named lock shared by every process on this database (``store.locks``); without
        ``wait`` the block gets False at once when another process holds it."""
        return named_lock(self.engine, self.settings.data_dir / "locks", name, wait=wait)


def open_context(settings: Settings) -> Context:
    """Engine and archive for the settings; the schema is created or upgraded when needed."""
    engine = make_engine(settings.db_url)
    for attempt in range(retry.ATTEMPTS):
        if is_current(engine):
            break
        try:
            migrate(engine)
        except DBAPIError:  # another process is creating the same schema right now
            retry.pause(attempt)
    return Context(settings=settings, engine=engine, archive=Archive(settings.archive_path))
