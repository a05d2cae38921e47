"""Smoke test of bench.reads' pure parts: the seeded purchases and the report's figures."""

from __future__ import annotations

from collections import Counter

from bench.reads import RUNS, RunResult, build_purchase
from bench.reads_report import END, START, ReadsReport, render


def test_a_purchase_is_one_order_with_an_enrollment_per_student_and_lone_ones_are_many_orders() -> None:
    one = build_purchase(4, one_order=True)
    assert one.order_id is not None and len(one.enrollments) == 4
    assert {one.seed.records["enrollments"][e]["order_id"] for e in one.enrollments} == {one.order_id}
    lone = build_purchase(4, one_order=False)
    assert lone.order_id is None
    assert len({lone.seed.records["enrollments"][e]["order_id"] for e in lone.enrollments}) == 4


def test_the_report_gives_reads_per_learner_against_the_goal() -> None:
    catalog = {"/catalog/variants/{id}": 1, "/planned_courses/{id}": 1, "/courses/{id}": 1}
    reads = Counter({"/orders/{id}": 1, "/enrollments/{id}": 50, "/users/{id}": 50, **catalog})
    purchase = RunResult(RUNS[1], learners=50, events=51, reads=reads, attempts=Counter({1: 51}))
    lone = RunResult(RUNS[0], learners=50, events=50, reads=reads - Counter({"/orders/{id}": 1}))
    report = ReadsReport("python -m bench.reads", "now", {"cpu": "test"}, 2, 8, runs=[lone, purchase])
    section = render(report)
    assert section.startswith(START) and section.rstrip().endswith(END)
    assert (
        "| purchase, route by course code | 51 | 1 | 50 | 50 | 1 | 1 | 1 | 0 | 104 | 2.04 | **2.08** | 2.02 |"
        in section
    )
    assert "2.08 reads per learner for an order of 50 with its enrollments, cold catalog included" in section
    assert "(goal ≤ 2.1, met)" in section
    assert "2.06 Eduframe reads per `enrollment.created` (2.00 once the catalog is cached" in section
