#!/bin/bash
# `airlock mcp` over raw pipes: malformed and hostile messages, the
# 2026-07-28 per-request envelope, server/discover first, batches, and the
# exit when standard input closes.
. "$(dirname "$0")/lib.sh"

init_vault
# The system interpreter: version-manager shims cost half a second a call.
PY=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)
ENV26='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}'

# exchange LINE...: feed the lines to `airlock mcp`, replies in $OUT.
exchange() {
	printf '%s\n' "$@" >"$T_ROOT/in"
	run_in "$T_ROOT/in" timeout 10 "$AL" mcp
}

# jcheck N PY-EXPR [what]: evaluate PY-EXPR with `m` bound to the JSON of
# reply line N (1-based).
jcheck() {
	if "$PY" - "$OUT" "$1" "$2" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
n = int(sys.argv[2])
m = json.loads(lines[n - 1]) if n <= len(lines) else None
sys.exit(0 if eval(sys.argv[3]) else 1)
PY
	then pass; else
		fail "${3:-reply $1}: '$2' is false; reply $1: $(sed -n "${1}p" "$OUT" | head -c 400)"
	fi
}

nlines() { wc -l <"$OUT" | tr -d ' '; }

# live_exchange N LINE...: like exchange, but keep stdin open until N
# replies have arrived (slow tool calls are cancelled at end of input).
live_exchange() {
	_n=$1
	shift
	: >"$OUT"
	coproc LIVE { exec "$AL" mcp 2>"$ERR"; }
	_pid=$LIVE_PID
	printf '%s\n' "$@" >&"${LIVE[1]}"
	for _i in $(seq "$_n"); do
		IFS= read -r -t 120 _line <&"${LIVE[0]}" || break
		printf '%s\n' "$_line" >>"$OUT"
	done
	exec {LIVE[1]}>&-
	wait "$_pid"
	RC=$?
	cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
}

# Every line on stdout is one JSON-RPC 2.0 message, nothing else.
only_jsonrpc() {
	if "$PY" - "$OUT" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8").read().splitlines():
    m = json.loads(line)
    ms = m if isinstance(m, list) else [m]
    for x in ms:
        assert x["jsonrpc"] == "2.0"
PY
	then pass; else fail "stdout holds something other than JSON-RPC messages"; fi
}

# --- malformed JSON: -32700, id null, and the server keeps serving.
exchange '{"jsonrpc":"2.0","id":1,"method":"ping"' '{"jsonrpc":"2.0","id":2,"method":"ping"}'
expect_rc 0 "mcp after malformed JSON"
expect_eq "$(nlines)" 2 "replies to a bad and a good line"
jcheck 1 'm["error"]["code"] == -32700 and m["id"] is None' "parse error"
jcheck 1 'm["error"]["message"] == "Parse error: invalid JSON at line 1, column 39"'
jcheck 2 'm["id"] == 2 and m["result"] == {}' "ping after the parse error"
only_jsonrpc

# --- not a request: wrong jsonrpc, missing method, bad id, params not object.
exchange '{"jsonrpc":"1.0","id":1,"method":"ping"}' '{"jsonrpc":"2.0","id":2}' \
    '{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}' \
    '{"jsonrpc":"2.0","id":4,"method":"ping","params":[1]}' '[]' '42'
jcheck 1 'm["error"] == {"code": -32600, "message": "Invalid Request: \"jsonrpc\" must be \"2.0\""} and m["id"] == 1'
jcheck 2 'm["error"]["code"] == -32600 and "\"method\" is missing" in m["error"]["message"]'
jcheck 3 'm["error"]["code"] == -32600 and m["id"] is None and "\"id\" must be a string or an integer" in m["error"]["message"]'
jcheck 4 'm["error"] == {"code": -32602, "message": "Invalid params: \"params\" must be an object"}'
jcheck 5 'm["error"]["code"] == -32600 and "empty batch" in m["error"]["message"]'
jcheck 6 'm["error"]["code"] == -32600 and "must be an object" in m["error"]["message"]'

# --- unknown method and unknown tool, naming them.
exchange '{"jsonrpc":"2.0","id":"a","method":"resources/list"}' \
    '{"jsonrpc":"2.0","id":"b","method":"tools/call","params":{"name":"steal_secret","arguments":{}}}'
