# A throwaway PostgreSQL cluster for a test: source after lib.sh.
# initdb in its own temporary directory, a Unix socket there (no TCP),
# every statement logged (log_statement=all), SCRAM password
# authentication.  When the test runs as root, the cluster runs as the
# unprivileged user nobody.  pg_cleanup removes it all.
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
	echo "FAIL: the PostgreSQL server is not installed (scripts/deps.sh installs the Debian package postgresql)" >&2
	exit 1
fi
PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/airlock-pg.XXXXXX")
PG_DATA="$PG_DIR/data"
PG_SOCK="$PG_DIR/sock"
PG_LOG="$PG_DIR/postgres.log"
PG_PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
PG_ADMIN_PW="pgadm-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
mkdir -p "$PG_SOCK"
chmod 755 "$PG_DIR" "$PG_SOCK"
printf '%s\n' "$PG_ADMIN_PW" >"$PG_DIR/pw"
if [ "$(id -u)" -eq 0 ]; then
	chown -R nobody "$PG_DIR"
	pg_as() { runuser -u nobody -- "$@"; }
else
	pg_as() { "$@"; }
fi

pg_cleanup() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1
	rm -rf "$PG_DIR"
	t_cleanup
}
trap pg_cleanup EXIT

pg_as "$PG_BIN/initdb" -D "$PG_DATA" -U admin --pwfile="$PG_DIR/pw" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 \
    >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; exit 1; }
rm -f "$PG_DIR/pw"
cat >>"$PG_DATA/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$PG_SOCK'
port = $PG_PORT
log_statement = 'all'
log_connections = on
fsync = off
CONF

pg_start() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 30 start \
	    >/dev/null || { cat "$PG_LOG" >&2; exit 1; }
}
pg_stop() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
}
# psql as the admin user on database app (or $PG_DB).
apsql() {
	PGPASSWORD="$PG_ADMIN_PW" psql -X -q -At -h "$PG_SOCK" -p "$PG_PORT" \
	    -U admin -d "${PG_DB:-app}" "$@"
}
PG_CONN="host=$PG_SOCK port=$PG_PORT user=admin dbname=app"
# role_exists NAME: 0 when the role is in pg_roles.
role_exists() {
	[ "$(PG_DB=postgres apsql -c "SELECT count(*) FROM pg_roles WHERE rolname = '$1'")" = 1 ]
}
# wait_role_gone NAME [SECONDS]: poll until the role is gone.
wait_role_gone() {
	_n=$((${2:-5} * 20))
	while [ $_n -gt 0 ]; do
		role_exists "$1" || return 0
		sleep 0.05
		_n=$((_n - 1))
	done
	return 1
}
# roles_left LIST: how many roles of LIST ('a','b') are in pg_roles.
roles_left() {
	PG_DB=postgres apsql -c "SELECT count(*) FROM pg_roles WHERE rolname IN ($1)"
}
# wait_roles_gone LIST SECONDS: poll every 0.1 s, SECONDS at most, until no
# role of LIST is left; how long it took (ms) in WAITED_MS.
wait_roles_gone() {
	_n=0
	while [ "$(roles_left "$1")" != 0 ] && [ $_n -lt $(($2 * 10)) ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	WAITED_MS=$((_n * 100))
}
# pg_app_secret: database app, a group app_rw that may create in its public
# schema, a vault, and app-db: a postgres engine secret for that group.
pg_app_secret() {
	PG_DB=postgres apsql -c "CREATE DATABASE app" || { fail "create database"; exit 1; }
	apsql -c "CREATE ROLE app_rw NOLOGIN; GRANT CREATE ON SCHEMA public TO app_rw" ||
		fail "schema"
	pg_app_vault
}
# pg_app_vault: a vault, and app-db: a postgres engine secret for the group
# app_rw (which the test made).
pg_app_vault() {
	init_vault
	printf '%s\n' "$PG_ADMIN_PW" >"$T_ROOT/adminpw"
	run_in "$T_ROOT/adminpw" "$AL" secret add app-db --engine postgres \
	    --connection "$PG_CONN" --group app_rw --owner dba --purpose test
	expect_rc 0 "secret add --engine postgres"
}
# pg_task_url: wait (10 s at most) for the URL a task writes to
# $T_ROOT/url, and take it (the file is removed): URL, its role in ROLE,
# its password in PW.
pg_task_url() {
	_n=0
	while [ ! -s "$T_ROOT/url" ] && [ $_n -lt 200 ]; do
		sleep 0.05
		_n=$((_n + 1))
	done
	URL=$(cat "$T_ROOT/url")
	rm -f "$T_ROOT/url"
	ROLE=$(printf %s "$URL" | sed 's|^postgresql://\([^:]*\):.*|\1|')
	PW=$(printf %s "$URL" | sed 's|^postgresql://[^:]*:\([0-9a-f]*\)@.*|\1|')
}
