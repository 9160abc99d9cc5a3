"""What Baton's tables share: timestamps that keep their zone, and adding a column to a table of
a release from before migrations (core/migrations brings those to its baseline with it)."""

from datetime import UTC, datetime

from sqlalchemy import DateTime, Dialect, Engine, TypeDecorator, inspect, text
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


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps that read back timezone-aware (SQLite drops the zone; PostgreSQL keeps it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value
