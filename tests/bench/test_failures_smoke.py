"""Smoke test of bench.failures' pure parts: arguments, run specs, the random fault, the report."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bench.failures import learner_fault, parse_args, specs
from bench.failures_replay import ReplayResult
from bench.failures_report import END, START, FailuresReport, render, retried_share, write_section
from bench.pipeline_run import RunResult
from sandbox.faults import Fault, FaultPlan

LEARNERS = "POST /api/v4/b2b/learners"


def test_both_modes_run_a_baseline_first_then_the_faults_then_the_replay() -> None:
    runs, replay = specs(parse_args(["--events", "50"]))
    baseline, faulty = runs
    assert (baseline.penn_foster_faults, baseline.beat) == ((), True)
    assert faulty.penn_foster_faults[0]["probability"] == 0.2 and faulty.env == baseline.env
    assert dict(baseline.env)["EDUHOOK_RETRY_FIRST_DELAY"] == "0.5"
    assert replay is not None and dict(replay.env)["EDUHOOK_RETRY_MAX_ATTEMPTS"] == "1"
    assert specs(parse_args(["--mode", "random"]))[1] is None
    assert specs(parse_args(["--mode", "replay"]))[0] == []


def test_the_benchmarks_fault_rule_fails_about_a_fifth_of_learner_calls() -> None:
    plan = FaultPlan([Fault.from_json(learner_fault(0.2, 7))])
    hits = sum(plan.take("POST", "/api/v4/b2b/learners") is not None for _ in range(2000))
    assert 300 <= hits <= 500
    assert plan.take("POST", "/oauth/token") is None


def _run(label_args: list[str], index: int, posts: int, learners: int) -> RunResult:
    spec = specs(parse_args(["--events", "10", *label_args]))[0][index]
    run = RunResult(spec, statuses=Counter(succeeded=10), events_per_s=9.5, second_half_per_s=9.0)
    run.calls = {"eduframe": Counter({"GET /users/{id}": 10}), "pennfoster": Counter({LEARNERS: posts})}
    run.learners = [f"eduframe:e:{n}" for n in range(learners + 1)]  # + the warm-up learner
    run.attempts = Counter({1: 8, 2: 2})
    run.to_done_ms = [100.0, 200.0, 3000.0]
    return run


def test_the_report_shows_retry_shares_duplicates_and_the_replay(tmp_path: Path) -> None:
    baseline, faulty = _run([], 0, 10, 10), _run([], 1, 12, 10)
    assert retried_share(faulty, baseline) == "16.7% / 9.1%"  # 2 of 12; (22 - 20) of 22
    faulty.learners.append(faulty.learners[1])
    replay = ReplayResult(
        specs(parse_args(["--events", "10"]))[1],  # type: ignore[arg-type]
        1000.0, dead=10, queued=10, command_s=0.4, window_s=2.0, statuses=Counter(succeeded=10),
        calls={"pennfoster": Counter({LEARNERS: 10}), "appsembler": Counter()},
    )  # fmt: skip
    report = FailuresReport("python -m bench.failures", "now", {"cpu": "x"}, {"retry": "fast"},
                            [baseline, faulty], replay)  # fmt: skip
    text = render(report)
    assert text.startswith(START) and text.rstrip().endswith(END)
    assert "| **1** |" in text  # the duplicate stands out
    assert "| events/s, replay started → last event succeeded | **5.0** |" in text
    assert "| Appsembler calls per event | 0.000 (none) |" in text
    path = tmp_path / "RESULTS.md"
    write_section(path, text)
    write_section(path, text)
    assert path.read_text().count(START) == 1
