"""Where the worker's CPU goes: ``py-spy record --gil`` on the worker during the load, summarised.

py-spy is not one of eduhook's dependencies; ``--profile`` needs it in the venv
(``.venv/bin/pip install py-spy``). Only samples of the thread holding the GIL are kept, so the
figures say what the one Python core of a threads-pool worker is busy with.
"""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import VENV_BIN, BenchError, Child, Children

# First match wins; a frame is "pkg/module.py" as py-spy prints it (or a full path).
BUCKETS = (
    ("sqlalchemy/", "SQLAlchemy"),
    ("psycopg", "psycopg"),
    ("httpx/", "httpx/httpcore"),
    ("httpcore/", "httpx/httpcore"),
    ("h11/", "httpx/httpcore"),
    ("pydantic", "pydantic"),
    ("celery/", "Celery/kombu"),
    ("kombu/", "Celery/kombu"),
    ("billiard/", "Celery/kombu"),
    ("redis/", "redis-py"),
    ("logging/", "logging"),
    ("handlers/", "eduhook handlers"),
    ("workers/", "eduhook worker/ledger"),
    ("eduhook/", "eduhook worker/ledger"),
    ("json/", "json"),
)


def py_spy() -> str:
    found = VENV_BIN / "py-spy"
    if found.exists():
        return str(found)
    on_path = shutil.which("py-spy")
    if on_path is None:
        raise BenchError("--profile needs py-spy: .venv/bin/pip install py-spy")
    return on_path


def start_profiler(children: Children, pid: int, output: Path, duration: float) -> Child:
    command = [
        py_spy(), "record", "--pid", str(pid), "--rate", "200", "--duration", str(max(1, round(duration))),
        "--format", "raw", "--output", str(output), "--gil", "--nolineno", "--nonblocking",
    ]  # fmt: skip
    return children.spawn("py-spy", command, {"PATH": "/usr/bin:/bin"}, output.with_suffix(".log"))


def _bucket(frame: str) -> str:
    for needle, name in BUCKETS:
        if needle in frame:
            return name
    return "other"


@dataclass
class Profile:
    samples: int = 0
    tasks: int = 0  # samples inside a task (under workers/processor.py); the rest is Celery's own loop
    by_code: Counter[str] = field(default_factory=Counter)  # innermost eduhook function → samples
    own: Counter[str] = field(default_factory=Counter)  # library of the leaf frame → samples

    def lines(self, top: int = 10) -> list[str]:
        if not self.samples:
            return ["- profile: no samples (py-spy saw no thread holding the GIL)"]

        def pct(n: int) -> str:
            return f"{n / self.samples:.0%}"

        by_code = ", ".join(f"`{name}` {pct(n)}" for name, n in self.by_code.most_common(top))
        own = ", ".join(f"{name} {pct(n)}" for name, n in self.own.most_common())
        return [
            f"- {self.samples:,} samples of the thread holding the GIL (py-spy --gil, 200/s);"
            f" {pct(self.tasks)} inside tasks, {pct(self.samples - self.tasks)} outside them (Celery's"
            " consumer loop: receiving, acking, task events).",
            f"- by the innermost eduhook function on the stack (what it spends under it): {by_code}",
            f"- by the library that was running (leaf frame): {own}",
        ]


def _name(frame: str) -> str:
    """``send (handlers/partners/_http.py)`` → ``_http.send``; methods keep their class."""
    function, _, where = frame.partition(" (")
    return function if "." in function else f"{Path(where.rstrip(')')).stem}.{function}"


def _own_code(frame: str) -> bool:
    return any(p in frame for p in ("handlers/", "workers/", "eduhook/")) and "eduhook/cli/" not in frame


def summarise(raw: Path) -> Profile:
    """Read py-spy's raw (collapsed) output: ``frame;frame;…;leaf count`` per line."""
    profile = Profile()
    if not raw.exists():
        return profile
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        profile.samples += count
        ours = [f for f in frames if _own_code(f)]
        if any("workers/processor.py" in f for f in frames):
            profile.tasks += count
            profile.by_code[_name(ours[-1])] += count
        else:
            profile.by_code["(outside tasks: Celery)"] += count
        profile.own[_bucket(frames[-1])] += count
    return profile
