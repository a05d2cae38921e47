"""Smoke test of the receiver benchmark's parts: bodies, wrk parsing, open-loop pacing, RESULTS.md."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import orjson
from starlette.types import ASGIApp

from bench.bare_app import create_app
from bench.openloop import open_loop, run_open_loop
from bench.payloads import body_template
from bench.report import END, START, write_section
from bench.wrkrun import _parse
from receiver.envelope import parse_envelope
from sandbox.server import RunningServer

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:8000/webhooks/eduframe
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.39ms    1.01ms  20.11ms   91.02%
    Req/Sec    14.61k   512.34    15.20k    80.00%
  145432 requests in 10.00s, 20.56MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  14543.20
Transfer/sec:      2.06MB
BENCH_STATUS 145400 25 7
BENCH_LATENCY 4100 8650 20110
"""


def test_bodies_are_unique_valid_envelopes_of_about_one_kilobyte() -> None:
    template = body_template("run1")
    first, second = (parse_envelope(orjson.loads(template.render(n))) for n in (1, 2))
    assert first.event == "order.approved"
    assert first.dedup_key != second.dedup_key
    assert 900 <= template.size <= 1300


def test_wrk_output_is_parsed_with_status_counts_from_lua() -> None:
    result = _parse(WRK_OUTPUT)
    assert (result.requests, result.requests_per_sec) == (145432, 14543.20)
    assert (result.status_202, result.status_200, result.non_2xx, result.socket_errors) == (145400, 25, 7, 3)
    assert (result.latency_p50_ms, result.latency_p99_ms) == (4.1, 8.65)


def test_open_loop_generator_keeps_its_timetable(serve: Callable[[ASGIApp], RunningServer]) -> None:
    server = serve(create_app())
    result = open_loop(
        run_open_loop("127.0.0.1", server.port, body_template("run2"), rate=100, duration=0.5, first_seq=1)
    )
    assert len(result.samples) == 50
    assert {s.status for s in result.samples} == {202}
    # The intended send times form the timetable: one request every 1/rate s (no wall-clock bounds).
    dues = [s.due for s in result.samples]
    assert [round(b - a, 9) for a, b in itertools.pairwise(dues)] == [round(1 / 100, 9)] * 49
    assert all(s.latency > 0 and s.sent >= s.origin and s.origin <= s.due for s in result.samples)


def test_results_section_is_replaced_and_other_sections_kept(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\n## Pipeline\nkept\n")
    write_section(path, f"{START}\nfirst\n{END}\n")
    write_section(path, f"{START}\nsecond\n{END}\n")
    text = path.read_text()
    assert "## Pipeline\nkept" in text
    assert "second" in text and "first" not in text
    assert text.count(START) == 1
