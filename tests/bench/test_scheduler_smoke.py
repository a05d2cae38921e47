"""Smoke test of bench.scheduler's pure parts: arguments, the cases, the report and its plan check."""

from __future__ import annotations

from bench.scheduler import cases, parse_args
from bench.scheduler_report import END, START, Case, SchedulerReport, render


def case(name: str, future: int, plan: list[str], database: str = "sqlite") -> Case:
    return Case(
        database=database, name=name, future=future, due=100, loaded_s=1.0, run_wall=2.0, run_cpu=1.5,
        run_server=None, claim_wall=0.5, claim_cpu=0.4, claim_server=None, run_p90=2.5, picked={100},
        plan=plan,
    )  # fmt: skip


def test_the_cases_are_an_empty_ledger_the_due_set_and_the_future_retries() -> None:
    args = parse_args(["--future", "1000", "--due", "10", "--database", "sqlite"])
    assert cases(args) == [
        ("empty ledger", 0, 0),
        ("10 due only", 0, 10),
        ("1,000 future + 10 due", 1000, 10),
    ]


def test_the_report_says_whether_the_due_query_uses_the_index() -> None:
    indexed = ["SEARCH events USING INDEX ix_events_status_next (status=? AND next_attempt_at<?)"]
    report = SchedulerReport("python -m bench.scheduler", "commit abc", "now", {"cpu": "x"}, 3)
    report.cases = [case("100 due only", 0, ["Seq Scan on events"], "postgresql"),
                    case("1,000 future + 100 due", 1000, indexed, "postgresql")]  # fmt: skip
    text = render(report)
    assert text.startswith(START) and text.rstrip().endswith(END)
    assert "| postgresql | 100 due only |" in text and "| **no** |" in text and "| yes |" in text
    assert "### Due query plan, postgresql (EXPLAIN, 1,000 future + 100 due)" in text
    assert indexed[0] in text
    assert "1,000 future retries change a run from 2.00 to 2.00 ms" in text
