/*
 * airlock broker API: the wire contract between the broker (src/broker) and
 * its clients (src/client).  HTTP/1.1 over a Unix socket; request and reply
 * bodies are JSON objects, except a lease's value, which travels as a raw
 * application/octet-stream body so that no JSON library ever holds a copy.
 * docs/api.md documents every route with an example.
 *
 * Nothing else is shared between broker and client: this header holds
 * routes, field names, error names and limits only.
 */
#ifndef AIRLOCK_API_H
#define AIRLOCK_API_H

#define API_VERSION		"v1"
#define API_SOCKET_FILE		"airlockd.sock"
#define API_PID_FILE		"airlockd.pid"
#define API_LOCK_FILE		"airlockd.lock"
#define API_LOG_FILE		"airlockd.log"

/* ---- routes ------------------------------------------------------------ */

/* GET: {"status":"ok","version","pid","uptime","leases","approvals"} */
#define API_HEALTH		"/v1/health"
#define API_POLICY_RELOAD	"/v1/policy/reload"
/* GET: {"secrets":[metadata...]}; GET /v1/secrets/NAME: one object */
#define API_SECRETS		"/v1/secrets"
/*
 * POST {"secret","task","intent","ttl","uses","bind"}:
 *   201 {"lease":{...}}                      granted
 *   202 {"approval":{...}}                   waiting for an approver
 *   403 {"error":{"code":"denied",...}}      refused by policy
 * GET: {"leases":[...]} (the caller's own; ?all=1 for every lease, which
 *   the policy must allow: see docs/api.md)
 * GET ?ids=A,B&wait=S: {"leases":[...]} those leases (1 to 64), each with
 *   "reason" (why it ended, or null while its holder may use it), waiting
 *   up to S seconds (at most API_WAIT_MAX) while every reason is null
 * GET /v1/leases/ID: {"lease":{...}}
 * GET /v1/leases/ID/value: the value, raw (holder only; counts a use)
 * DELETE /v1/leases/ID: {"lease":{...}} revoked
 * POST /v1/leases/revoke {"task":T}: {"revoked":N}
 */
#define API_LEASES		"/v1/leases"
#define API_LEASES_REVOKE	"/v1/leases/revoke"
/*
 * POST {"secret":S,"where":W,"source":SRC} (the broker's owner only): S's
 *   value was found outside airlock (W: a path or what saw it; SRC: hook,
 *   guard, sweep, scan).  At once: S is marked exposed (an exposure keeps
 *   its first time), its live leases are revoked, its pending approvals
 *   denied, each step audited.  200 {"secret":S,"first":B,"since":T,
 *   "revoked":N,"denied":N,"time_to_revoke_ms":MS}
 */
#define API_EXPOSURES		"/v1/exposures"
#define API_PROXIES		"/v1/proxies"
#define API_VALUE_SUFFIX	"/value"
/*
 * GET: {"approvals":[...]} pending ones
 * GET /v1/approvals/ID[?wait=S]: {"approval":{...}}, waiting up to S
 *   seconds (at most API_WAIT_MAX) while it is pending
 * POST /v1/approvals/ID/approve {"pin":P}: {"approval":{...}} with its
 *   lease; P is the approver PIN typed by a human (403 without it or when
 *   wrong, 429 while wrong PINs are being rate-limited)
 * POST /v1/approvals/ID/deny {"reason":R}: {"approval":{...}}
 */
#define API_APPROVALS		"/v1/approvals"
#define API_APPROVE_SUFFIX	"/approve"
#define API_DENY_SUFFIX		"/deny"
/*
 * POST {"texts":[T...],"task","intent"}: {"texts":[masked T...],"masks":N,
 *   "found":{"secret":count,...}}: every whole live value the caller's
 *   policy would let it lease with intent (default "redact"), and the
 *   encodings the redactor knows, masked as "[REDACTED:<name>]"; values
 *   never leave the broker.  One `redact` audit line with counts.
 */
#define API_REDACT		"/v1/redact"
/*
 * POST ?task=T&intent=I&secrets=A,B with "Connection: Upgrade" and
 * "Upgrade: airlock-redact": 101, then the connection carries frames (a
 * type byte and a 4-byte big-endian length, then that many bytes).  In:
 * API_RS_DATA (raw input), API_RS_FLUSH (input paused: release what a
 * pause releases), API_RS_END.  Out: API_RS_DATA (masked output),
 * API_RS_FLUSH (the flush is done), API_RS_END (8-byte big-endian count of
 * masks; the stream is over), API_RS_ERROR (a message; over).  The same
 * values as /v1/redact, held by a redactor stream in the broker, worked on
 * off the event loop.  One `redact` audit line with counts at the end.
 */
