"""The database layer on SQLite and, where reachable, PostgreSQL."""

import pytest
from sqlalchemy import Engine, inspect, text
from sqlmodel import select

from core.db import make_engine, ping, prepare_database, session_scope
from core.settings import Environment, Settings
from core.users import DEMO_USERS, ApiKey, User, UserExistsError, add_user, authenticate
from workflows.contracts.roles import Role


def test_tables_exist(engine: Engine) -> None:
    assert {"users", "api_keys"} <= set(inspect(engine).get_table_names())
    ping(engine)


def test_a_new_key_authenticates_and_is_stored_hashed(engine: Engine) -> None:
    with session_scope(engine) as session:
        key = add_user(session, "frank", [Role.SALES_REP, Role.AP_CLERK])
    with session_scope(engine) as session:
        user = authenticate(session, key)
        assert user is not None
        assert user.name == "frank"
        assert user.roles == ["sales_rep", "ap_clerk"]
        assert authenticate(session, key + "x") is None
        stored = session.exec(select(ApiKey.key_hash)).all()
    assert key not in stored
    assert len(stored) == 1


def test_a_user_name_is_taken_once(engine: Engine) -> None:
    with session_scope(engine) as session:
        add_user(session, "grace", [Role.ADMIN])
    with pytest.raises(UserExistsError, match="grace"), session_scope(engine) as session:
        add_user(session, "grace", [Role.ADMIN])


def test_demo_users_only_in_dev_and_seeding_twice_changes_nothing(engine: Engine) -> None:
    dev = Settings(_env_file=None, env=Environment.DEV)
    prepare_database(engine, dev)
    prepare_database(engine, dev)
    with session_scope(engine) as session:
        names = session.exec(select(User.name)).all()
        assert sorted(names) == sorted(name for name, _, _ in DEMO_USERS)
        bob = authenticate(session, "dev-bob")
        assert bob is not None
        assert bob.roles == ["sales_manager"]


def test_prod_creates_no_demo_user(engine: Engine) -> None:
    prepare_database(engine, Settings(_env_file=None, env=Environment.PROD))
    with session_scope(engine) as session:
        assert session.exec(select(User)).all() == []
        assert authenticate(session, "dev-alice") is None


def test_a_failed_unit_of_work_leaves_nothing(engine: Engine) -> None:
    def add_then_fail() -> None:
        with session_scope(engine) as session:
            add_user(session, "heidi", [Role.SALES_REP])
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        add_then_fail()
    with session_scope(engine) as session:
        assert session.exec(select(User)).all() == []


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'baton.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgres_schemas_keep_test_runs_apart(engine: Engine, database_url: str) -> None:
    with engine.connect() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar()
    assert schema is not None
    assert schema.startswith("baton_test_")
    assert schema in database_url
    assert "users" in inspect(engine).get_table_names(schema=schema)
