#!/bin/sh
# One-shot (temporalio/admin-tools): bring Temporal's two PostgreSQL databases to the schema
# version this admin-tools release ships. Safe to run on every `docker compose up`: setup-schema
# keeps an existing version and update-schema applies only the missing migrations.
# The databases themselves are created by deploy/postgres/init-databases.sh.
# Environment: SQL_PASSWORD (read by temporal-sql-tool), POSTGRES_SEEDS, DB_PORT, POSTGRES_USER.
set -eu

HOST="${POSTGRES_SEEDS:-postgresql}"
PORT="${DB_PORT:-5432}"
DB_USER="${POSTGRES_USER:-temporal}"
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12

echo "waiting for PostgreSQL at $HOST:$PORT"
attempt=0
until nc -z -w 5 "$HOST" "$PORT"; do
    attempt=$((attempt + 1))
    if [ "$attempt" -ge 60 ]; then
        echo "PostgreSQL did not come up" >&2
        exit 1
    fi
    sleep 2
done

sql_tool() {
    temporal-sql-tool --plugin postgres12 --ep "$HOST" -p "$PORT" -u "$DB_USER" "$@"
}

sql_tool --db temporal setup-schema -v 0.0
sql_tool --db temporal update-schema -d "$SCHEMA_DIR/temporal/versioned"
sql_tool --db temporal_visibility setup-schema -v 0.0
sql_tool --db temporal_visibility update-schema -d "$SCHEMA_DIR/visibility/versioned"
echo "Temporal schema is up to date"
