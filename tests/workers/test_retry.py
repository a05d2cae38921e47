"""The retry policy: every calculation with an injected random source, and its settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from eduhook.settings import RetryOverride, Settings
from workers.retry import UNEXPECTED_RETRIES, Backoff, Dead, Retry, RetryPolicy


def policy(fraction: float = 1.0, **backoff: object) -> RetryPolicy:
    return RetryPolicy(default=Backoff(**backoff), random=lambda: fraction)  # type: ignore[arg-type]


def delay(decision: Retry | Dead) -> float:
    assert isinstance(decision, Retry), decision
    return decision.delay


def test_the_cap_doubles_from_the_first_delay_up_to_the_max() -> None:
    backoff = Backoff(first_delay=30, max_delay=3600, max_attempts=12)
    assert [backoff.cap(n) for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert backoff.cap(10_000) == 3600  # no overflow however many attempts


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.999])
def test_full_jitter_draws_between_zero_and_the_cap(fraction: float) -> None:
    decisions = [policy(fraction).decide("transient", n) for n in range(1, 12)]
    caps = [Backoff().cap(n) for n in range(1, 12)]
    assert [delay(d) for d in decisions] == pytest.approx([fraction * cap for cap in caps])


def test_no_jitter_gives_the_cap_itself() -> None:
    assert [delay(policy(0.0, jitter="none").decide("transient", n)) for n in (1, 2, 3)] == [30, 60, 120]


def test_retry_after_is_a_floor_capped_at_the_max_delay() -> None:
    assert delay(policy(0.0).decide("transient", 1, retry_after=7)) == 7
    assert delay(policy(1.0).decide("transient", 3, retry_after=7)) == 120  # the backoff is longer
    assert delay(policy(0.0, max_delay=60).decide("transient", 1, retry_after=86_400)) == 60


def test_transient_failures_go_dead_when_the_attempts_run_out() -> None:
    rules = policy(max_attempts=3)
    assert isinstance(rules.decide("transient", 1), Retry)
    assert isinstance(rules.decide("transient", 2), Retry)
    dead = rules.decide("transient", 3)
    assert dead == Dead("still failing after 3 attempts")


@pytest.mark.parametrize("error_class", ["permanent", "already_done", "lost", "something new"])
def test_classes_that_retrying_cannot_help_are_dead_at_once(error_class: str) -> None:
    assert policy().decide(error_class, 1) == Dead(f"{error_class} error: retrying cannot help")


def test_configuration_errors_are_dead_at_once_and_say_what_to_do() -> None:
    dead = policy().decide("configuration", 1)
    assert isinstance(dead, Dead) and "fix the setting" in dead.reason


def test_unexpected_errors_are_retried_three_times_then_dead() -> None:
    rules = policy()
    assert all(isinstance(rules.decide("unexpected", n), Retry) for n in range(1, UNEXPECTED_RETRIES + 1))
    dead = rules.decide("unexpected", UNEXPECTED_RETRIES + 1)
    assert isinstance(dead, Dead) and "unexpected error 4 times" in dead.reason


def test_partner_overrides_apply_to_that_partner_only() -> None:
    settings = Settings(
        retry_first_delay=10, retry_max_attempts=5, retry_jitter="none",
        retry_penn_foster=RetryOverride(first_delay=1, max_attempts=2),
    )  # fmt: skip
    rules = RetryPolicy.from_settings(settings, random=lambda: 0.5)
    assert delay(rules.decide("transient", 1, partner="pennfoster")) == 1
    assert isinstance(rules.decide("transient", 2, partner="pennfoster"), Dead)
    assert delay(rules.decide("transient", 2, partner="appsembler")) == 20
    assert delay(rules.decide("transient", 2)) == 20


def test_retry_settings_come_from_the_environment_and_the_toml_file(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "eduhook.toml"  # type: ignore[operator]
    config.write_text('[retry]\nmax_attempts = 4\njitter = "none"\n[retry.appsembler]\nmax_delay = 90\n')
    monkeypatch.setenv("EDUHOOK_CONFIG", str(config))
    monkeypatch.setenv("EDUHOOK_RETRY_FIRST_DELAY", "2.5")
    settings = Settings()
    assert (settings.retry_first_delay, settings.retry_max_attempts, settings.retry_jitter) == (
        2.5,
        4,
        "none",
    )
    assert settings.retry_appsembler == RetryOverride(max_delay=90)
    assert RetryPolicy.from_settings(settings).backoff("appsembler") == Backoff(2.5, 90, 4, "none")


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("EDUHOOK_RETRY_FIRST_DELAY", "0", "retry_first_delay"),
        ("EDUHOOK_RETRY_MAX_ATTEMPTS", "many", "retry_max_attempts"),
        ("EDUHOOK_RETRY_JITTER", "half", "retry_jitter"),
        ("EDUHOOK_RETRY_MAX_DELAY", "1", "retry_max_delay"),
        ("EDUHOOK_RETRY_PENN_FOSTER", '{"max_attempts": 0}', "retry_penn_foster"),
        ("EDUHOOK_RETRY_APPSEMBLER", '{"first_dealy": 1}', "retry_appsembler"),
        ("EDUHOOK_SCHEDULER_INTERVAL", "-1", "scheduler_interval"),
    ],
)
def test_an_invalid_retry_setting_names_its_key(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, named: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ValidationError) as error:
        Settings()
    assert named in str(error.value)
