"""Baton's schema migrations (core/migrations) on SQLite and PostgreSQL: an empty database gets
exactly the models' schema, and one made by the last release before migrations keeps its rows."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select
from typer.testing import CliRunner

from baton.cli import app
from core import migrations
from core.db import create_tables, make_engine
from core.inbox import HumanTask
from core.ledger import LedgerRow
from core.users import User, authenticate, hash_key

DATA = Path(__file__).parent / "data"


@pytest.fixture
def empty(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_an_empty_database_migrates_to_the_models_exactly(empty: Engine) -> None:
    assert migrations.current(empty) is None
    assert migrations.upgrade(empty) == ["0001", migrations.head()]
    assert migrations.current(empty) == migrations.head()
    assert migrations.drift(empty) == []
    assert migrations.upgrade(empty) == []  # at every start: nothing to do


def _previous_release(engine: Engine) -> None:
    """The schema `create_all` made before migrations, and rows in it, as that release wrote."""
    ddl = (DATA / f"schema-before-migrations.{engine.dialect.name}.sql").read_text()
    now = datetime.now(UTC)
    with engine.begin() as connection:
        for statement in ddl.split(";"):
            sql = "\n".join(line for line in statement.splitlines() if not line.startswith("--"))
            if sql.strip():
                connection.execute(text(sql))
        connection.execute(
            text("INSERT INTO users (name, roles, created_at) VALUES ('ivan', '[\"admin\"]', :at)"),
            {"at": now},
        )
        connection.execute(
            text(
                "INSERT INTO api_keys (user_id, key_hash, created_at) "
                "SELECT id, :hash, :at FROM users WHERE name = 'ivan'"
            ),
            {"hash": hash_key("ivan-key"), "at": now},
        )
        connection.execute(
            text(
                "INSERT INTO decision_ledger (decision_id, process_id, step, actor_kind, actor, "
                "outcome, comment, data, applied, reason, decided_at) VALUES ('d-1', "
                "'order-fulfillment:SO-1', 'approval', 'human', 'bob', 'approve', '', '{}', "
                ":yes, '', :at)"
            ),
            {"yes": True, "at": now},
        )


@pytest.mark.postgres
def test_a_database_of_the_last_release_before_migrations_keeps_its_rows(empty: Engine) -> None:
    _previous_release(empty)
    create_tables(empty)  # what every start does
    assert migrations.current(empty) == migrations.head()
    assert migrations.drift(empty) == []
    with Session(empty) as session:
        user = authenticate(session, "ivan-key")
        assert user is not None
        assert user.roles == ["admin"]
        assert [row.decision_id for row in session.exec(select(LedgerRow))] == ["d-1"]
        assert session.exec(select(HumanTask)).all() == []
        assert [u.name for u in session.exec(select(User))] == ["ivan"]


def test_the_db_commands(cli_database: str) -> None:
    runner = CliRunner()
    behind = runner.invoke(app, ["db", "current"])
    assert behind.exit_code == 1
    assert "at nothing (run baton db upgrade)" in behind.output
    applied = runner.invoke(app, ["db", "upgrade"])
    assert applied.exit_code == 0, applied.output
    assert f"applied 0001, {migrations.head()}" in applied.output
    again = runner.invoke(app, ["db", "upgrade"])
    assert "nothing to apply" in again.output
    at = runner.invoke(app, ["db", "current"])
    assert at.exit_code == 0
    assert f"at {migrations.head()} (head {migrations.head()})" in at.output
