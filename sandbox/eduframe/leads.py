"""The Eduframe sandbox's writes: ``POST /leads`` validated as the OpenAPI says, and order transitions.

``PUT /orders/{id}/approve|deny|cancel`` change the order and emit ``order.approved|denied|canceled``
(canceling it cancels its enrollments too);
``POST /leads`` emits ``lead.created``, as Eduframe would to any subscribed webhook.
"""

from __future__ import annotations

import re
from typing import Any

import pycountry
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.base import SandboxClock, json_response, read_json
from sandbox.eduframe.api import authenticated
from sandbox.eduframe.delivery import Deliverer
from sandbox.eduframe.records import US_STATES, iso
from sandbox.eduframe.responses import error, not_found, parse_id
from sandbox.eduframe.state import EduframeState

Problems = dict[str, list[str]]

LEAD_STATUSES = ("prospect", "waiting_list", "won", "lost", "archive")
COUNTRIES = frozenset(country.alpha_2 for country in pycountry.countries)
_STRINGS = (
    "title",
    "value",
    "company_name",
    "first_name",
    "middle_name",
    "last_name",
    "email",
    "phone",
    "comment",
)
_INTEGERS = ("account_id", "user_id", "administrator_id")
# International (+country code) or national digits; separators as people type them.
_PHONE = re.compile(r"^\+?[0-9][0-9 ()./-]{4,24}$")
_ADDRESS_REQUIRED = ("address", "postal_code", "city", "country")
_ADDRESS_STRINGS = ("addressee", "address_line2")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_address(value: Any, problems: Problems) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        problems["address_attributes"] = ["must be an object"]
        return
    for name in _ADDRESS_REQUIRED:
        if not isinstance(value.get(name), str) or not value[name].strip():
            problems[f"address_attributes.{name}"] = ["can't be blank"]
    for name in _ADDRESS_STRINGS:
        if value.get(name) is not None and not isinstance(value[name], str):
            problems[f"address_attributes.{name}"] = ["must be a string"]
    if isinstance(value.get("country"), str) and value["country"] and value["country"] not in COUNTRIES:
        problems["address_attributes.country"] = ["is not an ISO 3166 two-letter country code"]
    state_province = value.get("state_province")
    if state_province is not None and state_province not in US_STATES:
        problems["address_attributes.state_province"] = ["is not a USA state code"]


def _check_products(value: Any, state: EduframeState, problems: Problems) -> None:
    if not isinstance(value, list):
        problems["lead_products"] = ["must be an array"]
        return
    for index, item in enumerate(value):
        key = f"lead_products[{index}]"
        if not isinstance(item, dict):
            problems[key] = ["must be an object"]
            continue
        product, variant_id = item.get("catalog_product_id"), item.get("catalog_variant_id")
        if not _is_int(product):
            problems[f"{key}.catalog_product_id"] = ["is required and must be an integer"]
        elif product not in state.catalog_product_ids:
            problems[f"{key}.catalog_product_id"] = ["does not exist"]
        if variant_id is None:
            continue
        variant = state.get("catalog_variants", variant_id) if _is_int(variant_id) else None
        if variant is None:
            problems[f"{key}.catalog_variant_id"] = ["does not exist"]
        elif _is_int(product) and variant["product_id"] != product:
            problems[f"{key}.catalog_variant_id"] = ["does not belong to the catalog product"]


