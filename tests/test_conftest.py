"""The test settings themselves: when PostgreSQL is required."""

from __future__ import annotations

import pytest

from tests.conftest import postgres_required


@pytest.mark.parametrize(
    ("value", "required"),
    [(None, False), ("", False), ("0", False), ("false", False), ("No", False), ("1", True), ("yes", True)],
)
def test_require_postgres_zero_means_not_required(value: str | None, required: bool) -> None:
    env = {} if value is None else {"EDUHOOK_TEST_REQUIRE_POSTGRES": value}
    assert postgres_required(env) is required
