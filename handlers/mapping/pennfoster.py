"""Eduframe users and leads → Penn Foster learner and lead requests, following the doc's field rules.

Every value Penn Foster needs and Eduframe cannot supply becomes a ``PermanentError`` naming the
Penn Foster field, where it comes from in Eduframe, and the Eduframe record's id — never the value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar

from pydantic import BaseModel, ValidationError

from handlers.errors import PermanentError
from handlers.mapping import values as v
from handlers.mapping.ids import alternate_id, lead_alternate_id, transaction_guid
from handlers.partners.eduframe.models import Address, User
from handlers.partners.eduframe.webhooks import Lead
from handlers.partners.pennfoster import (
    LeadAddress,
    LeadOptionalInfo,
    LeadRequest,
    LeadRequiredInfo,
    LearnerInfo,
    LearnerRequest,
    OrganizationInfo,
    ProgramInfo,
)
from handlers.partners.pennfoster.error_map import PARTNER
from handlers.routes import CustomFieldNames, LearnerDefaults, PennFosterTarget

T = TypeVar("T")
Model = TypeVar("Model", bound=BaseModel)


class _Record:
    """The Eduframe record being mapped; turns ``Unusable`` into a message safe to log."""

    def __init__(self, what: str, who: str) -> None:
        self.what = what  # "penn_foster learner"
        self.who = who  # "Eduframe user 1001"

    def fail(self, field: str, reason: str, source: str = "") -> NoReturn:
        origin = f" ({source})" if source else ""
        raise PermanentError(f"{self.what}: {field} {reason}{origin} for {self.who}", partner=PARTNER)

    def get(self, field: str, source: str, produce: Callable[[], T]) -> T:
        try:
            return produce()
        except v.Unusable as exc:
            self.fail(field, exc.reason, source)

    def build(self, model: type[Model], **data: object) -> Model:
        # A last guard: the request models enforce the doc's sizes too; name fields, never values.
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
            self.fail(fields, "invalid")


def _custom(name: str) -> str:
    return f"Eduframe custom field {name!r}"


def _address(
    record: _Record, address: Address | None, defaults: LearnerDefaults, *, path: str, line: int
) -> dict[str, str | None]:
    """Street, city, state, postal code and country; a missing part is reported under ``path``."""
    if address is None:
        record.fail(path, "missing", "Eduframe address")
    a = address
    country = record.get(
        f"{path}.country",
        "Eduframe address.country",
        lambda: v.country_alpha3(v.present(a.country) or defaults.country),
    )
    return {
        "address_1": record.get(
            f"{path}.address_1",
            "Eduframe address.address",
            lambda: v.fit(v.require(v.present(a.address)), line),
        ),
        "address_2": record.get(
            f"{path}.address_2", "Eduframe address.address_line2", lambda: _optional(a.address_line2, line)
        ),
        "city": record.get(
            f"{path}.city", "Eduframe address.city", lambda: v.fit(v.require(v.present(a.city)), 25)
        ),
        "state": record.get(
            f"{path}.state",
            "Eduframe address.state_province",
            lambda: v.state(a.state_province, country, outside_us=defaults.state_outside_us),
        ),
        "postal_code": record.get(
            f"{path}.postal_code",
            "Eduframe address.postal_code",
            lambda: v.fit(v.require(v.present(a.postal_code)), 12),
        ),
        "country": country,
    }


def _optional(value: str | None, size: int) -> str | None:
    text = v.present(value)
    return None if text is None else v.fit(text, size)


def learner_request(
    user: User, target: PennFosterTarget, *, educator: str, effect_key: str, fields: CustomFieldNames
) -> LearnerRequest:
    """The v4 learner (enrollment) request for ``user`` on ``target``'s program."""
    record = _Record("penn_foster learner", f"Eduframe user {user.id}")
    defaults = target.defaults
    birth = user.custom_value(fields.birth_date)
    learner = record.build(
        LearnerInfo,
        first_name=record.get(
            "learner_info.first_name", "Eduframe first_name", lambda: v.letters(user.first_name, 40)
        ),
        last_name=record.get(
            "learner_info.last_name", "Eduframe last_name", lambda: v.letters(user.last_name, 40)
        ),
        gender=record.get(
            "learner_info.gender",
            _custom(fields.gender),
            lambda: v.gender(user.custom_value(fields.gender), defaults.gender),
        ),
        # Optional at Penn Foster: left out when absent, refused when present but unreadable.
        date_of_birth=None
        if birth is None
        else record.get(
            "learner_info.date_of_birth", _custom(fields.birth_date), lambda: v.birth_date(birth)
        ),
        email_address=record.get(
            "learner_info.email_address", "Eduframe email", lambda: v.email(user.email, 60)
        ),
        phone_number=record.get(
            "learner_info.phone_number",
            _custom(fields.phone),
            lambda: v.digits(user.custom_value(fields.phone), 60),
        ),
        phone_type=defaults.phone_type,
        alternate_id=alternate_id(educator, user.id),
        address=_address(record, user.address, defaults, path="learner_info.address", line=60),
    )
    organization = record.build(
        OrganizationInfo,
        organization_id=target.organization_id,
        location_id=target.location_id,
        client_id=target.client_id,
        contact_email_address=target.contact_email_address,
        ship_to_location=target.ship_to_location,
        completion_document_shipping_preference=target.completion_document_shipping_preference,
    )
    return record.build(
        LearnerRequest,
        enrollment_type=target.enrollment_type,
        transaction_guid=transaction_guid(effect_key),
        organization_info=organization,
        learner_info=learner,
        program_info=ProgramInfo(program_id=target.program_id),
    )


