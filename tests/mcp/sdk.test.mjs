// `airlock mcp` driven by the official MCP TypeScript clients over stdio:
// the v1 SDK (@modelcontextprotocol/sdk, initialize handshake) and the v2
// client (@modelcontextprotocol/client) negotiating 2026-07-28 through
// server/discover.  Run by tests/e2e/t_mcp_sdk.sh with AIRLOCK_BIN and a
// fresh AIRLOCK_HOME in the environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Client as ClientV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio';

import { toolCases } from './tools.mjs';

const BIN = process.env.AIRLOCK_BIN;
assert.ok(BIN, 'AIRLOCK_BIN must point at the airlock binary');

// Every byte any client received, for the canary check at the end.
export const received = [];
const canaries = [];

function env() {
	const e = { ...process.env };
	delete e.NODE_OPTIONS;
	return e;
}

const expectedTools = execFileSync(BIN, ['mcp', '--list-tools'], { env: env() })
	.toString().split('\n').filter(Boolean);

async function connectV1() {
	const transport = new StdioV1({ command: BIN, args: ['mcp'], env: env(), stderr: 'pipe' });
	const client = new ClientV1({ name: 'airlock-test-v1', version: '1.0.0' });
	await client.connect(transport);
	return { client, transport };
}

async function connectV2(mode, versions) {
	const transport = new StdioV2({ command: BIN, args: ['mcp'], env: env(), stderr: 'pipe' });
	const client = new ClientV2({ name: 'airlock-test-v2', version: '2.0.0' },
		{ versionNegotiation: mode, ...(versions && { supportedProtocolVersions: versions }) });
	await client.connect(transport);
	return { client, transport };
}

function checkToolList(tools, withOutputSchema) {
	assert.deepEqual(tools.map((t) => t.name), expectedTools,
		'tools/list offers exactly the built-in tools, in order');
	for (const t of tools) {
		assert.equal(t.inputSchema.type, 'object', `${t.name} inputSchema`);
		assert.equal(typeof t.description, 'string');
		assert.ok(t.description.length > 20, `${t.name} has a description`);
		if (withOutputSchema) {
			assert.equal(t.outputSchema.type, 'object', `${t.name} outputSchema`);
			assert.equal(typeof t.title, 'string');
		} else {
			assert.equal(t.outputSchema, undefined, `${t.name}: no outputSchema on 2025-03-26`);
		}
	}
}

test('v1 SDK client, initialize handshake (2025-11-25)', async () => {
	const { client } = await connectV1();
	try {
		assert.equal(client.getServerVersion().name, 'airlock');
		assert.match(client.getInstructions(), /never ask the user to paste one/);
		const { tools } = await client.listTools();
		received.push(JSON.stringify(tools));
		checkToolList(tools, true);
		await client.ping();
		await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }),
			(e) => { assert.equal(e.code, -32602); assert.match(e.message, /Unknown tool: 'no_such_tool'/); return true; });
	} finally {
		await client.close();
	}
});

for (const version of ['2025-11-25', '2025-06-18', '2025-03-26']) {
	test(`v2 client, initialize handshake at ${version}`, async () => {
		const { client } = await connectV2({ mode: 'legacy' }, [version]);
		try {
			assert.equal(client.getProtocolEra(), 'legacy');
			assert.equal(client.getNegotiatedProtocolVersion(), version);
			const { tools } = await client.listTools();
			received.push(JSON.stringify(tools));
			checkToolList(tools, version !== '2025-03-26');
			await client.ping();
		} finally {
			await client.close();
		}
	});
}

test('v2 client offering only 2024-11-05 gets our latest and refuses it', async () => {
	await assert.rejects(connectV2({ mode: 'legacy' }, ['2024-11-05']),
		/2025-11-25/);
});

for (const mode of [{ mode: 'auto' }, { mode: { pin: '2026-07-28' } }]) {
	test(`v2 client negotiates 2026-07-28 through server/discover (${JSON.stringify(mode)})`, async () => {
		const { client } = await connectV2(mode);
		try {
			assert.equal(client.getProtocolEra(), 'modern');
			assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
			const { tools } = await client.listTools();
			received.push(JSON.stringify(tools));
			checkToolList(tools, true);
			await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }),
				(e) => { assert.match(e.message, /Unknown tool: 'no_such_tool'/); return true; });
		} finally {
			await client.close();
		}
	});
}

test('v2 client in legacy mode uses the initialize handshake', async () => {
	const { client } = await connectV2({ mode: 'legacy' });
	try {
		assert.equal(client.getProtocolEra(), 'legacy');
		assert.equal(client.getNegotiatedProtocolVersion(), '2025-11-25');
		const { tools } = await client.listTools();
		checkToolList(tools, true);
	} finally {
		await client.close();
	}
});

// Tool calls, through both clients, for every tool this build offers.
for (const [label, connect] of [
	['v1 2025-11-25', () => connectV1()],
	['v2 2026-07-28', () => connectV2({ mode: { pin: '2026-07-28' } })],
]) {
	for (const name of expectedTools) {
		test(`${label}: tool ${name}`, async () => {
			const cases = toolCases[name];
			assert.ok(cases, `tests/mcp/tools.mjs has cases for ${name}`);
			const { client } = await connect();
			try {
				await client.listTools();	// the client validates outputs against it
				await cases(client, received, canaries, { v1: label.startsWith('v1') });
			} finally {
				await client.close();
			}
		});
	}
}

test('no canary in anything a client received', () => {
	canaries.push(...(process.env.AIRLOCK_CANARIES || '').split(',').filter(Boolean));
	assert.ok(canaries.length >= (expectedTools.includes('scan') ? 2 : 0), 'the tool cases made up secrets');
	if (process.env.AIRLOCK_CANARY_FILE)	// for the shell's check of $AIRLOCK_HOME
		writeFileSync(process.env.AIRLOCK_CANARY_FILE, canaries.join('\n') + '\n', { mode: 0o600 });
	const all = received.join('\n');
	for (const c of canaries) {
		for (const form of [c, Buffer.from(c).toString('base64'), Buffer.from(c).toString('hex')]) {
			assert.ok(!all.includes(form), 'a secret value reached the client');
		}
	}
});
