"""All configuration, read once from `BATON_*` environment variables or a `.env` file."""

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workflows.contracts.catalogue import PROCESS_TYPES
from workflows.contracts.processes import ProcessPolicy, ProcessType


class Environment(StrEnum):
    DEV = "dev"
    PROD = "prod"


class AIProvider(StrEnum):
    LOCAL = "local"
    OPENAI = "openai"


class UnitCosts(BaseModel):
    """What insight charges a process for each kind of work, in one currency."""

    model_config = ConfigDict(extra="forbid")

    bot_call: float = Field(0.05, ge=0, description="one call of a bot (robot licence, API fee)")
    ai_call: float = Field(0.01, ge=0, description="one AI call (local model: compute)")
    ai_1k_tokens: float = Field(0.002, ge=0, description="a thousand tokens of a remote model")
    hourly: dict[str, float] = Field(
        default_factory=lambda: {
            "sales_rep": 45.0,
            "sales_manager": 75.0,
            "finance_controller": 85.0,
            "ap_clerk": 40.0,
            "admin": 90.0,
        },
        description="an hour of each role",
    )
    default_hourly: float = Field(60.0, ge=0, description="an hour of a role not listed")

    def of_role(self, role: str) -> float:
        return self.hourly.get(role, self.default_hourly)


class EventRoute(BaseModel):
    """What a business event of one type does: signal a running process of `process_type`
    (the event's `key` is its business key, its `data` the signal's payload), or start one
    (its `data` is the input)."""

    model_config = ConfigDict(extra="forbid")

    process_type: str
    signal: str | None = Field(None, description="the signal it sends; none: it starts one")

    def starts(self) -> bool:
        return self.signal is None


