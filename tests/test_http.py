"""The upload API and the supplier page, over real HTTP against uvicorn in a background thread."""

from __future__ import annotations

import asyncio
import base64
import fcntl
import json
import os
import select
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import lxml.html
import pytest
import uvicorn
from sqlalchemy import func
from sqlmodel import Session
from sqlmodel import select as sql_select
from typer.testing import CliRunner

from einvoice.approval import workflow
from einvoice.approval.suppliers import SupplierData, save_supplier
from einvoice.approval.tokens import create_token, revoke_token
from einvoice.cli.common import app as cli_app
from einvoice.cli.suppliers import token_app
from einvoice.config import Settings
from einvoice.context import Context, open_context
from einvoice.intake.http import create_app
from einvoice.store import tables as t
from einvoice.views.chromium import (
    browser_command,
    browser_folder,
    browser_options,
    run_chromium,
)
from tests import system
from tests.conftest import register

CIUS = "valid/xrechnung-testsuite/technical-cases/cius"
COMPREHENSIVE = f"{CIUS}/01.01_comprehensive_test_ubl.xml"
MINIMAL = f"{CIUS}/01.05_minimal_test_ubl.xml"
API = "/api/v1/invoices"
BOMB = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol0 "lol">\n'
        + "".join(f' <!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">\n' for i in range(1, 10))
        + "]>\n<Invoice>&lol9;</Invoice>\n").encode()


def renumber(data: bytes, number: str) -> bytes:
    """A distinct invoice: the same file with another invoice number (BT-1)."""
    out = data.replace(b"<cbc:ID>1234567</cbc:ID>", f"<cbc:ID>{number}</cbc:ID>".encode(), 1)
    assert out != data
    return out


@dataclass
class Server:
    url: str
    ctx: Context  # for setting up suppliers and tokens, as the CLI would

    def supplier(self, name: str) -> tuple[int, str]:
        """A new supplier and a valid token for it."""
        row = save_supplier(self.ctx, SupplierData(name))
        assert row.id is not None
        return row.id, create_token(self.ctx, row.id, "test")[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def serve(settings: Settings) -> Iterator[Callable[..., Server]]:
    """Start the app (with settings overrides) in uvicorn on a free loopback port."""
    running: list[tuple[uvicorn.Server, threading.Thread, Context]] = []

    def start(**overrides: Any) -> Server:
        app_settings = settings.model_copy(update=overrides)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(app_settings), host="127.0.0.1",
                                               port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        ctx = open_context(app_settings)
        running.append((server, thread, ctx))
        return Server(f"http://127.0.0.1:{port}", ctx)

    yield start
    for server, thread, ctx in running:
        server.should_exit = True
        thread.join(timeout=30)
        ctx.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_upload_with_token_gives_receipt_and_status(serve: Callable[..., Server],
                                                    corpus: Path) -> None:
    srv = serve()
    _, token = srv.supplier("Muster GmbH")
    data = (corpus / COMPREHENSIVE).read_bytes()
    with httpx.Client(base_url=srv.url, headers=bearer(token), timeout=60) as client:
        r = client.post(API, files={"file": ("rechnung.xml", data, "application/xml")})
        assert r.status_code == 200, r.text
        receipt = r.json()
        assert len(receipt["sha256"]) == 64 and isinstance(receipt["submission_id"], int)
        (doc,) = receipt["documents"]
        assert doc["verdict"] == "accept" and doc["status"] == "pending"
        assert doc["filename"] == "rechnung.xml"
        # what the supplier reads: its invoice by number and seller, and what happens next
        assert (doc["number"], doc["seller"], doc["pay_by"]) == ("1234567", "[Seller name]",
                                                                 "2018-04-13")
        assert receipt["supplier"] == "Muster GmbH" and receipt["received_at"]
        assert doc["status_de"] == "gültig, in Prüfung durch die Rechnungsstelle"
        assert doc["status_en"] == "valid, being reviewed by our accounts department"
        assert "nach der Freigabe wird sie zur Zahlung angewiesen" in doc["next_de"]
        assert "once approved it is passed on for payment" in doc["next_en"]
        assert {"rule_id", "flag", "level", "location", "message"} <= set(doc["findings"][0])

        raw = client.post(API, content=renumber((corpus / MINIMAL).read_bytes(), "R-1"),
                          params={"filename": "r1.xml"},
                          headers={"Content-Type": "application/xml"})
        assert raw.status_code == 200 and raw.json()["documents"][0]["verdict"] == "accept"

        status = client.get(f"{API}/{doc['invoice_id']}")
        assert status.status_code == 200
        assert status.json() == {"invoice_id": doc["invoice_id"], "number": "1234567",
                                 "status": "pending", "verdict": "accept",
                                 "pay_by": "2018-04-13",  # BT-9 of the sample
                                 "paid_on": None, "status_de": "gültig, in Prüfung durch die "
                                 "Rechnungsstelle", "status_en": "valid, being reviewed by our "
                                 "accounts department"}
        assert client.get("/openapi.json").json()["paths"][API]["post"]["requestBody"]
        assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}


