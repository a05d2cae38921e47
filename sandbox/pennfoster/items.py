"""Creating learners (v4 body) and leads in the sandbox: validate each item, then record or refuse it.

A learner is one person under one student id and alternate id, enrolled in one or more programs.
A learner object without ``addressbook_info.learner_id`` asks for a new learner, refused with
E608600001 when its alternate id exists. With the learner id of a known learner it adds the
program to that learner, refused with E614400005 when the learner is in the program already.
"""

from __future__ import annotations

import time
from typing import Any

from sandbox.pennfoster.checks import INVALID, MEANINGS, REQUIRED, Item
from sandbox.pennfoster.state import PennFosterState


def _organization(item: Item, info: dict[str, Any], path: str, digits: int, state: PennFosterState) -> None:
    """Ids must be well-formed and name a seeded organization → location → client chain."""
    org = item.ident(info, "organization_id", f"{path}.organization_id", digits, "E607100001")
    loc = item.ident(info, "location_id", f"{path}.location_id", digits, "E607200001")
    client = item.ident(info, "client_id", f"{path}.client_id", digits, "E607300001")
    if org is None or loc is None or client is None:
        return
    if org not in state.organizations:
        item.add("E607100001", f"{path}.organization_id")
    elif state.location(org, loc) is None:
        item.add("E607200001", f"{path}.location_id")
    elif state.client(org, loc, client) is None:
        item.add("E607300001", f"{path}.client_id")


def _program(item: Item, info: dict[str, Any], path: str, state: PennFosterState) -> str | None:
    program = item.text(
        info, "program_id", path, 15, required=True, missing="E614400001", too_long="E614400001"
    )
    if program is not None and state.programs is not None and program not in state.programs:
        item.add("E614400001", path)
        return None
    return program


def _error(status_key: str, code: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        status_key: "E",
        **extra,
        "errors": [{"error_code": code, "message": MEANINGS.get(code, code)}],
        "links": [],
    }


def create_learner(raw: Any, state: PennFosterState, now: float) -> dict[str, Any]:
    """One element of the ``POST /learners`` answer; a success is recorded in ``state``."""
    empty = {"order_number": "", "learner_id": "", "reference_id": ""}
    forced = state.take_item_fault("learners")
    if forced is not None:
        return _error("enrollment_status", forced, empty)
    item = Item()
    if not isinstance(raw, dict):
        item.add(INVALID, "learner")
        return {"enrollment_status": "E", **empty, "errors": item.errors, "links": []}
    item.text(raw, "enrollment_type", "enrollment_type", 15, required=True)
    for key, size in (
        ("transaction_guid", 36),
        ("sales_rep", 8),
        ("po_number", 75),
        ("order_number", 75),
        ("notes", 74),
        ("hold_codes", 10),
    ):
        item.text(raw, key, key, size)
    user = item.section(raw, "user_info", "user_info", required=False) or {}
    item.text(user, "user_name", "user_info.user_name", 40)
    item.text(user, "phone_number", "user_info.phone_number", 15)

    org = item.section(raw, "organization_info", "organization_info", required=True)
    if org is not None:
        _organization(item, org, "organization_info", 8, state)
        item.email(org, "contact_email_address", "organization_info.contact_email_address", 60, "E604100002")
        item.text(org, "primary_contact_name", "organization_info.primary_contact_name", 40)
        item.choice(
            org,
            "completion_document_shipping_preference",
            "organization_info.completion_document_shipping_preference",
            "EML SML",
            required=True,
        )

    book = item.section(raw, "addressbook_info", "addressbook_info", required=False) or {}
    previous = book.get("learner_id") or 0
    if isinstance(previous, bool) or not isinstance(previous, int) or not 0 <= previous < 10**8:
        item.add(INVALID, "addressbook_info.learner_id")
        previous = 0

    learner = item.section(raw, "learner_info", "learner_info", required=True)
    alternate_id: str | None = None
    if learner is not None:
        for key in ("first_name", "last_name"):
            item.text(learner, key, f"learner_info.{key}", 40, required=True, missing="E607400001")
        item.choice(learner, "gender", "learner_info.gender", "M F U", required=True)
        item.birth_date(learner, "date_of_birth", "learner_info.date_of_birth", required=False)
        item.email(learner, "email_address", "learner_info.email_address", 60, "E602600001")
        phone_type = item.choice(
            learner, "phone_type", "learner_info.phone_type", "H C W", invalid="E604200001"
        )
        item.text(
            learner,
            "phone_number",
            "learner_info.phone_number",
            60,
            required=True,
            missing="E604300001" if phone_type else REQUIRED,
        )
        item.text(learner, "secondary_phone_number", "learner_info.secondary_phone_number", 20)
        item.choice(
            learner,
            "secondary_phone_type",
            "learner_info.secondary_phone_type",
            "H C W",
            invalid="E604200001",
        )
        alternate_id = item.text(
            learner, "alternate_id", "learner_info.alternate_id", 75, required=True, missing="E608600002"
        )
        address = item.section(learner, "address", "learner_info.address", required=True)
        if address is not None:
            item.address(address, "learner_info.address", 60, required=True)

    program_info = item.section(raw, "program_info", "program_info", required=True)
    program = (
        _program(item, program_info, "program_info.program_id", state) if program_info is not None else None
    )
    if item.errors:
        return {"enrollment_status": "E", **empty, "errors": item.errors, "links": []}

    # No errors: every required section was present.
    assert alternate_id is not None and org is not None and learner is not None and program is not None
    if previous:
        known = state.by_student_id(str(previous))
        if known is None:
            return _error("enrollment_status", INVALID, empty)
        if known["alternate_id"] != alternate_id and state.by_alternate_id(alternate_id):
            return _error("enrollment_status", "E608600001", empty)  # the id is another learner's
        if _holds(known, program):
            return _error("enrollment_status", "E614400005", empty)
        person = known
    elif state.by_alternate_id(alternate_id):
        # Penn Foster's learner key: a second *new* learner under it is refused.
        return _error("enrollment_status", "E608600001", empty)
    else:
        person = state.add_learner(
            {
                "alternate_id": alternate_id,
                "first_name": learner["first_name"],
                "last_name": learner["last_name"],
                "email_address": learner["email_address"],
                "organization_id": int(org["organization_id"]),
                "location_id": int(org["location_id"]),
                "client_id": int(org["client_id"]),
            }
        )
    enrolled = time.strftime("%m/%d/%Y", time.gmtime(now))
    enrollment = state.add_enrollment(
        person,
        {
            "organization_id": int(org["organization_id"]),
            "location_id": int(org["location_id"]),
            "client_id": int(org["client_id"]),
            "program_id": program,
            "date_enrolled": enrolled,
            "date_last_active": enrolled,
            "enrollment_type": raw["enrollment_type"],
            "transaction_guid": raw.get("transaction_guid"),
            "learner_id_sent": previous or None,
            "order_number": str(state.next_order_number),
            "reference_id": f"SBX{state.next_order_number:07d}",
            # Only whether payment data came: the sandbox keeps no card or bank numbers.
            "payment_info_sent": raw.get("payment_info") is not None,
        },
    )
    state.next_order_number += 1
    return {
        "enrollment_status": "X",
        "order_number": enrollment["order_number"],
        "learner_id": person["learner_id"],
        "reference_id": enrollment["reference_id"],
        "errors": [],
        "links": [],
    }


