"""The ~1 KB ``order.approved`` webhook bodies the benchmark sends, each one unique.

A body is a fixed template with a sequence number spliced in at a few places (the order id,
number and item ids). Python (the open-loop generator) and Lua (wrk) render the same template
the same way, so both send identical shapes, and no two requests share a dedup key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

EDUCATOR = "bench-educator"
TENANT_ID = "6f1c2a9e-bench-4000-8000-000000000001"
EVENT = "order.approved"
TOKEN = "bench-webhook-token-0123456789abcdef"
PATH = "/webhooks/eduframe"

_SEQ = "@@SEQ@@"
_SEQ_JSON = b'"' + _SEQ.encode() + b'"'


def _event_data(run: str) -> dict[str, Any]:
    """An Eduframe order as sent with ``order.approved``: the order record with one order item."""
    stamp = "2025-03-14T09:26:53.589Z"
    return {
        "id": _SEQ,
        "number": _SEQ,
        "status": "active",
        "number_of_students": 1,
        "origin": "website",
        "customer_comment": None,
        "total_cost_excl": "1495.0",
        "total_cost_incl": "1808.95",
        "cost": "1495.0",
        "cost_scheme": "order",
        "creator_id": 40012,
        "account_id": 3117,
        "payment_method_id": 7,
        "payment_option_id": 2,
        "label_ids": [12, 48],
        "discount_code": None,
        "total_discount": None,
        "referral_id": None,
        "custom": {"bench_run": run, "purchase_order": "PO-2025-0042"},
        "order_items": [
            {
                "id": _SEQ,
                "order_id": _SEQ,
                "student_id": 40012,
                "catalog_variant_id": 2210,
                "cost": "1495.0",
                "status": "confirmed",
                "created_at": stamp,
                "updated_at": stamp,
            }
        ],
        "customer": {
            "first_name": "Jordan",
            "last_name": "Example",
            "email": "jordan.example@example.com",
            "address": {
                "address": "100 Example Street",
                "postal_code": "02139",
                "city": "Cambridge",
                "country": "US",
                "state_province": "MA",
            },
        },
        "updated_at": stamp,
        "created_at": stamp,
    }


@dataclass(frozen=True)
class BodyTemplate:
    """A JSON body split around the places where the sequence number goes."""

    parts: tuple[bytes, ...]

    def render(self, seq: int) -> bytes:
        return str(seq).encode().join(self.parts)

    @property
    def size(self) -> int:
        """The size of a rendered body with a 13-digit sequence number."""
        return len(self.render(10**12))


def body_template(run: str) -> BodyTemplate:
    """The template for one benchmark run; ``run`` makes bodies differ between runs on one ledger."""
    document = {"tenant_id": TENANT_ID, "educator": EDUCATOR, "event": EVENT, "event_data": _event_data(run)}
    return BodyTemplate(tuple(orjson.dumps(document).split(_SEQ_JSON)))


def request_headers() -> dict[str, str]:
    return {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
