// Per-tool cases for sdk.test.mjs: toolCases[name](client, received) calls
// the tool through a connected client and asserts its results, pushing every
// result it got into `received` for the canary check.  A tool is tested
// exactly when `airlock mcp --list-tools` offers it, and a tool offered
// without cases here fails the suite.
export const toolCases = {};
