"""Every answer Eduframe's published OpenAPI description allows is accepted by EduframeClient.

Responses are generated from the spec's own schemas (hypothesis-jsonschema) for every call the
client makes, and served to it through ``httpx.MockTransport``. Each must parse, or fail with the
one permanent error the client documents for a response it cannot act on: a field eduhook acts
on is missing or null ("get order 1: unexpected response shape (order_items missing)"). A type or
format error would mean the model is stricter than the spec, and would dead-letter a real event.
"""

from __future__ import annotations

import inspect
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis_jsonschema import from_schema
from pydantic import BaseModel

from eduhook.settings import Settings
from handlers.errors import PartnerDataError
from handlers.partners.eduframe import (
    CatalogVariant,
    Course,
    EduframeClient,
    Enrollment,
    FailedWebhookNotification,
    Lead,
    LeadCreate,
    Order,
    PlannedCourse,
    User,
    Webhook,
    WebhookNotification,
)
from tests.support.openapi import OpenApi

SPEC = OpenApi(json.loads((Path(__file__).parent / "data" / "eduframe-openapi.json").read_text()))
BASE = "https://api.eduframe.test/api/v1"
# Enough to meet every optional field both present and absent, small enough for two shared cores.
EXAMPLES = 30
# A list answer is one page here; paging has its own tests.
PAGE_ITEMS = 3
SHAPE_ERROR = re.compile(r"(?P<record>.+): unexpected response shape \((?P<problems>.+)\)")


@dataclass(frozen=True)
class Call:
    """One EduframeClient method, the spec operation it calls, and the model its answer becomes."""

    method: str
    path: str
    verb: str
    status: str
    model: type[BaseModel]
    invoke: Callable[[EduframeClient], object]

    def schema(self) -> dict[str, Any]:
        schema = SPEC.response_schema(self.path, self.verb, self.status)
        return {**schema, "maxItems": PAGE_ITEMS} if schema.get("type") == "array" else schema


CALLS = [
    Call("get_order", "/orders/{id}", "get", "200", Order, lambda c: c.get_order(1)),
    Call("find_order", "/orders/{id}", "get", "200", Order, lambda c: c.find_order(1)),
    Call("get_enrollment", "/enrollments/{id}", "get", "200", Enrollment, lambda c: c.get_enrollment(1)),
    Call("find_enrollment", "/enrollments/{id}", "get", "200", Enrollment, lambda c: c.find_enrollment(1)),
    Call("list_enrollments", "/enrollments", "get", "200", Enrollment,
         lambda c: c.list_enrollments(student_id=1)),
    Call("get_user", "/users/{id}", "get", "200", User, lambda c: c.get_user(1)),
    Call("get_catalog_variant", "/catalog/variants/{id}", "get", "200", CatalogVariant,
         lambda c: c.get_catalog_variant(1)),
    Call("get_planned_course", "/planned_courses/{id}", "get", "200", PlannedCourse,
         lambda c: c.get_planned_course(1)),
    Call("get_course", "/courses/{id}", "get", "200", Course, lambda c: c.get_course(1)),
    Call("get_lead", "/leads/{id}", "get", "200", Lead, lambda c: c.get_lead(1)),
    Call("create_lead", "/leads", "post", "201", Lead, lambda c: c.create_lead(LeadCreate(first_name="A"))),
    Call("create_webhook", "/webhooks", "post", "201", Webhook,
         lambda c: c.create_webhook("https://eduhook.test/webhooks/eduframe", events=["order.approved"])),
    Call("list_webhooks", "/webhooks", "get", "200", Webhook, lambda c: c.list_webhooks()),
    Call("list_webhook_notifications", "/webhooks/{webhook_id}/notifications", "get", "200",
         WebhookNotification, lambda c: c.list_webhook_notifications("w1")),
    Call("list_failed_webhook_notifications", "/webhooks/{webhook_id}/notifications/failed", "get", "200",
         FailedWebhookNotification, lambda c: c.list_failed_webhook_notifications("w1")),
]  # fmt: skip


def client_answering(body: Any, status: int) -> EduframeClient:
    # The standard library writes any JSON number; orjson would refuse integers past 64 bits.
    content = json.dumps(body).encode()
    reply = httpx.Response(status, content=content, headers={"content-type": "application/json"})
    settings = Settings(eduframe_api_url=BASE, eduframe_api_token="spec-token")
    return EduframeClient.from_settings(settings, transport=httpx.MockTransport(lambda request: reply))


def outcome(call: Call, body: Any) -> str:
    """``parsed``, or ``missing`` when the client refused it for a missing acted-on field."""
    try:
        call.invoke(client_answering(body, int(call.status)))
    except PartnerDataError as error:
        match = SHAPE_ERROR.fullmatch(error.message)
        assert match, f"{call.method}: {error.message}"
        for problem in match["problems"].split("; "):
            where, kind = problem.rsplit(" ", 1)
            assert kind in ("missing", "null"), f"{call.method} rejects a spec-valid answer: {problem}"
            assert where.split(".")[0] in call.model.model_fields, f"{call.method}: {problem}"
        return "missing"
    return "parsed"


def test_the_table_lists_every_call_the_client_makes() -> None:
    public = {
        name
        for name, member in inspect.getmembers(EduframeClient, inspect.isfunction)
        if not name.startswith("_") and name not in ("close", "from_settings")
    }
    assert public == {call.method for call in CALLS}


@pytest.mark.parametrize("call", CALLS, ids=[call.method for call in CALLS])
def test_every_answer_the_spec_allows_parses_or_names_a_missing_field(call: Call) -> None:
    seen: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        # No shrinking: the assertion already names the field, and shrinking these records takes minutes.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(from_schema(call.schema()))
    def check(body: Any) -> None:
        seen[outcome(call, body)] += 1

    check()
    assert seen["parsed"] > 0, f"{call.method}: no generated answer parsed ({dict(seen)})"
