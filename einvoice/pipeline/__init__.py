"""The ingest stage: ``ingest(submission)`` keeps the original, reads, validates, asks the
lifecycle what each document becomes and writes it (``ingest.py`` is the recipe, ``persist.py``
one document's transaction)."""

from einvoice.pipeline.ingest import (
    Examined,
    IngestResult,
    Outcome,
    Submission,
    examine,
    ingest,
    ingest_parts,
)

__all__ = ["Examined", "IngestResult", "Outcome", "Submission", "examine", "ingest",
           "ingest_parts"]
