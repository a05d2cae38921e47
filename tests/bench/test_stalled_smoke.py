"""Smoke test of bench.stalled: its arguments, the stalled clients against a real receiver, the report."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.openloop import OpenLoopResult, Sample
from bench.phases import FixedRate, RateRun, Saturated
from bench.stalled import parse_args, round_order
from bench.stalled_clients import BODY, HEADERS, Tally, hold_all
from bench.stalled_report import END, START, Hold, Phase, ReceiverLog, StalledReport, render
from bench.wrkrun import WrkResult
from eduhook.settings import Settings
from tests.support.receiver_process import receiver_process


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: stalled clients never reach the database."""
    return f"sqlite:///{tmp_path / 'eduhook.db'}"


def test_arguments_are_bounded_and_quick_is_small() -> None:
    quick = parse_args(["--quick"])
    assert (quick.rounds, quick.duration, quick.stalled, quick.ramp) == (1, 3.0, 200, 3.0)
    assert quick.no_write
    assert parse_args([]).stalled == 500
    with pytest.raises(SystemExit):
        parse_args(["--stalled", "100000"])
    assert round_order(0) == ["baseline", "stalled"] and round_order(1) == ["stalled", "baseline"]


async def _hold_for(port: int, seconds: float, stats: Path) -> Tally:
    tally, stop = Tally(), asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    await hold_all("127.0.0.1", port, count=4, every=0.05, ramp=0.05, tally=tally, stop=stop, stats=stats)
    return tally


def test_stalled_clients_are_let_go_at_the_receivers_deadlines(
    eduhook_settings: Settings, tmp_path: Path
) -> None:
    stats = tmp_path / "stalled.json"
    with receiver_process(eduhook_settings, keep_alive=0.3, header=0.3, body=0.6) as receiver:
        tally = asyncio.run(_hold_for(receiver.port, 2.0, stats))
        lines = receiver.quiesce()
        recorded = receiver.recorded()
    # Two clients of each kind, each reconnecting as soon as the receiver closes it.
    assert tally.closed_unanswered[HEADERS] >= 4 and tally.answered[HEADERS] == {}
    assert tally.answered[BODY].get("408", 0) >= 2 and tally.closed_unanswered[BODY] == 0
    assert all(0.27 <= t < 1.0 for t in tally.lifetimes[HEADERS])
    assert all(0.55 <= t < 1.3 for t in tally.lifetimes[BODY])
    assert tally.open_now == 0 and max(count for _, count in tally.samples) == 4
    assert Tally.read(stats) == tally
    assert "Traceback" not in "\n".join(lines) and recorded == 0
    seen = ReceiverLog.read(receiver.log)
    assert seen.header_deadline == tally.closed_unanswered[HEADERS]
    assert seen.answered_408 == tally.answered[BODY]["408"]


def _phase(name: str, latency: float, rps: float) -> Phase:
    samples = [Sample(due=n / 100, latency=latency, status=202) for n in range(100)]
    result = OpenLoopResult(100.0, 1.0, samples, [0.0] * 100, 0.99, 2)
    phase = Phase(name, FixedRate(100.0, [RateRun(result, {"server": 0.05}, 0.3)]))
    wrk = WrkResult(int(rps * 10), 10.0, rps, int(rps * 10), 0, 0, 0, 5.0, 20.0, 30.0, "")
    phase.saturated.rounds.append(Saturated(wrk, 250.0, 20.0, 5.0, 1.0, 0.5, int(rps * 10)))
    phase.rss_mib.append(80.0)
    return phase


def test_the_report_compares_the_phases_and_checks_every_target() -> None:
    stalled = _phase("500 stalled connections", 0.004, 3000.0)
    tally = Tally(
        opened={HEADERS: 750, BODY: 500}, closed_unanswered={HEADERS: 500, BODY: 0},
        answered={HEADERS: {}, BODY: {"408": 250}}, samples=[(1.0, 499), (2.0, 500), (9.0, 3)],
    )  # fmt: skip
    stalled.holds.append(Hold(tally, (0.5, 5.0)))
    report = StalledReport(
        command="python -m bench.stalled", code="commit abc", when="now", machine={"cpu": "x"},
        args={"stalled": 500, "every": 1.0, "ramp": 10.0, "rounds": 1, "duration": 10.0, "rate": 100.0,
              "connections": 64},
        load_before=0.05, baseline=_phase("baseline", 0.002, 3500.0), stalled=stalled, warmup=None,
        receiver_alive=True, ledger_rows=65_230, receiver_log=ReceiverLog(500, 250, 250, 0, 0),
    )  # fmt: skip
    text = render(report)
    assert text.startswith(START) and text.rstrip().endswith(END)
    assert "| ... relative to the baseline | 1.000 | 0.857 |" in text
    assert "| Stalled connections open while measuring: min / median | - | 499 / 500 |" in text
    assert "target < 50 (met)" in text and "nothing else recorded" in text
    assert "- mid-body: 500 opened; 250 answered 408; 0 closed unanswered" in text
    assert report.targets_met
    report.receiver_log.tracebacks = 1
    assert not report.targets_met
