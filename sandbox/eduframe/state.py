"""The Eduframe sandbox's memory: configuration, records by kind, webhooks and their delivery log."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

from sandbox.eduframe.records import FIRST_IDS, KINDS, complete, iso
from sandbox.eduframe.window import Limit, RequestWindow

DEFAULT_API_TOKEN = "eduframe-sandbox-token"
DEFAULT_TENANT_ID = "6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5"
DEFAULT_EDUCATOR = "sandbox-academy"
# Eduframe does not publish its retry schedule; these are short enough for a demo to watch.
DEFAULT_RETRY_DELAYS = (10.0, 60.0, 300.0)
DEFAULT_DELIVERY_TIMEOUT = 10.0

NotificationStatus = Literal["pending", "retry", "succeeded", "failed"]
CONFIG_KEYS = ("api_token", "tenant_id", "educator", "retry_delays", "delivery_timeout", "rate_limit")


@dataclass
class SendAttempt:
    status_code: int
    response: str
    created_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "response": self.response,
            "status_code": self.status_code,
            "created_at": iso(self.created_at),
        }


@dataclass
class Notification:
    """One event's delivery to one webhook, as ``GET /webhooks/{id}/notifications`` shows it."""

    id: str
    webhook_id: str
    event_id: str
    data: dict[str, Any]
    created_at: float
    status: NotificationStatus = "pending"
    send_attempts: list[SendAttempt] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "data": self.data,
            "status": self.status,
            "send_attempts": [attempt.to_json() for attempt in self.send_attempts],
            "created_at": iso(self.created_at),
        }

    def to_failed_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "webhook_id": self.webhook_id,
            "data": self.data,
            "status": "failed",
            "created_at": iso(self.created_at),
        }


@dataclass
class EduframeState:
    api_token: str = DEFAULT_API_TOKEN
    tenant_id: str = DEFAULT_TENANT_ID
    educator: str = DEFAULT_EDUCATOR
    retry_delays: list[float] = field(default_factory=lambda: list(DEFAULT_RETRY_DELAYS))
    delivery_timeout: float = DEFAULT_DELIVERY_TIMEOUT
    records: dict[str, dict[int, dict[str, Any]]] = field(default_factory=lambda: {k: {} for k in KINDS})
    catalog_product_ids: set[int] = field(default_factory=set)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    notifications: dict[str, Notification] = field(default_factory=dict)
    rate_limit: RequestWindow = field(default_factory=RequestWindow)

    def apply_seed(self, seed: dict[str, Any]) -> dict[str, int]:
        """Add or replace what ``seed`` holds; returns how many records of each kind it brought."""
        unknown = set(seed) - {*CONFIG_KEYS, *KINDS, "catalog_product_ids", "webhooks"}
        if unknown:
            raise ValueError(f"unknown seed keys: {', '.join(sorted(unknown))}")
        if "api_token" in seed:
            self.api_token = str(seed["api_token"])
        if "tenant_id" in seed:
            self.tenant_id = str(seed["tenant_id"])
        if "educator" in seed:
            self.educator = str(seed["educator"])
        if "retry_delays" in seed:
            self.retry_delays = [float(delay) for delay in seed["retry_delays"]]
        if "delivery_timeout" in seed:
            self.delivery_timeout = float(seed["delivery_timeout"])
        if "rate_limit" in seed:
            self.rate_limit.configure(Limit.from_json(seed["rate_limit"]))
        counts: dict[str, int] = {}
        for kind in KINDS:
            for record in seed.get(kind, []):
                if not isinstance(record, dict):
                    raise ValueError(f"{kind}: every record must be an object")
                self.add(kind, record)
            counts[kind] = len(seed.get(kind, []))
        self.catalog_product_ids.update(int(pid) for pid in seed.get("catalog_product_ids", []))
        for hook in seed.get("webhooks", []):
            self.webhooks[str(hook["id"])] = copy.deepcopy(hook)
        counts["webhooks"] = len(seed.get("webhooks", []))
        return counts

    def add(self, kind: str, record: dict[str, Any]) -> dict[str, Any]:
        """Store ``record`` (completed with defaults), giving it the next id of its kind if it has none."""
        record = dict(record)
        record.setdefault("id", self.next_id(kind))
        record["id"] = int(record["id"])
        full = complete(kind, record)
        self.records[kind][full["id"]] = full
        if kind == "catalog_variants":
            self.catalog_product_ids.add(int(full["product_id"]))
        return full

    def next_id(self, kind: str) -> int:
        existing = self.records[kind]
        return max(existing, default=FIRST_IDS[kind] - 1) + 1

    def get(self, kind: str, record_id: int) -> dict[str, Any] | None:
        return self.records[kind].get(record_id)

    def notifications_for(self, webhook_id: str) -> list[Notification]:
        return [n for n in self.notifications.values() if n.webhook_id == webhook_id]

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "educator": self.educator,
            "retry_delays": self.retry_delays,
            "delivery_timeout": self.delivery_timeout,
            "rate_limit": self.rate_limit.limit.to_json() if self.rate_limit.limit else None,
            **{kind: list(self.records[kind].values()) for kind in KINDS},
            "catalog_product_ids": sorted(self.catalog_product_ids),
            "webhooks": list(self.webhooks.values()),
            "notifications": [
                {**n.to_json(), "webhook_id": n.webhook_id} for n in self.notifications.values()
            ],
        }
