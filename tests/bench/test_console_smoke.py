"""Smoke test of bench.console's report: the table, the verdicts and the plans."""

from __future__ import annotations

from bench.console_report import END, START, BackendResult, PageResult, render


def test_the_report_shows_each_page_the_target_and_the_plans() -> None:
    columns = ", ".join(f"events.c{n}" for n in range(19))
    plan = [
        (f"SELECT {columns} FROM events WHERE events.status = ?", "SEARCH events USING INDEX ix (status=?)"),  # noqa: S608
    ]
    pages = [
        PageResult("login page (baseline, no SQL)", "/login", [0.2, 0.3], 0, []),
        PageResult("overview", "/", [30.0, 40.0, 250.0], 10, plan),
        PageResult("events, dead at pennfoster, 50 rows", "/events?status=dead", [5.0] * 3, 50, plan),
    ]
    section = render(
        "python -m bench.console", "now", {"cpu": "test"}, 3, [BackendResult("SQLite", 100, pages)]
    )
    assert section.startswith(START) and section.rstrip().endswith(END)
    assert "| overview (`/`) | 40.0 / 250.0 | 10 |" in section
    assert "- SQLite: slowest of those, p95 250.0 ms (overview): **missed**" in section
    assert "SELECT <all 19 columns of events> FROM events WHERE events.status = ?" in section
    assert "SEARCH events USING INDEX ix (status=?)" in section
