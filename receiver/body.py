"""Reading a webhook's body within its size limit and its deadline, and noticing a client that left.

A client may send its body one byte a second, or hang up halfway. Neither is an error of
eduhook's: each is one INFO line and an answer (408, or 499 for a client no longer there to read
it), never a traceback, and nothing of the request is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.requests import ClientDisconnect, Request

log = logging.getLogger("eduhook.receiver")


class BodyTooLarge(Exception):
    """The body is, or says it is, larger than the limit."""


class BodyTooSlow(Exception):
    """The body was not complete within the body timeout."""


class ClientGone(Exception):
    """The client disconnected before its body was complete."""


def _client(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else "unknown"


def _declared_length(request: Request) -> int | None:
    declared = request.headers.get("content-length")
    return int(declared) if declared is not None and declared.isdigit() else None


async def read_body(request: Request, *, limit: int, within: float) -> bytes:
    """The whole body, refusing to read past ``limit`` bytes or for longer than ``within`` seconds."""
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(within), contextlib.aclosing(request.stream()) as stream:
            async for chunk in stream:
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge
                chunks.append(chunk)
    except TimeoutError:
        log.info(
            "client %s sent %d of %s body bytes in %g s: answered 408, nothing recorded",
            _client(request), size, declared if declared is not None else "?", within,
        )  # fmt: skip
        raise BodyTooSlow from None
    except ClientDisconnect:
        log.info(
            "client %s disconnected after %d of %s body bytes; nothing recorded",
            _client(request), size, declared if declared is not None else "?",
        )  # fmt: skip
        raise ClientGone from None
    return b"".join(chunks)
