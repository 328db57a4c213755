/* libFuzzer target: one MCP message through the transport-free dispatcher. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/mcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mcp_config cfg;
	struct mcp_server *s;
	char *resp = NULL;

	memset(&cfg, 0, sizeof(cfg));
	if (mcp_server_new(&cfg, &s) != 0)
		return 0;
	if (mcp_handle(s, (const char *)data, size, &resp) == 0)
		free(resp);
	mcp_server_free(s);
	return 0;
}
