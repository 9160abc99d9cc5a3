#!/bin/sh
# Runs once, when the postgres container starts on an empty data volume
# (/docker-entrypoint-initdb.d). Creates one login role per tenant of this server:
#   temporal -> temporal, temporal_visibility (Temporal's persistence and visibility stores)
#   baton    -> baton                          (Baton's inbox, ledger, users and keys)
# Both roles use POSTGRES_PASSWORD; psql quotes it (:'pw'), so no character can break the SQL.
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
    -v pw="$POSTGRES_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN PASSWORD :'pw';
CREATE ROLE baton LOGIN PASSWORD :'pw';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
CREATE DATABASE baton OWNER baton;
-- Temporal's advanced-visibility schema indexes need btree_gin; create it as the superuser so
-- the schema tool, running as `temporal`, finds it in place.
\connect temporal_visibility
CREATE EXTENSION IF NOT EXISTS btree_gin;
SQL
