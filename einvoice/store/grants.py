"""What a staff login role may do in the database (PostgreSQL; SQLite has no roles).

Staff read and write the cases, but on the audit table they may only add events: UPDATE,
DELETE and TRUNCATE stay with the owner of the schema, so no staff account can edit or remove
an event, not even outside einvoice (psql). No table gets DELETE: einvoice deletes no rows. The
owner can still change the table; the anchors kept outside the database show that. Tables
created later (a new migration) need the grants again.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from einvoice.store import tables as t

AUDIT = t.AuditEvent.__tablename__
READ_ONLY = "alembic_version"  # the schema version: staff commands check it, never move it
# who may act and whom we pay: written by admins only, or anyone could make himself admin or
# put his own IBAN on file
ADMIN_ONLY = (t.Staff.__tablename__, t.Supplier.__tablename__)


def grant_staff(conn: Connection, role: str, *, admin: bool = False) -> bool:
    """Grant the existing login ``role`` what staff (``admin``: an admin) need in the current
    schema, in the caller's transaction; False on SQLite, where there is nothing to grant."""
    if conn.dialect.name != "postgresql":
        return False
    quote = conn.dialect.identifier_preparer.quote
    who = quote(role)
    schema = quote(conn.execute(text("SELECT current_schema()")).scalar_one())
    conn.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO {who}"))
    tables = conn.execute(text("SELECT tablename FROM pg_tables "
                               "WHERE schemaname = current_schema()")).scalars()
    for name in tables:
        table = f"{schema}.{quote(name)}"
        rights = {AUDIT: "SELECT, INSERT", READ_ONLY: "SELECT"}.get(name,
                                                                     "SELECT, INSERT, UPDATE")
        if name in ADMIN_ONLY and not admin:
            rights = "SELECT"
        conn.execute(text(f"REVOKE ALL ON {table} FROM {who}"))
        conn.execute(text(f"GRANT {rights} ON {table} TO {who}"))
    conn.execute(text(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} "
                      f"TO {who}"))
    return True
