import inspect
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.worker import Worker

from core.settings import AIProvider, Environment, Settings


def test_defaults_match_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BATON_ENV", "BATON_TEMPORAL_ADDRESS", "BATON_API_PORT", "BATON_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.temporal_address == "localhost:7233"
    assert settings.temporal_namespace == "default"
    assert settings.systems_url == "http://127.0.0.1:8100"
    assert settings.api_port == 8000
    assert settings.ai_provider is AIProvider.LOCAL
    assert settings.env is Environment.DEV
    assert settings.resolved_database_url == f"sqlite:///{Path('.data') / 'baton.db'}"


def test_environment_variables_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_TEMPORAL_ADDRESS", "temporal:7233")
    monkeypatch.setenv("BATON_API_PORT", "9000")
    monkeypatch.setenv("BATON_ENV", "prod")
    monkeypatch.setenv("BATON_DATABASE_URL", "postgresql+psycopg://u@db/baton")
    settings = Settings(_env_file=None)
    assert settings.temporal_host_port == ("temporal", 7233)
    assert settings.api_port == 9000
    assert settings.env is Environment.PROD
    assert settings.resolved_database_url == "postgresql+psycopg://u@db/baton"


def test_env_file_is_read(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("BATON_SYSTEMS_URL=http://erp.internal:9100\n")
    settings = Settings(_env_file=env_file)
    assert settings.systems_host_port == ("erp.internal", 9100)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("temporal_address", "localhost", "expected host:port"),
        ("api_port", 70000, "less than or equal to 65535"),
        ("env", "staging", "'dev' or 'prod'"),
    ],
)
def test_bad_values_name_the_field(field: str, value: Any, fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, **{field: value})
    error = caught.value.errors()[0]
    assert error["loc"] == (field,)
    assert fragment in str(caught.value)


def test_the_workflow_cache_size_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """BATON_WORKFLOW_CACHE_SIZE bounds the runs a worker keeps in memory; by default the SDK's
    own max_cached_workflows, so leaving it unset changes nothing."""
    sdk_default = inspect.signature(Worker).parameters["max_cached_workflows"].default
    monkeypatch.delenv("BATON_WORKFLOW_CACHE_SIZE", raising=False)
    assert Settings(_env_file=None).workflow_cache_size == sdk_default
    monkeypatch.setenv("BATON_WORKFLOW_CACHE_SIZE", "500")
    assert Settings(_env_file=None).workflow_cache_size == 500
    with pytest.raises(ValidationError):
        Settings(_env_file=None, workflow_cache_size=-1)
