#!/bin/bash
# Hardcoded passwords in configuration files as people and agents write
# them (tests/corpus/configs.py: compose, .env, Kubernetes, Spring, Django,
# Rails, CI YAML, INI, .properties, XML, TOML, committed password files):
# at least 80% reported with the fix named, compose files on their own too;
# weak values are warnings of the unsafe kind, random ones errors; the
# references and placeholders beside them stay quiet; no value is printed.
. "$(dirname "$0")/lib.sh"

C="$AIRLOCK_SRC/tests/corpus"
D="$T_ROOT/configs"
FIX='\$\{VAR\}|_FILE'
run python3 "$C/configs.py" --out "$D"
expect_rc 0 "write the labelled configuration set"
run python3 "$C/evaluate.py" "$AL" "$D" --all-rules --by-rule --fix-re "$FIX" \
    --min-recall 0.8 --min-precision 0.95 --verbose
expect_rc 0 "configuration set: $(grep recall "$OUT")"
cat "$OUT"
compose=$(awk '$1 == "compose" { print $2 }' "$OUT")
python3 -c "import sys; f, t = map(int, '$compose'.split('/')); sys.exit(0 if f >= 0.8 * t else 1)" &&
    pass || fail "compose passwords: $compose reported with the fix"

# Severity follows the value: an example or weak one is a warning, a
# random one an error; both name the fix and neither prints the value.
P=$(canary)
W="hunter$(head -c 2 /dev/urandom | od -An -tu2 | tr -d ' ')"
mkdir -p "$T_ROOT/app" && cd "$T_ROOT/app" || exit 1
cat >compose.yaml <<YAML
services:
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: "$P"
  cache:
    image: bitnami/redis
    environment:
      - REDIS_PASSWORD=$W
  web:
    environment:
      DB_PASSWORD: \${DB_PASSWORD}
      DB_PASSWORD_FILE: /run/secrets/db
YAML
run "$AL" scan --no-config --format json .
expect_rc 1 "compose passwords found"
cat "$OUT" >>"$ALL_OUTPUT"
got=$(python3 -c '
import json, re, sys
d = json.load(open(sys.argv[1]))
for f in d["findings"]:
    print(f["line"], f["rule"], f["severity"], f["category"],
          bool(re.search(sys.argv[2], f["description"])))' "$OUT" "$FIX")
expect_eq "$got" "5 config-password error secret True
9 config-password-weak warning unsafe True" "one error, one warning, both naming the fix"
run "$AL" scan --no-config .
cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
expect_out "compose.yaml:9:24: config-password-weak " "text names the weak password's place"

# One location is reported once, under the narrower rule: a quoted value
# of a credential-named shell variable is both an env assignment and a
# secret (or token) assignment.
# Random alphanumerics (a canary's hex can fall under the token rule's
# entropy threshold).
rnd() { head -c 96 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c "$1"; }
S="cnry$(rnd 32)"
T="cnry$(rnd 36)"
printf 'export SERVICE_SECRET="%s"\nAPI_TOKEN = "%s"\n' "$S" "$T" >deploy.sh
run "$AL" scan --no-config deploy.sh
expect_rc 1 "generic values found"
cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
expect_eq "$(cut -d' ' -f1-2 "$OUT")" "deploy.sh:1:24: generic-secret
deploy.sh:2:14: generic-token" "each location once"
# Two specific rules on one value (a Twilio token by its name, and again
# a few lines after its account SID; a Cosmos DB key, which is also an
# account key) report it once, under the one that read more around it.
hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
printf 'export TWILIO_ACCOUNT_SID=AC%s\nexport TWILIO_AUTH_TOKEN=%s\n' "$(hex 16)" "$(hex 16)" >twilio.sh
run "$AL" scan --no-config twilio.sh
expect_rc 1 "twilio token found"
cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
expect_eq "$(cut -d' ' -f1-2 "$OUT")" "twilio.sh:2:26: twilio-auth-token-with-sid" "a value two specific rules find is reported once, under the one that read more"
K="$(head -c 64 /dev/urandom | base64 -w0 | head -c 86)=="
printf 'AccountEndpoint=https://app.documents.azure.com:443/;AccountKey=%s;\n' "$K" >cosmos.env
run "$AL" scan --no-config cosmos.env
cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
expect_eq "$(cut -d' ' -f1-2 "$OUT")" "cosmos.env:1:65: azure-cosmosdb-key" "a Cosmos DB key is reported once"
# Silencing one finding, as docs/rules.md shows: on the line, or by
# turning the rule off in .airlock.yaml.
mkdir -p "$T_ROOT/demo" && cd "$T_ROOT/demo" || exit 1
printf 'services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: example  # airlock:allow local demo only\n      MYSQL_PASSWORD: %s\n' "$W" >compose.yaml
run "$AL" scan --no-config .
expect_rc 1 "one finding left"
cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
expect_eq "$(cut -d' ' -f1-2 "$OUT")" "compose.yaml:5:23: config-password-weak" "airlock:allow silences its line"
printf 'disable: [config-password-weak]\n' >.airlock.yaml
run "$AL" scan .
expect_rc 0 "disabled in .airlock.yaml"
# What tells code from a value must not swallow random values: 1,200
# random keys of several alphabets in the shapes the generic and config
# rules read: at least 99% are reported.
mkdir -p "$T_ROOT/rnd" && cd "$T_ROOT/rnd" || exit 1
python3 - <<'PY'
import os, random, string
rng = random.Random(os.urandom(16))
sets = [string.ascii_letters + string.digits + "+/", string.ascii_letters + string.digits + "-_",
        "0123456789abcdef", string.ascii_letters + string.digits,
        string.ascii_letters + string.digits + "!@%^&*+-_=.~"]
shapes = [("a.py", 'api_key = "%s"'), ("b.js", 'const password = "%s";'),
          ("c.yaml", "  secret_token: %s"), ("d.env", "SERVICE_TOKEN=%s"),
          ("e.py", 'client_secret = "%s"'), ("compose.yaml", '      DB_PASSWORD: "%s"')]
out = {}
for _ in range(1200):
    cs = rng.choice(sets)
    f, t = rng.choice(shapes)
    out.setdefault(f, []).append(t % "".join(rng.choice(cs) for _ in range(rng.randrange(24, 64))))
for f, ls in out.items():
    open(f, "w").write("\n".join(ls) + "\n")
PY
run "$AL" scan --no-config --format json .
expect_rc 1 "random values found"
got=$(python3 -c 'import json,sys; print(len({(f["path"], f["line"]) for f in json.load(open(sys.argv[1]))["findings"]}))' "$OUT")
echo "# $got of 1200 random values reported"
[ "$got" -ge 1188 ] && pass || fail "only $got of 1200 random values reported"

check_no_leak "$P"
check_no_leak "$W"
check_no_leak "$S"
check_no_leak "$T"
done_testing
