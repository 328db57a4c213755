// Per-tool cases for sdk.test.mjs: toolCases[name](client, received,
// canaries, ctx) (ctx.v1: the v1 SDK's client) calls the tool through a connected client and asserts its
// results, pushing every result into `received` and every secret it made
// up into `canaries` for the leak check at the end.  A tool is tested
// exactly when `airlock mcp --list-tools` offers it, and a tool offered
// without cases here fails the suite.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function fakeGithubToken() {
	const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
	const b = randomBytes(36);
	return 'ghp_' + Array.from(b, (x) => alnum[x % alnum.length]).join('');
}

async function call(client, received, name, args) {
	const r = await client.callTool({ name, arguments: args });
	received.push(JSON.stringify(r));
	return r;
}

// callTool with request options, for either client generation.
// The v1 SDK takes (params, resultSchema, options), v2 (params, options).
function callWith(ctx, client, params, opts) {
	return ctx.v1 ? client.callTool(params, undefined, opts) : client.callTool(params, opts);
}

const BIN = process.env.AIRLOCK_BIN;
const HOME = process.env.AIRLOCK_HOME;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function airlock(args, input) {
	return execFileSync(BIN, args, { input, env: { ...process.env } }).toString();
}

// The approver PIN is typed on a terminal only: a pty of its own (typer.py).
const TYPER = join(dirname(fileURLToPath(import.meta.url)), '..', 'e2e', 'helpers', 'typer.py');
const PIN = 'pin-' + randomBytes(6).toString('hex');
function onTty(inputs, args) {
	return execFileSync('python3', [TYPER, inputs, BIN, ...args], { env: { ...process.env } }).toString();
}

function liveLeases(pred = () => true) {
	return JSON.parse(airlock(['lease', 'ls', '--json'])).filter((l) => l.state === 'live' && pred(l));
}

async function until(what, fn, ms = 10000) {
	const end = Date.now() + ms;
	for (;;) {
		const v = fn();
		if (v) return v;
		if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
		await sleep(50);
	}
}

// Secrets and policy shared by the broker tool cases, made once per suite
// (before any broker starts): a plain token, a production secret a deny
// rule refuses, and one that needs a human's approval.
export const secrets = {};
export function setupSecrets(canaries) {
	if (secrets.token) return secrets;
	for (const [name, extra] of [['mcp-token', ['--host', 'api.example.com']],
		['prod-db', []], ['pay-key', ['--label', 'approval=required']]]) {
		const v = 'cnry-' + randomBytes(16).toString('hex');
		canaries.push(v);
		airlock(['secret', 'add', name, '--owner', 'mcp-test', '--purpose', `e2e ${name}`, ...extra], v + '\n');
		secrets[name] = v;
	}
	secrets.token = secrets['mcp-token'];
	onTty(`${PIN},${PIN}`, ['approver', 'set-pin']);
	const path = join(HOME, 'policy.yaml');
	const uid = process.getuid();
	const policy = readFileSync(path, 'utf8').replace(/^rules:\n/m,
		`rules:\n  - id: no-prod\n    effect: deny\n    callers: ["unix:uid:${uid}"]\n` +
		`    secrets: ["prod-*"]\n    reason: production secrets are not for agents\n`);
	writeFileSync(path, policy, { mode: 0o600 });
	return secrets;
}

