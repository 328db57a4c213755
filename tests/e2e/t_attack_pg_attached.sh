#!/bin/bash
# A task's table is reassigned to the admin when its role is dropped; code
# attached to that table runs as whoever writes it (a trigger, a column
# default, a check constraint, a domain's check) or as its owner during
# maintenance (an index expression, extended statistics, which ANALYZE and
# autovacuum evaluate); an operator of the task's, the admin's after the
# reassignment, runs its routine for whoever uses it.  The task attaches routines it created after SET
# ROLE to its group: those belong to the group, survive the revocation,
# and would run as the admin.  The revocation must strip the reassigned
# table of all such code and keep its rows.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
pg_app_secret
K=alat4_$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')

# g(name, type, value): a routine of the group, immutable where an index
# needs one, that calls gv(name), which, run as the admin, makes a role.
g() {
	cat <<SQL
CREATE FUNCTION public.g_$1(int) RETURNS $2 LANGUAGE plpgsql IMMUTABLE AS
\$f\$ BEGIN PERFORM public.gv('$1'); RETURN $3; END \$f\$;
SQL
}
{
	cat <<SQL
SET ROLE app_rw;
CREATE FUNCTION public.gv(text) RETURNS void LANGUAGE plpgsql AS
\$f\$ BEGIN IF current_user = 'admin' AND NOT EXISTS (SELECT 1 FROM pg_roles
WHERE rolname = '${K}_' || \$1) THEN EXECUTE format('CREATE ROLE %I NOLOGIN',
'${K}_' || \$1); END IF; END \$f\$;
SQL
	g ix int '$1'; g st int '$1'; g df int 3; g ck boolean true
	g dom boolean true; g ddf int 1; g gen int '$1'; g pol boolean true
	g ex int '$1'
	cat <<SQL
CREATE FUNCTION public.g_tr() RETURNS trigger LANGUAGE plpgsql AS
\$f\$ BEGIN PERFORM public.gv('tr'); RETURN NEW; END \$f\$;
CREATE FUNCTION public.g_op(int, int) RETURNS boolean LANGUAGE plpgsql AS
\$f\$ BEGIN PERFORM public.gv('op'); RETURN true; END \$f\$;
RESET ROLE;
CREATE OPERATOR public.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = public.g_op);
CREATE DOMAIN public.dd AS int DEFAULT public.g_ddf(0) CHECK (public.g_dom(VALUE));
CREATE TABLE public.own (
	y int DEFAULT public.g_df(0) CHECK (public.g_ck(y)),
	d public.dd,
	z int GENERATED ALWAYS AS (public.g_gen(y)) STORED,
	s serial,
	EXCLUDE ((public.g_ex(y)) WITH =));
INSERT INTO public.own (y, d) VALUES (1, 1);
CREATE INDEX own_ix ON public.own (public.g_ix(y));
CREATE INDEX own_part ON public.own (y) WHERE public.g_ix(y) > 0;
CREATE STATISTICS public.own_st ON (public.g_st(y)) FROM public.own;
CREATE TRIGGER own_tr BEFORE INSERT ON public.own FOR EACH ROW
	EXECUTE FUNCTION public.g_tr();
ALTER TABLE public.own ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.own FORCE ROW LEVEL SECURITY;
CREATE POLICY own_pol ON public.own USING (public.g_pol(y));
GRANT ALL ON public.own TO PUBLIC;
SELECT current_user;
SQL
} >"$T_ROOT/plant.sql"
run "$AL" run -e U=app-db -- sh -c 'psql -X -q -At -v ON_ERROR_STOP=1 "$U" -f "$1/plant.sql"' \
    sh "$T_ROOT"
expect_rc 0 "the task attaches the group's routines to its table"
ROLE=$(tail -1 "$OUT")
case "$ROLE" in airlock_*) pass ;; *) fail "no role: $(cat "$ERR")" ;; esac
wait_role_gone "$ROLE" 8 && pass || fail "role $ROLE still exists after the task"

expect_eq "$(apsql -c "SELECT tableowner FROM pg_tables WHERE tablename = 'own'")" admin \
    "the task's table is reassigned"
expect_eq "$(apsql -c "SELECT y, d, z, s FROM public.own")" "1|1|1|1" \
    "its rows stay, the generated column's values too"
# What would run the group's code as the admin: writing to the table, its
# maintenance.
apsql -c "INSERT INTO public.own (y, d) VALUES (2, 2)" >/dev/null 2>&1
apsql -c "INSERT INTO public.own (d) VALUES (4)" >/dev/null 2>&1
apsql -c "INSERT INTO public.own (y) VALUES (5)" >/dev/null 2>&1
apsql -c "VACUUM ANALYZE public.own" >/dev/null 2>&1
apsql -c "REINDEX TABLE public.own" >/dev/null 2>&1
apsql -c "SELECT * FROM public.own" >/dev/null 2>&1
apsql -c "SELECT 1 === 1" >/dev/null 2>&1
for w in tr df ck dom ddf gen ix st ex op; do
	role_exists "${K}_$w" &&
	    fail "the group's routine ($w) attached to the task's table ran as the admin" || pass
done
expect_eq "$(apsql -c "SELECT count(*) FROM public.own")" 4 \
    "the table still takes rows, its serial column too"
expect_eq "$(apsql -c "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.own'::regclass AND NOT tgisinternal")" 0 \
    "no trigger is left on the table"
expect_eq "$(apsql -c "SELECT count(*) FROM pg_policy WHERE polrelid = 'public.own'::regclass")" 0 \
    "no policy is left on the table"
check_no_leak "$PG_ADMIN_PW" "$PG_LOG"

echo "$T_NAME: $T_COUNT checks, $T_FAILS failures"
[ "$T_FAILS" -eq 0 ]
