"""All configuration, read once from `BATON_*` environment variables or a `.env` file."""

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workflows.contracts.invoices import InvoicePolicy
from workflows.contracts.orders import OrderPolicy


class Environment(StrEnum):
    DEV = "dev"
    PROD = "prod"


class AIProvider(StrEnum):
    LOCAL = "local"
    OPENAI = "openai"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATON_", env_file=".env", extra="ignore")

    env: Environment = Environment.DEV
    data_dir: Path = Field(Path(".data"), description="Where the embedded stack keeps its files.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_ui_url: str = Field(
        "http://localhost:8233", description="Base of the Temporal UI links the API returns."
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

    task_queue_prefix: str = Field(
        "", description="Prepended to every task queue: separate stacks on one Temporal server."
    )
    order_policy: OrderPolicy = Field(
        default_factory=OrderPolicy, description="JSON: thresholds and durations of orders."
    )
    invoice_policy: InvoicePolicy = Field(
        default_factory=InvoicePolicy, description="JSON: limits and durations of invoices."
    )

    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)

    ai_provider: AIProvider = AIProvider.LOCAL
    openai_base_url: str = "https://api.openai.com/v1"
    openai_api_key: SecretStr = SecretStr("")
    openai_model: str = "gpt-4o-mini"
    ai_concurrency: int = Field(4, ge=1, description="AI activities one worker runs at once.")
    ai_timeout_seconds: float = Field(60.0, gt=0)

    @field_validator("temporal_address")
    @classmethod
    def _host_and_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError("expected host:port, e.g. localhost:7233")
        return value

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
    def systems_host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.systems_url)
        return parts.hostname or "127.0.0.1", parts.port or 80


@lru_cache
def get_settings() -> Settings:
    return Settings()