export const toolCases = {
	async list_secrets(client, received, canaries) {
		setupSecrets(canaries);
		const r = await call(client, received, 'list_secrets', {});
		assert.equal(r.isError, undefined);
		const s = r.structuredContent;
		assert.equal(s.count, 3);
		assert.deepEqual(s.secrets.map((x) => x.name), ['mcp-token', 'pay-key', 'prod-db']);
		assert.deepEqual(s.secrets[0], { name: 'mcp-token', owner: 'mcp-test', purpose: 'e2e mcp-token',
			status: 'active', hosts: ['api.example.com'], expires: null, labels: {} });
		assert.deepEqual(s.secrets[1].labels, { approval: 'required' });
		await assert.rejects(client.callTool({ name: 'list_secrets', arguments: { name: 'x' } }),
			/arguments has an unknown property/);
	},

	async request_access(client, received, canaries) {
		setupSecrets(canaries);
		const task = 'ra-' + randomBytes(4).toString('hex');
		// Granted: a lease id and its expiry, never a value.
		let r = await call(client, received, 'request_access',
			{ secret: 'mcp-token', task, intent: 'deploy the docs', ttl: 120 });
		assert.equal(r.isError, undefined);
		let s = r.structuredContent;
		assert.equal(s.status, 'granted');
		assert.match(s.lease, /^[0-9a-f]{32}$/);
		assert.match(s.expires, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
		const left = Date.parse(s.expires) - Date.now();
		assert.ok(left > 60000 && left <= 121000, `expiry in ~120 s (${left} ms)`);
		assert.equal(s.task, task);
		assert.equal(liveLeases((l) => l.id === s.lease && l.secret === 'mcp-token' && l.task === task).length, 1);

		// Denied by the deny rule: the reason and the rule.
		r = await call(client, received, 'request_access', { secret: 'prod-db', task });
		assert.equal(r.isError, true);
		assert.deepEqual({ ...r.structuredContent }, { status: 'denied', secret: 'prod-db', rule: 'no-prod',
			reason: 'production secrets are not for agents',
			message: "denied by policy rule 'no-prod': production secrets are not for agents" });

		// Pending approval: the id and how a human approves; approve it.
		r = await call(client, received, 'request_access', { secret: 'pay-key', task, intent: 'refund' });
		assert.equal(r.isError, undefined);
		s = r.structuredContent;
		assert.equal(s.status, 'pending');
		assert.match(s.approval, /^[0-9a-f]{32}$/);
		assert.equal(s.approve_command, `airlock approve ${s.approval}`);
		assert.equal(s.rule, 'owner-approval-required');
		assert.match(s.message, /an approver runs `airlock approve [0-9a-f]{32}`/);
		assert.equal(liveLeases((l) => l.secret === 'pay-key' && l.task === task).length, 0);
		onTty(PIN, ['approve', s.approval]);
		assert.equal(liveLeases((l) => l.secret === 'pay-key' && l.task === task).length, 1, 'approved: a lease');

		r = await call(client, received, 'request_access', { secret: 'no-such-secret' });
		assert.equal(r.isError, true);
		// An unknown name is named only by its keyed fingerprint.
		assert.equal(r.structuredContent.status, 'denied');
		assert.match(r.structuredContent.reason, /^no secret by that name \(name fingerprint [0-9a-f]{12}\)/);
		assert.match(r.structuredContent.message, /^denied: no secret by that name/);
		await assert.rejects(client.callTool({ name: 'request_access', arguments: {} }),
			/arguments\.secret is required/);
		airlock(['lease', 'revoke', '--task', task]);
	},

	async run(client, received, canaries, ctx) {
		const { token } = setupSecrets(canaries);
		const task = 'run-' + randomBytes(4).toString('hex');
		// Plain, base64 and hex, on both streams: only masks come back.
		let r = await call(client, received, 'run', {
			command: 'echo "plain $T"; printf %s "$T" | base64; printf %s "$T" | od -An -tx1 | tr -d " \\n"; echo; echo "err $T" >&2',
			env: { T: 'mcp-token' }, task, intent: 'print the token' });
		assert.equal(r.isError, undefined, JSON.stringify(r));
		let s = r.structuredContent;
		assert.equal(s.stdout, 'plain [REDACTED:mcp-token]\n[REDACTED:mcp-token]\n[REDACTED:mcp-token]\n');
		assert.equal(s.stderr, 'err [REDACTED:mcp-token]\n');
		assert.equal(s.exit_code, 0);
		assert.equal(s.status, 0);
		assert.equal(s.timed_out, false);
		assert.equal(liveLeases((l) => l.task === task).length, 0, 'the run revoked its lease');

		// A token airlock does not hold is masked by the scanner's rules.
		const stray = fakeGithubToken();
		canaries.push(stray);
		r = await call(client, received, 'run', { command: ['echo', `found ${stray} in .env`], env: { T: 'mcp-token' } });
		assert.equal(r.structuredContent.stdout, 'found [REDACTED:github-pat] in .env\n');

		// argv form, the value reaches the command, a failing exit code.
		r = await call(client, received, 'run', { command: ['sh', '-c', 'test "$T" = "$1" && echo same; exit 3', 'sh', token],
			env: { T: 'mcp-token' }, task });
		received.pop();	// the request itself carried the value; the result must not
		assert.ok(!JSON.stringify(r).includes(token));
		received.push(JSON.stringify(r));
		assert.equal(r.isError, true);
		assert.equal(r.structuredContent.stdout, 'same\n');
		assert.equal(r.structuredContent.exit_code, 3);

		// Denied before anything runs.
		r = await call(client, received, 'run', { command: ['touch', join(HOME, 'ran')], env: { DB: 'prod-db' } });
		assert.equal(r.isError, true);
		assert.equal(r.content[0].text, "run: denied by policy rule 'no-prod': production secrets are not for agents");
		assert.ok(!existsSync(join(HOME, 'ran')), 'a denied run does not run');

		// Timeout ends the whole command.
		r = await call(client, received, 'run', { command: 'sleep 20', env: { T: 'mcp-token' }, timeout_seconds: 1 });
		assert.equal(r.isError, true);
		assert.equal(r.structuredContent.timed_out, true);
		assert.equal(r.structuredContent.status, 128 + 15);

		// Progress while it runs, with a progressToken.
		const progress = [];
		r = await callWith(ctx, client, { name: 'run', arguments: { command: 'sleep 2.5; echo "done $T"', env: { T: 'mcp-token' } } },
			{ onprogress: (p) => progress.push(p) });
		received.push(JSON.stringify(r), JSON.stringify(progress));
		assert.equal(r.structuredContent.stdout, 'done [REDACTED:mcp-token]\n');
		assert.ok(progress.length >= 2, `progress notifications: ${JSON.stringify(progress)}`);
		assert.ok(progress.some((p) => /running for \d+ s/.test(p.message ?? '')));

		// Cancellation ends the task and revokes its lease.
		const ctask = 'cancel-' + randomBytes(4).toString('hex');
		const pidfile = join(HOME, `${ctask}.pid`);
		const ac = new AbortController();
		// The command's pid outside its PID namespace: found by its argv.
		const sleepArg = `30.${randomBytes(3).readUIntBE(0, 3) + 1}`;
		const findPid = () => {
			for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
				try {
					if (readFileSync(`/proc/${p}/cmdline`, 'utf8') === `sleep\0${sleepArg}\0`) return Number(p);
				} catch { /* gone */ }
			}
			return 0;
		};
		const pending = callWith(ctx, client, { name: 'run', arguments: {
			command: `echo started > ${pidfile}; exec sleep ${sleepArg}`, env: { T: 'mcp-token' }, task: ctask } },
			{ signal: ac.signal, timeout: 60000 });
		await until('the run to start', () => existsSync(pidfile) && findPid());
		const pid = findPid();
		assert.equal(liveLeases((l) => l.task === ctask).length, 1, 'a live lease while it runs');
		const t0 = Date.now();
		ac.abort('the user changed their mind');
		await assert.rejects(pending);
		await until('the cancelled command to end', () => {
			try { process.kill(pid, 0); return false; } catch { return true; }
		});
		await until('the lease to be revoked', () => liveLeases((l) => l.task === ctask).length === 0);
		assert.ok(Date.now() - t0 < 5000, 'cancelled within the grace period');
		// The server still serves.
		r = await call(client, received, 'list_secrets', {});
		assert.equal(r.structuredContent.count, 3);

		await assert.rejects(client.callTool({ name: 'run', arguments: { command: 'true', env: { '1BAD': 'mcp-token' } } }),
			/'1BAD' is not a variable name/);
		await assert.rejects(client.callTool({ name: 'run', arguments: { command: [] } }),
			/arguments\.command/);
	},

	async revoke(client, received, canaries) {
		setupSecrets(canaries);
		const task = 'rv-' + randomBytes(4).toString('hex');
		const ids = [];
		for (let i = 0; i < 3; i++) {
			const r = await call(client, received, 'request_access', { secret: 'mcp-token', task });
			ids.push(r.structuredContent.lease);
		}
		let r = await call(client, received, 'revoke', { lease: ids[0] });
		assert.deepEqual(r.structuredContent, { revoked: 1, lease: ids[0] });
		assert.equal(liveLeases((l) => l.task === task).length, 2);
		r = await call(client, received, 'revoke', { task });
		assert.deepEqual(r.structuredContent, { revoked: 2, task });
		assert.equal(liveLeases((l) => l.task === task).length, 0);
		r = await call(client, received, 'revoke', { lease: ids[0] });
		assert.equal(r.isError, true);
		assert.match(r.content[0].text, /^revoke: /);
		await assert.rejects(client.callTool({ name: 'revoke', arguments: {} }),
			/give exactly one of arguments\.lease and arguments\.task/);
	},

	async scan(client, received, canaries, ctx) {
		const token = fakeGithubToken();
		canaries.push(token);
		const dir = mkdtempSync(join(tmpdir(), 'airlock-mcp-'));
		try {
			const file = join(dir, 'config.py');
			writeFileSync(file, `# settings\nDEBUG = True\nGITHUB_TOKEN = "${token}"\n`);
			let r = await call(client, received, 'scan', { path: file });
			assert.equal(r.isError, undefined);
			const s = r.structuredContent;
			assert.equal(s.clean, false);
			assert.equal(s.count, 1);
			assert.equal(s.files_scanned, 1);
			assert.deepEqual(
				{ ...s.findings[0], description: undefined },
				{ rule: 'github-pat', description: undefined, severity: 'error', category: 'secret',
				  path: file, line: 3, column: 17, preview: token.slice(0, 4) + '...' + token.slice(-2) });
			assert.deepEqual(JSON.parse(r.content[0].text), s, 'text content is the structured result');

			r = await call(client, received, 'scan', { text: `curl -H "Authorization: token ${token}" x` });
			assert.equal(r.structuredContent.count, 1);
			assert.equal(r.structuredContent.findings[0].path, 'text');
			assert.equal(r.structuredContent.findings[0].line, 1);

			r = await call(client, received, 'scan', { text: 'nothing to see here' });
			assert.deepEqual(r.structuredContent, { clean: true, count: 0, truncated: false, files_scanned: 0, findings: [] });

			// A directory, walked by the scanner: every file, in order.
			writeFileSync(join(dir, 'notes.txt'), 'nothing here\n');
			writeFileSync(join(dir, 'z.env'), `TOKEN=${token}\n`);
			const progress = [];
			r = await callWith(ctx, client, { name: 'scan', arguments: { path: dir } },
				{ onprogress: (p) => progress.push(p) });
			received.push(JSON.stringify(r));
			assert.equal(r.isError, undefined);
			assert.equal(r.structuredContent.count, 2);
			assert.equal(r.structuredContent.files_scanned, 3);
			assert.deepEqual(r.structuredContent.findings.map((f) => [f.path, f.line, f.rule]),
				[[file, 3, 'github-pat'], [join(dir, 'z.env'), 1, 'github-pat']]);
			r = await call(client, received, 'scan', { path: dir, max_findings: 1 });
			assert.equal(r.structuredContent.findings.length, 1);
			assert.equal(r.structuredContent.truncated, true);

			r = await call(client, received, 'scan', { path: join(dir, 'missing') });
			assert.equal(r.isError, true);
			assert.match(r.content[0].text, /is not a readable file or directory/);

			await assert.rejects(client.callTool({ name: 'scan', arguments: {} }),
				/give exactly one of arguments\.path and arguments\.text/);
			await assert.rejects(client.callTool({ name: 'scan', arguments: { text: 'x', max_findings: 0 } }),
				/arguments\.max_findings is below the minimum/);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	},
};
