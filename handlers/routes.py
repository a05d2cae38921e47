"""Routing configuration: which Eduframe offerings go to which Penn Foster and Appsembler targets.

The TOML file (``EDUHOOK_CONFIG``) holds ``[[routes]]``; each route matches on Eduframe
``course_id``, ``course_code`` and/or ``catalog_product_id`` (every matcher given must match) and
names one or more targets. The first matching route in file order wins; an offering that matches
none is ignored ("no route"). ``[user_fields]`` names the Eduframe custom fields that hold the
phone, birth date and gender Penn Foster needs, since Eduframe users have no such fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

import pycountry
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from eduhook.config_problems import KeyMap, describe_errors
from handlers.errors import ConfigurationError
from handlers.partners.appsembler.course_keys import validate_course_key
from handlers.partners.eduframe.models import CatalogVariant, Course
from handlers.partners.pennfoster.fields import Email

MATCHERS = ("course_id", "course_code", "catalog_product_id")
TARGETS = ("penn_foster", "appsembler")
# Penn Foster's lead table gives ids 6 digits and emails 40 characters; the v4 learner table 8 and 60.
_LEAD_ID_MAX = 999_999
_LEAD_EMAIL_MAX = 40


class _Config(BaseModel):
    """Configuration values: typos are errors, and a route never changes once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _alpha3(value: str) -> str:
    country = pycountry.countries.get(alpha_2=value.upper()) if len(value) == 2 else None
    if country is None and len(value) == 3:
        country = pycountry.countries.get(alpha_3=value.upper())
    if country is None:
        raise ValueError("not an ISO 3166 alpha-2 or alpha-3 country code")
    return str(country.alpha_3)


class LearnerDefaults(_Config):
    """Learner values Penn Foster wants and Eduframe may lack, used only when Eduframe has none."""

    gender: Literal["M", "F", "U"] = "U"
    # The doc's phone types: H home, C cell, W work. Penn Foster does not require one.
    phone_type: Literal["H", "C", "W"] | None = None
    # For addresses without a country; alpha-2 or alpha-3 in the file, kept as alpha-3.
    country: Annotated[str, AfterValidator(_alpha3)] | None = None
    # Penn Foster requires a state; outside the US an address may have none. Never used for the US,
    # where a missing state is an error rather than a guess.
    state_outside_us: str | None = Field(None, min_length=1, max_length=3, pattern=r"^[A-Za-z0-9]+$")


class PennFosterTarget(_Config):
    program_id: str = Field(min_length=1, max_length=15, pattern=r"^\S+$")
    organization_id: int = Field(ge=1, le=99_999_999)
    location_id: int = Field(ge=1, le=99_999_999)
    client_id: int = Field(ge=1, le=99_999_999)
    enrollment_type: str = Field(min_length=1, max_length=15)
    contact_email_address: Email = Field(max_length=60)
    completion_document_shipping_preference: Literal["EML", "SML"] = "EML"
    ship_to_location: bool = False
    defaults: LearnerDefaults = LearnerDefaults()
    leads: bool = False

    @model_validator(mode="after")
    def _fits_leads(self) -> PennFosterTarget:
        if not self.leads:
            return self
        too_big = [
            name
            for name in ("organization_id", "location_id", "client_id")
            if getattr(self, name) > _LEAD_ID_MAX
        ]
        if too_big:
            raise ValueError(f"{', '.join(too_big)}: Penn Foster leads take at most 6 digits (leads = true)")
        if len(self.contact_email_address) > _LEAD_EMAIL_MAX:
            raise ValueError("contact_email_address: Penn Foster leads take at most 40 characters")
        return self


CourseKey = Annotated[str, AfterValidator(validate_course_key)]


class AppsemblerTarget(_Config):
    course_ids: list[CourseKey] = Field(min_length=1)
    create_accounts: bool = True
    auto_enroll: bool = True
    email_students: bool = False

    @model_validator(mode="after")
    def _distinct(self) -> AppsemblerTarget:
        if len(set(self.course_ids)) != len(self.course_ids):
            raise ValueError("course_ids: a course key is listed twice")
        return self


class Route(_Config):
    name: str = Field(min_length=1, pattern=r"\S")
    course_id: int | None = None
    course_code: str | None = Field(None, min_length=1)
    catalog_product_id: int | None = None
    penn_foster: PennFosterTarget | None = None
    appsembler: AppsemblerTarget | None = None

    @model_validator(mode="after")
    def _complete(self) -> Route:
        problems = [*_presence(self.model_dump())]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def matchers(self) -> dict[str, int | str]:
        """The matchers this route gives, by name."""
        return {name: value for name in MATCHERS if (value := getattr(self, name)) is not None}

    def matches(self, offering: Offering) -> bool:
        return all(getattr(offering, name) == value for name, value in self.matchers.items())


