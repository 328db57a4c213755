/* The MCP server object: configuration, tool table, shared state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_int.h"

int
mcp_server_new(const struct mcp_config *cfg, struct mcp_server **out)
{
	struct mcp_server *s;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return AL_ENOMEM;
	s->cfg = *cfg;
	if (s->cfg.clock == NULL)
		s->cfg.clock = al_clock_system();
	s->tools = mcp_tools;
	s->ntools = mcp_ntools;
	/* Until initialize says otherwise, answer as the latest revision. */
	(void)snprintf(s->version, sizeof(s->version), "%s",
	    MCP_LATEST_LEGACY);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->scan_lock, NULL);
	pthread_mutex_init(&s->run_lock, NULL);
	*out = s;
	return 0;
}

void
mcp_server_free(struct mcp_server *s)
{
	if (s == NULL)
		return;
	json_decref(s->tool_list);
	mcp_tools_release(s);
	pthread_mutex_destroy(&s->scan_lock);
	pthread_mutex_destroy(&s->run_lock);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