def test_missing_wrong_and_revoked_tokens_are_refused(serve: Callable[..., Server],
                                                      corpus: Path) -> None:
    srv = serve()
    supplier_id, token = srv.supplier("Muster GmbH")
    revoked_id, revoked = create_token(srv.ctx, supplier_id)
    revoke_token(srv.ctx, revoked_id)
    data = (corpus / MINIMAL).read_bytes()
    with httpx.Client(base_url=srv.url, timeout=60) as client:
        for headers in ({}, bearer(token + "x"), bearer(revoked), {"Authorization": token}):
            r = client.post(API, content=data, headers=headers)
            assert r.status_code == 401, headers
            assert r.headers["www-authenticate"] == "Bearer"
            assert client.get(f"{API}/1", headers=headers).status_code == 401
    with Session(srv.ctx.engine) as s:
        assert s.exec(sql_select(func.count()).select_from(t.Submission)).one() == 0


def test_another_suppliers_invoice_is_not_visible(serve: Callable[..., Server],
                                                  corpus: Path) -> None:
    srv = serve()
    _, token_a = srv.supplier("A GmbH")
    _, token_b = srv.supplier("B GmbH")
    with httpx.Client(base_url=srv.url, timeout=60) as client:
        r = client.post(API, content=(corpus / MINIMAL).read_bytes(), headers=bearer(token_a))
        invoice_id = r.json()["documents"][0]["invoice_id"]
        assert client.get(f"{API}/{invoice_id}", headers=bearer(token_a)).status_code == 200
        register(srv.ctx, "alice")
        workflow.hold(srv.ctx, invoice_id, "alice", "Lieferschein fehlt")
        held = client.get(f"{API}/{invoice_id}", headers=bearer(token_a)).json()
        assert held["status"] == "pending"  # an internal hold is none of the supplier's business
        theirs = client.get(f"{API}/{invoice_id}", headers=bearer(token_b))
        missing = client.get(f"{API}/{invoice_id + 1000}", headers=bearer(token_b))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["detail"] == f"no invoice with id {invoice_id}"  # nothing more


def test_oversized_uploads_get_413(serve: Callable[..., Server]) -> None:
    srv = serve(max_upload_bytes=10_000)
    _, token = srv.supplier("Muster GmbH")
    big = b"<Invoice>" + b" " * 40_000 + b"</Invoice>"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while streaming
        for i in range(0, len(big), 4096):
            yield big[i:i + 4096]

    with httpx.Client(base_url=srv.url, headers=bearer(token), timeout=60) as client:
        assert client.post(API, content=big).status_code == 413
        assert client.post(API, content=chunks()).status_code == 413
        assert client.post(API, files={"file": ("big.xml", big)}).status_code == 413
        page = client.post("/upload", data={"token": token}, files={"file": ("big.xml", big)})
        assert page.status_code == 413 and "Upload größer als 10000 Bytes" in page.text
        assert client.get("/healthz").status_code == 200
    with Session(srv.ctx.engine) as s:
        assert s.exec(sql_select(func.count()).select_from(t.Submission)).one() == 0


def test_entity_bomb_and_xxe_are_refused_and_the_server_stays_up(
        serve: Callable[..., Server], tmp_path: Path) -> None:
    srv = serve()
    _, token = srv.supplier("Muster GmbH")
    secret = tmp_path / "secret.txt"
    secret.write_text("geheim")
    xxe = (f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "{secret.as_uri()}">]>'
           '<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&e;'
           '</Invoice>').encode()
    with httpx.Client(base_url=srv.url, headers=bearer(token), timeout=60) as client:
        for body in (BOMB, xxe):
            r = client.post(API, content=body, headers={"Content-Type": "application/xml"})
            assert r.status_code == 422, r.text
            (doc,) = r.json()["documents"]
            assert doc["status"] == "quarantined" and doc["verdict"] is None
            assert "DTD" in doc["error"] or "entit" in doc["error"].lower()
            assert "geheim" not in r.text
        assert client.get("/healthz").json()["status"] == "ok"


