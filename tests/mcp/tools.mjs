// Per-tool cases for sdk.test.mjs: toolCases[name](client, received,
// canaries) calls the tool through a connected client and asserts its
// results, pushing every result into `received` and every secret it made
// up into `canaries` for the leak check at the end.  A tool is tested
// exactly when `airlock mcp --list-tools` offers it, and a tool offered
// without cases here fails the suite.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

export const toolCases = {
	async scan(client, received, canaries) {
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

			r = await call(client, received, 'scan', { path: join(dir, 'missing') });
			assert.equal(r.isError, true);
			assert.match(r.content[0].text, /is not a readable file/);

			await assert.rejects(client.callTool({ name: 'scan', arguments: {} }),
				/give exactly one of arguments\.path and arguments\.text/);
			await assert.rejects(client.callTool({ name: 'scan', arguments: { text: 'x', max_findings: 0 } }),
				/arguments\.max_findings is below the minimum/);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	},
};
