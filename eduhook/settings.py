"""eduhook's one typed settings object: environment (``EDUHOOK_…``) over an optional TOML file."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from eduhook.config_problems import KeyMap, nested_model

# TOML sections flattened onto prefixed fields: [penn_foster] api_url → pennfoster_api_url.
# [pennfoster] is accepted too; [penn_foster] is the spelling shown in hints.
_SECTION_ALIASES = {"pennfoster": "penn_foster"}
_TOML_SECTIONS = {
    "eduframe": "eduframe_",
    "penn_foster": "pennfoster_",
    "pennfoster": "pennfoster_",
    "appsembler": "appsembler_",
    "studyabroad101": "studyabroad101_",
    "retry": "retry_",
    "limits": "limit_",
    "breaker": "breaker_",
}

Jitter = Literal["full", "none"]
# Eduframe's webhook ids are UUIDs; this also admits other plain ids, never a path or a query.
_WEBHOOK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class RetryOverride(BaseModel):
    """``[retry.<partner>]``: any of the retry settings, for one partner's failures only."""

    model_config = ConfigDict(extra="forbid")

    first_delay: float | None = Field(None, gt=0)
    max_delay: float | None = Field(None, gt=0)
    max_attempts: int | None = Field(None, ge=1)
    jitter: Jitter | None = None


class StudyAbroad101Program(BaseModel):
    """``[[studyabroad101.programs]]``: the Eduframe catalog product of one program's leads."""

    model_config = ConfigDict(extra="forbid")

    program_id: int
    catalog_product_id: int


