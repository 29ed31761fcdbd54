"""The security headers (``views.policy.HEADERS``: Content-Security-Policy, nosniff, no framing,
no referrer) on every response of the upload server: pages, JSON, errors, the 413 of the body
limit and the bare 500 of an unexpected exception alike."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from einvoice.views.policy import HEADERS


class SecurityHeaders:
    """ASGI middleware, the outermost of the app's own: it sets ``HEADERS`` on each response
    start, and answers an exception that escaped before any response with a 500 that carries
    them (Starlette's own 500 is sent outside every middleware), then lets it propagate to be
    logged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            if not started:
                await PlainTextResponse("Internal Server Error", 500)(scope, receive,
                                                                      with_headers)
            raise
