"""Security headers on every response of the upload server (issue 14, item 8): each route of the
real ASGI app, its pages and its JSON, and every kind of error (400, 401, 404, 405, 413, 422, a
bare 500), carry the Content-Security-Policy, nosniff, no framing and no referrer; the pages
also carry the policy as a ``<meta>`` (a saved page keeps it)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from einvoice.approval.suppliers import SupplierData, save_supplier
from einvoice.approval.tokens import create_token
from einvoice.context import Context
from einvoice.intake.http import create_app
from einvoice.views.policy import PAGE_POLICY, POLICY_META
from tests.test_output_style import COMPREHENSIVE

EXPECTED = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
TEMPLATES = Path(__file__).resolve().parents[1] / "einvoice" / "templates"
API = "/api/v1/invoices"


def _cases(token: str, invoice: bytes, limit: int,
           ) -> list[tuple[str, str, str, dict[str, Any], int]]:
    """(route, method, URL, request options, expected status): every route, ways to fail."""
    auth = {"headers": {"Authorization": f"Bearer {token}"}}
    upload = {"files": {"file": ("r.xml", invoice, "application/xml")}}
    return [
        ("/", "GET", "/", {}, 200),
        ("/", "HEAD", "/", {}, 405),
        ("/upload", "POST", "/upload", {"data": {"token": token}, **upload}, 200),
        ("/upload", "POST", "/upload", {"data": {"token": token}}, 400),
        ("/upload", "POST", "/upload", {"data": {"token": "nope"}, **upload}, 401),
        ("/status", "GET", "/status", {}, 200),
        ("/status", "POST", "/status", {"data": {"token": token, "number": "1234567"}}, 200),
        ("/status", "POST", "/status", {"data": {"token": token}}, 400),
        ("/status", "POST", "/status", {"data": {"token": "nope", "number": "1"}}, 401),
        (API, "POST", API, {**auth, **upload}, 200),
        (API, "POST", API, upload, 401),
        (API, "POST", API, {**auth, "content": b"x" * (limit + 1),
                            "headers": {**auth["headers"], "Content-Type": "application/xml"}},
         413),
        (API, "GET", API + "?number=1234567", auth, 200),
        (API, "GET", API, auth, 422),
        (API + "/{invoice_id}", "GET", API + "/999999", auth, 404),
        (API + "/{invoice_id}", "GET", API + "/1", {}, 401),
        ("/healthz", "GET", "/healthz", {}, 200),
        ("/openapi.json", "GET", "/openapi.json", {}, 200),
        ("/openapi.json", "HEAD", "/openapi.json", {}, 200),
        ("", "GET", "/docs", {}, 404),  # Swagger UI runs scripts from a CDN: not served
        ("", "DELETE", "/healthz", {}, 405),
        ("", "GET", "/boom", {}, 500),
    ]


def test_every_response_carries_the_security_headers(ctx: Context, corpus: Path) -> None:
    supplier = save_supplier(ctx, SupplierData("Muster GmbH"))
    assert supplier.id is not None
    _, token = create_token(ctx, supplier.id, "test")
    invoice = (corpus / COMPREHENSIVE).read_bytes()
    limit = 2 * len(invoice)
    app = create_app(ctx.settings.model_copy(update={"max_upload_bytes": limit}))

    @app.get("/boom", include_in_schema=False)
    def boom() -> None:  # an exception no handler turns into a response
        raise RuntimeError("boom")

    cases = _cases(token, invoice, limit)
    routes = {(r.path, m) for r in app.routes for m in getattr(r, "methods", ())} - {
        ("/boom", "GET")}
    assert routes <= {(route, method) for route, method, *_ in cases}, "a route without a case"

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=transport, base_url="http://einvoice", timeout=60) as client:
            return [await client.request(method, url, **options)
                    for _, method, url, options, _ in cases]

    for (_, method, url, _, status), response in zip(cases, asyncio.run(run()), strict=True):
        assert response.status_code == status, (method, url, response.text[:300])
        assert {k: response.headers.get(k) for k in EXPECTED} == EXPECTED, (method, url)
        if response.headers.get("content-type", "").startswith("text/html"):
            assert POLICY_META in response.text, (method, url)


def test_the_page_policy_is_written_once_for_files_and_pages() -> None:
    assert EXPECTED["content-security-policy"] == PAGE_POLICY + "; frame-ancestors 'none'"
    assert (TEMPLATES / "_policy.html").read_text(encoding="utf-8") == POLICY_META + "\n"


@pytest.mark.parametrize("page", sorted(p.name for p in TEMPLATES.glob("*.html")
                                        if not p.name.startswith("_")))
def test_every_page_template_carries_the_policy_first_in_its_head(page: str) -> None:
    head = (TEMPLATES / page).read_text(encoding="utf-8").split("<head>", 1)[1]
    assert head.lstrip().startswith('<meta charset="utf-8">\n{% include "_policy.html" %}\n')
