"""The Penn Foster sandbox's HTTP surface: token, learners, leads, cancels, organizations, controls."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.base import SandboxClock, SandboxCore, build_sandbox_app, json_response, read_json
from sandbox.pennfoster.items import create_lead, create_learner
from sandbox.pennfoster.lookups import (
    error_response,
    find_learners,
    latest,
    learner_page,
    organization,
    record_cancel,
    rows,
)
from sandbox.pennfoster.state import ItemFault, LateAnswer, PennFosterState

LEARNERS = "/api/v4/b2b"
LEADS = "/api/v3/b2b"
MAX_BATCH = 20
DENIED = "Authorization has been denied for this request."


class PennFosterSandbox:
    """Holds the state (replaced on reset) and answers every route."""

    def __init__(self, seed: dict[str, Any] | None, core: SandboxCore) -> None:
        self.seed = seed
        self.core = core
        self.state = PennFosterState.from_seed(seed)

    def reset(self) -> None:
        self.state = PennFosterState.from_seed(self.seed)

    # Auth -------------------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        state = self.state
        header = request.headers.get("authorization", "").strip()
        if header[:6].lower() == "basic ":  # the doc sends no scheme word; accept both
            header = header[6:].strip()
        try:
            pair = base64.b64decode(header, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            pair = ""
        expected = f"{state.client_id}:{state.client_secret}"
        if not hmac.compare_digest(pair.encode(), expected.encode()):
            return json_response({"error": "invalid_client", "message": "Invalid client credentials."}, 401)
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        if form.get("grant_type") != ["client_credentials"]:
            return json_response(
                {
                    "error": "unsupported_grant_type",
                    "message": "grant_type must be client_credentials (form encoded).",
                },
                400,
            )
        api_key = (form.get("api_key") or [""])[0]
        if not hmac.compare_digest(api_key.encode(), state.api_key.encode()):
            return json_response({"error": "invalid_client", "message": "Invalid api_key."}, 401)
        token = state.issue_token(self.core.clock())
        # expires_in is a string in Penn Foster's documented answer.
        return json_response(
            {"access_token": token, "token_type": "bearer", "expires_in": str(state.token_ttl)}
        )

    def _denied(self, request: Request) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not self.state.token_valid(token.strip(), self.core.clock()):
            return error_response(401, DENIED)
        return None

    # Learners and leads -----------------------------------------------------------------------

    async def _batch(self, request: Request, kind: str) -> list[Any] | Response:
        try:
            body = await read_json(request)
        except ValueError as exc:
            return error_response(400, f"The request is invalid: {exc}")
        if kind == "lead" and isinstance(body, list) and body and all(isinstance(x, list) for x in body):
            body = [item for inner in body for item in inner]  # the doc's example nests the array
        if not isinstance(body, list):
            return error_response(400, f"The request is invalid: expected a JSON array of {kind} objects.")
        if not body:
            return error_response(400, f"The request is invalid: the array holds no {kind} objects.")
        if len(body) > MAX_BATCH:
            return error_response(
                400,
                f"The request is invalid: the maximum length of the array is {MAX_BATCH}"
                f" per request, got {len(body)} {kind} objects.",
            )
        return body

    async def create_learners(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        body = await self._batch(request, "learner")
        if isinstance(body, Response):
            return body
        answer = json_response([create_learner(raw, self.state, self.core.clock()) for raw in body])
        delay = self.state.take_late_answer()
        if delay is not None:
            await asyncio.sleep(delay)  # carried out already: only the answer is late
        return answer

    async def create_leads(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        body = await self._batch(request, "lead")
        if isinstance(body, Response):
            return body
        return json_response([create_lead(raw, self.state) for raw in body])

    async def get_learners(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        return find_learners(self.state, request.query_params)

    async def get_learner_by_path(self, request: Request) -> Response:
        """The doc's examples also put the student or alternate id in the path."""
        if (denied := self._denied(request)) is not None:
            return denied
        key = request.path_params["key"]
        learner = self.state.by_student_id(key)
        if learner is not None:
            return json_response(latest(learner))
        return learner_page(rows(self.state.by_alternate_id(key)), request.query_params)

    async def cancel(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        try:
            body = await read_json(request)
        except ValueError as exc:
            return error_response(400, f"The request is invalid: {exc}")
        if not isinstance(body, dict):
            return error_response(400, "The request is invalid: expected a JSON object.")
        if "student_id" in request.path_params:
            body["student_id"] = request.path_params["student_id"]
        return record_cancel(self.state, body)

    async def organization(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        return organization(self.state, request.path_params)

    # Organizations ----------------------------------------------------------------------------

    # Sandbox controls -------------------------------------------------------------------------

    async def add_item_errors(self, request: Request) -> Response:
        try:
            data = await read_json(request)
            fault = ItemFault(
                code=str(data.get("code", "E999999001")),
                remaining=int(data.get("count", 1)),
                target=str(data.get("target", "learners")),
            )
            if fault.target not in ("learners", "leads") or not fault.code.startswith("E"):
                raise ValueError("target must be learners or leads, code an E… code")
        except (ValueError, TypeError, AttributeError) as exc:
            return error_response(400, str(exc))
        self.state.item_faults.append(fault)
        return json_response([f.to_json() for f in self.state.item_faults if f.remaining > 0])

    async def clear_item_errors(self, request: Request) -> Response:
        self.state.item_faults.clear()
        return json_response({"cleared": True})

    async def revoke_tokens(self, request: Request) -> Response:
        revoked = len(self.state.tokens)
        self.state.tokens.clear()
        return json_response({"revoked": revoked})

    async def add_late_answers(self, request: Request) -> Response:
        try:
            data = await read_json(request)
            late = LateAnswer(delay=float(data.get("delay", 2.0)), remaining=int(data.get("count", 1)))
            if late.delay <= 0 or late.remaining < 1:
                raise ValueError("delay must be above 0 and count at least 1")
        except (ValueError, TypeError, AttributeError) as exc:
            return error_response(400, str(exc))
        self.state.late_answers.append(late)
        return json_response([x.to_json() for x in self.state.late_answers if x.remaining > 0])

    async def execute_cancels(self, request: Request) -> Response:
        """Plays Penn Foster staff: every requested cancellation is carried out."""
        done = 0
        for cancel in self.state.cancel_requests:
            if cancel["status"] == "requested":
                learner = self.state.by_student_id(str(cancel["student_id"])) or {"enrollments": []}
                for enrollment in learner["enrollments"]:
                    if enrollment["program_id"] == cancel["program_id"]:
                        enrollment["active_status"] = "Canceled"
                cancel["status"] = "executed"
                done += 1
        return json_response({"executed": done})


def create_app(seed: dict[str, Any] | None = None, *, clock: SandboxClock | None = None) -> Starlette:
    """The Penn Foster sandbox (see the package docstring for the seed and the defaults)."""
    core = SandboxCore(name="pennfoster", clock=clock or SandboxClock())
    sb = PennFosterSandbox(seed, core)
    org = f"{LEADS}/organizations/{{org:int}}"
    routes = [
        Route("/oauth/token", sb.token, methods=["POST"]),
        Route(f"{LEARNERS}/learners", sb.create_learners, methods=["POST"]),
        Route(f"{LEARNERS}/learners", sb.get_learners, methods=["GET"]),
        Route(f"{LEARNERS}/learners/cancel", sb.cancel, methods=["POST"]),
        Route(f"{LEARNERS}/learners/{{student_id}}/cancel", sb.cancel, methods=["POST"]),
        Route(f"{LEARNERS}/learners/{{key}}", sb.get_learner_by_path, methods=["GET"]),
        Route(f"{LEADS}/leads", sb.create_leads, methods=["POST"]),
        Route(org, sb.organization, methods=["GET"]),
        # The examples say locations/clients, the "HTTP Request" lines location/client.
        *(
            Route(f"{org}/{word}/{{loc:int}}", sb.organization, methods=["GET"])
            for word in ("locations", "location")
        ),
        *(
            Route(f"{org}/{lw}/{{loc:int}}/{cw}/{{client:int}}", sb.organization, methods=["GET"])
            for lw in ("locations", "location")
            for cw in ("clients", "client")
        ),
    ]
    control = [
        Route("/_sandbox/pennfoster/item-errors", sb.add_item_errors, methods=["POST"]),
        Route("/_sandbox/pennfoster/item-errors", sb.clear_item_errors, methods=["DELETE"]),
        Route("/_sandbox/pennfoster/revoke-tokens", sb.revoke_tokens, methods=["POST"]),
        Route("/_sandbox/pennfoster/execute-cancels", sb.execute_cancels, methods=["POST"]),
        Route("/_sandbox/pennfoster/late-answers", sb.add_late_answers, methods=["POST"]),
    ]
    app = build_sandbox_app(
        core, routes, reset=sb.reset, state=lambda: sb.state.to_json(), extra_control=control
    )
    app.state.pennfoster = sb
    return app
