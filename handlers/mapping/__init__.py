"""Eduframe records → partner requests: Penn Foster learners and leads, Appsembler accounts, and the
deterministic ids that let partners recognise a repeated request."""

from __future__ import annotations

from handlers.mapping.appsembler import AppsemblerAccount, appsembler_account
from handlers.mapping.ids import (
    ALTERNATE_ID_MAX,
    TRANSACTION_NAMESPACE,
    alternate_id,
    appsembler_username,
    lead_alternate_id,
    transaction_guid,
)
from handlers.mapping.pennfoster import lead_request, learner_request

__all__ = [
    "ALTERNATE_ID_MAX",
    "TRANSACTION_NAMESPACE",
    "AppsemblerAccount",
    "alternate_id",
    "appsembler_account",
    "appsembler_username",
    "lead_alternate_id",
    "lead_request",
    "learner_request",
    "transaction_guid",
]
