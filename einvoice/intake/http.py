"""HTTP intake: the upload API for suppliers, their upload and status pages, and a health check.

A thin shell over ``pipeline.ingest``, the read queries and ``approval.tokens`` (who a token
belongs to, which invoices its holder may see); the Context is opened once at startup. Uploads
are size-limited while the body streams in (``intake.bodylimit``). ``ingest`` is synchronous and
CPU-heavy, so it runs in the thread pool; its writes are unique by SHA-256 and retried on
conflicts, which makes concurrent uploads safe on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Annotated, Any

from anyio import CapacityLimiter, to_thread
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from einvoice.approval.tokens import authenticate, supplier_invoice
from einvoice.config import Settings
from einvoice.context import Context, open_context
from einvoice.errors import EinvoiceError, NotFound, TooLarge
from einvoice.intake.bodylimit import BodyLimit, too_large
from einvoice.intake.headers import SecurityHeaders
from einvoice.intake.status import InvoiceLookup, SupplierInvoice, UnprocessableOut, lookup
from einvoice.lifecycle import Status, seen_by_supplier
from einvoice.notify.unprocessable import unprocessable
from einvoice.pipeline import IngestResult, Submission, ingest
from einvoice.validation.report import VERDICT_DE, FindingOut
from einvoice.views.formatting import day, local_time
from einvoice.views.labels import LEVEL_DE, status_words
from einvoice.views.queries import get_case
from einvoice.views.receipt import document_words, submission_words

API_UPLOAD, PAGE_UPLOAD, PAGE_STATUS = "/api/v1/invoices", "/upload", "/status"

_env = Environment(loader=PackageLoader("einvoice", "templates"),
                   autoescape=select_autoescape(["html"]))


class DocumentOut(BaseModel):
    invoice_id: int
    filename: str | None
    kind: str
    status: str
    verdict: str | None
    error: str | None
    findings: list[FindingOut]
    number: str | None = None  # BT-1 and BT-27 as read
    seller: str | None = None
    pay_by: date | None = None  # expected payment date, while a payment is expected
    status_de: str = ""  # the status and what happens next, in plain German and English
    status_en: str = ""
    next_de: str = ""
    next_en: str = ""
    unprocessable: UnprocessableOut | None = None  # why it is not processed, what to send


class Receipt(BaseModel):
    submission_id: int
    sha256: str
    documents: list[DocumentOut]
    supplier: str | None = None  # the name on file of the token's supplier
    received_at: datetime | None = None


# ------------------------------------------------------------------ shared steps


def _ctx(request: Request) -> Context:
    ctx = request.app.state.ctx
    assert isinstance(ctx, Context)
    return ctx


CtxDep = Annotated[Context, Depends(_ctx)]
_bearer = HTTPBearer(auto_error=False, description="per-supplier API token "
                     "(`einvoice supplier token create`)")


def _supplier(ctx: CtxDep, cred: Annotated[HTTPAuthorizationCredentials | None,
                                             Depends(_bearer)]) -> int:
    """The authenticated supplier's id; 401 for a missing, unknown or revoked token."""
    supplier = authenticate(ctx, cred.credentials) if cred else None
    if supplier is None:
        raise HTTPException(401, "missing, unknown or revoked API token",
                            headers={"WWW-Authenticate": "Bearer"})
    return supplier


SupplierDep = Annotated[int, Depends(_supplier)]


async def _file_part(request: Request) -> tuple[bytes, str | None]:
    """The ``file`` part of a multipart form (spooled to disk by Starlette while parsing)."""
    form = await request.form(max_files=1)
    part = form.get("file")
    if not isinstance(part, UploadFile):
        raise HTTPException(400, "multipart upload needs a 'file' part")
    return await part.read(), part.filename


async def _ingest(request: Request, data: bytes, filename: str | None,
                  supplier_id: int) -> IngestResult:
    """Run ingest in a worker thread, at most ``settings.workers`` at a time: it is CPU-bound,
    so more threads would not finish sooner, and fewer concurrent writers keep the retries of
    the pipeline's unique writes (audit chain head) short."""
    ctx, limiter = _ctx(request), request.app.state.ingest_limiter
    if not data:
        raise HTTPException(400, "Leere Datei / empty upload")
    if len(data) > ctx.settings.max_upload_bytes:
        raise too_large(ctx.settings.max_upload_bytes)
    sub = Submission(data, "upload", filename=filename, supplier_id=supplier_id)
    try:
        return await to_thread.run_sync(ingest, ctx, sub, limiter=limiter)
    except TooLarge as exc:
        raise HTTPException(413, str(exc)) from exc
    except EinvoiceError as exc:
        raise HTTPException(422, str(exc)) from exc


def _receipt(ctx: Context, result: IngestResult) -> Receipt:
    docs = []
    for outcome in result.outcomes:
        case = get_case(ctx, outcome.invoice_id)
        docs.append(DocumentOut(
            invoice_id=outcome.invoice_id, filename=outcome.filename, kind=outcome.kind,
            status=seen_by_supplier(case.invoice.status), verdict=case.invoice.verdict,
            error=outcome.error,
            **document_words(case),
            findings=[FindingOut.of(f) for f in case.findings],
            unprocessable=UnprocessableOut.of(unprocessable(case.invoice.status, outcome.kind,
                                                            outcome.error))))
    return Receipt(submission_id=result.submission_id, sha256=result.sha256, documents=docs,
                   **submission_words(ctx, result.submission_id))


def _accepted(receipt: Receipt) -> bool:
    """False when a document could not be read at all (e.g. refused XML): answered 422."""
    return all(d.status != Status.QUARANTINED for d in receipt.documents)


