#!/bin/bash
# The airlock tour: plays an agent's task end to end in a temporary
# $AIRLOCK_HOME and removes it afterwards.  Run through `make demo`.
set -euo pipefail

AL="${AIRLOCK_BIN:-airlock}"
DEMO_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/airlock-demo.XXXXXX")
export AIRLOCK_HOME="$DEMO_ROOT/home"
export AIRLOCK_SOCKET="$AIRLOCK_HOME/airlockd.sock"
cleanup() {
	if [ -f "$AIRLOCK_HOME/airlockd.pid" ]; then
		kill "$(cat "$AIRLOCK_HOME/airlockd.pid")" 2>/dev/null || true
	fi
	rm -rf "$DEMO_ROOT"
}
trap cleanup EXIT

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
	B=$'\033[1m'; D=$'\033[2m'; R=$'\033[0m'
else
	B=""; D=""; R=""
fi
step() { printf '\n%s== %s ==%s\n' "$B" "$*" "$R"; }
say() { printf '%s%s%s\n' "$D" "$*" "$R"; }
show() { printf '%s$ %s%s\n' "$B" "$*" "$R"; "$@"; }

# A random token stands in for a real credential.
TOKEN="demo-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

step "1. Create a vault"
say "The vault lives in \$AIRLOCK_HOME ($AIRLOCK_HOME), mode 0700; its"
say "master key in master.key, mode 0600. Values are sealed with"
say "XChaCha20-Poly1305 under a data key that the master key wraps."
show "$AL" init

step "2. Store a credential"
say "The value comes from stdin (or a no-echo prompt): never from argv."
printf '%s\n' "$TOKEN" | show "$AL" secret add deploy-token --owner platform-team \
    --purpose "deploy the web app" --host api.example.com --rotate-every 30d \
    --label env=prod
printf 'hunter2-legacy-password\n' | show "$AL" secret add legacy-db --owner data-team \
    --purpose "nightly export" --expires 2020-01-01 --last-rotated 2019-06-01 \
    2>/dev/null

step "3. The inventory"
say "Every secret has an owner, a purpose, an expiry or rotation period."
show "$AL" secret ls
say ""
say "Scripts read JSON; expired and rotation-due secrets are one filter away:"
show "$AL" secret ls --expired

step "4. Metadata only, never the value"
show "$AL" secret show deploy-token

step "5. Is this deployment sound?"
show "$AL" doctor || true

step "6. Nothing leaked"
if grep -rqaF -- "$TOKEN" "$AIRLOCK_HOME"; then
	echo "the token was found in $AIRLOCK_HOME" >&2
	exit 1
fi
say "The token appears nowhere under \$AIRLOCK_HOME: only ciphertext is stored."
say ""
say "Tour complete. The temporary vault is removed on exit."
