"""The pipeline benchmark's partner sandboxes, in a process of their own so their CPU stays apart.

    python -m bench.pipeline_sandboxes --students 1000 --latency 0.05 --ready /tmp/x/ready.json

Starts Eduframe (``--students`` students, each with one order and one enrollment in the routed
course), Penn Foster and Appsembler with ``serve_in_thread``, sets the latency on each through
``POST /_sandbox/faults``, writes their URLs and the seeded enrollments to ``--ready`` and runs
until SIGTERM. The Penn Foster app is wrapped in :class:`LearnerTimes`, which notes when each
``POST /learners`` arrived and when it was answered (the sandbox's own request log has no times).
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox import appsembler, eduframe, pennfoster
from sandbox.eduframe.seed import EduframeSeed
from sandbox.server import RunningServer, serve_in_thread

COURSE_CODE = "PF-BENCH"
LEARNERS_PATH = "/api/v4/b2b/learners"
TIMES_PATH = "/_bench/learner-times"
_STATES = ("PA", "NY", "CA", "TX", "OH")


class LearnerTimes:
    """Outermost ASGI middleware: for each ``POST /learners``, the wall time it arrived (before the
    sandbox's latency) and was answered, with the alternate ids it carried; served on TIMES_PATH."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == TIMES_PATH:
            await _send_json(send, self.calls)
            return
        if scope["method"] != "POST" or scope["path"] != LEARNERS_PATH:
            await self.app(scope, receive, send)
            return
        arrived = time.time()
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        call: dict[str, Any] = {"arrived": arrived, "alternate_ids": _alternate_ids(raw)}
        self.calls.append(call)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                call["answered"] = time.time()
                call["status"] = message["status"]
            await send(message)

        await self.app(scope, replay, timed_send)


def _alternate_ids(raw: bytes) -> list[str]:
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(items, list):
        return []
    ids = [item.get("learner_info", {}).get("alternate_id") for item in items if isinstance(item, dict)]
    return [i for i in ids if isinstance(i, str)]


async def _send_json(send: Send, data: Any) -> None:
    body = orjson.dumps(data)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def build_seed(students: int) -> tuple[dict[str, Any], list[tuple[int, int]]]:
    """Eduframe records: one routed course, ``students`` students each with one order and enrollment.

    Returns the seed and ``(enrollment id, student id)`` pairs in enrollment id order. Eduframe's
    rate limit is off: this benchmark measures the pipeline's own throughput, not the partner's budget.
    """
    seed = EduframeSeed(rate_limit=None)
    _, _, variant = seed.add_offering(code=COURSE_CODE, name="Pipeline benchmark course")
    for n in range(students):
        student = seed.add_user(
            first_name=("Ann", "José", "Li", "Omar")[n % 4], last_name=f"Bench{chr(65 + n % 26)}",
            email=f"bench.student{n}@example.com", phone=f"+1 (570) 555-{n % 10000:04d}",
            birth_date=f"199{n % 10}-0{1 + n % 9}-1{n % 10}", gender="F" if n % 2 else "M",
            address={"address": f"{n} Main Street", "postal_code": f"1850{n % 10}", "city": "Scranton",
                     "country": "US", "state_province": _STATES[n % len(_STATES)]},
        )  # fmt: skip
        seed.add_order(students=[student], variant_id=variant, status="active")
    pairs = sorted((e, int(r["student_id"])) for e, r in seed.records["enrollments"].items())
    return seed.to_dict(), pairs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--students", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every partner call")
    parser.add_argument("--ready", type=Path, required=True, help="JSON file written once all listen")
    args = parser.parse_args(argv)

    data, enrollments = build_seed(args.students)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    servers: dict[str, RunningServer] = {}
    try:
        servers["eduframe"] = serve_in_thread(eduframe.create_app(data))
        servers["pennfoster"] = serve_in_thread(LearnerTimes(pennfoster.create_app()))
        servers["appsembler"] = serve_in_thread(appsembler.create_app())
        with httpx.Client(timeout=5.0, trust_env=False) as client:
            for server in servers.values():
                answer = client.post(server.url + "/_sandbox/faults", json={"latency": args.latency})
                answer.raise_for_status()
                if answer.json()["latency"] != args.latency:
                    raise RuntimeError(f"{server.url} did not take the latency")
        ready: dict[str, Any] = {name: s.url for name, s in servers.items()}
        ready.update(pid=os.getpid(), latency=args.latency, enrollments=enrollments)
        partial = args.ready.with_suffix(".partial")
        partial.write_bytes(orjson.dumps(ready))
        partial.rename(args.ready)  # the benchmark never reads a half-written file
        stop.wait()
    finally:
        for server in servers.values():
            server.stop()


if __name__ == "__main__":
    main()
