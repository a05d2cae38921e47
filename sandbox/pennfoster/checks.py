"""Per-item validation of learner and lead objects, answering with Penn Foster's system codes.

Where the doc names a code for a problem the sandbox uses it; where it names none the sandbox
answers with one of its own three codes (``SANDBOX_CODES``), which Penn Foster never sends.
"""

from __future__ import annotations

from typing import Any

import pycountry

# The doc's codes the sandbox produces (meanings from its "Penn Foster System Codes" table).
DOC_CODES = {
    "E601400001": "Country is invalid",
    "E601400002": "Country is required",
    "E602600001": "Invalid student email address.",
    "E604000001": "Zip code must be entered",
    "E604100001": "Email address must be entered",
    "E604100002": "Invalid email address",
    "E604200001": "Invalid phone type",
    "E604300001": "Phone number must be entered when there is a phone type",
    "E607100001": "Invalid parent id",
    "E607200001": "Invalid location id",
    "E607300001": "Invalid client id",
    "E607400001": "Student name must be entered",
    "E607700001": "Address line 1 must be entered",
    "E607800001": "City must be entered",
    "E607900001": "Invalid state code",
    "E608600001": "Alternate id alrady exists",
    "E608600002": "Alternate id is required",
    "E614400001": "Invalid product code",
    "E614400005": "Product code already exists for student",
    "E999999001": "Order is currently being processed by: SANDBOX",
}
REQUIRED = "E690000001"
TOO_LONG = "E690000002"
INVALID = "E690000003"
SANDBOX_CODES = {
    REQUIRED: "Sandbox: required field is missing",
    TOO_LONG: "Sandbox: field exceeds its documented size",
    INVALID: "Sandbox: field has an invalid value",
}
MEANINGS = {**DOC_CODES, **SANDBOX_CODES}


def _is_email(value: str) -> bool:
    local, at, domain = value.partition("@")
    return bool(local and at and "." in domain.strip("."))


class Item:
    """Collects the errors of one learner or lead object; every getter names the field's path."""

    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []

    def add(self, code: str, path: str) -> None:
        self.errors.append({"error_code": code, "message": f"{MEANINGS.get(code, code)} ({path})"})

    def section(self, obj: dict[str, Any], key: str, path: str, *, required: bool) -> dict[str, Any] | None:
        """The object at ``key``; ``None`` (one error if required) when absent or not an object."""
        value = obj.get(key)
        if value is None:
            if required:
                self.add(REQUIRED, path)
            return None
        if not isinstance(value, dict):
            self.add(INVALID, path)
            return None
        return value

    def text(
        self,
        obj: dict[str, Any],
        key: str,
        path: str,
        size: int,
        *,
        required: bool = False,
        missing: str = REQUIRED,
        too_long: str = TOO_LONG,
    ) -> str | None:
        value = obj.get(key)
        if value is None or value == "":
            if required:
                self.add(missing, path)
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.add(INVALID, path)
            return None
        text = str(value)
        if len(text) > size:
            self.add(too_long, path)
            return None
        return text

    def ident(self, obj: dict[str, Any], key: str, path: str, digits: int, code: str) -> int | None:
        """An organization/location/client id: a number (or digit string) of at most ``digits``."""
        value = obj.get(key)
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 10**digits:
            self.add(code, path)
            return None
        return value

    def choice(
        self,
        obj: dict[str, Any],
        key: str,
        path: str,
        allowed: str,
        *,
        required: bool = False,
        invalid: str = INVALID,
    ) -> str | None:
        value = obj.get(key)
        if value is None or value == "":
            if required:
                self.add(REQUIRED, path)
            return None
        if value not in allowed.split():
            self.add(invalid, path)
            return None
        return str(value)

    def email(self, obj: dict[str, Any], key: str, path: str, size: int, invalid: str) -> str | None:
        value = self.text(obj, key, path, size, required=True, missing="E604100001")
        if value is not None and not _is_email(value):
            self.add(invalid, path)
            return None
        return value

    def birth_date(self, obj: dict[str, Any], key: str, path: str, *, required: bool) -> None:
        value = obj.get(key)
        if value is None or value == "":
            if required:
                self.add(REQUIRED, path)
            return
        if not isinstance(value, str) or len([ch for ch in value if ch.isdigit()]) != 8:
            self.add(INVALID, path)

    def address(self, obj: dict[str, Any], path: str, line: int, *, required: bool) -> None:
        """Street lines, city, state, postal code and country with the documented sizes and codes."""
        for n in range(1, 5):
            self.text(
                obj,
                f"address_{n}",
                f"{path}.address_{n}",
                line,
                required=required and n == 1,
                missing="E607700001",
            )
        self.text(obj, "city", f"{path}.city", 25, required=required, missing="E607800001")
        self.text(obj, "postal_code", f"{path}.postal_code", 12, required=required, missing="E604000001")
        country = self.text(
            obj,
            "country",
            f"{path}.country",
            3,
            required=required,
            missing="E601400002",
            too_long="E601400001",
        )
        if country is not None and pycountry.countries.get(alpha_3=country.upper()) is None:
            self.add("E601400001", f"{path}.country")
            country = None
        state = self.text(
            obj, "state", f"{path}.state", 3, required=required, missing="E607900001", too_long="E607900001"
        )
        if state is None:
            return
        if country is not None and country.upper() == "USA":
            subdivision = pycountry.subdivisions.get(code=f"US-{state.upper()}")  # type: ignore[no-untyped-call]
            if subdivision is None:
                self.add("E607900001", f"{path}.state")
        elif not state.isalnum():
            self.add("E607900001", f"{path}.state")
