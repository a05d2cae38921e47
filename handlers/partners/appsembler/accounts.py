"""Creating an Open edX account once, also when an earlier attempt's answer was lost."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from handlers.errors import AlreadyDoneError
from handlers.partners.appsembler.client import AppsemblerClient


@dataclass(frozen=True)
class AccountOutcome:
    """The account exists at Appsembler; ``user_id`` only when this call created it (a 409 and
    get-user give no id)."""

    username: str
    user_id: int | None = None
    already_existed: bool = False


def ensure_account(
    client: AppsemblerClient, username: str, email: str, name: str, *, look_first: bool = False
) -> AccountOutcome:
    """The account ``username``, created unless it exists.

    ``look_first`` says an earlier request may have created it (it timed out, or its worker died):
    ``accounts/get-user`` answers that before anything is sent. Either way a 409 "User already
    exists" means the account is there. The password is random and never kept: learners set
    their own through Open edX's reset.
    """
    if look_first and client.get_user(username) is not None:
        return AccountOutcome(username, already_existed=True)
    try:
        user_id = client.create_account(username, secrets.token_urlsafe(24), email, name)
    except AlreadyDoneError:
        return AccountOutcome(username, already_existed=True)
    return AccountOutcome(username, user_id=user_id)
