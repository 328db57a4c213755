/*
 * The names of the events airlock records: `airlock audit --event` warns
 * about any other.  docs/audit.md lists each; t_audit_events checks that
 * the list, this table and the names written in the code agree.
 */
#include <string.h>

#include "airlock/audit.h"

static const char *const names[] = {
	"grant", "deny", "approval_pending", "approve", "deny_approval",
	"approval_expired", "approval_cancelled", "approver_pin", "use",
	"revoke", "expire", "mint", "credential_revoke", "redact",
	"secret_add", "secret_edit", "secret_rotate", "secret_rm",
	"secret_exposed", "exposure_revoke", "exposure_rotate", "agent_hook",
	"policy_reload", "broker_start", "broker_stop", "audit_resume",
	"recover", "proxy_start", "proxy_end", "proxy_request",
	"egress_blocked", "egress_masked",
};

int
audit_event_known(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i], name) == 0)
			return 1;
	return 0;
}
