"""The Penn Foster sandbox's memory: credentials, organizations, tokens, learners, leads, cancels."""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass, field
from typing import Any

DEFAULT_CLIENT_ID = "eduhook-sandbox"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"
DEFAULT_API_KEY = "sandbox-api-key"
DEFAULT_TOKEN_TTL = 3600
# What belongs to the learner (the person) rather than to one of its enrollments. Organization
# ids belong to both: the learner keeps where it was first enrolled, each enrollment its own.
PERSON_OWN = ("learner_id", "alternate_id", "first_name", "last_name", "email_address")
PERSON_FIELDS = (*PERSON_OWN, "organization_id", "location_id", "client_id")

# The ids from Penn Foster's own examples, so documented payloads work against the sandbox.
DEFAULT_ORGANIZATIONS: list[dict[str, Any]] = [
    {
        "organization_id": 141982,
        "name": "Sandbox Learning Partner",
        "locations": [
            {
                "location_id": 244648,
                "name": "Denver",
                "clients": [{"client_id": 329209, "name": "Sandbox Client"}],
            }
        ],
    },
    {
        "organization_id": 143738,
        "name": "Mockingbird Partner",
        "locations": [
            {
                "location_id": 247319,
                "name": "Mockingbird Heights",
                "clients": [{"client_id": 333813, "name": "Mockingbird Client"}],
            }
        ],
    },
]


def _address(data: dict[str, Any]) -> dict[str, Any]:
    address = {
        "address_1": "",
        "address_2": "",
        "address_3": "",
        "address_4": "",
        "city": "",
        "state": "",
        "postal_code": "",
        "country": "USA",
    }
    address.update(data.get("address") or {})
    return address


def organization_tree(seed: dict[str, Any]) -> dict[str, Any]:
    """A seeded organization filled out to the documented response shape."""
    org_id = int(seed["organization_id"])
    locations = []
    for loc in seed.get("locations", []):
        loc_id = int(loc["location_id"])
        clients = [
            {
                "organization_id": org_id,
                "location_id": loc_id,
                "client_id": int(cl["client_id"]),
                "type": cl.get("type", "Client"),
                "name": cl.get("name", ""),
                "status": cl.get("status", "Active"),
                "address": _address(cl),
            }
            for cl in loc.get("clients", [])
        ]
        locations.append(
            {
                "organization_id": org_id,
                "location_id": loc_id,
                "type": loc.get("type", "Location"),
                "name": loc.get("name", ""),
                "status": loc.get("status", "Active"),
                "address": _address(loc),
                "clients": clients,
            }
        )
    return {
        "organization_id": org_id,
        "type": seed.get("type", "Parent"),
        "name": seed.get("name", ""),
        "status": seed.get("status", "Active"),
        "address": _address(seed),
        "locations": locations,
        "errors": [],
        "links": [],
    }


@dataclass
class ItemFault:
    """Forces the next ``remaining`` learner or lead items to fail with ``code``."""

    code: str
    remaining: int
    target: str = "learners"  # or "leads"

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "remaining": self.remaining, "target": self.target}


@dataclass
class LateAnswer:
    """The next ``remaining`` learner batches are carried out at once but answered only after
    ``delay`` seconds: a client with a shorter timeout never hears that they were."""

    delay: float
    remaining: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"delay": self.delay, "remaining": self.remaining}


