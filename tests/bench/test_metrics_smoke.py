"""Smoke test of bench.metrics: a tiny SQLite run against a real receiver, and the worker table."""

from __future__ import annotations

import pytest

from bench.metrics import main
from bench.metrics_report import END, START, MetricsReport, ScrapeResult, Timing, WorkerRun, render


def test_a_tiny_run_scrapes_a_real_receiver_and_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--events", "300", "--rounds", "3", "--no-postgres", "--worker-events", "0", "--no-write"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert text.startswith(START) and text.rstrip().endswith(END)
    assert "| `/healthz` (baseline, no SQL) |" in text
    assert "| `/metrics`, 300 events |" in text
    assert "Not measured: `--worker-events 0`." in text
    assert "FROM events" in text  # the collector's queries, with their plans


def test_the_worker_table_compares_metrics_on_with_off() -> None:
    def run(on: bool, cpu: float) -> WorkerRun:
        return WorkerRun(on, 100, 100, 59.0, 60.0, cpu, 180.0, 900.0, 0.1, served=on)

    metrics = Timing("`/metrics`", [5.0], 900)
    scrape = ScrapeResult("SQLite", 10, Timing("`/healthz`", [1.0, 2.0], 15), metrics, metrics, metrics, [])
    report = MetricsReport(
        "python -m bench.metrics",
        "now",
        {"cpu": "test"},
        2,
        [scrape],
        [run(False, 16.0), run(True, 20.0), run(True, 22.0), run(False, 16.0)],
        worker_shape="2 x threads -c 32",
    )
    section = render(report)
    assert "| off (baseline) | 100 | 100 | 59.0 | 60.0 | 16.0 | 180 / 900 | 0.10 | none |" in section
    assert "+31.2% worker CPU per event (21.0 against 16.0 ms)" in section
    assert "Runs of the same setting differ by up to 10% in worker CPU per event" in section
    assert "at most +10% CPU per event: **missed**" in section
    assert "- SQLite: p95 5.0 ms, +3.5 ms at the median over `/healthz`: met" in section