def lead_problems(body: dict[str, Any], state: EduframeState) -> Problems:
    """Everything wrong with a ``POST /leads`` body, keyed by field, as Eduframe's 422 lists it."""
    problems: Problems = {}
    for name in _STRINGS:
        if body.get(name) is not None and not isinstance(body[name], str):
            problems[name] = ["must be a string"]
    for name in _INTEGERS:
        if body.get(name) is not None and not _is_int(body[name]):
            problems[name] = ["must be an integer"]
    if "status" in body and body["status"] not in LEAD_STATUSES:
        problems["status"] = [f"must be one of {', '.join(LEAD_STATUSES)}"]
    if body.get("quality") is not None and (
        isinstance(body["quality"], bool) or not isinstance(body["quality"], int | float)
    ):
        problems["quality"] = ["must be a number"]
    if "wants_newsletter" in body and not isinstance(body["wants_newsletter"], bool):
        problems["wants_newsletter"] = ["must be a boolean"]
    labels = body.get("label_ids")
    if labels is not None and not (isinstance(labels, list) and all(_is_int(x) for x in labels)):
        problems["label_ids"] = ["must be an array of integers"]
    phone = body.get("phone")
    if isinstance(phone, str) and phone.strip() and not _PHONE.match(phone.strip()):
        problems["phone"] = ["is invalid"]
    _check_address(body.get("address_attributes"), problems)
    if "lead_products" in body:
        _check_products(body["lead_products"], state, problems)
    return problems


def build_lead(body: dict[str, Any], state: EduframeState, now: float) -> dict[str, Any]:
    record = {
        k: body[k]
        for k in (*_STRINGS, *_INTEGERS, "status", "quality", "wants_newsletter", "label_ids")
        if k in body
    }
    name = " ".join(str(body.get(k) or "") for k in ("first_name", "last_name")).strip()
    record.setdefault("title", name or "Lead")
    record["lead_products"] = [
        {"catalog_product_id": p["catalog_product_id"], "catalog_variant_id": p.get("catalog_variant_id")}
        for p in body.get("lead_products", [])
    ]
    address = body.get("address_attributes")
    if address:
        given = {
            k: address[k] for k in (*_ADDRESS_REQUIRED, *_ADDRESS_STRINGS, "state_province") if k in address
        }
        record["address"] = {"addressee": None, "address_line2": None, "state_province": None, **given}
    record["created_at"] = record["updated_at"] = iso(now)
    return state.add("leads", record)


_TRANSITIONS = {
    "approve": ("order.approved", "active", ("requested",)),
    "deny": ("order.denied", "denied", ("requested",)),
    "cancel": ("order.canceled", "canceled", ("requested", "active")),
}


def _cancel_enrollments_of(state: EduframeState, order: dict[str, Any]) -> None:
    """Canceling an order cancels the enrollments it made, as in Eduframe."""
    for enrollment in state.records["enrollments"].values():
        if enrollment.get("order_id") == order["id"] and enrollment["status"] != "canceled":
            enrollment["status"] = "canceled"
            enrollment["updated_at"] = order["updated_at"]


def write_routes(state: EduframeState, deliverer: Deliverer, clock: SandboxClock) -> list[Route]:
    async def create_lead(request: Request) -> Response:
        try:
            body = await read_json(request)
        except ValueError as exc:
            return error(400, "Request body is not valid JSON", {"body": [str(exc)]})
        if not isinstance(body, dict):
            return error(400, "Request body must be a JSON object", {"body": ["must be an object"]})
        problems = lead_problems(body, state)
        if problems:
            return error(422, "Validation failed", problems)
        lead = build_lead(body, state, clock())
        deliverer.emit("lead.created", lead)
        return json_response(lead, 201)

    async def transition(request: Request) -> Response:
        raw, action = request.path_params["id"], request.path_params["action"]
        order_id = parse_id(raw)
        order = state.get("orders", order_id) if order_id is not None else None
        if order is None:
            return not_found("Order", raw)
        if action not in _TRANSITIONS:
            return error(404, f"No route matches [PUT] {request.url.path}")
        event, status, allowed_from = _TRANSITIONS[action]
        if order["status"] not in allowed_from:
            return error(
                422, f"Order cannot {action} from status {order['status']}", {"status": ["is invalid"]}
            )
        order["status"] = status
        order["updated_at"] = iso(clock())
        if status == "canceled":
            _cancel_enrollments_of(state, order)
        deliverer.emit(event, order)
        return json_response(order)

    return [
        Route("/leads", authenticated(state, create_lead), methods=["POST"]),
        Route("/orders/{id}/{action}", authenticated(state, transition), methods=["PUT"]),
    ]
