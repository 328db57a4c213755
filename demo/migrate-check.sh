#!/bin/sh
# The agent's migration check, run from the project with DATABASE_URL set:
# the database role it is connected as (from pg_roles), then which of the
# project's migrations/*.sql the database has not applied yet.
set -eu
psql -X "$DATABASE_URL" -c "SELECT rolname, rolvaliduntil FROM pg_roles WHERE rolname = current_user"
applied=" $(psql -X -At "$DATABASE_URL" -c "SELECT version FROM schema_migrations" | tr '\n' ' ')"
pending=0
for f in migrations/*.sql; do
	case "$applied" in
	*" $(basename "$f" .sql | cut -d_ -f1) "*) ;;
	*) echo "pending: $f"; pending=$((pending + 1)) ;;
	esac
done
echo "migration check: $pending pending"
