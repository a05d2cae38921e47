"""The Penn Foster lead request body (``POST {leads_prefix}/leads``), sizes from the doc's tables."""

from __future__ import annotations

from pydantic import Field

from handlers.partners.pennfoster.fields import (
    BirthDate,
    Email,
    Gender,
    OrgId6,
    RequestModel,
    required_text,
    text,
)


class LeadAddress(RequestModel):
    address_1: str | None = text(40, personal=True)
    address_2: str | None = text(40, personal=True)
    address_3: str | None = text(40, personal=True)
    address_4: str | None = text(40, personal=True)
    city: str | None = text(25, personal=True)
    state: str | None = text(3, personal=True)
    postal_code: str | None = text(12, personal=True)
    country: str | None = Field(None, min_length=3, max_length=3, repr=False)


class LeadRequiredInfo(RequestModel):
    organization_id: OrgId6
    location_id: OrgId6
    client_id: OrgId6
    program_id: str = required_text(15)
    first_name: str = required_text(40, personal=True)
    last_name: str = required_text(40, personal=True)
    # Size 8 counts digits: the doc's own example is "01/01/1963".
    date_of_birth: BirthDate = Field(min_length=8, repr=False)
    phone_number: str = required_text(20, personal=True)
    email_address: Email = Field(max_length=40, repr=False)
    contact_email_address: Email = Field(max_length=40)


class LeadOptionalInfo(RequestModel):
    gender: Gender | None = Field(None, repr=False)
    alternate_id: str | None = text(75)
    address: LeadAddress | None = Field(None, repr=False)


class LeadRequest(RequestModel):
    """One lead object; the client sends a flat array of these (the doc's example nests it)."""

    required_info: LeadRequiredInfo
    optional_info: LeadOptionalInfo | None = None
