"""An open-loop load generator: requests leave on a fixed timetable whatever the server does.

Request ``i`` is due at ``t0 + i / rate``. A scheduler task starts each request at its due time
without waiting for earlier answers; a request waits for a free keep-alive connection (or opens
one, up to ``max_connections``). Latency is measured from the *due* time (or from the actual start
when the millisecond-coarse timer fires early), so a slow server shows up in the figures instead of
silently lowering the offered rate (no coordinated omission).
The result also says how late the scheduler itself was, so a generator that could not keep up
is reported rather than hidden.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.payloads import PATH, BodyTemplate, request_headers


@dataclass
class Sample:
    """One request: when it was due, when it left, how long it took, and what came back."""

    due: float
    origin: float = 0.0  # the due time, or the actual start if the timer woke early (uvloop's is ms-coarse)
    sent: float = 0.0
    latency: float = 0.0  # from ``origin`` to the end of the response
    status: int = 0  # 0: no answer (error or timeout)
    event_id: str | None = None
    acked_wall: float = 0.0  # time.time() when the answer arrived, for cross-process comparison


@dataclass
class OpenLoopResult:
    rate: float
    duration: float
    samples: list[Sample]
    scheduler_lag: list[float]  # how late the scheduler started each request (generator's own delay)
    schedule_span: float  # seconds from the first to the last request's actual start
    connections_opened: int
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def achieved_rate(self) -> float:
        """Requests started per second, over the time the scheduler actually took."""
        count = len(self.samples)
        return (count - 1) / self.schedule_span if count > 1 and self.schedule_span > 0 else 0.0


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


class _Pool:
    """Idle keep-alive connections; new ones are opened while under the cap, else callers wait."""

    def __init__(self, host: str, port: int, limit: int) -> None:
        self.host, self.port, self.limit = host, port, limit
        self.idle: asyncio.Queue[_Connection] = asyncio.Queue()
        self.open = 0
        self.opened = 0

    async def acquire(self) -> _Connection:
        if not self.idle.empty():
            return self.idle.get_nowait()
        if self.open < self.limit:
            self.open += 1
            self.opened += 1
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except BaseException:
                self.open -= 1
                raise
            return _Connection(reader, writer)
        return await self.idle.get()

    def release(self, connection: _Connection) -> None:
        self.idle.put_nowait(connection)

    def discard(self, connection: _Connection) -> None:
        self.open -= 1
        connection.close()

    def close_all(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait().close()


def _request_head(host: str, port: int, length: int) -> bytes:
    lines = [f"POST {PATH} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {length}"]
    lines += [f"{k}: {v}" for k, v in request_headers().items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _exchange(connection: _Connection, request: bytes) -> tuple[int, bytes]:
    connection.writer.write(request)
    head = await connection.reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await connection.reader.readexactly(length) if length else b""
    return status, body


async def run_open_loop(
    host: str,
    port: int,
    template: BodyTemplate,
    *,
    rate: float,
    duration: float,
    first_seq: int,
    max_connections: int = 256,
    warm_connections: int = 8,
    request_timeout: float = 5.0,
    read_event_ids: bool = False,
) -> OpenLoopResult:
    """Offer ``rate`` requests/s for ``duration`` seconds; each request is bounded by ``request_timeout``."""
    pool = _Pool(host, port, max_connections)
    for _ in range(warm_connections):
        pool.release(await pool.acquire())
    total = max(1, round(rate * duration))
    samples: list[Sample] = []
    lags: list[float] = []
    errors: dict[str, int] = {}

    async def one(sample: Sample, seq: int) -> None:
        body = template.render(seq)
        request = _request_head(host, port, len(body)) + body
        connection: _Connection | None = None
        try:
            async with asyncio.timeout(request_timeout):
                connection = await pool.acquire()
                sample.sent = time.perf_counter()
                status, answer = await _exchange(connection, request)
            sample.latency = time.perf_counter() - sample.origin
            sample.acked_wall = time.time()
            sample.status = status
            if read_event_ids and 200 <= status < 300:
                sample.event_id = orjson.loads(answer).get("event_id")
            pool.release(connection)
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            TimeoutError,
            ValueError,
        ) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            if connection is not None:
                pool.discard(connection)

    tasks: set[asyncio.Task[None]] = set()
    # perf_counter, not loop.time(): uvloop's clock ticks in whole milliseconds.
    start = time.perf_counter() + 0.02
    first_started = last_started = start
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        now = time.perf_counter()
        first_started = now if i == 0 else first_started
        last_started = now
        lags.append(now - due)
        sample = Sample(due=due, origin=min(due, now))
        samples.append(sample)
        task = asyncio.create_task(one(sample, first_seq + i))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        # Each task is bounded by `request_timeout`; this bound only guards against a bug here.
        await asyncio.wait(set(tasks), timeout=request_timeout + 5)
    for task in list(tasks):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    pool.close_all()
    return OpenLoopResult(
        rate=rate,
        duration=duration,
        samples=samples,
        scheduler_lag=lags,
        schedule_span=last_started - first_started,
        connections_opened=pool.opened,
        errors=errors,
    )


def open_loop(run: Coroutine[Any, Any, OpenLoopResult]) -> OpenLoopResult:
    """Run ``run_open_loop(...)`` on a fresh event loop (uvloop when installed, as the server uses)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(run)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(run)
