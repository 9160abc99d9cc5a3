"""The `baton` command line: the contract's commands exist; users get keys shown once."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baton.cli import app
from core.db import make_engine, session_scope
from core.settings import get_settings
from core.users import authenticate

runner = CliRunner()


def test_the_contract_commands_exist() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("dev", "worker", "api", "systems", "users"):
        assert f" {command} " in result.output


@pytest.fixture
def database_env(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    monkeypatch.setenv("BATON_DATABASE_URL", database_url)
    monkeypatch.setenv("BATON_ENV", "prod")
    monkeypatch.chdir(tmp_path)  # no developer .env leaks in
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def test_users_add_prints_a_working_key_once(database_env: str) -> None:
    result = runner.invoke(app, ["users", "add", "ivan", "--role", "sales_manager"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("bk_")
    engine = make_engine(database_env)
    with session_scope(engine) as session:
        user = authenticate(session, key)
        assert user is not None
        assert user.roles == ["sales_manager"]
    engine.dispose()

    again = runner.invoke(app, ["users", "add", "ivan", "--role", "admin"])
    assert again.exit_code == 1
    assert "user 'ivan' already exists" in again.output


def test_users_add_refuses_an_unknown_role(database_env: str) -> None:
    result = runner.invoke(app, ["users", "add", "judy", "--role", "boss"])
    assert result.exit_code == 2
    assert "boss" in result.output