#define API_REDACT_STREAM	"/v1/redact/stream"
#define API_RS_PROTO		"airlock-redact"
#define API_RS_DATA		'D'
#define API_RS_FLUSH		'F'
#define API_RS_END		'E'
#define API_RS_ERROR		'X'
#define API_RS_HEAD		5		/* type and length */
#define API_RS_FRAME_MAX	(1024 * 1024)	/* payload of one frame */
#define API_RS_PER_UID		4		/* streams at once per uid */
/* GET ?n=N: {"events":[...]} the last N audit lines (N <= API_TAIL_MAX) */
#define API_AUDIT		"/v1/audit"
/*
 * POST {"requests":{"forwarded":N,"masked":N,"blocked":N,"refused":N,
 *   "upstream_failed":N},"masks":[{"name","rule":bool,"count":N}...],
 *   "other_masks":N}: counts an `airlock guard` adds to /metrics (names of
 *   secrets and rules, never values): {"ok":true}.
 */
#define API_GUARD_COUNTS	"/v1/guard/counts"
/* GET: Prometheus text exposition format 0.0.4 */
#define API_METRICS		"/metrics"

#define API_CT_JSON		"application/json"
#define API_CT_VALUE		"application/octet-stream"
#define API_CT_METRICS		"text/plain; version=0.0.4"
/* A value's reply: the id of the lease it is a use of. */
#define API_H_LEASE		"Airlock-Lease"

/* ---- request fields ---------------------------------------------------- */

#define API_F_SECRET		"secret"
#define API_F_TASK		"task"
#define API_F_INTENT		"intent"
#define API_F_TTL		"ttl"		/* seconds */
#define API_F_USES		"uses"		/* wanted uses; 0: the rule's */
#define API_F_BIND		"bind"		/* end with this connection */
/* lease request: answer with the value when the grant may release it */
#define API_F_WITH_VALUE	"value"
#define API_F_REASON		"reason"
#define API_F_PIN		"pin"		/* the approver PIN */
/* redact: the texts in and out, masks made, secrets found */
#define API_F_TEXTS		"texts"
#define API_F_MASKS		"masks"
#define API_F_FOUND		"found"

/* ---- reply fields ------------------------------------------------------ */

#define API_F_LEASE		"lease"
#define API_F_USE		"use"		/* "proxy" or "any" (grant) */
#define API_F_LEASES		"leases"
#define API_F_APPROVAL		"approval"
#define API_F_APPROVALS		"approvals"
#define API_F_ID		"id"
#define API_F_STATE		"state"
#define API_F_ISSUED		"issued"	/* RFC 3339 UTC */
#define API_F_EXPIRES		"expires"
#define API_F_EXPIRES_UNIX	"expires_unix"
#define API_F_USES_LEFT		"uses_left"	/* null: unlimited */
#define API_F_HOLDER		"holder"
#define API_F_BOUND		"bound"
#define API_F_RULE		"rule"
#define API_F_APPROVERS		"approvers"
#define API_F_REQUESTER		"requester"
#define API_F_DECIDED_BY	"decided_by"
#define API_F_ERROR		"error"
#define API_F_CODE		"code"		/* an API_E_* name */
#define API_F_MESSAGE		"message"
#define API_F_REVOKED		"revoked"
#define API_F_WHERE		"where"		/* exposure: where found */
#define API_F_SOURCE		"source"	/* exposure: what found it */
#define API_F_PROOF		"proof"		/* exposure: the value was seen */
#define API_F_PROOFS		"proofs"		/* redact: one per secret found */
#define API_F_DENIED		"denied"	/* approvals denied */
#define API_F_TTR_MS		"time_to_revoke_ms"

/* ---- error names (the "code" of an error reply) ------------------------ */

#define API_E_BAD_REQUEST	"bad-request"	/* 400 malformed JSON, field */
#define API_E_NOT_FOUND		"not-found"	/* 404 unknown route or id */
#define API_E_METHOD		"method"	/* 405 wrong method */
#define API_E_TOO_BIG		"too-big"	/* 413 body over the limit */
#define API_E_DENIED		"denied"	/* 403 policy refused */
#define API_E_FORBIDDEN		"forbidden"	/* 403 not the holder/approver */
#define API_E_ENDED		"ended"		/* 410 lease ended */
#define API_E_CONFLICT		"conflict"	/* 409 approval already decided */
#define API_E_UNAVAILABLE	"unavailable"	/* 503 broker cannot serve */
#define API_E_RATE		"rate-limited"	/* 429 too soon */
#define API_E_INTERNAL		"internal"	/* 500 */

/* ---- limits ------------------------------------------------------------ */

#define API_BODY_MAX		(16 * 1024)	/* request bodies */
#define API_REDACT_BODY_MAX	(2 * 1024 * 1024) /* POST /v1/redact */
#define API_REDACT_TEXTS_MAX	4096		/* texts per redact */
#define API_VALUE_MAX		(64 * 1024)	/* a secret value */
#define API_TEXT_MAX		256		/* task, intent, reason */
#define API_WAIT_MAX		60		/* long-poll seconds */
#define API_TAIL_MAX		1000		/* audit lines per tail */
#define API_APPROVAL_TTL	600		/* a pending request lives 10 min */
#define API_IDLE_CONN_TIMEOUT	30		/* idle connection, seconds */

#endif
