"""Upgrading a table made by an earlier version, until Baton has migrations: `create_all` makes
missing tables, never missing columns."""

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError


def add_columns(engine: Engine, table: str, columns: dict[str, str]) -> list[str]:
    """Adds each of `columns` (name: its DDL, e.g. "INTEGER NOT NULL DEFAULT 0") the existing
    table lacks. Safe to run at every start, and by several processes at once. Returns the
    columns it added."""

    def present() -> set[str]:
        return {column["name"] for column in inspect(engine).get_columns(table)}

    missing = [name for name in columns if name not in present()]
    guard = " IF NOT EXISTS" if engine.dialect.name == "postgresql" else ""
    for name in missing:
        try:
            with engine.begin() as connection:
                connection.execute(
                    text(f"ALTER TABLE {table} ADD COLUMN{guard} {name} {columns[name]}")
                )
        except DBAPIError:
            if name not in present():  # not another process adding it at the same moment
                raise
    return missing
