#!/bin/bash
# The controls below need the callers' ancestry intact up to their session
# leader: a test runner started in the background of a shell that has since
# exited (re-parented, as a CI harness may leave it) would make every
# caller's ancestry unknown, which is right, but not what is tested here.
# A session of the script's own gives it that.
if [ -z "${T_IDENTITY_SESSION:-}" ] && command -v setsid >/dev/null; then
	export T_IDENTITY_SESSION=1
	exec setsid -w bash "$0" "$@"
fi
# Identity fails closed for a separate-user broker.  A second OS user
# (alid-a) asks two brokers: one running as its own user without any
# capability (it cannot read alid-a's executables, ancestors or working
# directory) and one running as root (it can).  What the first cannot read
# makes deny rules and exclusions match; the second refuses a connection
# opened before exec, a program run with LD_PRELOAD, a child using its
# parent's connection, requests moved away from the agent's process tree,
# and a group deny dodged with `sg`.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "# skip: needs root to create the test users alid-a and alid-b"
	done_testing
fi
for t in runuser useradd groupadd sg setsid gcc python3; do
	command -v "$t" >/dev/null || { echo "# skip: $t is missing"; done_testing; }
done

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
UA=alid-a	# the client user (the agent runs as this user)
UB=alid-b	# the broker's own user
t_users_cleanup() {
	for p in $(pgrep -u "$UA" 2>/dev/null) $(pgrep -u "$UB" 2>/dev/null); do
		kill -9 "$p" 2>/dev/null
	done
	acct userdel "$UA" 2>/dev/null
	acct userdel "$UB" 2>/dev/null
	acct groupdel "$UA" 2>/dev/null
	acct groupdel alid-c 2>/dev/null
	acct groupdel alid-x 2>/dev/null
	t_cleanup
}
trap t_users_cleanup EXIT
t_users_cleanup_pre() {
	acct userdel "$UA" 2>/dev/null; acct userdel "$UB" 2>/dev/null
	acct groupdel "$UA" 2>/dev/null
	acct groupdel alid-c 2>/dev/null; acct groupdel alid-x 2>/dev/null
}
t_users_cleanup_pre
acct groupadd alid-c && acct groupadd alid-x &&
    acct useradd -M -U -s /bin/sh -G alid-c,alid-x "$UA" &&
    acct useradd -r -M -N -s /usr/sbin/nologin -g alid-c "$UB" ||
    { fail "cannot create the test users"; done_testing; }

chmod 711 "$T_ROOT"
B1="$T_ROOT/b1"; R1="$T_ROOT/r1"	# broker as alid-b, no capabilities
B2="$T_ROOT/b2"; R2="$T_ROOT/r2"	# broker as root
BIN="$T_ROOT/bin"
mkdir -p "$B1" "$R1" "$B2" "$R2" "$BIN" "$T_ROOT/agentbin" "$T_ROOT/w"
chown "$UB" "$B1"; chmod 700 "$B1" "$B2"
chown "$UB:alid-c" "$R1"; chown root:alid-c "$R2"; chmod 750 "$R1" "$R2"
chown "$UA" "$T_ROOT/w"
# The agent: its descendants carry unix:ancestor-exe:*/claude.
cp /bin/bash "$T_ROOT/agentbin/claude"
# The program the ci-runner rule allows (root's, in a root-only directory).
cp "$(readlink -f /bin/sleep)" "$BIN/alid-runner"
chmod 755 "$BIN" "$BIN/alid-runner" "$T_ROOT/agentbin"

VP=$(canary); VS=$(canary); VR=$(canary); VK=$(canary); VG=$(canary)
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
cat >"$T_ROOT/policy.yaml" <<EOF
version: 1
rules:
  - id: no-prod-for-agents
    effect: deny
    callers: ["unix:ancestor-exe:*/claude"]
    labels: {env: prod}
  - id: payments-need-approval
    effect: approval
    callers: ["unix:user:$UA"]
    secrets: ["stripe-*"]
    approvers: ["unix:user:$UA", "!unix:ancestor-exe:*/claude"]
  - id: ci-runner
    effect: allow
    callers: ["unix:exe:$BIN/alid-runner"]
    secrets: [registry-token]
  - id: registry-only-ci
    effect: deny
    secrets: [registry-token]
  - id: no-clients-group
    effect: deny
    callers: ["unix:group:alid-c"]
    secrets: [group-secret]
  - id: owner-any
    effect: allow
    callers: ["unix:user:$UA", "!unix:exe:/usr/bin/curl"]
