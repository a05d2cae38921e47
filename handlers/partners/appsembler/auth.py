"""Bearer tokens for Appsembler: a static API token, or client credentials exchanged and cached."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

import httpx
from pydantic import SecretStr

from handlers.partners._http import Clock, send
from handlers.partners.appsembler.errors import (
    CLIENT_CREDENTIAL_ENVS,
    PARTNER,
    raise_for_token,
    read_json,
    shape_error,
)

TOKEN_PATH = "/oauth2/access_token"  # noqa: S105 - a path, not a secret
# Used when the token answer carries no ``expires_in``; a 401 refreshes early anyway.
FALLBACK_LIFETIME = 3600.0
# Refresh this long before expiry so a token never lapses between being read and being used.
REFRESH_MARGIN = 60.0


class TokenSource(Protocol):
    """Hands out the bearer token for the next call."""

    @property
    def settings_hint(self) -> str:
        """The env vars to check when Appsembler rejects the token."""
        ...

    def token(self) -> str: ...

    def invalidate(self, token: str) -> bool:
        """Forget ``token`` after a 401; True when a fresh token may be fetched and the call retried."""
        ...


@dataclass(frozen=True)
class StaticToken:
    """``APPSEMBLER_API_TOKEN``: a token issued by the site admin; nothing to refresh."""

    value: SecretStr
    settings_hint: str = "APPSEMBLER_API_TOKEN"

    def token(self) -> str:
        return self.value.get_secret_value()

    def invalidate(self, token: str) -> bool:
        return False


class ClientCredentials:
    """``POST /oauth2/access_token`` with client credentials; the token is cached until shortly before
    it expires (by the injected clock) and dropped on a 401 so the call can be retried once."""

    settings_hint = CLIENT_CREDENTIAL_ENVS

    def __init__(
        self,
        http: httpx.Client,
        client_id: str,
        client_secret: SecretStr,
        *,
        clock: Clock,
        margin: float = REFRESH_MARGIN,
    ) -> None:
        self._http = http
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._margin = margin
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0

    def __repr__(self) -> str:
        return f"ClientCredentials(client_id={self._client_id!r})"

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> bool:
        with self._lock:
            # Another thread may have refreshed already; only drop the token that failed.
            if self._token == token:
                self._token = None
        return True

    def _fetch(self) -> None:
        what = "access token"
        request = self._http.build_request(
            "POST",
            TOKEN_PATH,
            data={
                "client_id": self._client_id,
                "client_secret": self._client_secret.get_secret_value(),
                "grant_type": "client_credentials",
                "token_type": "bearer",
            },
        )
        started = self._clock()
        response = send(self._http, request, partner=PARTNER, what=what)
        raise_for_token(response, now=self._clock)
        body = read_json(response, what=what)
        if not isinstance(body, dict):
            raise shape_error(what, "expected an object")
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise shape_error(what, "no access_token")
        lifetime = _lifetime(body.get("expires_in"), what)
        # Short-lived tokens: still leave half their life as margin rather than refreshing every call.
        margin = min(self._margin, lifetime / 2)
        self._token = token
        self._refresh_at = started + lifetime - margin


def _lifetime(value: object, what: str) -> float:
    if value is None:
        return FALLBACK_LIFETIME
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise shape_error(what, "expires_in is not a number")
    try:
        seconds = float(value)
    except ValueError:
        raise shape_error(what, "expires_in is not a number") from None
    if seconds <= 0:
        raise shape_error(what, "expires_in is not positive")
    return seconds
