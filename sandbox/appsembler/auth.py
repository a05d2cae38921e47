"""Sandbox bearer-token checks and ``POST /oauth2/access_token``, answered as Open edX answers them."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.appsembler.state import AppsemblerState
from sandbox.base import json_response

NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
INVALID_TOKEN = {"detail": "Invalid Token."}
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="api"'}

StateRef = Callable[[], AppsemblerState]
Endpoint = Callable[[Request], Awaitable[Response]]


def token_valid(state: AppsemblerState, token: str) -> bool:
    if any(hmac.compare_digest(token.encode(), known.encode()) for known in state.static_tokens):
        return True
    expiry = state.issued.get(token)
    return expiry is not None and state.clock() < expiry


def authenticate(state: AppsemblerState, request: Request) -> Response | None:
    """None when the request carries a live bearer token, else the 401 Open edX sends."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        # DRF skips an authenticator whose scheme does not match: that reads as "no credentials".
        return json_response(NOT_PROVIDED, 401, _CHALLENGE)
    if not token.strip() or not token_valid(state, token.strip()):
        return json_response(INVALID_TOKEN, 401, _CHALLENGE)
    return None


def protected(current: StateRef, endpoint: Endpoint) -> Endpoint:
    """Wrap a partner endpoint so it answers 401 before looking at anything else."""

    async def guarded(request: Request) -> Response:
        refused = authenticate(current(), request)
        return refused if refused is not None else await endpoint(request)

    return guarded


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(value.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


def token_route(current: StateRef) -> Route:
    """Client-credentials grant (form body, or HTTP Basic client authentication as oauthlib allows)."""

    async def issue(request: Request) -> Response:
        state = current()
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return json_response({"error": "invalid_request"}, 400)
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        grant = form.get("grant_type")
        if grant is None:
            return json_response(
                {"error": "invalid_request", "error_description": "Missing grant type."}, 400
            )
        if grant != "client_credentials":
            return json_response({"error": "unsupported_grant_type"}, 400)
        client_id, secret = _basic_credentials(request) or (
            form.get("client_id", ""),
            form.get("client_secret", ""),
        )
        known = state.clients.get(client_id)
        if known is None or not hmac.compare_digest(known.encode(), secret.encode()):
            return json_response({"error": "invalid_client"}, 401)
        token = secrets.token_hex(20)
        state.issued[token] = state.clock() + state.token_lifetime
        body = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(state.token_lifetime),
            "scope": "read write",
        }
        return json_response(body, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    return Route("/oauth2/access_token", issue, methods=["POST"])