def _render(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    page = _env.get_template(name).render(status_words=status_words, verdict_de=VERDICT_DE,
                                          level_de=LEVEL_DE, day=day, local_time=local_time,
                                          **values)
    return HTMLResponse(page, status_code=status)


# ------------------------------------------------------------------ endpoints

_UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"}}}},
    "application/xml": {"schema": {"type": "string", "format": "binary"}},
    "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}


async def upload_invoice(request: Request, ctx: CtxDep, supplier: SupplierDep,
                         filename: str | None = None) -> JSONResponse:
    """Submit one invoice (XML, PDF or ZIP) as a multipart ``file`` or as the raw body;
    answers with the receipt (422 with the same receipt when a document was unreadable)."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        data, filename = await _file_part(request)
    else:
        data = await request.body()
    result = await _ingest(request, data, filename, supplier)
    receipt = await run_in_threadpool(_receipt, ctx, result)
    return JSONResponse(receipt.model_dump(mode="json"),
                        status_code=200 if _accepted(receipt) else 422)


def invoice_status(invoice_id: int, ctx: CtxDep, supplier: SupplierDep) -> SupplierInvoice:
    """Status of one of the supplier's own invoices; 404 for anyone else's."""
    try:
        return SupplierInvoice.of(supplier_invoice(ctx, supplier, invoice_id))
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc


def invoices_by_number(ctx: CtxDep, supplier: SupplierDep, number: Annotated[
        str, Query(min_length=1, max_length=256, description="invoice number (BT-1)")],
                       ) -> InvoiceLookup:
    """The supplier's own invoices with this invoice number (several when it was sent more
    than once; another supplier's invoice with the same number is never listed)."""
    return lookup(ctx, supplier, number)


def healthz(ctx: CtxDep) -> JSONResponse:
    """200 when the database answers, 503 otherwise."""
    try:
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


def upload_page() -> HTMLResponse:
    return _render("upload.html")


def status_page() -> HTMLResponse:
    return _render("status.html")


async def status_form(request: Request, ctx: CtxDep) -> HTMLResponse:
    """The status page's form: the supplier's invoices with the number it typed."""
    form = await request.form(max_files=0)
    token, number = form.get("token"), form.get("number")
    if not isinstance(number, str) or not number.strip() or len(number) > 256:
        return _render("status.html", 400, error="Bitte geben Sie eine Rechnungsnummer ein.")
    supplier = await run_in_threadpool(authenticate, ctx, token) if isinstance(token, str) \
        else None
    if supplier is None:
        return _render("status.html", 401, number=number, error="Der API-Schlüssel ist "
                       "unbekannt oder wurde widerrufen.")
    found = await run_in_threadpool(lookup, ctx, supplier, number)
    return _render("status.html", found=found, number=found.number)


async def upload_form(request: Request, ctx: CtxDep) -> HTMLResponse:
    """The page's form: the same steps as the API, answered with a readable receipt."""
    form = await request.form(max_files=1)
    token, part = form.get("token"), form.get("file")
    if not isinstance(part, UploadFile) or not part.filename:
        return _render("upload.html", 400, error="Bitte wählen Sie eine Rechnungsdatei aus.")
    supplier = await run_in_threadpool(authenticate, ctx, token) if isinstance(token, str) \
        else None
    if supplier is None:
        return _render("upload.html", 401, error="Der API-Schlüssel ist unbekannt oder "
                       "wurde widerrufen.")
    result = await _ingest(request, await part.read(), part.filename, supplier)
    receipt = await run_in_threadpool(_receipt, ctx, result)
    return _render("receipt.html", 200 if _accepted(receipt) else 422, receipt=receipt,
                   zone=ctx.settings.zone)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Errors of the upload page are shown on the page, everything else as JSON."""
    assert isinstance(exc, StarletteHTTPException)
    if request.url.path in (PAGE_UPLOAD, PAGE_STATUS):
        return _render(request.url.path.strip("/") + ".html", exc.status_code,
                       error=str(exc.detail))
    return await http_exception_handler(request, exc)


def create_app(settings: Settings) -> FastAPI:
    """The ASGI app; the database Context is opened at startup and closed at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ctx = await run_in_threadpool(open_context, settings)
        app.state.ingest_limiter = CapacityLimiter(max(1, settings.workers))
        try:
            yield
        finally:
            app.state.ctx.close()

    # no /docs or /redoc: those pages run scripts from a CDN, which the policy forbids
    app = FastAPI(title="einvoice – Rechnungseingang", version="1", lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes,
                       paths=(API_UPLOAD, PAGE_UPLOAD, PAGE_STATUS))
    app.add_middleware(SecurityHeaders)  # added last: outside the others, on every response
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.post(API_UPLOAD, response_model=Receipt, openapi_extra=_UPLOAD_BODY,
             responses={401: {}, 413: {}, 422: {"model": Receipt}})(upload_invoice)
    app.get(API_UPLOAD, responses={401: {}})(invoices_by_number)
    app.get(API_UPLOAD + "/{invoice_id}", responses={401: {}, 404: {}})(invoice_status)
    app.get("/healthz")(healthz)
    app.get("/", response_class=HTMLResponse, include_in_schema=False)(upload_page)
    app.post(PAGE_UPLOAD, response_class=HTMLResponse, include_in_schema=False)(upload_form)
    app.get(PAGE_STATUS, response_class=HTMLResponse, include_in_schema=False)(status_page)
    app.post(PAGE_STATUS, response_class=HTMLResponse, include_in_schema=False)(status_form)
    return app
