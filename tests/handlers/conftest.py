"""Fixtures for handler tests: the partner sandboxes of one test and eduhook configured to use them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from eduhook.ledger import create_engine_for, upgrade
from eduhook.settings import Settings
from handlers.context import HandlerContext
from sandbox import appsembler, eduframe, pennfoster
from sandbox.eduframe.seed import EduframeSeed
from sandbox.server import RunningServer
from tests.conftest import TEST_TOKEN

PROGRAM = "NUR01105"
BILLING = "MBC01105"  # a second Penn Foster program, for learners already in the first
COURSE_KEY = "course-v1:edX+DemoX+Demo_Course"
LEARNERS = "/api/v4/b2b/learners"
BULK = "/appsembler_api/v0/bulk-enrollment/bulk-enroll"
ACCOUNTS = "/appsembler_api/v0/accounts/create"
STATES = ["PA", "NY", "CA", "TX", "OH"]


@dataclass
class World:
    """The partner sandboxes of one test and the Eduframe data they serve."""

    eduframe: str
    pennfoster: str
    appsembler: str
    seed: EduframeSeed
    order_id: int
    small_order_id: int
    order_25_id: int
    unrouted_order_id: int
    students: list[int]
    no_phone_order_id: int
    lead_id: int
    billing_order_id: int  # the small order's students, in the second program

    def enrollments_of(self, order_id: int) -> list[int]:
        return [e for e, r in self.seed.records["enrollments"].items() if r["order_id"] == order_id]

    def calls(self, base: str, path: str) -> list[dict[str, Any]]:
        requests: list[dict[str, Any]] = httpx.get(base + "/_sandbox/requests", params={"path": path}).json()
        return [r for r in requests if r["path"] == path and r["method"] == "POST"]


def _student(seed: EduframeSeed, n: int, *, phone: str | None = "+1 (570) 555-01{n:02d}") -> int:
    return seed.add_user(
        first_name=["Ann-Marie", "José", "Li", "O'Neil"][n % 4], last_name=f"Tester{chr(65 + n % 26)}",
        email=f"student{n}@example.com", phone=phone.format(n=n) if phone else None,
        birth_date=f"199{n % 10}-0{1 + n % 9}-1{n % 10}", gender="F" if n % 2 else "M",
        address={"address": f"{n} Main Street", "postal_code": f"1850{n % 10}", "city": "Scranton",
                 "country": "US", "state_province": STATES[n % len(STATES)]},
    )  # fmt: skip


@pytest.fixture
def world(serve: Callable[[ASGIApp], RunningServer]) -> World:
    seed = EduframeSeed()
    _, _, nursing = seed.add_offering(code="PF-NURSE", name="Nursing Assistant")
    _, _, other = seed.add_offering(code="UNROUTED-1", name="Not routed anywhere")
    students = [_student(seed, n) for n in range(45)]
    order_id = seed.add_order(students=students, variant_id=nursing, status="active")
    small = [_student(seed, n) for n in range(100, 103)]
    small_order_id = seed.add_order(students=small, variant_id=nursing, status="active")
    order_25_id = seed.add_order(students=[_student(seed, n) for n in range(300, 325)], variant_id=nursing)
    unrouted_order_id = seed.add_order(students=students[:1], variant_id=other, status="active")
    no_phone_order_id = seed.add_order(students=[_student(seed, 200, phone=None)], variant_id=nursing)
    _, _, billing = seed.add_offering(code="PF-BILLING", name="Medical Billing")
    billing_order_id = seed.add_order(students=small, variant_id=billing, status="active")
    product = seed.records["catalog_variants"][nursing]["product_id"]
    data = seed.to_dict()
    lead_id = 9001
    data["leads"] = [{
        "id": lead_id, "first_name": "Lena", "last_name": "Lead", "email": "lena@example.com",
        "phone": "+15705550199", "status": "prospect", "user_id": students[7],
        "address": {"address": "1 Lead Lane", "postal_code": "18503", "city": "Scranton",
                    "country": "US", "state_province": "PA"},
        "lead_products": [{"catalog_product_id": product, "catalog_variant_id": nursing}],
    }]  # fmt: skip
    return World(
        eduframe=serve(eduframe.create_app(data)).url,
        pennfoster=serve(pennfoster.create_app()).url,
        appsembler=serve(appsembler.create_app()).url,
        seed=seed, order_id=order_id, small_order_id=small_order_id, order_25_id=order_25_id,
        unrouted_order_id=unrouted_order_id,
        students=students, no_phone_order_id=no_phone_order_id, lead_id=lead_id,
        billing_order_id=billing_order_id,
    )  # fmt: skip


CONFIG = """
[eduframe]
api_url = "{w.eduframe}"
api_token = "eduframe-sandbox-token"
[penn_foster]
api_url = "{w.pennfoster}"
client_id = "eduhook-sandbox"
client_secret = "sandbox-client-secret"
api_key = "sandbox-api-key"
[appsembler]
api_url = "{w.appsembler}"
api_token = "sandbox-appsembler-token"

[[routes]]
name = "nursing"
course_code = "PF-NURSE"
[routes.penn_foster]
program_id = "{program}"
organization_id = 141982
location_id = 244648
client_id = 329209
enrollment_type = "B2B"
contact_email_address = "enrollments@example.com"
leads = true
[routes.appsembler]
course_ids = ["{course}"]
create_accounts = true
auto_enroll = true

[[routes]]
name = "billing"
course_code = "PF-BILLING"
[routes.penn_foster]
program_id = "{billing}"
organization_id = 141982
location_id = 244648
client_id = 329209
enrollment_type = "B2B"
contact_email_address = "enrollments@example.com"
"""


@pytest.fixture
def eduhook_settings(tmp_path: Path, database_url: str, redis_url: str, world: World) -> Settings:
    """Overrides the shared fixture: real handlers, routes to the sandboxes."""
    config = tmp_path / "eduhook.toml"
    config.write_text(CONFIG.format(w=world, program=PROGRAM, billing=BILLING, course=COURSE_KEY))
    settings = Settings(
        config=config, data_dir=tmp_path / "var", database_url=database_url, redis_url=redis_url,
        webhook_tokens=[TEST_TOKEN], educators=[], handler_modules=["handlers.builtin"],
    )  # fmt: skip
    engine = create_engine_for(database_url)
    upgrade(engine)
    engine.dispose()
    return settings


@pytest.fixture
def ctx(eduhook_settings: Settings) -> HandlerContext:
    """What a worker hands handlers, for calling them directly (no queue) against the sandboxes."""
    return HandlerContext(
        settings=eduhook_settings, engine=create_engine_for(eduhook_settings.effective_database_url)
    )
