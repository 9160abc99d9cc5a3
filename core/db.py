"""Baton's own database: projections and ledgers (never the source of truth for process state).

SQLite in WAL mode for the embedded stack, PostgreSQL by URL for the distributed deployment.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

from core import migrations
from core.settings import Environment, Settings
from core.users import seed_demo_users


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    """An engine for `url`. A PostgreSQL URL may pin a schema: `?options=-csearch_path%3Dname`.

    `pool_size` connections stay open and `max_overflow` more are opened at peaks; a caller
    beyond both waits (SQLAlchemy's pool timeout), so size them for the caller's concurrency.
    """
    parsed = make_url(url)
    connect_args: dict[str, Any] = {}
    pool_args: dict[str, Any] = {"pool_size": pool_size, "max_overflow": max_overflow}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        else:
            pool_args = {}  # an in-memory database lives in one connection: no pool to size
        # Activities write from worker threads; SQLite serialises writers itself.
        connect_args["check_same_thread"] = False
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True, **pool_args)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
    cursor.execute("PRAGMA busy_timeout=5000")  # wait for a lock rather than fail at once
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_tables(engine: Engine) -> None:
    """Brings the database to the head of Baton's migrations: an empty one gets every table,
    an earlier one what it lacks (core/migrations). Safe at every start."""
    migrations.upgrade(engine)


def ping(engine: Engine) -> None:
    """Raises when the database cannot answer a trivial query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def prepare_database(engine: Engine, settings: Settings) -> None:
    """Creates missing tables and, in dev, the demo users. Safe to run at every start."""
    create_tables(engine)
    if settings.env is Environment.DEV:
        with session_scope(engine) as session:
            seed_demo_users(session)
