"""Eduframe users → Open edX (Appsembler) accounts: a deterministic username, the email and a name."""

from __future__ import annotations

from dataclasses import dataclass, field

from handlers.errors import PermanentError
from handlers.mapping import values as v
from handlers.mapping.ids import appsembler_username
from handlers.partners.appsembler.errors import PARTNER
from handlers.partners.eduframe.models import User

# Open edX's limits: the email and full-name columns are 254 and 255 characters.
EMAIL_MAX = 254
NAME_MAX = 255


@dataclass(frozen=True)
class AppsemblerAccount:
    """What ``AppsemblerClient.create_account`` needs besides a password; personal parts hidden."""

    username: str
    email: str = field(repr=False)
    name: str = field(repr=False)


def appsembler_account(user: User, *, educator: str) -> AppsemblerAccount:
    """The Open edX account for ``user``. The username is the same on every retry, so a second
    attempt meets Appsembler's 409 "User already exists" instead of creating a twin."""
    username = appsembler_username(educator, user.id)
    try:
        email = v.email(user.email, EMAIL_MAX)
    except v.Unusable as exc:
        raise PermanentError(
            f"appsembler account: email {exc.reason} for Eduframe user {user.id}", partner=PARTNER
        ) from None
    parts = (v.present(user.first_name), v.present(user.middle_name), v.present(user.last_name))
    # Open edX requires a non-empty full name; the username stands in when Eduframe has none.
    name = " ".join(part for part in parts if part)[:NAME_MAX].strip() or username
    return AppsemblerAccount(username=username, email=email, name=name)
