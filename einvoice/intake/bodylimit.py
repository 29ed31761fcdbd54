"""The upload size limit, enforced while the body streams in: a declared Content-Length is
checked before anything is read, a chunked body chunk by chunk, so an oversized request is
refused (HTTP 413) before it fills memory or disk."""

from __future__ import annotations

from collections.abc import Collection

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPART_SLACK = 64 * 1024  # boundaries, part headers and the token field around the file


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"Upload größer als {limit} Bytes / upload exceeds {limit} bytes")


class BodyLimit:
    """ASGI middleware: bodies sent to ``paths`` may carry at most ``limit`` bytes of file
    (plus the multipart framing); other paths pass untouched."""

    def __init__(self, app: ASGIApp, limit: int, paths: Collection[str]) -> None:
        self.app = app
        self.limit = limit
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        multipart = headers.get(b"content-type", b"").startswith(b"multipart/")
        limit = self.limit + (MULTIPART_SLACK if multipart else 0)
        declared = int(headers.get(b"content-length", b"0") or 0)
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            if declared > limit:
                raise too_large(self.limit)
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise too_large(self.limit)
            return message

        await self.app(scope, limited, send)
