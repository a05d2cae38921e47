"""How one event's per-effect failures become its one error, deferrals included."""

from __future__ import annotations

import time

import pytest

from handlers.errors import DeferredError, PermanentError, TransientError
from handlers.outcomes import Problems


def held(partner: str, seconds: float) -> DeferredError:
    return DeferredError(
        f"{partner} not called", partner=partner, resume_at=time.time() + seconds, now=time.time()
    )


def test_only_deferrals_make_a_deferral_until_the_first_partner_may_be_called() -> None:
    problems = Problems([held("pennfoster", 30), held("appsembler", 5), PermanentError("bad phone")])
    with pytest.raises(DeferredError) as raised:
        problems.raise_if_any(done=1)
    assert raised.value.partner == "appsembler"
    assert raised.value.retry_after is not None and 4 < raised.value.retry_after <= 5


def test_a_real_failure_among_deferrals_uses_an_attempt_and_waits_for_the_partners() -> None:
    problems = Problems([held("pennfoster", 30), TransientError("HTTP 503", partner="appsembler")])
    with pytest.raises(TransientError) as raised:
        problems.raise_if_any(done=0)
    assert not isinstance(raised.value, DeferredError)
    assert raised.value.retry_after is not None and raised.value.retry_after > 29


def test_a_real_failure_after_a_deferral_is_the_one_the_ledger_reports() -> None:
    """A batch held back by the breaker before another batch's 503 must not hide the 503."""
    failed = TransientError("HTTP 503", partner="pennfoster", status_code=503, partner_code="X1")
    with pytest.raises(TransientError) as raised:
        Problems([held("pennfoster", 30), failed]).raise_if_any(done=0)
    error = raised.value
    assert (error.partner, error.status_code, error.partner_code) == ("pennfoster", 503, "X1")
