"""The receiver benchmark's markdown section, and replacing it in ``bench/RESULTS.md``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.phases import FixedRate, Saturated, ToWorker

START = "<!-- bench.receiver: start (generated; re-running replaces this section) -->"
END = "<!-- bench.receiver: end -->"

THROUGHPUT_TARGET = 0.20  # of the bare baseline
P99_TARGET_MS = 10.0  # at 500 req/s offered


@dataclass
class TargetResult:
    name: str
    saturated: Saturated | None = None
    rate: FixedRate | None = None
    worker: ToWorker | None = None
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Report:
    command: str
    when: str
    settings: dict[str, str]
    machine: dict[str, str]
    targets: list[TargetResult]

    @property
    def baseline(self) -> TargetResult | None:
        return next((t for t in self.targets if t.saturated and t.name.startswith("bare")), None)


def _ms(value: float) -> str:
    return f"{value:.2f}"


def _cells(report: Report, row: str) -> list[str]:
    base = report.baseline
    base_rps = base.saturated.wrk.requests_per_sec if base and base.saturated else 0.0
    cells = []
    for t in report.targets:
        s, r, w = t.saturated, t.rate, t.worker
        if t.skipped:
            cells.append("skipped")
        elif row == "rps":
            cells.append(f"{s.wrk.requests_per_sec:,.0f}" if s else "-")
        elif row == "ratio":
            cells.append(f"{s.wrk.requests_per_sec / base_rps:.3f}x" if s and base_rps else "-")
        elif row == "errors":
            cells.append(f"{s.wrk.non_2xx} / {s.wrk.status_200} / {s.wrk.socket_errors}" if s else "-")
        elif row == "cpu":
            cells.append(f"{s.server_cpu_us:.0f}" if s else "-")
        elif row == "latency":
            cells.append(f"{_ms(r.p50_ms)} / {_ms(r.p99_ms)}" if r else "-")
        elif row == "rate_cpu":
            cells.append(f"{r.server_cpu_us:.0f}" if r else "-")
        elif row == "worker":
            cells.append(f"{_ms(w.p50_ms)} / {_ms(w.p99_ms)}" if w else "-")
    return cells


_ROWS = [
    ("rps", "Saturated throughput, 64 connections (req/s)"),
    ("ratio", f"… relative to bare Starlette (target ≥ {THROUGHPUT_TARGET:.2f}x)"),
    ("errors", "… non-2xx / 200-duplicate / socket errors"),
    ("cpu", "Server CPU per request, saturated (µs)"),
    ("latency", f"Ack latency p50 / p99 at 500 req/s open loop (ms; target p99 ≤ {P99_TARGET_MS:.0f})"),
    ("rate_cpu", "Server CPU per request at 500 req/s (µs)"),
    ("worker", "2xx → worker starts the event, p50 / p99 at 100 req/s (ms)"),
]


def _verdicts(report: Report) -> list[str]:
    base = report.baseline
    lines = []
    for t in report.targets:
        if t.skipped or t.name.startswith("bare"):
            continue
        parts = []
        if t.saturated and base and base.saturated:
            ratio = t.saturated.wrk.requests_per_sec / base.saturated.wrk.requests_per_sec
            ok = "met" if ratio >= THROUGHPUT_TARGET else "**missed**"
            parts.append(f"throughput {ratio:.3f}x of bare ({ok})")
        if t.rate:
            ok = "met" if t.rate.p99_ms <= P99_TARGET_MS and t.rate.kept_rate else "**missed**"
            parts.append(f"p99 {t.rate.p99_ms:.2f} ms at 500 req/s ({ok})")
        lines.append(f"- {t.name}: " + "; ".join(parts))
    return lines


def _details(t: TargetResult) -> list[str]:
    lines = [f"**{t.name}**", ""]
    if t.skipped:
        return [*lines, f"- skipped: {t.skipped}", ""]
    if s := t.saturated:
        w = s.wrk
        redis = f", Redis {s.redis_cpu_us:.0f} µs" if s.redis_cpu_us is not None else ""
        lines.append(
            f"- saturated: {w.requests:,} requests in {w.seconds:.1f} s; 202: {w.status_202:,},"
            f" 200 (duplicate): {w.status_200}, other: {w.status_other}, socket errors: {w.socket_errors};"
            f" wrk latency p50 {_ms(w.latency_p50_ms)} ms, p99 {_ms(w.latency_p99_ms)} ms"
            " (closed loop)"
        )
        lines.append(
            f"- CPU per request while saturated: server {s.server_cpu_us:.0f} µs, wrk"
            f" {s.generator_cpu_us:.0f} µs{redis}, everything else {s.other_cpu_us:.0f} µs;"
            f" machine {s.machine_busy:.0%} busy"
        )
        if s.ledger_rows_added is not None:
            lines.append(
                f"- ledger rows added: {s.ledger_rows_added:,} (202 answers counted by wrk: {w.status_202:,};"
                " requests still in flight when wrk stops are recorded but not counted)"
            )
    if r := t.rate:
        lines += _rate_lines("500 req/s", r)
    if w2 := t.worker:
        lines += _rate_lines("100 req/s with worker", w2.load)
        lines.append(
            f"- 2xx → handler start: {w2.started}/{w2.acked} started; p50 {_ms(w2.p50_ms)} ms,"
            f" p99 {_ms(w2.p99_ms)} ms, max {_ms(w2.max_ms)} ms"
        )
    lines += [f"- note: {n}" for n in t.notes]
    return [*lines, ""]


def _rate_lines(label: str, r: FixedRate) -> list[str]:
    res = r.result
    lines = [
        f"- {label}: {len(res.samples):,} scheduled, started at {res.achieved_rate:.1f} req/s;"
        f" 2xx {r.ok:,}, non-2xx {r.non_2xx}; latency from due time p50 {_ms(r.p50_ms)}, p99"
        f" {_ms(r.p99_ms)}, max {_ms(r.max_ms)} ms; from send p50 {_ms(r.p50_from_send_ms)}, p99"
        f" {_ms(r.p99_from_send_ms)} ms; generator lag p99 {_ms(r.lag_p99_ms)} ms;"
        f" {res.connections_opened} connections; CPU per request: server {r.server_cpu_us:.0f} µs,"
        f" generator {r.generator_cpu_us:.0f} µs; machine {r.machine_busy:.0%} busy"
    ]
    lines += [f"  - **rate not kept**: {n}" for n in r.notes]
    return lines


def render(report: Report) -> str:
    names = [t.name for t in report.targets]
    lines = [
        START,
        "## Receiver benchmark",
        "",
        f"Measured {report.when} with `{report.command}`.",
        "",
        "| | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for key, label in _ROWS:
        lines.append(f"| {label} | " + " | ".join(_cells(report, key)) + " |")
    lines += ["", "Targets:", *_verdicts(report), "", "### Details", ""]
    for t in report.targets:
        lines += _details(t)
    lines += ["### Settings and machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in {**report.settings, **report.machine}.items()]
    lines += ["", METHOD, END]
    return "\n".join(lines) + "\n"


METHOD = """### How it is measured
- Every request is a ~1.1 KB `order.approved` envelope whose `event_data` (an Eduframe order) carries a
  unique sequence number, so no two share a dedup key (a duplicate would be answered 200, and is counted).
  The receiver runs with `EDUHOOK_HANDLER_MODULES=bench.handlers`, which handles `order.approved`, so each
  event is recorded *and* pushed to Redis before its 202.
- Servers: `eduhook serve --no-access-log` and `python -m bench.bare_app`, both one uvicorn process with
  `uvicorn.run` defaults (uvloop, httptools), on 127.0.0.1. Every process is started and stopped by PID.
- Saturated: `wrk -t1 -c64` with a Lua `request()` that renders each body; statuses counted in Lua.
- Fixed rate: an open-loop generator (asyncio on uvloop, keep-alive pool) starts request *i* at
  `t0 + i/rate` whatever came back, and measures latency from that due time (no coordinated omission);
  "from send" excludes time spent waiting for the generator or a free connection.
- CPU per request: utime+stime from `/proc/<pid>/stat` before/after, divided by requests;
  "everything else" is machine busy time (`/proc/stat`) minus the measured processes (for PostgreSQL it
  is mostly the database; it also holds any background load on the machine).
- Worker delay: `eduhook worker --pool threads`; the handler stores `time.time()` when it starts each
  event (HSET `bench:started`), compared with the wall-clock time the 2xx reached the generator."""


def write_section(path: Path, section: str) -> None:
    """Replace the receiver section of ``path`` (or append it), keeping every other section."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        text = head + section.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