jcheck 1 'm["id"] == "a" and m["error"]["code"] == -32601 and m["error"]["message"].startswith("Method not found: resources/list")'
jcheck 2 'm["error"]["code"] == -32602 and m["error"]["message"].startswith("Unknown tool: '"'"'steal_secret'"'"'") and m["error"]["data"] == {"tool": "steal_secret"}'

# --- bad params name the parameter.
exchange '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}' \
    '{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}' \
    '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{}}' \
    '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"x","arguments":[1]}}' \
    '{"jsonrpc":"2.0","id":5,"method":"tools/list","params":{"cursor":"zzz"}}' \
    '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":1.5}}}'
jcheck 1 'm["error"]["code"] == -32602 and "params.protocolVersion" in m["error"]["message"]'
jcheck 2 'm["error"]["code"] == -32602 and "params.capabilities" in m["error"]["message"]'
jcheck 3 'm["error"]["code"] == -32602 and "params.name" in m["error"]["message"]'
jcheck 4 'm["error"]["code"] == -32602 and "params.arguments" in m["error"]["message"]'
jcheck 5 'm["error"]["code"] == -32602 and "params.cursor" in m["error"]["message"]'

# --- the initialize handshake: negotiation, initialized, ping.
exchange '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}' \
    '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
    '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' \
    '{"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":"1999-01-01","capabilities":{}}}' \
    '{"jsonrpc":"2.0","id":4,"method":"ping"}'
expect_eq "$(nlines)" 4 "no reply to a notification"
jcheck 1 'm["result"]["protocolVersion"] == "2025-03-26" and m["result"]["capabilities"] == {"tools": {"listChanged": False}} and m["result"]["serverInfo"]["name"] == "airlock"'
jcheck 2 '"resultType" not in m["result"] and "ttlMs" not in m["result"]' "no 2026 fields on a 2025 result"
jcheck 3 'm["result"]["protocolVersion"] == "2025-11-25"' "an unknown revision gets our latest"
jcheck 4 'm["id"] == 4 and m["result"] == {}'

# --- 2025-03-26 batches.
exchange '[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":2,"method":"nope"}]' \
    '[{"jsonrpc":"2.0","method":"notifications/initialized"}]' \
    '[{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{'"$ENV26"'}}]'
expect_eq "$(nlines)" 2 "an all-notification batch gets no reply"
jcheck 1 'len(m) == 2 and m[0] == {"jsonrpc": "2.0", "id": 1, "result": {}} and m[1]["error"]["code"] == -32601'
jcheck 2 'm[0]["error"]["code"] == -32600 and "batches may not contain" in m[0]["error"]["message"]'

# --- server/discover first, then the server keeps serving (initialize).
exchange '{"jsonrpc":"2.0","id":0,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"probe","version":"1"}}}}' \
    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}' \
    '{"jsonrpc":"2.0","id":2,"method":"server/discover"}'
expect_rc 0 "discover then initialize"
jcheck 1 'm["result"]["supportedVersions"] == ["2026-07-28"] and m["result"]["capabilities"] == {"tools": {"listChanged": False}}'
jcheck 1 'm["result"]["resultType"] == "complete" and m["result"]["ttlMs"] == 0 and m["result"]["cacheScope"] == "public"'
jcheck 1 'm["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "airlock"'
jcheck 2 'm["result"]["protocolVersion"] == "2025-11-25"' "initialize after discover"
jcheck 3 'm["result"]["supportedVersions"] == ["2026-07-28"]' "discover without an envelope"

# --- 2026-07-28 requests with _meta.
exchange '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{'"$ENV26"'}}' \
    '{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}' \
    '{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01","io.modelcontextprotocol/clientCapabilities":{}}}}' \
    '{"jsonrpc":"2.0","id":4,"method":"ping","params":{'"$ENV26"'}}' \
    '{"jsonrpc":"2.0","id":5,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},'"$ENV26"'}}' \
    '{"jsonrpc":"2.0","id":6,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":7,"io.modelcontextprotocol/clientCapabilities":{}}}}' \
    '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"nope",'"$ENV26"'}}' \
    '{"jsonrpc":"2.0","id":8,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/logLevel":"loud"}}}'
