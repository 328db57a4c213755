#!/bin/bash
# A task with a dynamic PostgreSQL credential creates objects that run
# code with their owner's rights (a SECURITY DEFINER function, a view, a
# rule, an expression index whose function maintenance runs as the table's
# owner).  When its role is dropped, what it owned goes to the admin user:
# such objects must not go with it, or the next task (or anyone) runs SQL as
# the admin, and may mint itself a role that no lease ever ends.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
PG_DB=postgres apsql -c "CREATE DATABASE app" || { fail "create database"; exit 1; }
PG_DB=postgres apsql -c "CREATE DATABASE other" || { fail "create database"; exit 1; }
apsql -c "CREATE ROLE app_rw NOLOGIN; CREATE TABLE t (x int);
	INSERT INTO t VALUES (42); GRANT SELECT ON t TO app_rw;
	GRANT CREATE ON SCHEMA public TO app_rw;
	GRANT CONNECT, CREATE ON DATABASE other TO app_rw" || fail "schema"
PG_DB=other apsql -c "GRANT CREATE ON SCHEMA public TO app_rw" || fail "schema"
pg_app_vault
KEEP=alat_keep_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
KEEP_PW=keep-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')

# The first task plants code that would run as the objects' next owner.
cat >"$T_ROOT/plant.sql" <<SQL
CREATE TABLE public.own (y int);
INSERT INTO public.own VALUES (1);
GRANT ALL ON public.own TO PUBLIC;
CREATE FUNCTION public.esc() RETURNS text LANGUAGE plpgsql SECURITY DEFINER AS
\$f\$ BEGIN EXECUTE 'CREATE ROLE $KEEP LOGIN PASSWORD ''$KEEP_PW'''; RETURN current_user; END \$f\$;
CREATE PROCEDURE public.escp() LANGUAGE sql SECURITY DEFINER AS \$f\$ SELECT 1 \$f\$;
CREATE VIEW public.v AS SELECT current_user AS who, rolname FROM pg_authid;
GRANT SELECT ON public.v TO PUBLIC;
CREATE MATERIALIZED VIEW public.mv AS SELECT 1 AS one;
CREATE FUNCTION public.ix(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
\$f\$ BEGIN IF current_user = 'admin' AND NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${KEEP}2') THEN
EXECUTE 'CREATE ROLE ${KEEP}2 NOLOGIN'; END IF; RETURN \$1; END \$f\$;
CREATE INDEX own_ix ON public.own (public.ix(y));
CREATE RULE r AS ON INSERT TO public.own DO ALSO INSERT INTO public.t VALUES (7);
CREATE AGGREGATE public.agg(int) (sfunc = int4pl, stype = int);
CREATE FUNCTION public."Odd ""name"""(int, text) RETURNS int LANGUAGE sql AS \$f\$ SELECT 1 \$f\$;
CREATE FUNCTION public."Odd ""name"""(int) RETURNS int LANGUAGE sql AS \$f\$ SELECT 2 \$f\$;
CREATE VIEW public."v two" AS SELECT 1 AS one;
CREATE VIEW public.vv AS SELECT * FROM public."v two";
CREATE TRIGGER tr BEFORE UPDATE ON public.own FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
SQL
run "$AL" run -e U=app-db -- sh -c '
	psql -X -q -v ON_ERROR_STOP=1 "$U" -f "$1/plant.sql" &&
	psql -X -q -v ON_ERROR_STOP=1 "${U%%/app?*}/other?${U#*/app?}" \
	    -c "CREATE FUNCTION public.esc2() RETURNS text LANGUAGE sql SECURITY DEFINER AS \$\$ SELECT current_user::text \$\$"
	psql -X -At "$U" -c "select current_user"' sh "$T_ROOT"
expect_rc 0 "the first task plants its objects"
ROLE=$(tail -1 "$OUT")
wait_role_gone "$ROLE" 8 && pass || fail "role $ROLE still exists after the task"

# What it created as plain data stays, reassigned as documented.
expect_eq "$(apsql -c "SELECT tableowner FROM pg_tables WHERE tablename = 'own'")" admin \
    "the task's table is reassigned"
expect_eq "$(apsql -c "SELECT count(*) FROM public.own")" 1 "the table's rows stay"
# Nothing it created runs code as its new owner.
expect_eq "$(apsql -c "SELECT count(*) FROM pg_proc WHERE proname IN ('esc', 'escp', 'ix', 'agg', 'Odd \"name\"')")" 0 \
    "the task's functions, procedures and aggregates are gone"
expect_eq "$(apsql -c "SELECT count(*) FROM pg_class WHERE relname IN ('v two', 'vv')")" 0 \
    "views with odd names, and views on views, are gone"
expect_eq "$(PG_DB=other apsql -c "SELECT count(*) FROM pg_proc WHERE proname = 'esc2'")" 0 \
    "the task's function in another database is gone"
expect_eq "$(apsql -c "SELECT count(*) FROM pg_class WHERE relname IN ('v', 'mv', 'own_ix')")" 0 \
    "the task's views and its expression index are gone"
expect_eq "$(apsql -c "SELECT count(*) FROM pg_rewrite WHERE rulename = 'r'")" 0 \
    "the task's rule is gone"

# The next task cannot run SQL as the admin through what the first left.
run "$AL" run -e U=app-db -- sh -c '
	psql -X -At "$U" -c "select public.esc()"
	psql -X -At "$U" -c "select who from public.v limit 1"
	psql -X -At "$U" -c "insert into public.own values (2)"
	psql -X -At "$U" -c "analyze public.own"
	psql -X -At "$U" -c "select current_user"'
NROLE=$(tail -1 "$OUT")
case "$NROLE" in airlock_*) pass ;; *) fail "second task: $(cat "$ERR")" ;; esac
grep -q '^admin$' "$OUT" && fail "the second task ran SQL as the admin" || pass
expect_eq "$(apsql -c "SELECT count(*) FROM public.t WHERE x = 7")" 0 \
    "no rule wrote with the admin's rights"
wait_role_gone "$NROLE" 8 && pass || fail "role $NROLE still exists"
role_exists "$KEEP" && fail "a role minted through the first task's function outlived every lease" || pass
# The database's own maintenance runs index expressions as the owner.
PG_DB=app apsql -c "VACUUM ANALYZE public.own" >/dev/null 2>&1
role_exists "${KEEP}2" && fail "maintenance ran the task's code as the admin" || pass

check_no_leak "$PG_ADMIN_PW" "$PG_LOG"

echo "$T_NAME: $T_COUNT checks, $T_FAILS failures"
[ "$T_FAILS" -eq 0 ]