def _default_routes() -> dict[str, EventRoute]:
    return {
        "finance.credit_note_received": EventRoute(
            process_type="invoice-processing", signal="credit_note"
        ),
        "crm.message_received": EventRoute(process_type="order-fulfillment"),
        "crm.service_request_received": EventRoute(process_type="customer-service"),
        "erp.invoice_received": EventRoute(process_type="invoice-processing"),
    }


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATON_", env_file=".env", extra="ignore")

    env: Environment = Environment.DEV
    data_dir: Path = Field(Path(".data"), description="Where the embedded stack keeps its files.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = Field(
        "text", description="json: one object a line, with the process, run and activity."
    )

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_ui_url: str = Field(
        "http://localhost:8233", description="Base of the Temporal UI links the API returns."
    )
    temporal_http_port: int = Field(
        7243,
        ge=1,
        le=65535,
        description="HTTP API port of the Temporal dev server `baton dev` starts.",
    )
    temporal_metrics_port: int = Field(
        7244,
        ge=1,
        le=65535,
        description="Prometheus /metrics port of the Temporal dev server `baton dev` starts.",
    )

    database_url: str = Field("", description="SQLAlchemy URL; empty means SQLite in data_dir.")
    systems_url: str = "http://127.0.0.1:8100"
    systems_api_key: SecretStr = Field(
        SecretStr(""), description="Bearer token the bots send to the business systems."
    )
    bots_robot_slots: int = Field(8, ge=1, description="Bot activities one worker runs at once.")
    bots_rate_limit_per_second: float = Field(
        50.0, gt=0, description="Bot calls per second across all bot workers (protects systems)."
    )
    bots_timeout_seconds: float = Field(10.0, gt=0)
    systems_database_url: str = Field(
        "", description="The sandbox's own database; empty means SQLite in data_dir."
    )

    workflow_sandbox: bool = Field(
        False,
        description=(
            "Run workflow code in the SDK's sandbox, which stops a non-deterministic call as it "
            "happens but costs time on every payload of every workflow task (about a third of "
            "the processes worker's CPU). Off by default: the test suite's workers and every "
            "replay of a saved history run sandboxed, so such a call fails CI instead."
        ),
    )
    workflow_cache_size: int = Field(
        1000,
        ge=0,
        description=(
            "Workflow runs one worker keeps in memory (the SDK's max_cached_workflows); a run "
            "dropped from the cache is replayed from its history when it next has work. "
            "0 keeps none. Bounds a worker's memory however many processes wait."
        ),
    )
    task_queue_prefix: str = Field(
        "", description="Prepended to every task queue: separate stacks on one Temporal server."
    )
    policies: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description=(
            "JSON: each process type's policy values (thresholds, durations) that differ from "
            'its defaults, e.g. {"order-fulfillment": {"approval_threshold": 5000}}.'
        ),
    )

    signing_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            "JSON: key id -> base64 secret; the API and the CLI sign task actions with the "
            "current key, the workers verify with any. Empty in dev: a key in data_dir."
        ),
    )
    signing_key_id: str = Field("", description="The key that signs; default the last id.")

    codec_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            "JSON: key id -> base64 of 32 random bytes (AES-256-GCM); every client and worker "
            "seals payloads with the current key and opens them with any. Empty in dev: a key "
            "in data_dir/codec-keys.json."
        ),
    )
    codec_key_id: str = Field("", description="The key that seals; default the last id.")
    codec_port: int = Field(
        8081, ge=1, le=65535, description="Port of the codec server (`baton codec-server`)."
    )
    codec_url: str = Field(
        "",
        description=(
            "The codec server as people's browsers reach it (the Temporal UI calls it); "
            "empty: the Temporal UI's host on codec_port."
        ),
    )

    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    api_max_body_bytes: int = Field(
        1_048_576, ge=1, description="Largest request body the API reads; larger ones get 413."
    )
    api_rate_per_second: float = Field(
        50.0, gt=0, description="Requests per second one API key may send; beyond, 429."
    )
    api_rate_burst: int = Field(
        200, ge=1, description="Requests one API key may send at once before the rate applies."
    )
    api_temporal_timeout_seconds: float = Field(
        2.0, gt=0, description="Bound of each API call to Temporal's frontend; beyond, 503."
    )
    api_query_timeout_seconds: float = Field(
        10.0, gt=0, description="Bound of each query the API sends a run (a worker answers)."
    )
    workspace_idle_minutes: float = Field(
        30, gt=0, description="A workspace session ends after this long without a request."
    )
    workspace_secure_cookie: bool = Field(
        False, description="Send the workspace's cookie over HTTPS only (set it behind TLS)."
    )
    database_pool_size: int = Field(
        10, ge=1, description="Database connections the API keeps open for its requests."
    )
    database_max_overflow: int = Field(
        30, ge=0, description="Connections beyond the pool at peaks (the API runs 40 threads)."
    )

    insight_log: bool = Field(
        True,
        description="Processes write insight's event log as they run; off, insight knows only "
        "what `baton insight rebuild` reads from the histories.",
    )
    simulated_time_scale: float = Field(
        1.0,
        ge=1.0,
        description="Set by `baton simulate`: processes it starts wait this many times less "
        "than in business time, and insight counts their waits back.",
    )
    insight_costs: UnitCosts = Field(
        default_factory=UnitCosts,
        description='JSON: unit costs, e.g. {"bot_call": 0.1, "hourly": {"ap_clerk": 38}}.',
    )
    insight_candidate_share: float = Field(
        0.95,
        gt=0.5,
        le=1,
        description="A human step whose outcome is the same at least this often is a candidate "
        "for automation.",
    )
    insight_candidate_min_cases: int = Field(
        20, ge=1, description="Decisions a human step needs before it can be a candidate."
    )

    worker_metrics_address: str = Field(
        "",
        description="host:port where each worker process serves its Prometheus metrics "
        "(e.g. 0.0.0.0:9464); empty: none.",
    )
    otel_endpoint: str = Field(
        "",
        description="OTLP/HTTP collector (e.g. http://otel-collector:4318): traces go there; "
        "empty: no tracing.",
    )
    event_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='JSON: each event source\'s HMAC secret, e.g. {"erp": "…", "crm": "…"}; '
        "a source not listed is unknown (404).",
    )
    event_routes: dict[str, EventRoute] = Field(
        default_factory=_default_routes,
        description="JSON: what each event type does (see EventRoute).",
    )
    event_window_seconds: int = Field(
        300, ge=1, description="How far an event's signed timestamp may be from now."
    )

    ai_provider: AIProvider = AIProvider.LOCAL
    openai_base_url: str = "https://api.openai.com/v1"
    openai_api_key: SecretStr = SecretStr("")
    openai_model: str = "gpt-4o-mini"
    ai_concurrency: int = Field(4, ge=1, description="AI activities one worker runs at once.")
    ai_timeout_seconds: float = Field(60.0, gt=0)
    ai_silent_error_target: float = Field(
        0.01,
        ge=0,
        le=1,
        description="the share of AI answers passed on wrong that `baton ai report` calibrates to",
    )

    @field_validator("temporal_address")
    @classmethod
    def _host_and_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError("expected host:port, e.g. localhost:7233")
        return value

    @field_validator("event_routes")
    @classmethod
    def _known_routes(cls, routes: dict[str, EventRoute]) -> dict[str, EventRoute]:
        for name, route in routes.items():
            ptype = PROCESS_TYPES.get(route.process_type)
            if ptype is None:
                raise ValueError(f"{name}: unknown process type {route.process_type!r}")
            if route.signal is not None and route.signal not in ptype.signals:
                raise ValueError(
                    f"{name}: {ptype.name} takes no signal {route.signal!r}; "
                    f"one of {sorted(ptype.signals)}"
                )
        return routes

    @field_validator("policies")
    @classmethod
    def _known_policies(cls, policies: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """A typo in a process type or a value fails at start, not when a process starts."""
        for name, values in policies.items():
            ptype = PROCESS_TYPES.get(name)
            if ptype is None:
                raise ValueError(f"no process type {name!r}; known: {sorted(PROCESS_TYPES)}")
            try:
                ptype.policy_model.model_validate(values)
            except ValidationError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return policies

    def policy_for(
        self, ptype: ProcessType, changes: dict[str, Any] | None = None
    ) -> ProcessPolicy:
        """The type's policy as set, with `changes` on top (a what-if's); raises
        ValidationError naming the value at fault."""
        return ptype.policy_model.model_validate(
            {**self.policies.get(ptype.name, {}), **(changes or {})}
        )

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'baton.db'}"

    @property
    def resolved_systems_database_url(self) -> str:
        return self.systems_database_url or f"sqlite:///{self.data_dir / 'systems.db'}"

    @property
    def temporal_host_port(self) -> tuple[str, int]:
        host, _, port = self.temporal_address.rpartition(":")
        return host, int(port)

    @property
    def temporal_ui_port(self) -> int:
        return urlsplit(self.temporal_ui_url).port or 8233

    @property
    def temporal_ui_origin(self) -> str:
        """The Origin header the Temporal UI's pages send: the only one the codec server admits."""
        parts = urlsplit(self.temporal_ui_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def codec_endpoint(self) -> str:
        """The codec server's URL for the Temporal UI (browser side), without a trailing slash."""
        if self.codec_url:
            return self.codec_url.rstrip("/")
        parts = urlsplit(self.temporal_ui_url)
        return f"{parts.scheme}://{parts.hostname or 'localhost'}:{self.codec_port}"

    @property
    def systems_host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.systems_url)
        return parts.hostname or "127.0.0.1", parts.port or 80


@lru_cache
def get_settings() -> Settings:
    return Settings()
