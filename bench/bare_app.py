"""The baseline: a bare Starlette app that parses the JSON body and answers 202, nothing else.

Run as ``python -m bench.bare_app --port N``. It is served exactly as ``eduhook serve`` serves the
receiver (one process, ``uvicorn.run`` defaults, so uvloop and httptools when installed, no access
log, no server header), so the difference between the two is the receiver's own work.
"""

from __future__ import annotations

import argparse

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.payloads import PATH

_ACCEPTED = orjson.dumps({"status": "accepted"})


def create_app() -> Starlette:
    async def webhook(request: Request) -> Response:
        try:
            orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return Response(b'{"error": "body is not valid JSON"}', 400, media_type="application/json")
        return Response(_ACCEPTED, 202, media_type="application/json")

    async def healthz(request: Request) -> Response:
        return Response(b'{"status": "ok"}', 200, media_type="application/json")

    return Starlette(
        routes=[Route(PATH, webhook, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    import uvicorn

    # The same arguments as eduhook.cli.processes.serve, so loop and HTTP parser match.
    uvicorn.run(
        create_app(),
        host=args.host,
        port=args.port,
        log_level="info",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
