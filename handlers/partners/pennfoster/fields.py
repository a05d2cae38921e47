"""Field types shared by Penn Foster request models: documented sizes, email shape, hidden errors."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, SerializationInfo

# The context key that lets ``model_dump`` write payment secrets in clear (only when sending).
REVEAL_SECRETS = "reveal_secrets"

Gender = Literal["M", "F", "U"]
PhoneType = Literal["H", "C", "W"]


class RequestModel(BaseModel):
    """Base of every body we send: unknown fields are our own typos, and errors never echo values."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, validate_assignment=True)


class ResponseModel(BaseModel):
    """Base of every answer we read: unknown fields are dropped (they could carry personal data into
    reprs), and errors never echo values."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True, populate_by_name=True)


def _email_shape(value: str) -> str:
    # Penn Foster's only documented rule: "Must have an @ and a ."; stricter checks would reject
    # addresses Penn Foster accepts.
    local, at, domain = value.partition("@")
    if not (local and at and "." in domain.strip(".")):
        raise ValueError("must contain an @ followed by a domain with a dot")
    return value


def _birth_date(value: str) -> str:
    # "Format mmddyyyy, non-numeric values will be removed": what remains must be 8 digits.
    if value and len("".join(ch for ch in value if ch.isdigit())) != 8:
        raise ValueError("must hold 8 digits (mmddyyyy)")
    return value


def text(size: int, *, personal: bool = False) -> Any:
    """A ``Field`` for an optional string of at most ``size`` characters (the doc's Size column)."""
    return Field(None, max_length=size, repr=not personal)


def required_text(size: int, *, personal: bool = False) -> Any:
    """A ``Field`` for a required, non-empty string of at most ``size`` characters."""
    return Field(min_length=1, max_length=size, repr=not personal)


Email = Annotated[str, AfterValidator(_email_shape)]
BirthDate = Annotated[str, AfterValidator(_birth_date)]
# Organization, location and client ids: numbers in every example, "String 8" in the v4 table.
OrgId8 = Annotated[int, Field(ge=0, le=99_999_999)]
OrgId6 = Annotated[int, Field(ge=0, le=999_999)]


def reveal(value: SecretStr | None, info: SerializationInfo) -> str | None:
    """Serializer for payment secrets: clear text only when the dump asks for it explicitly."""
    if value is None:
        return None
    context = info.context or {}
    if context.get(REVEAL_SECRETS):
        return value.get_secret_value()
    return "**********"
