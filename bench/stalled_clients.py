"""``python -m bench.stalled_clients``: connections to the receiver held open the way slow clients hold them.

Half stop mid-headers, half mid-body. Each sends one more byte every ``--every`` seconds; when the
receiver closes it (or answers 408), a new one is opened at once, so the count stays where an
attacker would keep it. bench.stalled runs this in a process of its own, at a lower CPU priority,
so that its work does not delay the load generator or the receiver, and reads the tally it writes
to ``--stats`` (JSON) every half second, and a last time after SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.payloads import PATH, request_headers

HEADERS, BODY = "headers", "body"
KINDS = (HEADERS, BODY)
STALLED_LENGTH = 1090  # the Content-Length a mid-body client announces (the benchmark's body size)


def opening(kind: str, host: str, port: int) -> bytes:
    """What a stalled client sends at once: part of its headers, or all of them and no body."""
    start = f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
    if kind == HEADERS:
        return (start + "X-Stalled: ").encode()
    lines = [f"{k}: {v}" for k, v in request_headers().items()] + [f"Content-Length: {STALLED_LENGTH}"]
    return (start + "\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class Tally:
    """What the stalled clients saw, per kind; ``samples`` are (wall time, connections open)."""

    opened: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    closed_unanswered: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    answered: dict[str, dict[str, int]] = field(default_factory=lambda: {k: {} for k in KINDS})
    lifetimes: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    connect_errors: int = 0
    open_now: int = 0
    samples: list[tuple[float, int]] = field(default_factory=list)

    def write(self, path: Path) -> None:
        """Replace ``path`` in one step, so a reader never sees half a file."""
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(asdict(self)))
        os.replace(partial, path)

    @classmethod
    def read(cls, path: Path) -> Tally:
        data = json.loads(path.read_text())
        data["samples"] = [tuple(s) for s in data["samples"]]
        return cls(**data)

    def open_between(self, start: float, end: float) -> list[int]:
        return [count for when, count in self.samples if start <= when <= end]


async def _until_closed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, every: float) -> bytes:
    """Send a byte every ``every`` s until the server speaks, then read until it closes."""
    received = b""
    while True:
        try:
            async with asyncio.timeout(every):
                chunk = await reader.read(65536)
        except TimeoutError:
            if not received:
                writer.write(b" ")  # a space: a header value goes on, or JSON whitespace
            continue
        except ConnectionError:
            return received
        if not chunk:
            return received
        received += chunk


async def hold(kind: str, host: str, port: int, every: float, tally: Tally, first_delay: float) -> None:
    """One stalled client, reconnecting as soon as the server lets go, until cancelled."""
    await asyncio.sleep(first_delay)  # spreads the openings and the bytes over ``every``
    while True:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            tally.connect_errors += 1
            await asyncio.sleep(every)
            continue
        started = time.monotonic()
        tally.opened[kind] += 1
        tally.open_now += 1
        try:
            writer.write(opening(kind, host, port))
            received = await _until_closed(reader, writer, every)
        finally:
            tally.open_now -= 1
            writer.close()
        tally.lifetimes[kind].append(time.monotonic() - started)
        if received.startswith(b"HTTP/1.1 "):
            status = received[9:12].decode()
            tally.answered[kind][status] = tally.answered[kind].get(status, 0) + 1
        else:
            tally.closed_unanswered[kind] += 1


async def hold_all(
    host: str,
    port: int,
    *,
    count: int,
    every: float,
    ramp: float,
    tally: Tally,
    stop: asyncio.Event,
    stats: Path | None,
) -> None:
    """``count`` stalled clients (half of each kind), opened at random over ``ramp`` seconds, until
    ``stop`` is set; ``stats`` is rewritten every half second."""
    spread = random.Random(count)
    tasks = [
        asyncio.create_task(hold(KINDS[n % 2], host, port, every, tally, spread.uniform(0, ramp)))
        for n in range(count)
    ]
    try:
        while not stop.is_set():
            tally.samples.append((time.time(), tally.open_now))
            if stats is not None:
                tally.write(stats)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if stats is not None:
            tally.write(stats)


async def _main(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.call_later(args.duration, stop.set)  # never outlive the benchmark that forgot us
    await hold_all(
        args.host, args.port, count=args.count, every=args.every, ramp=args.ramp, tally=Tally(), stop=stop,
        stats=args.stats,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stalled_clients", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=500, help="connections held open (default 500)")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between bytes (default 1)")
    parser.add_argument("--ramp", type=float, default=10.0, help="open them over this many s (default 10)")
    parser.add_argument("--duration", type=float, default=600.0, help="stop after this long at most")
    parser.add_argument("--stats", type=Path, required=True, help="JSON file the tally is written to")
    parser.add_argument(
        "--nice", type=int, default=10, help="CPU priority to drop to (default 10): on a small machine the"
        " clients would otherwise take from the receiver CPU that a remote attacker spends on its own",
    )  # fmt: skip
    args = parser.parse_args(argv)
    os.nice(args.nice)
    try:
        import uvloop
    except ImportError:
        asyncio.run(_main(args))
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_main(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