def test_concurrent_burst_of_200_uploads_loses_and_doubles_nothing(
        serve: Callable[..., Server], corpus: Path) -> None:
    srv = serve()
    _, token = srv.supplier("Muster GmbH")
    template = (corpus / MINIMAL).read_bytes()
    bodies = [renumber(template, f"BURST-{i:03d}") for i in range(200)]

    async def burst() -> list[httpx.Response]:
        gate = asyncio.Semaphore(25)
        async with httpx.AsyncClient(base_url=srv.url, headers=bearer(token),
                                     timeout=300) as client:
            async def one(i: int, body: bytes) -> httpx.Response:
                async with gate:
                    return await client.post(API, files={"file": (f"b{i}.xml", body)})
            return await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses] == [200] * 200
    receipts = [r.json() for r in responses]
    assert len({r["submission_id"] for r in receipts}) == 200
    assert len({r["documents"][0]["invoice_id"] for r in receipts}) == 200
    assert {r["documents"][0]["verdict"] for r in receipts} == {"accept"}
    with Session(srv.ctx.engine) as s:
        numbers = [n or "" for n in s.exec(sql_select(t.Invoice.number)).all()]
        assert s.exec(sql_select(func.count()).select_from(t.Submission)).one() == 200
    assert sorted(numbers) == [f"BURST-{i:03d}" for i in range(200)]