@dataclass
class PennFosterState:
    client_id: str
    client_secret: str
    api_key: str
    token_ttl: int
    organizations: dict[int, dict[str, Any]]
    programs: dict[str, str] | None  # None: any well-formed program id is accepted
    # One per learner (person): its ids and name, and "enrollments", one per program.
    learners: list[dict[str, Any]] = field(default_factory=list)
    leads: list[dict[str, Any]] = field(default_factory=list)
    cancel_requests: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[str, float] = field(default_factory=dict)  # token → expiry on the sandbox clock
    tokens_issued: int = 0
    item_faults: list[ItemFault] = field(default_factory=list)
    late_answers: list[LateAnswer] = field(default_factory=list)
    next_student_id: int = 56012279
    next_order_number: int = 51775
    next_lead_id: int = 123456
    next_resource_id: int = 100

    @classmethod
    def from_seed(cls, seed: dict[str, Any] | None) -> PennFosterState:
        seed = copy.deepcopy(seed or {})
        orgs = [organization_tree(org) for org in seed.get("organizations", DEFAULT_ORGANIZATIONS)]
        programs = seed.get("programs")
        state = cls(
            client_id=str(seed.get("client_id", DEFAULT_CLIENT_ID)),
            client_secret=str(seed.get("client_secret", DEFAULT_CLIENT_SECRET)),
            api_key=str(seed.get("api_key", DEFAULT_API_KEY)),
            token_ttl=int(seed.get("token_ttl", DEFAULT_TOKEN_TTL)),
            organizations={org["organization_id"]: org for org in orgs},
            programs=({str(k): str(v) for k, v in programs.items()} if programs is not None else None),
        )
        for row in seed.get("learners", []):
            state.add_seeded(row)
        return state

    # Tokens -----------------------------------------------------------------------------------

    def issue_token(self, now: float) -> str:
        token = secrets.token_urlsafe(24)
        self.tokens[token] = now + self.token_ttl
        self.tokens_issued += 1
        return token

    def token_valid(self, token: str, now: float) -> bool:
        expires = self.tokens.get(token)
        return expires is not None and now < expires

    # Organizations ----------------------------------------------------------------------------

    def location(self, org_id: int, loc_id: int) -> dict[str, Any] | None:
        org = self.organizations.get(org_id)
        found = [loc for loc in (org or {}).get("locations", []) if loc["location_id"] == loc_id]
        return found[0] if found else None

    def client(self, org_id: int, loc_id: int, client_id: int) -> dict[str, Any] | None:
        loc = self.location(org_id, loc_id)
        found = [cl for cl in (loc or {}).get("clients", []) if cl["client_id"] == client_id]
        return found[0] if found else None

    # Learners ---------------------------------------------------------------------------------

    def add_learner(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A new learner (a person, one student id) with no enrollments yet; ids not given are
        generated."""
        learner: dict[str, Any] = {key: None for key in PERSON_FIELDS}
        learner.update({key: "" for key in ("first_name", "last_name", "email_address")})
        learner.update({key: value for key, value in fields.items() if key in PERSON_FIELDS})
        if not learner["learner_id"]:
            learner["learner_id"] = str(self.next_student_id)
            self.next_student_id += 1
        learner["learner_id"] = str(learner["learner_id"])
        learner["enrollments"] = []
        self.learners.append(learner)
        return learner

    def add_enrollment(self, learner: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        """One program for ``learner``; a learner holds as many as it was enrolled in."""
        enrollment: dict[str, Any] = {
            "organization_id": learner["organization_id"],
            "location_id": learner["location_id"],
            "client_id": learner["client_id"],
            "program_id": "",
            "program_name": "",
            "active_status": "Active",
            "date_enrolled": "",
            "date_last_active": "",
            "date_completed": "",
            "expiration_date": "",
        }
        enrollment.update({key: value for key, value in fields.items() if key not in PERSON_OWN})
        program = enrollment["program_id"]
        if not enrollment["program_name"] and program:
            enrollment["program_name"] = (self.programs or {}).get(program, "Sandbox Program")
        learner["enrollments"].append(enrollment)
        return enrollment

    def add_seeded(self, row: dict[str, Any]) -> None:
        """A seed record in the lookup shape: rows with the same ``learner_id`` are one learner."""
        learner = self.by_student_id(str(row["learner_id"])) if row.get("learner_id") else None
        if learner is None:
            learner = self.add_learner(row)
        if row.get("program_id"):
            self.add_enrollment(learner, row)

    def by_student_id(self, student_id: str) -> dict[str, Any] | None:
        found = [learner for learner in self.learners if learner["learner_id"] == student_id]
        return found[0] if found else None

    def by_alternate_id(self, alternate_id: str) -> list[dict[str, Any]]:
        return [learner for learner in self.learners if learner["alternate_id"] == alternate_id]

    def take_item_fault(self, target: str) -> str | None:
        for fault in self.item_faults:
            if fault.target == target and fault.remaining > 0:
                fault.remaining -= 1
                return fault.code
        return None

    def take_late_answer(self) -> float | None:
        """The delay of the next learner batch's answer, if one was asked for."""
        for late in self.late_answers:
            if late.remaining > 0:
                late.remaining -= 1
                return late.delay
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "learners": self.learners,
            "leads": self.leads,
            "cancel_requests": self.cancel_requests,
            "tokens_issued": self.tokens_issued,
            "organizations": list(self.organizations),
            "programs": self.programs,
            "item_faults": [f.to_json() for f in self.item_faults if f.remaining > 0],
            "late_answers": [late.to_json() for late in self.late_answers if late.remaining > 0],
        }
