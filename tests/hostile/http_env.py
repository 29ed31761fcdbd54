"""The upload server's world: the real ASGI app (its lifespan running) reached through httpx,
a genuine supplier and another one with their tokens."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from einvoice.approval.suppliers import SupplierData, save_supplier
from einvoice.approval.tokens import create_token
from einvoice.context import Context
from einvoice.intake.http import create_app
from einvoice.lifecycle import Status
from tests.hostile import documents as d
from tests.hostile.harness import MB, Cases, Env

cases = Cases()
API = "/api/v1/invoices"
LIMIT = 8 * MB  # max_upload_bytes of this group
GENUINE_VAT = "ATU123456789"  # BT-31 of the comprehensive sample, whose seller is on file
SAMPLE_IBANS = ("DE79000000001234567890", "DE16000000002345678901")
HOSTILE = ("[/] [link=https://evil.example]Stadtwerke[/link] <script>alert(1)</script> "
           "<img src=x onerror=alert(2)> {{7*7}} ${7*7} \u202eevil a\u200bb")


@dataclass
class HttpEnv(Env):
    app: Any = None
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    client: httpx.AsyncClient | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, url: str, token: str | None = "genuine",
                **options: Any) -> httpx.Response:
        assert self.client is not None
        headers = dict(options.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {self.tokens.get(token, token)}"
        return self.loop.run_until_complete(
            self.client.request(method, url, headers=headers, **options))

    def upload(self, data: bytes, name: str = "r.xml", ctype: str = "application/xml",
               token: str | None = "genuine") -> httpx.Response:
        with self.timed():
            return self.request("POST", API, token, files={"file": (name, data, ctype)})

    def sample(self, number: str) -> bytes:
        return d.renumber(d.corpus_bytes(self.corpus, d.COMPREHENSIVE), number)


def make(ctx: Context, corpus: Path, work: Path) -> HttpEnv:
    env = HttpEnv(ctx, corpus, work)
    for key, data in (("genuine", SupplierData("[Seller name]", GENUINE_VAT, ibans=SAMPLE_IBANS,
                                                email="rechnung@seller.example")),
                      ("alpha", SupplierData("Alpha GmbH", "DE111111111",
                                             email="rechnung@alpha.example"))):
        supplier = save_supplier(ctx, data)
        assert supplier.id is not None
        env.tokens[key] = create_token(ctx, supplier.id, "hostile")[1]
    env.app = create_app(ctx.settings)
    env.loop.run_until_complete(env.stack.enter_async_context(
        env.app.router.lifespan_context(env.app)))
    env.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=env.app),
                                   base_url="http://einvoice", timeout=30)
    return env


def alive(env: HttpEnv) -> None:
    number = env.unique("OK")
    data = d.renumber(d.corpus_bytes(env.corpus, d.MINIMAL), number)
    r = env.request("POST", API, files={"file": (f"{number}.xml", data, "application/xml")})
    assert r.status_code == 200, r.text[:500]
    (doc,) = r.json()["documents"]
    assert doc["status"] == Status.PENDING and doc["number"] == number, doc


def close(env: HttpEnv) -> None:
    assert env.client is not None
    env.loop.run_until_complete(env.client.aclose())
    env.loop.run_until_complete(env.stack.aclose())
    env.loop.close()




def unread(env: HttpEnv, r: httpx.Response, data: bytes, *words: str) -> None:
    """Answered 422 with a receipt saying why, nothing of /etc/passwd in it, original kept."""
    assert r.status_code == 422, (r.status_code, r.text[:500])
    (doc,) = r.json()["documents"]
    assert doc["status"] == Status.QUARANTINED, doc
    for word in words:
        assert word in doc["error"], (word, doc["error"])
    assert "root:x:0:0" not in r.text
    env.kept(data)


def headers_clean(r: httpx.Response) -> None:
    assert "x-injected" not in r.headers, r.headers
    for name, value in r.headers.multi_items():
        assert "\r" not in value and "\n" not in value, (name, value)