def _holds(person: dict[str, Any], program: str) -> bool:
    """Whether the learner is in ``program`` already (in any state but canceled)."""
    return any(e["program_id"] == program and e["active_status"] != "Canceled" for e in person["enrollments"])


def create_lead(raw: Any, state: PennFosterState) -> dict[str, Any]:
    """One element of the ``POST /leads`` answer; a success is recorded in ``state``."""
    forced = state.take_item_fault("leads")
    if forced is not None:
        return _error("lead_status", forced, {"lead_id": ""})
    item = Item()
    if not isinstance(raw, dict):
        item.add(INVALID, "lead")
        return {"lead_status": "E", "lead_id": "", "errors": item.errors, "links": []}
    req = item.section(raw, "required_info", "required_info", required=True)
    if req is not None:
        _organization(item, req, "required_info", 6, state)
        _program(item, req, "required_info.program_id", state)
        for key in ("first_name", "last_name"):
            item.text(req, key, f"required_info.{key}", 40, required=True, missing="E607400001")
        item.birth_date(req, "date_of_birth", "required_info.date_of_birth", required=True)
        item.text(req, "phone_number", "required_info.phone_number", 20, required=True)
        item.email(req, "email_address", "required_info.email_address", 40, "E604100002")
        item.email(req, "contact_email_address", "required_info.contact_email_address", 40, "E604100002")
    opt = item.section(raw, "optional_info", "optional_info", required=False) or {}
    item.choice(opt, "gender", "optional_info.gender", "M F U")
    alternate_id = item.text(opt, "alternate_id", "optional_info.alternate_id", 75)
    address = item.section(opt, "address", "optional_info.address", required=False) or {}
    item.address(address, "optional_info.address", 40, required=False)
    if item.errors:
        return {"lead_status": "E", "lead_id": "", "errors": item.errors, "links": []}
    assert req is not None  # no errors: the required section was present
    if alternate_id is not None and any(lead["alternate_id"] == alternate_id for lead in state.leads):
        return _error("lead_status", "E608600001", {"lead_id": ""})
    lead = {
        "lead_id": str(state.next_lead_id),
        "alternate_id": alternate_id,
        "organization_id": int(req["organization_id"]),
        "program_id": str(req["program_id"]),
        "first_name": req["first_name"],
        "last_name": req["last_name"],
        "email_address": req["email_address"],
    }
    state.next_lead_id += 1
    state.leads.append(lead)
    return {"lead_id": lead["lead_id"], "lead_status": "X", "errors": [], "links": []}