def lead_request(
    lead: Lead,
    target: PennFosterTarget,
    *,
    educator: str,
    effect_key: str,
    user: User | None = None,
    fields: CustomFieldNames | None = None,
) -> LeadRequest:
    """The Penn Foster lead for an Eduframe lead. Eduframe leads carry no birth date (which Penn
    Foster requires) nor gender: pass the lead's linked ``user`` (``lead.user_id``) to read them
    from its custom fields; its phone fills in when the lead has none. ``effect_key`` is accepted
    for symmetry with ``learner_request``: the lead body has no transaction id."""
    del effect_key
    names = fields or CustomFieldNames()
    record = _Record("penn_foster lead", f"Eduframe lead {lead.id}")
    defaults = target.defaults
    custom = user.custom_value if user is not None else (lambda name: None)
    required = record.build(
        LeadRequiredInfo,
        organization_id=target.organization_id,
        location_id=target.location_id,
        client_id=target.client_id,
        program_id=target.program_id,
        first_name=record.get(
            "required_info.first_name", "Eduframe first_name", lambda: v.letters(lead.first_name, 40)
        ),
        last_name=record.get(
            "required_info.last_name", "Eduframe last_name", lambda: v.letters(lead.last_name, 40)
        ),
        date_of_birth=record.get(
            "required_info.date_of_birth",
            f"{_custom(names.birth_date)} of the lead's user",
            lambda: v.birth_date(custom(names.birth_date)),
        ),
        phone_number=record.get(
            "required_info.phone_number",
            "Eduframe phone",
            lambda: v.digits(v.present(lead.phone) or custom(names.phone), 20),
        ),
        email_address=record.get(
            "required_info.email_address", "Eduframe email", lambda: v.email(lead.email, 40)
        ),
        contact_email_address=target.contact_email_address,
    )
    # The address is optional for leads: sent when Eduframe has one, and then it must be valid.
    address = None
    if lead.address is not None and v.present(lead.address.address) is not None:
        address = record.build(
            LeadAddress, **_address(record, lead.address, defaults, path="optional_info.address", line=40)
        )
    optional = record.build(
        LeadOptionalInfo,
        gender=record.get(
            "optional_info.gender",
            _custom(names.gender),
            lambda: v.gender(custom(names.gender), defaults.gender),
        ),
        alternate_id=lead_alternate_id(educator, lead.id, target.program_id),
        address=address,
    )
    return LeadRequest(required_info=required, optional_info=optional)
