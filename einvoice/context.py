"""The handful of long-lived objects every stage needs, built once by a shell."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from einvoice.config import Settings
from einvoice.errors import ConfigError
from einvoice.settings_files import MAY_CREATE as MAY_CREATE  # see there; the demo sets it
from einvoice.store import retry
from einvoice.store.archive import Archive
from einvoice.store.db import is_current, make_engine, migrate, schema_present, sqlite_file
from einvoice.store.locks import named_lock


class NoDatabase(ConfigError):
    """The settings point at a database that does not exist yet, and may not create it."""

    def __init__(self, where: str, hint: str) -> None:
        super().__init__(f"{where}: {hint}")
        self.where, self.hint = where, hint


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


def _missing(settings: Settings) -> NoDatabase:
    path = sqlite_file(settings.db_url)
    if path is None:
        shown = make_url(settings.db_url).render_as_string(hide_password=True)
        return NoDatabase(f"the database {shown} has no einvoice schema yet",
                          "create it with `einvoice init`")
    return NoDatabase(f"no einvoice database at {path.absolute()}",
                      "create one with `einvoice init` (elsewhere: `einvoice --data-dir DIR "
                      "init`), or name the existing one with --data-dir, EINVOICE_DATA_DIR or "
                      "the settings file")


def open_context(settings: Settings) -> Context:
    """Engine and archive for the settings; the schema is upgraded when needed and created
    only where ``MAY_CREATE`` allows (`NoDatabase` otherwise)."""
    path = sqlite_file(settings.db_url)
    if not MAY_CREATE.get() and path is not None and not path.is_file():
        raise _missing(settings)  # before the engine, which would create file and folder
    engine = make_engine(settings.db_url)
    if not MAY_CREATE.get() and not schema_present(engine):
        engine.dispose()
        raise _missing(settings)
    for attempt in range(retry.ATTEMPTS):
        if is_current(engine):
            break
        try:
            migrate(engine)
        except DBAPIError:  # another process is creating the same schema right now
            retry.pause(attempt)
    return Context(settings=settings, engine=engine, archive=Archive(settings.archive_path))
