"""The receiver benchmark's markdown section, and replacing it in ``bench/RESULTS.md``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.phases import FixedRate, SaturatedRounds
from bench.results import replace_section
from bench.worker_delay import ToWorker

START = "<!-- bench.receiver: start (generated; re-running replaces this section) -->"
END = "<!-- bench.receiver: end -->"

THROUGHPUT_TARGET = 0.20  # of the bare baseline
P99_TARGET_MS = 10.0  # at 500 req/s offered


@dataclass
class TargetResult:
    name: str
    saturated: SaturatedRounds = field(default_factory=SaturatedRounds)
    rate: FixedRate = field(default_factory=lambda: FixedRate(0.0))
    worker: ToWorker | None = None
    skipped: str | None = None


@dataclass
class Report:
    command: str
    when: str
    settings: dict[str, str]
    machine: dict[str, str]
    targets: list[TargetResult]
    round_loads: list[float]

    @property
    def baseline(self) -> TargetResult | None:
        return next((t for t in self.targets if t.saturated.rounds and t.name.startswith("bare")), None)


def _ms(value: float) -> str:
    return f"{value:.2f}"


def _list(values: list[float], fmt: str) -> str:
    return ", ".join(format(v, fmt) for v in values)


def ratios(report: Report, target: TargetResult) -> tuple[float, list[float]]:
    """(median receiver / median bare, the same ratio round by round)."""
    base = report.baseline
    if base is None or not target.saturated.rounds or not base.saturated.median_rps:
        return 0.0, []
    per_round = [t / b for t, b in zip(target.saturated.rps, base.saturated.rps, strict=False) if b]
    return target.saturated.median_rps / base.saturated.median_rps, per_round


def _cell(report: Report, t: TargetResult, row: str) -> str:
    s, r, w = t.saturated, t.rate, t.worker
    if t.skipped:
        return "skipped"
    if row == "rps":
        return f"{s.median_rps:,.0f} ({_list(s.rps, ',.0f')})" if s.rounds else "-"
    if row == "ratio":
        ratio, per_round = ratios(report, t)
        return f"{ratio:.3f} ({_list(per_round, '.3f')})" if per_round else "-"
    if row == "errors":
        return f"{s.total('non_2xx')} / {s.total('status_200')} / {s.total('socket_errors')}"
    if row == "cpu":
        return f"{s.server_cpu_us:.0f}" if s.rounds else "-"
    if row == "latency":
        return f"{_ms(r.latency_ms(0.5))} / {_ms(r.latency_ms(0.99))}" if r.runs else "-"
    if row == "p99_rounds":
        return _list(r.p99_per_run, ".1f") if r.runs else "-"
    if row == "rate_cpu":
        return f"{r.cpu_us('server'):.0f}" if r.runs else "-"
    if row == "worker":
        return f"{_ms(w.p50_ms)} / {_ms(w.p99_ms)}" if w else "-"
    raise ValueError(row)


_ROWS = [
    ("rps", "Saturated throughput at 64 connections, req/s: median (each round)"),
    ("ratio", f"... relative to bare Starlette (target >= {THROUGHPUT_TARGET:.2f})"),
    ("errors", "... non-2xx / 200-duplicate / socket errors, all rounds"),
    ("cpu", "Server CPU per request, saturated (µs)"),
    ("latency", f"Ack latency p50 / p99 at 500 req/s open loop, ms (target p99 <= {P99_TARGET_MS:.0f})"),
    ("p99_rounds", "... p99 of each round, ms"),
    ("rate_cpu", "Server CPU per request at 500 req/s (µs)"),
    ("worker", "2xx -> worker starts the event, p50 / p99 at 100 req/s, ms"),
]


def _verdicts(report: Report) -> list[str]:
    lines = []
    for t in report.targets:
        if t.skipped or t.name.startswith("bare"):
            continue
        parts = []
        ratio, _ = ratios(report, t)
        if ratio:
            parts.append(
                f"throughput {ratio:.3f} of bare ({'met' if ratio >= THROUGHPUT_TARGET else '**missed**'})"
            )
        if t.rate.runs:
            p99 = t.rate.latency_ms(0.99)
            met = p99 <= P99_TARGET_MS and t.rate.kept_rate
            parts.append(f"p99 {p99:.2f} ms at 500 req/s ({'met' if met else '**missed**'})")
        lines.append(f"- {t.name}: " + "; ".join(parts))
    return lines


def _details(t: TargetResult) -> list[str]:
    lines = [f"**{t.name}**", ""]
    if t.skipped:
        return [*lines, f"- skipped: {t.skipped}", ""]
    for number, s in enumerate(t.saturated.rounds, start=1):
        w = s.wrk
        redis = f", Redis {s.redis_cpu_us:.0f}" if s.redis_cpu_us is not None else ""
        rows = f"; ledger rows added {s.ledger_rows_added:,}" if s.ledger_rows_added is not None else ""
        lines.append(
            f"- saturated, round {number}: {w.requests_per_sec:,.0f} req/s ({w.requests:,} in"
            f" {w.seconds:.1f} s; 202: {w.status_202:,}, 200: {w.status_200}, other: {w.status_other},"
            f" socket errors: {w.socket_errors}{rows}); wrk latency p50 {_ms(w.latency_p50_ms)} / p99"
            f" {_ms(w.latency_p99_ms)} ms (closed loop); CPU µs/request: server {s.server_cpu_us:.0f},"
            f" wrk {s.generator_cpu_us:.0f}{redis}, everything else {s.other_cpu_us:.0f};"
            f" machine {s.machine_busy:.0%} busy"
        )
    if t.rate.runs:
        lines += _rate_lines(f"{t.rate.offered:.0f} req/s", t.rate)
    if w2 := t.worker:
        lines += _rate_lines(f"{w2.load.offered:.0f} req/s with worker", w2.load)
        lines.append(
            f"- 2xx -> handler start: {w2.started}/{w2.acked} started; p50 {_ms(w2.p50_ms)} ms,"
            f" p99 {_ms(w2.p99_ms)} ms, max {_ms(w2.max_ms)} ms"
        )
    return [*lines, ""]


def _rate_lines(label: str, r: FixedRate) -> list[str]:
    worker = f", worker {r.cpu_us('worker'):.0f}" if any("worker" in run.cpu for run in r.runs) else ""
    lines = [
        f"- {label}, {len(r.runs)} run(s): {len(r.samples):,} requests, started at"
        f" {_list(r.achieved_rates, '.1f')} req/s; 2xx {r.ok:,}, non-2xx {r.non_2xx}; latency from due time"
        f" p50 {_ms(r.latency_ms(0.5))}, p99 {_ms(r.latency_ms(0.99))}, max {_ms(r.max_ms)} ms; from send"
        f" p50 {_ms(r.from_send_ms(0.5))}, p99 {_ms(r.from_send_ms(0.99))} ms; generator lag p99"
        f" {_ms(r.lag_p99_ms)} ms; up to {r.connections} connections; CPU µs/request: server"
        f" {r.cpu_us('server'):.0f}, generator {r.cpu_us('generator'):.0f}{worker}; machine"
        f" {r.machine_busy:.0%} busy"
    ]
    lines += [f"  - **rate not kept**: {n}" for n in r.notes]
    return lines


def render(report: Report) -> str:
    live = report.targets
    lines = [
        START,
        "## Receiver benchmark",
        "",
        f"Measured {report.when} with `{report.command}`.",
        "",
        "| | " + " | ".join(t.name for t in live) + " |",
        "|---|" + "---:|" * len(live),
    ]
    for key, label in _ROWS:
        lines.append(f"| {label} | " + " | ".join(_cell(report, t, key) for t in live) + " |")
    loads = _list([100 * x for x in report.round_loads], ".0f")
    lines += [
        "",
        "Targets:",
        *_verdicts(report),
        "",
        f"Machine busy with other work just before each round: {loads} %.",
        "",
        "### Details",
        "",
    ]
    for t in live:
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
  `uvicorn.run` defaults (uvloop, httptools), on 127.0.0.1, all started together and stopped by PID.
- Rounds: the machine is shared, so each round measures every target back to back (rotating the order)
  after waiting, bounded, for other work to calm down. Throughput is the median over rounds and the ratio
  is median over median (per-round ratios in brackets); latency percentiles pool every round's requests.
- Saturated: `wrk -t1 -c64` with a Lua `request()` that renders each body; statuses counted in Lua. Ledger
  rows can exceed the 202s wrk counted by up to 64: requests in flight when wrk stops are still recorded.
- Fixed rate: an open-loop generator (asyncio on uvloop, keep-alive pool) starts request *i* at
  `t0 + i/rate` whatever came back, and measures latency from that due time (no coordinated omission);
  "from send" leaves out time spent waiting for the generator or a free connection.
- CPU per request: utime+stime from `/proc/<pid>/stat` before/after, divided by requests;
  "everything else" is machine busy time (`/proc/stat`) minus the measured processes (for PostgreSQL it
  is mostly the database; it also holds any other load on the machine).
- Worker delay: `eduhook worker --pool threads`; the handler stores `time.time()` when it starts each
  event (HSET `bench:started`), compared with the wall-clock time the 2xx reached the generator."""


def write_section(path: Path, section: str) -> None:
    """Replace the receiver section of ``path`` (or append it), keeping every other section."""
    replace_section(path, section, start=START, end=END)