class PartnerLimit(BaseModel):
    """``[limits.<partner>]``: at most ``requests`` calls per ``per_seconds`` seconds, counted over
    every worker process on every host (``handlers/protection``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: int
    per_seconds: int

    def __str__(self) -> str:
        return f"{self.requests}/{self.per_seconds}"


# The partners that have a request budget, by their settings key (``[limits.penn_foster]``).
LIMITED_PARTNERS = ("eduframe", "penn_foster", "appsembler")
_OFF = ("off", "none", "")


def parse_limit(key: str, value: Any) -> PartnerLimit | None:
    """``"450/300"``, ``{"requests": 450, "per_seconds": 300}`` or ``"off"``; anything else raises
    ``ValueError`` naming ``key``, since a limit that is silently wrong would flood the partner."""
    env = f"EDUHOOK_{key.upper()}, [limits.{key.removeprefix('limit_')}]"
    shape = f"{key} ({env}): expected N/S, e.g. 450/300 for 450 requests per 300 seconds, or off"
    if value is None or isinstance(value, PartnerLimit):
        return value
    if isinstance(value, str):
        if value.strip().lower() in _OFF:
            return None
        requests, slash, per_seconds = value.partition("/")
        if not slash:
            raise ValueError(shape)
        value = {"requests": requests.strip(), "per_seconds": per_seconds.strip()}
    if not isinstance(value, dict) or set(value) != {"requests", "per_seconds"}:
        raise ValueError(shape)
    numbers = {}
    for name, given in value.items():
        number = _whole_number(given)
        if number is None or number < 1:
            raise ValueError(f"{key}.{name} ({env}): must be a whole number of at least 1, not {given!r}")
        numbers[name] = number
    return PartnerLimit(**numbers)


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _partner_env(name: str, default: Any = None) -> Any:
    """Accept ``EDUHOOK_<NAME>`` and the bare partner name (``EDUFRAME_API_URL``)."""
    return Field(default, validation_alias=AliasChoices(f"EDUHOOK_{name}", name, name.lower()))


class Settings(BaseSettings):
    """Every setting eduhook reads. Build it once at the edge and pass it down."""

    model_config = SettingsConfigDict(
        env_prefix="EDUHOOK_",
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,
    )

    config: Path | None = None
    data_dir: Path = Path("./var")
    redis_url: str | None = None
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    webhook_tokens: Annotated[list[SecretStr], NoDecode] = []
    educators: Annotated[list[str], NoDecode] = []
    handler_modules: Annotated[list[str], NoDecode] = ["handlers.builtin"]
    max_body_bytes: int = 1024 * 1024
    # A webhook not recorded this many seconds after it arrived is answered 503 (Eduframe waits 10 s).
    receiver_deadline: float = Field(8.0, gt=0, le=8)
    # Slow and vanishing clients, in seconds (receiver/connections.py, receiver/body.py). A webhook
    # is ~1 KB and Eduframe gives up after 10 s, so a client slower than these is broken or hostile.
    keep_alive_timeout: float = Field(5.0, gt=0)  # an idle connection (no request begun) is closed
    header_timeout: float = Field(5.0, gt=0)  # from a request's first byte to the end of its headers
    body_timeout: float = Field(10.0, gt=0)  # from the end of the headers to the end of the body: 408
    log_level: str = "info"
    # ``text`` for people at a terminal, ``json`` (one object per line) for log collectors (eduhook/logs.py).
    log_format: Literal["text", "json"] = "text"
    # Flower (``eduhook flower``): ``user:password`` pairs, comma-separated, for its HTTP basic auth;
    # required on any address but loopback. It keeps at most ``flower_max_tasks`` tasks in memory.
    flower_basic_auth: Annotated[list[SecretStr], NoDecode] = []
    flower_max_tasks: int = Field(10_000, ge=1)
    # Celery: a message not acknowledged within the visibility timeout is handed out again,
    # so it must exceed the task's hard time limit.
    task_time_limit: int = 300
    visibility_timeout: int = 3600
    # How often (seconds) a worker looks for unacknowledged messages older than the visibility timeout.
    unacked_restore_interval: int = 10
    # Threads per worker process: each event waits ~200 ms on partners, so many must be in flight.
    worker_concurrency: int = 32
    # Celery task events from the start (Flower turns them on anyway while it runs).
    task_events: bool = False

    # Partner HTTP behaviour
    http_connect_timeout: float = 5.0
    http_read_timeout: float = 30.0

    eduframe_api_url: str = _partner_env("EDUFRAME_API_URL", "https://api.eduframe.nl/api/v1")
    eduframe_api_token: SecretStr | None = _partner_env("EDUFRAME_API_TOKEN")

    pennfoster_api_url: str = _partner_env("PENNFOSTER_API_URL", "https://tst-api-gateway.pennfoster.edu")
    pennfoster_client_id: str | None = _partner_env("PENNFOSTER_CLIENT_ID")
    pennfoster_client_secret: SecretStr | None = _partner_env("PENNFOSTER_CLIENT_SECRET")
    pennfoster_api_key: SecretStr | None = _partner_env("PENNFOSTER_API_KEY")
    pennfoster_learners_prefix: str = "/api/v4/b2b"
    pennfoster_leads_prefix: str = "/api/v3/b2b"

    appsembler_api_url: str | None = _partner_env("APPSEMBLER_API_URL")
    appsembler_api_token: SecretStr | None = _partner_env("APPSEMBLER_API_TOKEN")
    appsembler_client_id: str | None = _partner_env("APPSEMBLER_CLIENT_ID")
    appsembler_client_secret: SecretStr | None = _partner_env("APPSEMBLER_CLIENT_SECRET")

    studyabroad101_api_url: str = _partner_env("STUDYABROAD101_API_URL", "https://www.studyabroad101.com")
    studyabroad101_api_user: str | None = _partner_env("STUDYABROAD101_API_USER")
    studyabroad101_api_key: SecretStr | None = _partner_env("STUDYABROAD101_API_KEY")
    # The lead poller (sources/studyabroad101.py): how often beat runs it, and what a lead for a
    # program without a catalog product becomes (an Eduframe lead without a product, or ignored).
    studyabroad101_poll_interval: float = Field(300.0, gt=0)
    studyabroad101_programs: list[StudyAbroad101Program] = []
    studyabroad101_unmapped: Literal["create", "ignore"] = "create"

    # Structured parts from the TOML file: [[routes]] and the Eduframe custom-field names.
    routes: list[dict[str, Any]] = []
    user_fields: dict[str, str] = {}
    # Eduframe reads that rarely change (variants, planned courses, courses, an order's variant) are
    # cached in Redis for every worker this long, each loaded once; 0 reads them every time.
    eduframe_cache_seconds: float = Field(300.0, ge=0)
    # A user read this recently serves the same worker's other events of one purchase; 0 turns it
    # off. Users are personal data, so this cache stays in the worker process, never in Redis.
    eduframe_user_cache_seconds: float = Field(60.0, ge=0)
    # Reconciliation (sources/eduframe.py): the webhooks whose given-up deliveries eduhook reads
    # back from Eduframe's notification log, and how often (seconds) beat does so.
    eduframe_webhook_ids: Annotated[list[str], NoDecode] = []
    eduframe_reconcile_interval: float = Field(3600.0, gt=0)
    # A worker holding a partner effect's claim longer than this is presumed dead.
    effect_lease_seconds: float = 120.0

    # Retries (workers/retry.py): capped exponential backoff with full jitter, per attempt.
    retry_first_delay: float = Field(30.0, gt=0)
    retry_max_delay: float = Field(3600.0, gt=0)
    retry_max_attempts: int = Field(12, ge=1)
    retry_jitter: Jitter = "full"
    retry_penn_foster: RetryOverride | None = None
    retry_appsembler: RetryOverride | None = None
    retry_eduframe: RetryOverride | None = None
    # Protection (handlers/protection): a request budget per partner shared through Redis, and a
    # circuit breaker per partner that opens after consecutive transient failures.
    limit_eduframe: Annotated[PartnerLimit | None, NoDecode] = PartnerLimit(requests=450, per_seconds=300)
    limit_penn_foster: Annotated[PartnerLimit | None, NoDecode] = None
    limit_appsembler: Annotated[PartnerLimit | None, NoDecode] = None
    breaker_enabled: bool = True
    breaker_failures: int = Field(5, ge=1)
    breaker_cooldown: float = Field(30.0, gt=0)
    breaker_max_cooldown: float = Field(300.0, gt=0)
    # The scheduler (workers/schedule.py): how often beat queues due retries, and the sweeps.
    scheduler_interval: float = Field(5.0, gt=0)
    # An attempt open this long past the task time limit lost its worker; its event is re-queued.
    abandon_margin: float = Field(30.0, gt=0)
    # An event still `received` this long was recorded while Redis was down; it is queued now.
    unqueued_after: float = Field(30.0, gt=0)
    # An event `queued` this long with no attempt started lost its message; it is queued again.
    requeue_after: float = Field(300.0, gt=0)
    # A worker dying on the same event this many times makes the event dead ("poison").
    max_abandoned: int = Field(3, ge=1)
    # Retention (eduhook/ledger/retention.py): succeeded and ignored events received this many days
    # ago have their payload replaced by a skeleton of ids. It cannot be turned off (personal data
    # must not live forever); a large number keeps payloads longer. Beat runs it every
    # ``retention_interval`` seconds (daily).
    payload_retention_days: int = Field(90, ge=1)
    retention_interval: float = Field(86400.0, gt=0)

    # The ops console (console/, `eduhook console`): users as `name[:pii]:hash` entries joined by
    # commas; the key that signs its session cookie (generated into the data dir when unset).
    console_users: SecretStr = SecretStr("")
    console_secret: SecretStr | None = None
    console_https: bool = False  # the console is served over HTTPS: its cookie is marked Secure

    # Observability (README "Observability"). The bearer token every /metrics asks for (none: open).
    metrics_token: SecretStr | None = None
    # Each worker's /metrics: the port (unset: none; 0: a free one, logged) and the interface.
    worker_metrics_port: int | None = Field(None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    # Where workers keep their multiprocess metric files (default: <data dir>/prometheus).
    metrics_dir: Path | None = None
    # ``eduhook status``: the receiver it asks (default http://<host>:<port>, loopback for 0.0.0.0),
    # and the oldest pending event's age, in seconds, past which something needs attention.
    receiver_url: str | None = None
    status_max_pending_age: float = Field(600.0, gt=0)

    @field_validator("webhook_tokens", "educators", "handler_modules", "eduframe_webhook_ids", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("metrics_token", "worker_metrics_port", "receiver_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """``EDUHOOK_METRICS_TOKEN=`` (as compose writes an unset variable) means none, not ""."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _check_log_level(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}")
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("flower_basic_auth", mode="before")
    @classmethod
    def _split_credentials(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("flower_basic_auth")
    @classmethod
    def _check_credentials(cls, pairs: list[SecretStr]) -> list[SecretStr]:
        """Each entry is ``user:password``, both non-empty; the message never shows the entry."""
        for n, pair in enumerate(pairs, start=1):
            user, colon, password = pair.get_secret_value().partition(":")
            if not (colon and user.strip() and password):
                raise ValueError(
                    f"entry {n} of EDUHOOK_FLOWER_BASIC_AUTH must be user:password (more pairs after commas)"
                )
        return pairs

    @field_validator("limit_eduframe", "limit_penn_foster", "limit_appsembler", mode="before")
    @classmethod
    def _parse_limit(cls, value: Any, info: ValidationInfo) -> PartnerLimit | None:
        assert info.field_name is not None
        return parse_limit(info.field_name, value)

    @field_validator("eduframe_webhook_ids")
    @classmethod
    def _check_webhook_ids(cls, ids: list[str]) -> list[str]:
        """Each id goes into a URL path, so only Eduframe's id characters are accepted."""
        for n, webhook_id in enumerate(ids, start=1):
            if not _WEBHOOK_ID.fullmatch(webhook_id):
                raise ValueError(f"webhook id {n} must be 1-64 letters, digits, '-' or '_'")
        if len(set(ids)) != len(ids):
            raise ValueError("webhook ids must not repeat")
        return ids

    @model_validator(mode="after")
    def _check_retry_delays(self) -> Self:
        if self.retry_max_delay < self.retry_first_delay:
            raise ValueError("retry_max_delay (EDUHOOK_RETRY_MAX_DELAY) must be at least retry_first_delay")
        if self.visibility_timeout <= self.task_time_limit:
            raise ValueError(
                "visibility_timeout (EDUHOOK_VISIBILITY_TIMEOUT) must be longer than"
                " task_time_limit (EDUHOOK_TASK_TIME_LIMIT)"
            )
        if self.breaker_max_cooldown < self.breaker_cooldown:
            raise ValueError(
                "breaker_max_cooldown (EDUHOOK_BREAKER_MAX_COOLDOWN) must be at least breaker_cooldown"
            )
        return self

    def partner_limit(self, key: str) -> PartnerLimit | None:
        """The request budget of the partner whose settings key is ``key`` (``penn_foster``)."""
        limit: PartnerLimit | None = getattr(self, f"limit_{key}")
        return limit

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls, init_settings, env_settings))

    # Derived values -------------------------------------------------------------------------

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'eduhook.db').resolve()}"

    @property
    def effective_metrics_dir(self) -> Path:
        return self.metrics_dir or self.data_dir / "prometheus"

    @property
    def effective_receiver_url(self) -> str:
        if self.receiver_url:
            return self.receiver_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        host = "[::1]" if host == "::" else host
        return f"http://{host}:{self.port}"

    @property
    def abandon_after(self) -> float:
        """Seconds after which an open attempt is presumed lost with its worker."""
        return self.task_time_limit + self.abandon_margin

    def token_values(self) -> list[bytes]:
        return [token.get_secret_value().encode() for token in self.webhook_tokens]


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the file named by ``EDUHOOK_CONFIG`` (or ``config=`` passed directly)."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
    ) -> None:
        super().__init__(settings_cls)
        self._path = init_settings().get("config") or env_settings().get("config")

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ is overridden

    def __call__(self) -> dict[str, Any]:
        if not self._path:
            return {}
        return flatten_toml(read_toml(Path(self._path)))


