"""``deploy/prometheus/alerts.yml`` and ``deploy/grafana/eduhook.json``: valid, unit-tested by
promtool, and naming only metrics that eduhook's code exposes."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from typing import Any

import orjson
import pytest
import redis
import yaml

from eduhook.ledger import create_engine_for
from eduhook.metrics import metrics
from eduhook.settings import Settings
from handlers.protection import Protection
from handlers.protection.gauges import BreakerCollector
from receiver.collector import LedgerCollector
from tests.conftest import REPO_ROOT

ALERTS = REPO_ROOT / "deploy/prometheus/alerts.yml"
ALERT_TESTS = REPO_ROOT / "deploy/prometheus/alerts.test.yml"
DASHBOARD = REPO_ROOT / "deploy/grafana/eduhook.json"
SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("EDUHOOK_TEST_REQUIRE_PROMTOOL"):
            pytest.fail("promtool is required (Debian package prometheus; .ci/run installs it)")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    return found


def test_promtool_checks_the_rules_and_runs_their_unit_tests() -> None:
    tool = promtool()
    for args in (["check", "rules", str(ALERTS)], ["test", "rules", str(ALERT_TESTS)]):
        done = subprocess.run([tool, *args], capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def exposed(settings: Settings) -> set[str]:
    """Every sample name eduhook's processes expose, from the code's own metrics and collectors."""
    assert settings.redis_url
    client = redis.Redis.from_url(settings.redis_url)
    engine = create_engine_for(settings.effective_database_url)
    collectors: list[Any] = [
        LedgerCollector(engine, client, "celery", lambda: dt.datetime.now(dt.UTC)),
        BreakerCollector(Protection.from_settings(settings, client)),
    ]
    names = {"up", "eduhook_webhooks_total"}  # Prometheus's own, and the receiver's answers
    for collector in [*vars(metrics()).values(), *collectors]:
        for family in collector.collect():
            names.add(family.name)
            names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, []))
    engine.dispose()
    return names


def named_in(text: str) -> set[str]:
    return set(re.findall(r"\b(eduhook_[a-z_]+|up)\{?", text))


def test_alerts_cover_the_issue_and_name_only_real_metrics(eduhook_settings: Settings) -> None:
    rules = yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"]
    by_name = {rule["alert"]: rule for rule in rules}
    assert {"EduhookDeadLettersGrowing", "EduhookOldestPendingOverTenMinutes", "EduhookPartnerErrorRateHigh",
            "EduhookBreakerOpen", "EduhookNoWorkerUp"} <= set(by_name)  # fmt: skip
    assert "increase(eduhook_dead_letters_total" in by_name["EduhookDeadLettersGrowing"]["expr"]
    assert by_name["EduhookBreakerOpen"]["for"] == "15m"
    assert by_name["EduhookPartnerErrorRateHigh"]["for"] == "10m"
    for rule in rules:
        assert {"alert", "expr", "labels", "annotations"} <= set(rule), rule.get("alert")
        assert rule["labels"]["severity"] in ("warning", "critical")

    dashboard = orjson.loads(DASHBOARD.read_bytes())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    real = exposed(eduhook_settings)
    sources = {"alerts.yml": "\n".join(r["expr"] for r in rules), "eduhook.json": "\n".join(exprs)}
    for where, text in sources.items():
        unknown = named_in(text) - real
        assert not unknown, f"{where} names metrics eduhook does not expose: {sorted(unknown)}"
    # The dashboard shows every metric of the issue.
    wanted = {n for n in real if n.startswith("eduhook_") and not n.endswith(("_count", "_sum", "_total"))}
    shown = {re.sub(r"_(bucket|total)$", "", n) for n in named_in("\n".join(exprs))}
    assert {re.sub(r"_bucket$", "", n) for n in wanted} - {"eduhook_webhooks"} <= shown
