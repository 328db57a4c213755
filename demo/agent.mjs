// The agent of the tour: an MCP client (the official TypeScript SDK) that
// talks to `airlock mcp` over stdio, as Claude Code, Codex or Cursor would.
// Usage: node demo/agent.mjs AIRLOCK_BIN API_PORT
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

// The SDK is the one the MCP tests pin, in tests/mcp/node_modules.
const require = createRequire(new URL('../tests/mcp/package.json', import.meta.url));
const load = async (p) => import(pathToFileURL(require.resolve(p)).href);
const { Client } = await load('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = await load('@modelcontextprotocol/sdk/client/stdio.js');

const [airlock, port] = process.argv.slice(2);
const dim = (s) => (process.stdout.isTTY && !process.env.NO_COLOR ? `\x1b[2m${s}\x1b[0m` : s);
const say = (s) => console.log(dim(s));
const call = async (client, name, args) => {
	console.log(`agent -> ${name} ${JSON.stringify(args)}`);
	const r = await client.callTool({ name, arguments: args });
	return r.structuredContent ?? r;
};

const client = new Client({ name: 'demo-agent', version: '1.0.0' });
await client.connect(new StdioClientTransport({ command: airlock, args: ['mcp'],
	env: process.env, stderr: 'inherit' }));
const tools = (await client.listTools()).tools.map((t) => t.name);
say(`connected to airlock mcp; tools: ${tools.join(', ')}`);

let r = await call(client, 'list_secrets', {});
for (const s of r.secrets)
	console.log(`   ${s.name.padEnd(14)} owner ${s.owner.padEnd(9)} ${s.purpose}`);

r = await call(client, 'request_access', { secret: 'prod-db', task: 'demo-1', intent: 'migrate' });
console.log(`   ${r.status}: ${r.reason}`);

r = await call(client, 'request_access', { secret: 'payments-key', task: 'demo-1', intent: 'refund order 42' });
console.log(`   ${r.status}: approval ${r.approval}; a human runs \`${r.approve_command}\``);
say('(the human, in another terminal, approves it)');
// A pseudo-terminal types the approver PIN: approve reads it from /dev/tty only.
console.log(execFileSync('python3', [process.env.TYPER, process.env.APPROVER_PIN, airlock,
	'approve', r.approval], { encoding: 'utf8' }).replace(/^Approver PIN: *\n?/m, '').trimEnd());

say('The agent calls the API with the token. The test API echoes it plainly,');
say('in base64 and in hex; airlock redacts inside the server, before any byte');
say('reaches the agent:');
r = await call(client, 'run', { task: 'demo-1', intent: 'check the deploy API',
	env: { TOKEN: 'deploy-token' },
	command: `curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:${port}/` });
console.log(r.stdout.trimEnd().replace(/^/gm, '   '));
console.log(`   exit code ${r.exit_code}`);

r = await call(client, 'revoke', { task: 'demo-1' });
console.log(`   ${JSON.stringify(r)}`);
await client.close();
