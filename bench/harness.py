"""What every timed benchmark run shares: a hard time limit, and waiting for a quiet machine."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from types import FrameType

from bench.procs import BenchError, machine_busy_seconds


class RunTimeout(BenchError):
    """A run passed its hard time limit."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise RunTimeout("hard time limit reached")


@contextlib.contextmanager
def hard_limit(seconds: float) -> Iterator[None]:
    """Raise ``RunTimeout`` in the block once ``seconds`` pass (SIGALRM: main thread only)."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def background_load(seconds: float = 1.0) -> float:
    """Fraction of the machine's CPU busy over ``seconds``."""
    busy0, total0 = machine_busy_seconds()
    time.sleep(seconds)
    busy1, total1 = machine_busy_seconds()
    return (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0


def wait_for_quiet(limit: float, threshold: float = 0.15, tag: str = "pipeline") -> float:
    """Wait (at most ``limit`` s) until the machine is below ``threshold`` busy; return the last load."""
    deadline = time.monotonic() + limit
    load = background_load()
    while load > threshold and time.monotonic() < deadline:
        print(f"[{tag}] machine {load:.0%} busy with other work; waiting", file=sys.stderr)
        load = background_load(2.0)
    return load