EOF
chmod 644 "$T_ROOT/policy.yaml"
setup_broker() {	# setup_broker HOME AS-USER...
	_h=$1; shift
	"$@" env -i PATH=/usr/bin:/bin AIRLOCK_HOME="$_h" "$AL" init \
	    >>"$ALL_OUTPUT" 2>&1 || fail "init $_h"
	for s in "prod-db $VP --label env=prod" "staging-db $VS --label env=staging" \
	    "registry-token $VR" "stripe-live $VK" "group-secret $VG"; do
		# shellcheck disable=SC2086
		printf '%s\n' $(echo "$s" | cut -d' ' -f2) | "$@" env -i \
		    PATH=/usr/bin:/bin AIRLOCK_HOME="$_h" "$AL" secret add \
		    $(echo "$s" | cut -d' ' -f1) --owner t --purpose t \
		    $(echo "$s" | cut -d' ' -f3-) >>"$ALL_OUTPUT" 2>&1 ||
		    fail "secret add in $_h: ${s%% *}"
	done
	install -m 600 "$T_ROOT/policy.yaml" "$_h/policy.yaml"
}
setup_broker "$B1" runuser -u "$UB" --
chown "$UB" "$B1/policy.yaml"
setup_broker "$B2"
runuser -u "$UB" -- env -i PATH=/usr/bin:/bin AIRLOCK_HOME="$B1" "$AL" serve \
    --foreground --socket "$R1/airlockd.sock" --group alid-c \
    >"$T_ROOT/serve1.log" 2>&1 &
SP1=$!
env -i PATH=/usr/bin:/bin AIRLOCK_HOME="$B2" "$AL" serve --foreground \
    --socket "$R2/airlockd.sock" --group alid-c >"$T_ROOT/serve2.log" 2>&1 &
SP2=$!
S1="$R1/airlockd.sock"; S2="$R2/airlockd.sock"
for _ in $(seq 100); do [ -S "$S1" ] && [ -S "$S2" ] && break; sleep 0.05; done
[ -S "$S1" ] && [ -S "$S2" ] || { fail "brokers did not start: $(cat "$T_ROOT"/serve*.log)"; done_testing; }

# A raw API client, run as alid-a: never prints a value, only its hash.
cat >"$T_ROOT/alc.py" <<'PY'
import hashlib, http.client, json, os, socket, sys, time
class C(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("airlock")
        self.path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.path)
def req(c, m, p, b=None):
    h = {"Content-Type": "application/json"} if b is not None else {}
    c.request(m, p, body=None if b is None else json.dumps(b), headers=h)
    r = c.getresponse()
    return r.status, r.read()
def show(j):
    e = j.get("error") or {}
    return "%s %s" % (j.get("rule") or e.get("rule") or "", e.get("message", ""))
sock, cmd, arg = sys.argv[1], sys.argv[2], sys.argv[3]
c = C(sock)
if cmd == "lease":
    st, b = req(c, "POST", "/v1/leases", {"secret": arg})
    j = json.loads(b)
    print("lease", st, show(j), flush=True)
    if st == 201:
        st, v = req(c, "GET", "/v1/leases/%s/value" % j["lease"]["id"])
        print("use", st, hashlib.sha256(v).hexdigest() if st == 200 else
              show(json.loads(v)), flush=True)
elif cmd == "request":		# an approval request kept open
    st, b = req(c, "POST", "/v1/leases", {"secret": arg})
    print(json.loads(b)["approval"]["id"], flush=True)
    time.sleep(float(sys.argv[4]))
elif cmd == "approve":
    st, b = req(c, "POST", "/v1/approvals/%s/approve" % arg, {})
    print("approve", st, show(json.loads(b)), flush=True)
