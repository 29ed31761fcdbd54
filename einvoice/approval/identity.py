"""Who is acting: the account that authenticated, never a name typed on the command line.

With ``identity = "os"`` (the default) that is the operating-system account running the command
(its effective uid, looked up in the password database), so acting as someone else means
logging in as them. With ``identity = "database"`` (PostgreSQL) it is the login role of the
database connection (``current_user``), for a city whose staff have database accounts already.
Environment variables such as ``USER`` or ``LOGNAME`` are never consulted: anyone can set them.
"""

from __future__ import annotations

import os
import pwd

from sqlalchemy import text

from einvoice.context import Context
from einvoice.lifecycle import NotPermitted


def os_login() -> str:
    """The login name of the effective uid of this process."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError as exc:
        raise NotPermitted(f"uid {uid} has no account name: who is acting cannot be told") from exc


def full_name(login: str) -> str:
    """The person's name from the password database (GECOS), else the login itself."""
    try:
        gecos = pwd.getpwnam(login).pw_gecos.split(",")[0].strip()
    except KeyError:
        return login
    return gecos or login


def current_login(ctx: Context) -> str:
    """The authenticated login the settings name as identity."""
    if ctx.settings.identity == "os":
        return os_login()
    with ctx.engine.connect() as conn:
        return str(conn.execute(text("SELECT current_user")).scalar_one())
