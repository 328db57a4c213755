#!/bin/bash
# A task's group may create in public, which is on the admin user's search
# path.  As the group, the task plants functions that match airlock's own
# calls better than PostgreSQL's built-ins (format(text, text, regclass)
# against format(text, VARIADIC "any"), left(name, integer) against
# left(text, integer)): airlock's revocation and its search for orphans
# at start would call them as the admin, a superuser here, and make the
# task a superuser role of its own.  They must call the built-ins alone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
pg_app_secret
K=alat4_$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')

# trojan NAME ARGS RETURNS BODY-RESULT: a function of the group's that,
# called as the admin, makes the superuser role ${K}_NAME.
trojan() {
	cat <<SQL
CREATE FUNCTION public.$2($3) RETURNS $4 LANGUAGE plpgsql AS \$f\$ BEGIN
IF current_user = 'admin' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
WHERE rolname = '${K}_$1') THEN EXECUTE 'CREATE ROLE ${K}_$1 SUPERUSER'; END IF;
RETURN $5; END \$f\$;
SQL
}
{
	echo "SET ROLE app_rw;"
	trojan fmt format "text, text, regclass" text 'pg_catalog.format($1, $2, $3)'
	trojan fmt2 format "text, regclass" text 'pg_catalog.format($1, $2)'
	trojan fmt3 format "text, name, regclass" text 'pg_catalog.format($1, $2, $3)'
	trojan left left "name, integer" text 'pg_catalog.left($1::text, $2)'
	echo "RESET ROLE;"
	# What the role owns sends its revocation down its longest path.
	echo "CREATE VIEW public.v AS SELECT 1 AS one;"
	echo "CREATE TABLE public.own (y int CHECK (y > 0));"
	echo "CREATE TRIGGER tr BEFORE INSERT ON public.own FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();"
	echo "SELECT current_user;"
} >"$T_ROOT/plant.sql"
# The second task's functions stand in for those of the ending of sessions.
{
	echo "SET ROLE app_rw;"
	trojan term pg_terminate_backend "integer" boolean false
	trojan has pg_has_role "oid, oid, text" boolean false
	trojan cnt count "boolean" bigint 0
	echo "RESET ROLE;"
	echo "SELECT current_user;"
} >"$T_ROOT/plant2.sql"
for f in plant plant2; do
	run "$AL" run -e U=app-db -- sh -c 'psql -X -q -At -v ON_ERROR_STOP=1 "$U" -f "$1/$2.sql"' \
	    sh "$T_ROOT" "$f"
	expect_rc 0 "a task plants its functions as the group"
	ROLE=$(tail -1 "$OUT")
	case "$ROLE" in airlock_*) pass ;; *) fail "no role: $(cat "$ERR")" ;; esac
	wait_role_gone "$ROLE" 8 && pass || fail "role $ROLE still exists after the task"
done
expect_eq "$(apsql -c "SELECT count(*) FROM pg_class WHERE relname = 'v'")" 0 \
    "the first role's view is gone"

# A broker's start searches for orphans.
kill "$(cat "$AIRLOCK_HOME/airlockd.pid")"
n=0; while [ -e "$AIRLOCK_HOME/airlockd.pid" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
run "$AL" run -e U=app-db -- sh -c 'psql -X -At "$U" -c "select current_user"'
expect_rc 0 "a new broker starts, a task runs"
NROLE=$(tail -1 "$OUT")
wait_role_gone "$NROLE" 8 && pass || fail "role $NROLE still exists after the task"

expect_eq "$(PG_DB=postgres apsql -c "SELECT string_agg(rolname, ' ') FROM pg_roles WHERE rolname LIKE '${K}_%'")" "" \
    "airlock called none of the group's functions as the admin"
check_no_leak "$PG_ADMIN_PW" "$PG_LOG"

echo "$T_NAME: $T_COUNT checks, $T_FAILS failures"
[ "$T_FAILS" -eq 0 ]
