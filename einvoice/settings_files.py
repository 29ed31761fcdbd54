"""Where a command finds its settings and its data, so that it works on the installation its
operator means wherever it is started (``cd /tmp && einvoice list`` must not find, or make, an
empty one there).

The data directory: ``--data-dir`` (the CLI puts it in ``DATA_DIR``), ``EINVOICE_DATA_DIR``,
the settings file, the default ``./einvoice-data``. The settings file: ``--config`` /
``EINVOICE_CONFIG``, else the first that exists of the user's
``~/.config/einvoice/config.toml`` (``$XDG_CONFIG_HOME``) and ``/etc/einvoice/config.toml``.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from einvoice.errors import ConfigError

# --data-dir of the running command; stronger than the environment and the settings file
DATA_DIR: ContextVar[Path | None] = ContextVar("einvoice_data_dir", default=None)
# Whether opening a database without a schema creates one (``context.open_context``). The CLI
# says no for every command but `init` (and `demo`): a command started in the wrong folder must
# say so instead of quietly starting an empty database there. The services open their context
# deep inside (`run`, `serve`), hence a variable of the running command rather than a
# parameter; kept here, beside DATA_DIR, so that setting it does not load the database stack.
MAY_CREATE: ContextVar[bool] = ContextVar("einvoice_may_create", default=True)
SYSTEM_FILE = Path("/etc/einvoice/config.toml")


def user_file() -> Path:
    """The settings file of the account running the command."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "einvoice" / "config.toml"


def find(explicit: Path | None = None) -> Path | None:
    """The settings file to read: the one named (which must exist), else the user's, else the
    system's, else none."""
    named = explicit or (Path(os.environ["EINVOICE_CONFIG"]) if os.environ.get("EINVOICE_CONFIG")
                         else None)
    if named is not None:
        return named
    return next((p for p in (user_file(), SYSTEM_FILE) if p.is_file()), None)


def read(path: Path | None) -> dict[str, Any]:
    """The values of a settings file ({} without one)."""
    if path is None:
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"settings file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"settings file {path} is not valid TOML: {exc}") from exc


def data_dir_origin(config_file: Path | None = None) -> str:
    """Where the data directory came from, for messages about a missing database."""
    if DATA_DIR.get() is not None:
        return "the data directory given by --data-dir"
    if os.environ.get("EINVOICE_DATA_DIR"):
        return "the data directory given by EINVOICE_DATA_DIR"
    path = find(config_file)
    if path is not None and "data_dir" in read(path):
        return f"the data directory given by data_dir in {path}"
    return "the default data directory ./einvoice-data"
