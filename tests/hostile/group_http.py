"""The upload server (the real ASGI app through httpx, its lifespan running): hostile bodies,
lying content types and file names, another supplier's invoice, SQL meta characters in the
status lookup and the token, markup on the receipt and the status page (cases in ``http_*``)."""

from __future__ import annotations

from tests.hostile import http_uploads  # isort: skip  (the order the cases run in)
from tests.hostile import http_lookups  # isort: skip
from tests.hostile.harness import Group
from tests.hostile.http_env import LIMIT, alive, cases, close, make

assert http_uploads and http_lookups  # each registers its cases

GROUP = Group(cases, make, alive, close, settings={"max_upload_bytes": LIMIT})