elif cmd == "forked":		# a child reads through its parent's connection
    st, b = req(c, "POST", "/v1/leases", {"secret": arg})
    lid = json.loads(b)["lease"]["id"]
    print("lease", st, flush=True)
    pid = os.fork()
    if pid == 0:
        st, v = req(c, "GET", "/v1/leases/%s/value" % lid)
        print("child use", st, hashlib.sha256(v).hexdigest() if st == 200
              else show(json.loads(v)), flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
PY
chmod 644 "$T_ROOT/alc.py"
asA() {	# asA CMD...: run as alid-a, in its own directory
	(cd "$T_ROOT/w" && runuser -u "$UA" -- env -i PATH=/usr/bin:/bin \
	    HOME="$T_ROOT/w" AIRLOCK_HOME="$T_ROOT/w/.airlock" "$@")
}
agent() {	# agent SHELL-TEXT: run by the fake agent as alid-a
	# (two commands, so that the shell forks instead of exec'ing the one)
	asA "$T_ROOT/agentbin/claude" -c "$1
true"
}
alc() { echo "$PY $T_ROOT/alc.py $*"; }

# --- broker without capabilities: what it cannot read counts against ------
agent "$(alc "$S1" lease prod-db)" >"$OUT" 2>&1
expect_out "lease 403 no-prod-for-agents" "agent's prod-db, unreadable ancestors"
expect_out "unix:ancestor-exe could not be read" "the denial says why"
asA "$PY" "$T_ROOT/alc.py" "$S1" lease staging-db >"$OUT" 2>&1
expect_out "lease 403" "an exclusion the broker cannot read excludes"
expect_out "rule 'owner-any' (line" "the denial names the rule passed over"
asA curl -s --unix-socket "$S1" -X POST -H 'Content-Type: application/json' \
    --data '{"secret":"staging-db"}' http://a/v1/leases >"$OUT" 2>&1
if grep -q '"lease"' "$OUT"; then fail "curl got a lease past !unix:exe:/usr/bin/curl"; else pass; fi
# The agent approving its own request (approvers exclude agent ancestry).
asA "$PY" "$T_ROOT/alc.py" "$S1" request stripe-live 5 >"$T_ROOT/req1" 2>&1 &
RQ=$!
for _ in $(seq 50); do [ -s "$T_ROOT/req1" ] && break; sleep 0.1; done
ID=$(head -1 "$T_ROOT/req1")
agent "$(alc "$S1" approve "$ID")" >"$OUT" 2>&1
expect_out "approve 403" "agent approving its own request (no-cap broker)"
kill "$RQ" 2>/dev/null; wait "$RQ" 2>/dev/null
# policy check agrees with the broker for the same facts; lint says what
# this deployment cannot evaluate.
run "$AL" policy check --file "$T_ROOT/policy.yaml" --as "unix:user:$UA" \
    --unknown unix:ancestor-exe --unknown unix:exe --secret prod-db --label env=prod
expect_rc 1 "policy check with unknown ancestors"
expect_out "no-prod-for-agents"
expect_out "unix:ancestor-exe could not be read"
runuser -u "$UB" -- env -i PATH=/usr/bin:/bin AIRLOCK_HOME="$B1" "$AL" \
    policy lint >"$OUT" 2>&1
expect_out "note: rule 'no-prod-for-agents': 'unix:ancestor-exe:*/claude' cannot be read" "lint note (deny)"
expect_out "note: rule 'owner-any': '!unix:exe:/usr/bin/curl' cannot be read" "lint note (exclusion)"
runuser -u "$UB" -- env -i PATH=/usr/bin:/bin AIRLOCK_HOME="$B1" "$AL" \
    doctor >"$OUT" 2>&1
expect_out "CAP_SYS_PTRACE" "doctor names the missing capability"

# --- broker as root: the executable checked when the value goes out -------
# Control: the plain request outside the agent is served.
asA "$PY" "$T_ROOT/alc.py" "$S2" lease prod-db >"$OUT" 2>&1
expect_out "use 200 $(sha "$VP")" "control: prod-db outside the agent"
# airlock run itself passes every check (one process, its own connection).
asA env AIRLOCK_SOCKET="$S2" "$AL" run -e P=staging-db -- sh -c 'echo "got ${#P}"' >"$OUT" 2>&1
expect_out "got ${#VS}" "airlock run as the second user, broker as root"
agent "AIRLOCK_SOCKET=$S2 $AL run -e P=prod-db -- true; echo rc=\$?" >"$OUT" 2>&1
expect_out "rc=125" "airlock run under the agent: prod-db refused"
# connect, then exec the allowed program; the parent sends the requests.
cat >"$T_ROOT/exerace.py" <<'PY'
import hashlib, json, os, socket, sys, time
SOCK, TARGET, NFLOOD, SECRET = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def http(s, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else b''
    r = "%s %s HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n" % (method, path, len(data))
    if body is not None: r += "Content-Type: application/json\r\n"
    s.sendall(r.encode() + b"\r\n" + data)
    buf = b''
    while b'\r\n\r\n' not in buf:
        c = s.recv(65536)
        if not c: break
        buf += c
    head, _, rest = buf.partition(b'\r\n\r\n')
    cl = 0
    for line in head.split(b'\r\n'):
        if line.lower().startswith(b'content-length:'): cl = int(line.split(b':')[1])
    while len(rest) < cl:
        c = s.recv(65536)
        if not c: break
        rest += c
    return head.split(b'\r\n')[0].decode(), rest[:cl]
flood = []
for i in range(NFLOOD):
    f = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    f.setblocking(False)
    try: f.connect(SOCK)
    except BlockingIOError: pass
    flood.append(f)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
os.set_inheritable(s.fileno(), True)
pid = os.fork()
if pid == 0:
    s.connect(SOCK)
    os.execv(TARGET, [TARGET, '3'])
time.sleep(0.3)
for f in flood: f.close()
st, body = http(s, 'POST', '/v1/leases', {"secret": SECRET})
print("lease:", st, body.decode()[:200], flush=True)
try:
    lid = json.loads(body)['lease']['id']
except Exception:
    sys.exit(0)
st, val = http(s, 'GET', '/v1/leases/%s/value' % lid)
print("value:", st, hashlib.sha256(val).hexdigest() if st.endswith('200 OK') else val.decode()[:300], flush=True)
PY
chmod 644 "$T_ROOT/exerace.py"
for i in 1 2 3; do
	asA "$PY" "$T_ROOT/exerace.py" "$S2" "$BIN/alid-runner" 300 registry-token >"$OUT" 2>&1
	if grep -q "value: HTTP/1.1 200" "$OUT" || grep -qF "$(sha "$VR")" "$OUT"; then
		fail "exec after connect got registry-token (try $i): $(head -c 400 "$OUT")"
	else pass; fi
done
grep -q "also holds this connection\|started another program" "$OUT" && pass ||
    fail "exec after connect: no refusal naming the shared connection: $(head -c 400 "$OUT")"
# The audit log tells who really asked: the refusal names both processes.
grep -q 'also holds this connection, which process\|started another program' \
    "$B2/audit.log" && pass || fail "exec after connect: the refusal is not audited"
# The allowed program run with LD_PRELOAD: the preloaded code asks.
cat >"$T_ROOT/preload.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
static void req(int fd, const char *r, char *out, size_t n) {
	size_t got = 0; ssize_t k;
	if (write(fd, r, strlen(r)) < 0) _exit(1);
	usleep(300000);
	while (got < n - 1 && (k = recv(fd, out + got, n - 1 - got, MSG_DONTWAIT)) > 0) got += k;
	out[got] = 0;
}
__attribute__((constructor)) static void pwn(void) {
	const char *sp = getenv("AIRLOCK_SOCKET"); if (!sp) return;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0); struct sockaddr_un a = { .sun_family = AF_UNIX };
	strncpy(a.sun_path, sp, sizeof a.sun_path - 1);
	if (connect(fd, (void *)&a, sizeof a)) _exit(1);
	char out[8192], r[512], id[33] = {0};
	const char *body = "{\"secret\":\"registry-token\"}";
	snprintf(r, sizeof r, "POST /v1/leases HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
	req(fd, r, out, sizeof out);
	char *p = strstr(out, "\"id\":\"");
	if (!p) { char *e = strstr(out, "\r\n\r\n"); fprintf(stderr, "preload lease refused: %s\n", e ? e + 4 : out); _exit(0); }
	memcpy(id, p + 6, 32);
	snprintf(r, sizeof r, "GET /v1/leases/%s/value HTTP/1.1\r\nHost: a\r\n\r\n", id);
	req(fd, r, out, sizeof out);
	fprintf(stderr, "preload value: %.12s\n", out);
	_exit(0);
}
C
gcc -shared -fPIC -o "$T_ROOT/preload.so" "$T_ROOT/preload.c" && chmod 755 "$T_ROOT/preload.so" ||
    fail "cannot build preload.so"
asA env AIRLOCK_SOCKET="$S2" LD_PRELOAD="$T_ROOT/preload.so" "$BIN/alid-runner" 1 >"$OUT" 2>&1
expect_out "preload lease refused" "LD_PRELOAD into the allowed program"
expect_out "registry-only-ci"
# The same, leaving no trace of the loader's part: the preloaded code
# renames LD_PRELOAD in its environment, copies itself into anonymous
# memory and unmaps its file (the user's own) before it connects.
if [ "$(uname -m)" = x86_64 ]; then
cat >"$T_ROOT/preload2.c" <<'C'
/* Preloaded code that leaves no trace the broker looks for: it renames
 * LD_PRELOAD in its environment, copies its payload into anonymous memory
 * and unmaps its own file before it connects. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct args {
	uintptr_t	lo, hi;
	struct { unsigned short fam; char path[108]; } sa;
	char		req1[512];
	long		req1len;
	char		r2a[32], r2b[64];
	long		r2alen, r2blen;
	char		tag1[8], tag2[8];
	char		req2[256];
	char		buf[16384];
};

static inline long
sc(long n, long a, long b, long c)
{
	long r;
	__asm__ volatile ("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c)
	    : "rcx", "r11", "memory");
	return r;
}

__attribute__((section(".text.pay"), noinline, used)) void
payload(struct args *a)
{
	long s, n, i, k, got;
	struct { long sec, nsec; } ts = { 0, 300000000 };

	sc(SYS_munmap, (long)a->lo, (long)(a->hi - a->lo), 0);
	s = sc(SYS_socket, 1, 1, 0);
	sc(SYS_connect, s, (long)&a->sa, sizeof(a->sa));
	sc(SYS_write, s, (long)a->req1, a->req1len);
	sc(SYS_nanosleep, (long)&ts, 0, 0);
	got = sc(SYS_read, s, (long)a->buf, sizeof(a->buf) - 1);
	sc(SYS_write, 2, (long)a->tag1, 7);
	sc(SYS_write, 2, (long)a->buf, got > 12 ? 12 : got);
	sc(SYS_write, 2, (long)a->tag1 + 7, 1);
	/* find "id":" */
	for (i = 0; i + 6 < got; i++)
		if (a->buf[i] == '"' && a->buf[i+1] == 'i' && a->buf[i+2] == 'd' &&
		    a->buf[i+3] == '"' && a->buf[i+4] == ':' && a->buf[i+5] == '"')
			break;
	if (i + 6 + 32 > got)
		sc(SYS_exit_group, 0, 0, 0);
	n = 0;
	for (k = 0; k < a->r2alen; k++) a->req2[n++] = a->r2a[k];
	for (k = 0; k < 32; k++) a->req2[n++] = a->buf[i + 6 + k];
	for (k = 0; k < a->r2blen; k++) a->req2[n++] = a->r2b[k];
	sc(SYS_write, s, (long)a->req2, n);
	sc(SYS_nanosleep, (long)&ts, 0, 0);
	got = sc(SYS_read, s, (long)a->buf, sizeof(a->buf) - 1);
	sc(SYS_write, 2, (long)a->tag2, 7);
	sc(SYS_write, 2, (long)a->buf, got > 12 ? 12 : got);
	sc(SYS_write, 2, (long)a->tag2 + 7, 1);
	sc(SYS_exit_group, 0, 0, 0);
}

__attribute__((section(".text.pay"), noinline, used)) void
payload_end(void)
{
}

extern char **environ;

__attribute__((constructor)) static void
pwn(void)
{
	const char *sp = getenv("AIRLOCK_SOCKET"), *me = getenv("PRELOAD_SELF");
	const char *body = "{\"secret\":\"registry-token\"}";
	struct args *a;
	void (*run)(struct args *);
	size_t len = (size_t)((char *)payload_end - (char *)payload) + 64;
	char line[4096];
	FILE *f;
	char **e;

	if (!sp || !me)
		return;
	for (e = environ; *e; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) == 0)
			(*e)[0] = (*e)[1] = 'X';
	a = mmap(NULL, sizeof(*a), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	run = mmap(NULL, 4096 + len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memcpy((void *)run, (void *)payload, len);
	mprotect((void *)run, 4096 + len, PROT_READ | PROT_EXEC);
	memset(a, 0, sizeof(*a));
	a->lo = UINTPTR_MAX;
	if ((f = fopen("/proc/self/maps", "r")) == NULL)
		_exit(1);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (strstr(line, me) && sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
			if (lo < a->lo) a->lo = lo;
			if (hi > a->hi) a->hi = hi;
		}
	}
	fclose(f);
	a->sa.fam = 1;
	strncpy(a->sa.path, sp, sizeof(a->sa.path) - 1);
	a->req1len = snprintf(a->req1, sizeof(a->req1), "POST /v1/leases HTTP/1.1\r\n"
	    "Host: a\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	    strlen(body), body);
	a->r2alen = snprintf(a->r2a, sizeof(a->r2a), "GET /v1/leases/");
	a->r2blen = snprintf(a->r2b, sizeof(a->r2b), "/value HTTP/1.1\r\nHost: a\r\n\r\n");
	memcpy(a->tag1, "lease: \n", 8);
	memcpy(a->tag2, "value: \n", 8);
	run(a);
}
C
gcc -O1 -shared -fPIC -fno-stack-protector -fno-tree-loop-distribute-patterns \
    -fcf-protection=none -o "$T_ROOT/w/preload2.so" "$T_ROOT/preload2.c" &&
    chown "$UA" "$T_ROOT/w/preload2.so" || fail "cannot build preload2.so"
asA env AIRLOCK_SOCKET="$S2" PRELOAD_SELF="$T_ROOT/w/preload2.so" \
    LD_PRELOAD="$T_ROOT/w/preload2.so" "$BIN/alid-runner" 1 >"$OUT" 2>&1
if grep -q "value: HTTP/1.1 200" "$OUT"; then
	fail "code in anonymous memory got registry-token: $(head -c 300 "$OUT")"
else pass; fi
expect_out "lease: HTTP/1.1 403" "code in anonymous memory: lease refused"
fi
# Control: the allowed program itself is allowed (the rule works).
run "$AL" policy check --file "$T_ROOT/policy.yaml" --as "unix:exe:$BIN/alid-runner" \
    --secret registry-token
expect_rc 0 "control: ci-runner allows the program"
# A child using its parent's connection is not the holder.
asA "$PY" "$T_ROOT/alc.py" "$S2" forked staging-db >"$OUT" 2>&1
expect_out "lease 201" "forked: the parent's lease"
expect_out "child use 403" "a child reading through its parent's connection"
if grep -qF "$(sha "$VS")" "$OUT"; then fail "the child got the value"; else pass; fi

# --- moved away from the agent: ancestry unknown -----------------------------
agent "$(alc "$S2" lease prod-db)" >"$OUT" 2>&1
expect_out "lease 403 no-prod-for-agents" "control: the agent's plain request"
agent "( $(alc "$S2" lease prod-db) >$T_ROOT/w/bg.out 2>&1 & ); sleep 1.5" >/dev/null 2>&1
cp "$T_ROOT/w/bg.out" "$OUT"
expect_out "lease 403 no-prod-for-agents" "( cmd & ) under the agent"
agent "setsid -f $(alc "$S2" lease prod-db) >$T_ROOT/w/sid.out 2>&1; sleep 1.5" >/dev/null 2>&1
cp "$T_ROOT/w/sid.out" "$OUT"
expect_out "lease 403 no-prod-for-agents" "setsid -f under the agent"
if grep -qF "$(sha "$VP")" "$T_ROOT/w/bg.out" "$T_ROOT/w/sid.out"; then
	fail "a re-parented request got prod-db"; else pass; fi
# The re-parented approver.
asA "$PY" "$T_ROOT/alc.py" "$S2" request stripe-live 6 >"$T_ROOT/req2" 2>&1 &
RQ=$!
for _ in $(seq 50); do [ -s "$T_ROOT/req2" ] && break; sleep 0.1; done
ID=$(head -1 "$T_ROOT/req2")
agent "$(alc "$S2" approve "$ID")" >"$OUT" 2>&1
expect_out "approve 403" "control: the agent approving directly"
agent "setsid -f $(alc "$S2" approve "$ID") >$T_ROOT/w/ap.out 2>&1; sleep 1.5" >/dev/null 2>&1
cp "$T_ROOT/w/ap.out" "$OUT"
expect_out "approve 403" "a re-parented agent approving its own request"
kill "$RQ" 2>/dev/null; wait "$RQ" 2>/dev/null

# --- unix:group holds the supplementary groups --------------------------------
# alid-a's own group is alid-a; alid-c and alid-x are supplementary.
asA "$PY" "$T_ROOT/alc.py" "$S2" lease group-secret >"$OUT" 2>&1
expect_out "lease 403 no-clients-group" "group deny on a supplementary group"
asA sg alid-x -c "$(alc "$S2" lease group-secret)" >"$OUT" 2>&1
expect_out "lease 403 no-clients-group" "sg to another group does not dodge it"

kill "$SP1" "$SP2" 2>/dev/null
wait "$SP1" "$SP2" 2>/dev/null
for v in "$VP" "$VS" "$VR" "$VK" "$VG"; do
	check_no_leak "$v" "$T_ROOT/serve1.log" "$T_ROOT/serve2.log" "$B1" "$B2" \
	    "$T_ROOT/w"
done
done_testing
