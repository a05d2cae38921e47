"""Smoke test of bench.protection's pure parts: arguments, scenarios, the report."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bench.protection import parse_args, scenarios
from bench.protection_report import END, START, ProtectionReport, render
from bench.protection_run import ScenarioResult
from bench.results import replace_section


def test_each_scenario_runs_with_protection_on_then_off() -> None:
    found = scenarios(parse_args([]))
    assert [s.label for s in found] == [
        "burst, protection on", "burst, protection off", "outage, protection on", "outage, protection off",
    ]  # fmt: skip
    burst_on, burst_off, outage_on, outage_off = (dict(s.env) for s in found)
    assert (burst_on["EDUHOOK_LIMIT_EDUFRAME"], burst_on["EDUHOOK_BREAKER_ENABLED"]) == ("100/10", "true")
    assert (burst_off["EDUHOOK_LIMIT_EDUFRAME"], burst_off["EDUHOOK_BREAKER_ENABLED"]) == ("off", "false")
    assert (outage_on["EDUHOOK_LIMIT_EDUFRAME"], outage_on["EDUHOOK_BREAKER_ENABLED"]) == ("off", "true")
    assert outage_off["EDUHOOK_BREAKER_ENABLED"] == "false"
    assert found[0].window == (100, 10) and found[2].window is None and found[2].outage == 40
    assert [s.kind for s in scenarios(parse_args(["--scenario", "outage"]))] == ["outage", "outage"]


def test_the_report_shows_429s_the_floor_ratio_and_outage_calls(tmp_path: Path) -> None:
    burst, _, outage, _ = scenarios(parse_args(["--burst-events", "100", "--outage-events", "50"]))
    b = ScenarioResult(burst, statuses=Counter(succeeded=100), sandbox_429=0, attempts=100, reads=205,
                       drain_s=22.5)  # fmt: skip
    o = ScenarioResult(outage, statuses=Counter(succeeded=50), attempts=58, outage_calls=13, recovery_s=6.2)
    assert b.floor_s == 20.5 and b.reads_per_event == 2.05
    text = render(
        ProtectionReport("python -m bench.protection", "now", {"cpu": "x"}, {"burst": "100"}, [b, o])
    )
    assert text.startswith(START) and text.rstrip().endswith(END)
    assert (
        "| burst, protection on | 100 / 0 / 0 | **0** (0 attempts ended on one) | 100 (1.00) | 2.05 |" in text
    )
    assert "22.5 s / 20.5 s = **1.10**" in text
    assert "| outage, protection on | 50 / 0 / 0 | **13** | 58 (1.16) | 6.2 s | 0 |" in text
    path = tmp_path / "RESULTS.md"
    replace_section(path, text, start=START, end=END)
    replace_section(path, text, start=START, end=END)
    assert path.read_text().count(START) == 1
