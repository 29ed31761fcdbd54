"""``ingest_batch``: many submissions (drop-folder files) ingested together, at the cost of a
few instead of one commit, one archive sync and one duplicate look-up each.

Every guarantee of ``ingest`` holds for each submission of a batch; what they share is:
- the archive quota, asked once per sender and day (``quota.refusals``);
- the archive writes: every original (and the invoice XML taken out of a PDF) written and
  fsynced side by side, then one fsync per folder that got a new entry (``Archive.put_many``),
  all before the transaction;
- one transaction (``persist.persist_batch``): one look-up of the documents already stored, one
  of the earlier copies of its invoices (a copy earlier in the same batch counts), one commit.
Nothing of a batch is reported before that commit, so no caller acknowledges (moves a file to
``processed/``) what a crash could still lose; a kill before it leaves every submission to be
ingested again, idempotently (unique by SHA-256). A ZIP is not batched: its members are written
one by one by ``ingest``, after the batch. When the batch's transaction fails for another reason
than a conflict (a document the database refuses, a bug), its submissions are ingested one at a
time, so that one bad document fails alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from einvoice.context import Context
from einvoice.errors import InputError, QuotaExceeded, TooLarge
from einvoice.formats.detect import Container, sniff
from einvoice.pipeline import quota
from einvoice.pipeline.ingest import (
    Examined,
    IngestResult,
    Submission,
    arrival,
    examine,
    ingest,
    reference,
)
from einvoice.pipeline.persist import Leaf, persist_batch
from einvoice.store.archive import sha256_hex
from einvoice.store.records import SubmissionRef

log = logging.getLogger(__name__)

Result = IngestResult | InputError  # what became of one submission: ingested, or refused


def ingest_batch(ctx: Context,
                 items: Sequence[tuple[Submission, Examined | None]]) -> list[Result]:
    """Ingest each submission (``examined``: its ``examine``, when a worker process did it);
    the results in order. A submission refused before anything was kept (too large, over the
    quota) gets its ``InputError`` instead of a result."""
    results: list[Result | None] = [None] * len(items)
    digests = {}
    for i, (sub, _) in enumerate(items):
        limit = ctx.settings.max_submission_bytes
        if len(sub.data) > limit:
            results[i] = TooLarge(f"submission of {len(sub.data)} bytes exceeds the limit of "
                                  f"{limit} bytes")
        else:
            digests[i] = sha256_hex(sub.data)
    refused = quota.refusals(ctx, [arrival(items[i][0], d) for i, d in digests.items()])
    for (i, _), why in zip(list(digests.items()), refused, strict=True):
        if why is not None:
            results[i] = QuotaExceeded(why)
            del digests[i]
    zips = [i for i in digests if sniff(items[i][0].data) is Container.ZIP]
    batched = [i for i in digests if i not in zips]
    _write(ctx, [(i, items[i][0], digests[i], items[i][1]) for i in batched], results)
    for i in zips:
        results[i] = _one(ctx, items[i][0], None)
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


def _write(ctx: Context, todo: list[tuple[int, Submission, str, Examined | None]],
           results: list[Result | None]) -> None:
    """Archive, then persist in one transaction, the non-ZIP submissions of a batch."""
    if not todo:
        return
    examined = [ex or examine(sub.data, ctx.settings, sub.filename, sub.received_at)
                for _, sub, _, ex in todo]
    blobs, leaves = [], []
    for (_, sub, digest, _), ex in zip(todo, examined, strict=True):
        reading, xml_sha = ex.reading, None
        blobs.append(sub.data)
        if reading.xml is not None and reading.xml == sub.data:
            xml_sha = digest
        elif reading.xml is not None and reading.invoice is not None:
            xml_sha = sha256_hex(reading.xml)
            blobs.append(reading.xml)
        leaves.append(Leaf(None, sub.filename, len(sub.data), digest, reading, ex.report,
                           xml_sha))
    ctx.archive.put_many(blobs)
    refs = [reference(sub, digest) for _, sub, digest, _ in todo]
    try:
        outcomes = persist_batch(ctx.engine, list(zip(refs, leaves, strict=True)),
                                 ctx.settings)
    except Exception:
        log.exception("a batch of %d submissions failed; ingesting them one at a time",
                      len(todo))
        for (i, sub, _, _), ex in zip(todo, examined, strict=True):
            results[i] = _one(ctx, sub, ex)
        return
    for (i, _, digest, _), ref, outcome in zip(todo, refs, outcomes, strict=True):
        results[i] = IngestResult(_committed(ref), digest, [outcome])


def _committed(ref: SubmissionRef) -> int:
    assert ref.id is not None
    return ref.id


def _one(ctx: Context, sub: Submission, examined: Examined | None) -> Result:
    try:
        return ingest(ctx, sub, examined)
    except InputError as exc:
        return exc
