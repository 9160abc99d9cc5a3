"""Baton's own database schema as Alembic migrations (`versions/`): `upgrade` brings any database
to the head, whether it is empty, at an earlier revision, or made by a release from before
migrations (by `create_all`: it is stamped at the baseline, once its columns are complete).

Run by `baton db upgrade` (and `baton dev`) before the API and the workers start; they run it
too, and it is safe when several processes start at once (PostgreSQL: an advisory lock; SQLite:
its write lock, and a second look when another process got there first).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

# Every module with tables: the models the migrations create and are compared with.
import core.events
import core.inbox
import core.insight.log
import core.ledger
import core.robot_jobs
import core.users
import core.web_sessions

TABLE_MODULES = (
    core.events,
    core.inbox,
    core.insight.log,
    core.ledger,
    core.robot_jobs,
    core.users,
    core.web_sessions,
)
HERE = Path(__file__).parent
BASELINE = "0001"  # the schema of the last release before migrations
_LOCK = 7_312_024  # the PostgreSQL advisory lock key of Baton's migrations


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    head_revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert head_revision is not None
    return head_revision


def current(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty one (or one from before migrations)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK})
            connection.commit()
        try:
            yield connection
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK})
                connection.commit()


# Tables that revisions after the baseline create: a database from before migrations has none.
AFTER_BASELINE = frozenset({"web_sessions", "received_events"})


def _from_before_migrations(connection: Connection) -> bool:
    tables = set(inspect(connection).get_table_names())
    baseline = {table.name for table in SQLModel.metadata.sorted_tables} - AFTER_BASELINE
    return "alembic_version" not in tables and bool(tables & baseline)


def _complete_baseline(engine: Engine) -> None:
    """A database from before migrations, brought to the baseline as those releases did at
    start: the tables it lacks (it may predate some), then the columns it lacks. (While no
    revision changes a baseline table, today's models are the baseline's for them.)"""
    baseline = [t for t in SQLModel.metadata.sorted_tables if t.name not in AFTER_BASELINE]
    SQLModel.metadata.create_all(engine, tables=baseline)
    core.ledger.add_chain_columns(engine)
    core.inbox.add_listing_columns(engine)


def upgrade(engine: Engine) -> list[str]:
    """Brings the database to the head; returns the revisions it applied."""
    for attempt in (1, 2):
        try:
            with _locked(engine) as connection:
                before = MigrationContext.configure(connection).get_current_revision()
                if before is None and _from_before_migrations(connection):
                    connection.commit()
                    _complete_baseline(engine)
                    command.stamp(_config(connection), BASELINE)
                    connection.commit()
                    before = BASELINE
                command.upgrade(_config(connection), "head")
                connection.commit()
                script = ScriptDirectory.from_config(_config(connection))
                return [
                    revision.revision
                    for revision in script.iterate_revisions(head(), before)
                    if revision.revision != before
                ][::-1]
        except DBAPIError:
            # SQLite: another process created the tables between our look and our writes.
            if attempt == 2 or engine.dialect.name != "sqlite":
                raise
    raise AssertionError("unreachable")


def drift(engine: Engine) -> list[object]:
    """What differs between the database and the models (none after `upgrade`)."""
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), SQLModel.metadata))


def revision(
    engine: Engine, message: str, rev_id: str, exclude: frozenset[str] = frozenset()
) -> None:
    """Writes a new revision from the models' difference to `engine`'s database (which must be
    at the head): how `versions/` is made. `exclude` leaves tables out (for the baseline)."""
    with engine.connect() as connection:
        config = _config(connection)
        config.attributes["exclude_tables"] = set(exclude)
        command.revision(config, message=message, autogenerate=True, rev_id=rev_id)
