"""Alembic's environment: the connection comes from core.migrations (never from a file)."""

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from core.migrations import TABLE_MODULES

assert TABLE_MODULES  # every table's model is on SQLModel.metadata

connection: Connection = context.config.attributes["connection"]
excluded: set[str] = context.config.attributes.get("exclude_tables", set())


def _include(obj: object, name: str | None, kind: str, *_: object) -> bool:
    table = getattr(obj, "table", obj) if kind != "table" else obj
    return getattr(table, "name", name) not in excluded


context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    include_object=_include,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