class ConfigFileError(ValueError):
    """The TOML configuration file is missing or unreadable."""


def read_toml(path: Path) -> dict[str, Any]:
    """The configuration file as TOML tables, before sections are mapped onto settings."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigFileError(f"config file {path} (EDUHOOK_CONFIG) does not exist") from exc
    except OSError as exc:
        raise ConfigFileError(f"config file {path} cannot be read ({type(exc).__name__})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"config file {path} is not valid TOML: {exc}") from exc


def flatten_toml(data: dict[str, Any]) -> dict[str, Any]:
    """Map TOML sections onto the flat field names; lists (``[[routes]]``) stay as they are."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        prefix = _TOML_SECTIONS.get(key)
        if prefix is not None and isinstance(value, dict):
            for sub_key, sub_value in value.items():
                flat[prefix + sub_key] = sub_value
        else:
            flat[key] = value
    return flat


def settings_keys() -> KeyMap:
    """The TOML file's own tables and keys: the top level, ``[penn_foster]`` etc., ``[retry.*]``.

    ``[[routes]]`` and ``[user_fields]`` are validated, and their keys mapped, by their parsers.
    Aliases (``[pennfoster]``) are left out, so hints show one spelling; see ``section_table``.
    """
    fields = Settings.model_fields
    sections = {section for section in _TOML_SECTIONS if section not in _SECTION_ALIASES}
    tables: dict[tuple[str, ...], frozenset[str]] = {(): frozenset({*fields, *sections})}
    for section, prefix in _TOML_SECTIONS.items():
        if section in _SECTION_ALIASES:
            continue
        names = {name.removeprefix(prefix): name for name in fields if name.startswith(prefix)}
        tables[(section,)] = frozenset(names)
        for key, name in names.items():
            nested = nested_model(fields[name].annotation)
            if nested is not None:
                tables[(section, key)] = frozenset(nested.model_fields)
    return KeyMap(tables)


def section_table(key: str) -> tuple[str, ...] | None:
    """The table a top-level TOML key opens (``pennfoster`` → ``("penn_foster",)``), if a section."""
    if key not in _TOML_SECTIONS:
        return None
    return (_SECTION_ALIASES.get(key, key),)


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and the TOML file; the one place that does."""
    return Settings(**overrides)