def test_token_commands(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EINVOICE_DATABASE_URL", db_url)
    assert token_app.registered_commands  # registered under `einvoice supplier token`
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli_app, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.stdout

    run("init")  # whoever sets up the data directory is its first admin
    run("supplier", "add", "--name", "Muster GmbH")
    out = run("supplier", "token", "create", "--supplier", "1", "--label", "ERP")
    token = out.strip().splitlines()[-1]
    assert token.startswith("einv_") and len(token) > 40
    run("supplier", "token", "create", "--supplier", "99", code=2)
    assert "revoked" in run("supplier", "token", "revoke", "1")
    run("supplier", "token", "revoke", "7", code=2)
    assert "serve" in run("--help")


# ------------------------------------------------------------------ the page in a browser


def _above_4(fd: int) -> int:
    """Move a descriptor above 4, so that the redirections "3<&N 4>&M" cannot clobber it."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class Browser:
    """Headless Chromium driven over the DevTools protocol on ``--remote-debugging-pipe``
    (fd 3 in, fd 4 out, NUL-separated JSON): no extra package needed. Sandboxed as the
    service's own browser is (``views.chromium``), its profile in ``folder``."""

    def __init__(self, folder: Path) -> None:
        system.chromium()  # in CI a missing browser fails; elsewhere it skips
        cmd_in, self._to_browser = os.pipe()
        self._from_browser, cmd_out = os.pipe()
        cmd_in, cmd_out = _above_4(cmd_in), _above_4(cmd_out)
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{cmd_in} 4>&{cmd_out}',
             *browser_command(folder, "--lang=de", "--remote-debugging-pipe", "about:blank")],
            pass_fds=(cmd_in, cmd_out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            **browser_options(folder))
        for fd in (cmd_in, cmd_out):
            os.close(fd)
        self._buffer, self._next_id = b"", 0
        self._events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=1000,
                  height=1100, deviceScaleFactor=1, mobile=False)

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_browser], [], [],
                                        max(0.0, deadline - time.monotonic()))
            assert ready, "Chromium did not answer in time"
            chunk = os.read(self._from_browser, 65536)
            assert chunk, "Chromium closed the pipe"
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, session: bool = False, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 60
        while True:
            answer = self._message(deadline)
            if answer.get("id") == self._next_id:
                assert "error" not in answer, answer
                result: dict[str, Any] = answer["result"]
                return result
            self._events.append(answer)

    def wait_for_load(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            while self._events:
                if self._events.pop(0).get("method") == "Page.loadEventFired":
                    return
            self._events.append(self._message(deadline))

    def evaluate(self, script: str) -> Any:
        return self.call("Runtime.evaluate", session=True, expression=script,
                         returnByValue=True, awaitPromise=True)["result"].get("value")

    def screenshot(self, target: Path) -> None:
        shot = self.call("Page.captureScreenshot", session=True, format="png",
                         captureBeyondViewport=True)
        target.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


def test_upload_page_in_headless_chromium(serve: Callable[..., Server], corpus: Path,
                                          tmp_path: Path) -> None:
    srv = serve()
    _, token = srv.supplier("Muster GmbH")
    with browser_folder() as folder:
        _upload_in_browser(srv.url, token, corpus, folder, tmp_path)
    for shot in ("upload-page.png", "receipt-page.png"):
        facts = system.png_facts(tmp_path / shot)
        assert facts.width == 1000 and facts.height >= 1100, (shot, facts)  # the viewport set
        assert facts.colours > 16 and facts.dark_share > 0.001, (shot, facts)  # not blank


def _upload_in_browser(url: str, token: str, corpus: Path, folder: Path, shots: Path) -> None:
    """Open the upload page, fill it in and send the sample; a screenshot of each page."""
    invoice = shutil.copy(corpus / COMPREHENSIVE, folder)  # where the browser's account reads
    browser = Browser(folder)
    try:
        browser.call("Page.navigate", session=True, url=url + "/")
        browser.wait_for_load()
        assert browser.evaluate("document.documentElement.lang") == "de"
        assert "Rechnung hochladen" in browser.evaluate("document.body.innerText")
        browser.screenshot(shots / "upload-page.png")
        # a real form submission: type the token, choose the file, press the button
        browser.evaluate(f"document.getElementById('token').value = {json.dumps(token)}")
        root = browser.call("DOM.getDocument", session=True)["root"]["nodeId"]
        file_input = browser.call("DOM.querySelector", session=True, nodeId=root,
                                  selector="#file")["nodeId"]
        browser.call("DOM.setFileInputFiles", session=True, nodeId=file_input,
                     files=[str(invoice)])
        browser.evaluate("document.querySelector('button[type=submit]').click()")
        browser.wait_for_load()
        text = browser.evaluate("document.body.innerText")
        assert "Eingangsbestätigung" in text and "Prüfergebnis: angenommen" in text
        assert "EINVOICE-LEITWEG-1" in text
        assert "Rechnung 1234567 von [Seller name]" in text and "Muster GmbH" in text
        assert "Wie es weitergeht:" in text and "What happens next:" in text
        browser.screenshot(shots / "receipt-page.png")
    finally:
        browser.close()


def test_receipt_page_rendered_from_a_plain_post(serve: Callable[..., Server], corpus: Path,
                                                 tmp_path: Path) -> None:
    """The receipt of an invalid invoice names the broken rules in readable words."""
    srv = serve()
    _, token = srv.supplier("Muster GmbH")
    broken = (corpus / MINIMAL).read_bytes().replace(b"<cbc:ID>1234567</cbc:ID>", b"", 1)
    r = httpx.post(srv.url + "/upload", data={"token": token},
                   files={"file": ("kaputt.xml", broken, "application/xml")}, timeout=60)
    assert r.status_code == 200 and "Prüfergebnis: <strong>abgelehnt" in r.text
    assert "BR-02" in r.text and "Fehler" in r.text
    assert "Bitte korrigieren Sie die Rechnung" in r.text  # what happens next, in both
    assert "Please correct the invoice" in r.text  # languages
    wrong = httpx.post(srv.url + "/upload", data={"token": "nope"},
                       files={"file": ("x.xml", broken)}, timeout=60)
    assert wrong.status_code == 401 and 'role="alert"' in wrong.text
    page = tmp_path / "receipt.html"
    page.write_text(r.text, encoding="utf-8")
    shown = lxml.html.document_fromstring(system.dump_dom(page)).text_content()
    assert "Prüfergebnis: abgelehnt" in " ".join(shown.split())
    assert "BR-02" in shown and "kaputt.xml" in shown
    shot = tmp_path / "receipt-rejected.png"
    run_chromium(page, f"--screenshot={shot}", "--window-size=1000,1400")
    facts = system.png_facts(shot)
    assert (facts.width, facts.height) == (1000, 1400)
    assert facts.colours > 16 and facts.dark_share > 0.001, facts  # a page with text on it
