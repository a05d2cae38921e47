"""Eduframe sandbox: the API v1 subset eduhook reads and writes, and webhook delivery like Eduframe's.

API (served at the root: set ``EDUFRAME_API_URL`` to the server's URL), every call needs
``Authorization: Bearer <api_token>`` (default ``DEFAULT_API_TOKEN`` = ``eduframe-sandbox-token``);
errors are ``{"errors": {...}, "code": N, "message": "..."}``:

    GET  /orders[/{id}]  /enrollments[/{id}]  /users[/{id}]  /catalog/variants[/{id}]
         /planned_courses[/{id}]  /courses[/{id}]  /leads[/{id}]          lists: page, per_page
    PUT  /orders/{id}/approve|deny|cancel      changes status, emits order.approved|denied|canceled
    PUT  /enrollments/{id}/cancel              cancels it, emits enrollment.updated
    POST /leads                                 validated per the OpenAPI (422), emits lead.created
    POST/GET /webhooks, GET/PATCH/DELETE /webhooks/{id},
    GET  /webhooks/{id}/notifications, /webhooks/{id}/notifications/failed?start=&end=

Lists: ``per_page`` defaults to 25 and is capped at 100; ``Link`` carries ``rel="next"`` and
``rel="last"`` (absolute URLs keeping the filters). Filters: enrollments ``student_id``,
``planned_course_id``, ``order_id``, ``status`` (repeatable), ``with_canceled``; variants ``product_id``,
``variantable_id``, ``variantable_type``; planned courses ``course_id``, ``status``; users ``email``.

Seed (``create_app(seed)``; ``None`` serves ``EduframeSeed.demo()``, ``{}`` an empty Eduframe; build
one with ``sandbox.eduframe.seed.EduframeSeed``)::

    {"api_token", "tenant_id", "educator", "retry_delays": [s, ...], "delivery_timeout": s,
     "rate_limit": {"requests": 500, "per_seconds": 300} (the default; null serves without a limit),
     "courses", "planned_courses", "catalog_variants", "users", "orders", "enrollments", "leads": [
         records in the API's JSON shape; missing fields get schema-complete defaults, missing ids the
         next id of their kind; order_items may be plain student ids],
     "catalog_product_ids": [int], "webhooks": [{"id", "url", "active", "events"}]}

Control routes besides the shared ``/_sandbox`` ones (state, requests, faults, clock, reset):

    POST /_sandbox/seed   a (partial) seed, merged into the running state
    POST /_sandbox/emit   {"event", "event_data"} or {"event", "resource_id"} [+ "tenant_id", "educator"]
                          → {"event_id", "complete", "notifications"}; ``?wait=true[&timeout=s]`` returns
                          once every delivery has its final outcome (succeeded or failed)
    POST /_sandbox/wait   ``?timeout=s``: waits for every delivery in flight
    POST /_sandbox/enrollments/{id}/transfer   {"planned_course_id"}: moves it, emits enrollment.updated
    DELETE /_sandbox/records/{kind}/{id}       removes a record (kind: orders, enrollments, …) and
                          emits ``<resource>.deleted`` carrying the record as it was
    GET|POST /_sandbox/eduframe/rate-limit   the per-token window and its counts; POST
                          ``{"requests": N, "per_seconds": S}`` or ``{"requests": null}`` sets it

Rate limit: like Eduframe, every token may make ``requests`` calls per ``per_seconds`` (sliding
window, on the sandbox clock); past that the API answers 429 with ``Retry-After`` (whole seconds)
and Eduframe's error body ``{"errors": {}, "code": 429, "message": "Too Many Requests"}``.

Webhook delivery POSTs ``{"tenant_id", "educator", "event", "event_data"}`` to every active webhook
subscribed to the event, waits at most ``delivery_timeout`` (10 s) for a 2xx, and retries after each
of ``retry_delays`` (default 10, 60, 300 s) before marking the notification ``failed``.
"""

from __future__ import annotations

from sandbox.eduframe.app import create_app
from sandbox.eduframe.seed import DEFAULT_CUSTOM_FIELDS, EduframeSeed, demo_seed
from sandbox.eduframe.state import (
    DEFAULT_API_TOKEN,
    DEFAULT_DELIVERY_TIMEOUT,
    DEFAULT_EDUCATOR,
    DEFAULT_RETRY_DELAYS,
    DEFAULT_TENANT_ID,
)
from sandbox.eduframe.window import DEFAULT_LIMIT, Limit

__all__ = [
    "DEFAULT_API_TOKEN",
    "DEFAULT_CUSTOM_FIELDS",
    "DEFAULT_DELIVERY_TIMEOUT",
    "DEFAULT_EDUCATOR",
    "DEFAULT_LIMIT",
    "DEFAULT_RETRY_DELAYS",
    "DEFAULT_TENANT_ID",
    "EduframeSeed",
    "Limit",
    "create_app",
    "demo_seed",
]
