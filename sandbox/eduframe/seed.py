"""EduframeSeed: build the sandbox's records in a few calls, for tests, benchmarks and the demo.

    seed = EduframeSeed()
    course, planned, variant = seed.add_offering(code="PF-MEDASST", name="Medical Assistant")
    alice = seed.add_user(first_name="Alice", last_name="Doe", phone="+1 555 0100", birth_date="1990-04-01")
    order = seed.add_order(students=[alice], variant_id=variant)      # active, one enrollment per student
    app = create_app(seed.to_dict())

Each ``add_*`` returns the new record's id. Ids start in a different range per kind (courses 101…,
planned courses 201…, variants 301…, products 401…, users 1001…, orders 5001…, enrollments 7001…).
Phone, birth date and gender go to the user's ``custom`` fields under ``custom_fields`` names.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from sandbox.eduframe.records import FIRST_IDS, complete
from sandbox.eduframe.state import DEFAULT_API_TOKEN, DEFAULT_EDUCATOR, DEFAULT_TENANT_ID
from sandbox.eduframe.window import DEFAULT_LIMIT, Limit

# Where the seed puts phone, birth date and gender; eduhook reads them by configurable names.
DEFAULT_CUSTOM_FIELDS = {"phone": "phone", "birth_date": "birth_date", "gender": "gender"}


class EduframeSeed:
    """Accumulates records and produces the dict ``create_app(seed=...)`` accepts."""

    def __init__(
        self,
        *,
        api_token: str = DEFAULT_API_TOKEN,
        tenant_id: str = DEFAULT_TENANT_ID,
        educator: str = DEFAULT_EDUCATOR,
        retry_delays: Sequence[float] | None = None,
        delivery_timeout: float | None = None,
        custom_fields: dict[str, str] | None = None,
        rate_limit: Limit | None = DEFAULT_LIMIT,
    ) -> None:
        """``rate_limit`` is Eduframe's per-token window (500 per 300 s); ``None`` serves without one."""
        self.config: dict[str, Any] = {
            "api_token": api_token,
            "tenant_id": tenant_id,
            "educator": educator,
            "rate_limit": rate_limit.to_json() if rate_limit else None,
        }
        if retry_delays is not None:
            self.config["retry_delays"] = list(retry_delays)
        if delivery_timeout is not None:
            self.config["delivery_timeout"] = delivery_timeout
        self.custom_fields = {**DEFAULT_CUSTOM_FIELDS, **(custom_fields or {})}
        self.records: dict[str, dict[int, dict[str, Any]]] = {kind: {} for kind in FIRST_IDS}
        self.webhooks: list[dict[str, Any]] = []

    def _add(self, kind: str, record: dict[str, Any], record_id: int | None) -> int:
        existing = self.records[kind]
        new_id = record_id if record_id is not None else max(existing, default=FIRST_IDS[kind] - 1) + 1
        existing[new_id] = complete(kind, {**record, "id": new_id}) if kind != "catalog_products" else record
        return new_id

    def add_course(self, *, code: str, name: str | None = None, id: int | None = None, **extra: Any) -> int:
        return self._add("courses", {"code": code, "name": name or code, **extra}, id)

    def add_planned_course(
        self,
        *,
        course_id: int,
        start_date: str = "2025-01-06",
        end_date: str | None = "2025-06-30",
        status: str = "planned",
        id: int | None = None,
        **extra: Any,
    ) -> int:
        record = {"course_id": course_id, "start_date": start_date, "end_date": end_date, "status": status}
        return self._add("planned_courses", {**record, **extra}, id)

    def add_variant(
        self,
        *,
        planned_course_id: int | None = None,
        program_edition_id: int | None = None,
        product_id: int | None = None,
        name: str | None = None,
        id: int | None = None,
        **extra: Any,
    ) -> int:
        """A catalog variant for a planned course, or (``program_edition_id``) for a program edition."""
        if (planned_course_id is None) == (program_edition_id is None):
            raise ValueError("give exactly one of planned_course_id and program_edition_id")
        if product_id is None:
            product_id = self._add("catalog_products", {}, None)
        record = {
            "product_id": product_id,
            "name": name or "Variant",
            "variantable_type": "PlannedCourse" if planned_course_id is not None else "Program::Edition",
            "variantable_id": planned_course_id if planned_course_id is not None else program_edition_id,
        }
        return self._add("catalog_variants", {**record, **extra}, id)

    def add_offering(self, *, code: str, name: str | None = None, **planned: Any) -> tuple[int, int, int]:
        """A course, one planned course of it and a variant selling it: ``(course, planned, variant)``."""
        course = self.add_course(code=code, name=name)
        planned_course = self.add_planned_course(course_id=course, **planned)
        return course, planned_course, self.add_variant(planned_course_id=planned_course, name=name or code)

    def add_user(
        self,
        *,
        first_name: str,
        last_name: str,
        email: str | None = None,
        middle_name: str | None = None,
        phone: str | None = None,
        birth_date: str | None = None,
        gender: str | None = None,
        address: dict[str, Any] | None = None,
        custom: dict[str, Any] | None = None,
        id: int | None = None,
        **extra: Any,
    ) -> int:
        """A student; ``phone``/``birth_date``/``gender`` become custom fields, as Eduframe has none."""
        fields = dict(custom or {})
        for key, value in (("phone", phone), ("birth_date", birth_date), ("gender", gender)):
            if value is not None:
                fields[self.custom_fields[key]] = value
        user_id = id if id is not None else max(self.records["users"], default=FIRST_IDS["users"] - 1) + 1
        record = {
            "first_name": first_name,
            "middle_name": middle_name,
            "last_name": last_name,
            "email": email or f"{first_name}.{last_name}.{user_id}@example.com".lower().replace(" ", ""),
            "custom": fields,
            **extra,
        }
        if address is not None:
            record["address"] = {"addressee": None, "address_line2": None, "state_province": None, **address}
        return self._add("users", record, user_id)

    def add_order(
        self,
        *,
        students: Sequence[int],
        variant_id: int,
        status: str = "active",
        enroll: bool | None = None,
        id: int | None = None,
        **extra: Any,
    ) -> int:
        """An order with one item per student; ``active`` ones on a planned course also get enrollments."""
        record = {"catalog_variant_id": variant_id, "status": status, "order_items": list(students), **extra}
        order_id = self._add("orders", record, id)
        variant = self.records["catalog_variants"].get(variant_id)
        if enroll is None:
            enroll = (
                status == "active" and variant is not None and variant["variantable_type"] == "PlannedCourse"
            )
        if enroll:
            if variant is None or variant["variantable_type"] != "PlannedCourse":
                raise ValueError(f"variant {variant_id} is not a seeded planned-course variant")
            for student in students:
                self.add_enrollment(
                    student_id=student, planned_course_id=variant["variantable_id"], order_id=order_id
                )
        return order_id

    def add_enrollment(
        self,
        *,
        student_id: int,
        planned_course_id: int,
        order_id: int | None = None,
        status: str = "confirmed",
        id: int | None = None,
        **extra: Any,
    ) -> int:
        planned = self.records["planned_courses"].get(planned_course_id, {})
        record = {
            "student_id": student_id,
            "planned_course_id": planned_course_id,
            "order_id": order_id,
            "status": status,
            "start_date": planned.get("start_date", "2025-01-06"),
            "end_date": planned.get("end_date"),
            **extra,
        }
        return self._add("enrollments", record, id)

    def add_webhook(
        self, url: str, *, events: Sequence[str], active: bool = True, id: str | None = None
    ) -> str:
        webhook_id = id or f"00000000-0000-4000-8000-{len(self.webhooks) + 1:012d}"
        self.webhooks.append(
            {
                "id": webhook_id,
                "url": url,
                "active": active,
                "events": list(events),
                "created_at": "2024-09-02T09:00:00.000Z",
                "updated_at": "2024-09-02T09:00:00.000Z",
            }
        )
        return webhook_id

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able seed for ``create_app(seed=...)`` or ``POST /_sandbox/seed``."""
        seed: dict[str, Any] = copy.deepcopy(self.config)
        for kind, records in self.records.items():
            if kind != "catalog_products":
                seed[kind] = copy.deepcopy(list(records.values()))
        seed["catalog_product_ids"] = sorted(self.records["catalog_products"])
        seed["webhooks"] = copy.deepcopy(self.webhooks)
        return seed

    @classmethod
    def demo(cls, **config: Any) -> EduframeSeed:
        """Two offerings, three students with full addresses and custom fields, an approved order
        (5001: users 1001 and 1002 on variant 301, enrolled) and a requested one (5002: user 1003)."""
        seed = cls(**config)
        _, _, med = seed.add_offering(code="PF-MEDASST", name="Medical Assistant")
        _, _, data = seed.add_offering(code="OX-DATA101", name="Data Literacy", start_date="2025-02-03")
        alice = seed.add_user(
            first_name="Alice", last_name="Jansen", email="alice.jansen@example.com",
            phone="+1 570 555 0101", birth_date="1990-04-01", gender="F",
            address={"address": "12 Elm Street", "postal_code": "18508", "city": "Scranton",
                     "country": "US", "state_province": "PA"},
        )  # fmt: skip
        bob = seed.add_user(
            first_name="Bob", middle_name="van", last_name="Dijk", email="bob.vandijk@example.com",
            phone="+1 212 555 0102", birth_date="1985-11-23", gender="M",
            address={"address": "400 Broadway", "address_line2": "Apt 5", "postal_code": "10013",
                     "city": "New York", "country": "US", "state_province": "NY"},
        )  # fmt: skip
        carol = seed.add_user(
            first_name="Carol", last_name="Smit", email="carol.smit@example.com",
            phone="+31 20 555 0103", birth_date="2001-07-15",
            address={"address": "Keizersgracht 1", "postal_code": "1015 CJ", "city": "Amsterdam",
                     "country": "NL"},
        )  # fmt: skip
        seed.add_order(students=[alice, bob], variant_id=med, status="active")
        seed.add_order(students=[carol], variant_id=data, status="requested")
        return seed


def demo_seed(**config: Any) -> dict[str, Any]:
    """``EduframeSeed.demo().to_dict()``: what ``create_app()`` serves when given no seed."""
    return EduframeSeed.demo(**config).to_dict()
