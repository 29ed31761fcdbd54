"""Earlier copies of an invoice: the stored invoices under the same seller and number keys, for
the lifecycle to tell which one (if any) a new invoice duplicates, and the locks that make
writers decide copies of one invoice one after the other."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, bindparam, text, tuple_
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Text
from sqlmodel import col

from einvoice.store import tables as t

_CHUNK = 500  # key pairs per query: far below every driver's limit of bound parameters
_COPIES = sa_select(col(t.Invoice.id), col(t.Invoice.seller_key), col(t.Invoice.number_key),
                    col(t.Invoice.type_code), col(t.Invoice.gross_total),
                    col(t.Invoice.status), col(t.Invoice.unbound),
                    col(t.Invoice.duplicate_of))
# sorted in a subquery: every writer takes its keys in the same order
_KEY_LOCKS = text("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
                  "FROM (SELECT DISTINCT k FROM unnest(:keys) AS k ORDER BY k) AS sorted"
                  ).bindparams(bindparam("keys", type_=ARRAY(Text)))
_WRITE_LOCK = text("UPDATE invoice SET id = id WHERE 0 = 1")  # changes nothing, locks


@dataclass(frozen=True)
class Copy:
    """A stored invoice under a seller and number key: what the lifecycle needs to tell
    whether it is the original of a new one."""

    id: int
    seller_key: str
    number_key: str
    type_code: str | None
    gross_total: Decimal | None
    status: str
    unbound: bool
    duplicate_of: int | None


def lock_keys(conn: Connection, pairs: Iterable[tuple[str, str]]) -> None:
    """Hold these (seller key, number key) pairs until the transaction ends, so that two copies
    arriving at once (other threads, processes, machines) are decided one after the other.
    PostgreSQL: one advisory lock per pair, taken in sorted order, so two writers of
    overlapping batches do not wait for each other in a circle. SQLite: the database's write
    lock, taken now (its first write would take it only after the look-up)."""
    keys = sorted({f"{seller}|{number}" for seller, number in pairs})
    if not keys:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(_KEY_LOCKS, {"keys": keys}).all()
    else:
        conn.execute(_WRITE_LOCK)


def copies(conn: Connection, pairs: Iterable[tuple[str, str]]) -> list[Copy]:
    """Every stored invoice with one of these (seller key, number key) pairs, oldest first: one
    query for a whole batch."""
    wanted = sorted(set(pairs))
    found: list[Copy] = []
    for start in range(0, len(wanted), _CHUNK):
        query = _COPIES.where(tuple_(col(t.Invoice.seller_key), col(t.Invoice.number_key))
                              .in_(wanted[start:start + _CHUNK]))
        for inv_id, seller, number, type_code, gross, status, unbound, original in (
                conn.execute(query)):
            assert inv_id is not None and seller is not None and number is not None
            found.append(Copy(inv_id, seller, number, type_code, gross, status, unbound,
                              original))
    return sorted(found, key=lambda copy: copy.id)