def _presence(raw: Mapping[str, Any]) -> list[str]:
    problems = []
    if all(raw.get(name) is None for name in MATCHERS):
        problems.append("no matcher: give course_id, course_code or catalog_product_id")
    if all(raw.get(name) is None for name in TARGETS):
        problems.append("no target: give [routes.penn_foster] and/or [routes.appsembler]")
    return problems


@dataclass(frozen=True)
class Offering:
    """What an Eduframe order, enrollment or lead is for, in the terms routes match on."""

    course_id: int | None
    course_code: str | None
    catalog_product_id: int | None

    @classmethod
    def from_eduframe(cls, variant: CatalogVariant | None, course: Course | None) -> Offering:
        """From the catalog variant bought and the course behind it (either may be unknown)."""
        return cls(
            course_id=course.id if course is not None else None,
            course_code=course.code if course is not None else None,
            catalog_product_id=variant.catalog_product_id if variant is not None else None,
        )


class RouteConfigError(ConfigurationError):
    """The routes (or ``[user_fields]``) are wrong; ``problems`` holds one line per mistake.

    A configuration error, so an event that meets it goes dead at once, with every line in its
    reason; ``serve``, ``worker``, ``beat`` and ``dev`` refuse to start with one.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid routes configuration: " + "; ".join(problems))
        self.problems = problems


@cache
def route_keys() -> KeyMap:
    """The tables a ``[[routes]]`` entry may hold, and their keys, for "did you mean" hints."""
    return KeyMap.of_model(Route, ("routes",), array=True)


@dataclass(frozen=True)
class RouteTable:
    routes: tuple[Route, ...]

    @classmethod
    def parse(cls, raw: list[dict[str, Any]]) -> RouteTable:
        """Validate every ``[[routes]]`` entry; raise ``RouteConfigError`` listing all problems."""
        problems: list[str] = []
        routes: list[Route] = []
        seen: dict[str, int] = {}
        for index, entry in enumerate(raw, start=1):
            label = f"route #{index}"
            if not isinstance(entry, Mapping):
                problems.append(f"{label}: must be a table ([[routes]])")
                continue
            name = entry.get("name")
            if isinstance(name, str) and name.strip():
                label = f"route {name!r}"
                if name in seen:
                    problems.append(f"{label}: duplicate name (route #{seen[name]} has it too)")
                seen.setdefault(name, index)
            found = _presence(entry)
            try:
                routes.append(Route.model_validate(entry))
            except ValidationError as exc:
                # The route-level check repeats ``_presence`` (already in ``found``): fields only.
                described = describe_errors(exc, fields_only=True, keys=route_keys(), at=("routes",))
                found += described or ([] if found else describe_errors(exc))
            problems += [f"{label}: {problem}" for problem in found]
        if not problems:
            problems = _shadowed(routes)
        if problems:
            raise RouteConfigError(problems)
        return cls(tuple(routes))

    @classmethod
    def from_settings(cls, settings: Any) -> RouteTable:
        """The routes of ``Settings.routes`` (the TOML ``[[routes]]``)."""
        return cls.parse(list(getattr(settings, "routes", None) or []))

    def match(self, offering: Offering) -> Route | None:
        """The first route, in file order, whose matchers all equal the offering's values."""
        return next((route for route in self.routes if route.matches(offering)), None)


def _shadowed(routes: list[Route]) -> list[str]:
    # A route whose matchers include every matcher of an earlier route can never be chosen.
    problems = []
    for later_index, later in enumerate(routes):
        for earlier in routes[:later_index]:
            if earlier.matchers.items() <= later.matchers.items():
                problems.append(
                    f"route {later.name!r}: can never match: route {earlier.name!r} above it "
                    "matches every offering it does"
                )
                break
    return problems


class CustomFieldNames(_Config):
    """``[user_fields]``: the Eduframe custom fields holding values Eduframe users lack."""

    phone: str = Field("phone", min_length=1)
    birth_date: str = Field("birth_date", min_length=1)
    gender: str = Field("gender", min_length=1)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> CustomFieldNames:
        try:
            return cls.model_validate(dict(raw))
        except ValidationError as exc:
            keys = KeyMap.of_model(cls, ("user_fields",))
            lines = describe_errors(exc, keys=keys, at=("user_fields",))
            raise RouteConfigError([f"user_fields.{line}" for line in lines]) from None

    @classmethod
    def from_settings(cls, settings: Any) -> CustomFieldNames:
        """From ``settings.user_fields`` (or a plain mapping); the sandbox seed's names by default."""
        raw = settings if isinstance(settings, Mapping) else getattr(settings, "user_fields", None)
        return cls.parse(raw or {})