jcheck 1 'm["result"]["resultType"] == "complete" and m["result"]["ttlMs"] == 300000 and m["result"]["cacheScope"] == "public" and isinstance(m["result"]["tools"], list)'
jcheck 1 'm["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["version"] != ""'
jcheck 2 'm["error"]["code"] == -32602 and m["error"]["data"]["envelope"] == {"key": "io.modelcontextprotocol/clientCapabilities", "problem": "missing"}'
jcheck 3 'm["error"]["code"] == -32022 and m["error"]["data"] == {"supported": ["2026-07-28"], "requested": "2099-01-01"}'
jcheck 4 'm["error"]["code"] == -32601 and "not part of protocol revision 2026-07-28" in m["error"]["message"]' "no ping in 2026-07-28"
jcheck 5 'm["error"]["code"] == -32601' "no initialize in 2026-07-28"
jcheck 6 'm["error"]["code"] == -32602 and m["error"]["data"]["envelope"]["key"] == "io.modelcontextprotocol/protocolVersion"'
jcheck 7 'm["error"]["code"] == -32602 and "Unknown tool" in m["error"]["message"]'
jcheck 8 'm["error"]["code"] == -32602 and m["error"]["data"]["envelope"]["key"] == "io.modelcontextprotocol/logLevel"'
only_jsonrpc

# --- an oversized line is refused once, and serving goes on.
"$PY" -c 'import sys; sys.stdout.write("\"" + "a" * (5 * 1024 * 1024) + "\"\n{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}\n")' >"$T_ROOT/big"
run_in "$T_ROOT/big" timeout 20 "$AL" mcp
expect_eq "$(nlines)" 2 "replies to an oversized and a good line"
jcheck 1 'm["error"]["code"] == -32700 and "size limit" in m["error"]["message"]'
jcheck 2 'm["id"] == 9 and m["result"] == {}'

# --- a last message without a newline is still answered; EOF ends the server.
printf '{"jsonrpc":"2.0","id":1,"method":"ping"}' >"$T_ROOT/in"
run_in "$T_ROOT/in" timeout 10 "$AL" mcp
expect_rc 0 "exit at end of input"
jcheck 1 'm["id"] == 1'

# --- stdin closing ends a server that sits idle; nothing but MCP on stdout.
coproc MCP { exec "$AL" mcp 2>"$T_ROOT/mcp.err"; }
mcp_pid=$MCP_PID
echo '{"jsonrpc":"2.0","id":1,"method":"ping"}' >&"${MCP[1]}"
read -r -t 10 line <&"${MCP[0]}"
expect_eq "$line" '{"jsonrpc":"2.0","id":1,"result":{}}' "reply from a live server"
exec {MCP[1]}>&-
t0=$(date +%s)
wait "$mcp_pid"
expect_eq "$?" 0 "exit status after stdin closed"
[ $(( $(date +%s) - t0 )) -le 5 ] && pass || fail "server took too long to exit"

# --- a progressToken brings progress notifications before the result.
if "$AL" mcp --list-tools | grep -qx scan; then
	live_exchange 3 '{"jsonrpc":"2.0","id":"p","method":"tools/call","params":{"name":"scan","arguments":{"text":"hello"},"_meta":{"progressToken":"tok-1"}}}'
	expect_eq "$(nlines)" 3 "two progress notifications and the result"
	jcheck 1 'm["method"] == "notifications/progress" and m["params"]["progressToken"] == "tok-1" and m["params"]["progress"] == 0 and m["params"]["total"] == 1'
	jcheck 2 'm["method"] == "notifications/progress" and m["params"]["progress"] == 1 and m["params"]["message"] == "scanned"'
	jcheck 3 'm["id"] == "p" and m["result"]["structuredContent"]["clean"] is True'
fi

# --- usage.
run "$AL" mcp --bogus
expect_rc 2 "unknown option"
expect_err "unknown option '--bogus'"
run "$AL" mcp extra
expect_rc 2 "extra argument"
expect_err "unexpected argument 'extra'"
run "$AL" help mcp
expect_rc 0 "help mcp"
expect_out "usage: airlock mcp"

done_testing
