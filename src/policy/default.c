/* The default policy written by `airlock init`. */
#include <string.h>

#include "policy_int.h"

/* "@UID@" stands for the owner's uid. */
static const char default_policy[] =
"# airlock policy: who may lease which secret, for how long, for what.\n"
"# Written by `airlock init`; the language is described in docs/policy.md.\n"
"#\n"
"# Rules are tried from top to bottom and the first rule that matches a\n"
"# request decides it.  A request that no rule matches is denied.  Check a\n"
"# change with `airlock policy lint` and try it with `airlock policy check`;\n"
"# the broker reads this file again on SIGHUP and keeps the old policy if\n"
"# the new one has an error.\n"
"version: 1\n"
"rules:\n"
"  # Secrets labelled approval=required (airlock secret edit NAME --label\n"
"  # approval=required) are leased only after you approve the request with\n"
"  # `airlock approve ID` from your own terminal: it asks for the approver\n"
"  # PIN (`airlock approver set-pin`), which an agent does not have, and\n"
"  # refuses an approval from the requester's own process tree or session.\n"
"  - id: owner-approval-required\n"
"    effect: approval\n"
"    callers: [\"unix:uid:@UID@\"]\n"
"    labels: {approval: required}\n"
"    approvers: [\"unix:uid:@UID@\"]\n"
"    max_ttl: 15m\n"
"\n"
"  # Your own processes may lease any other secret for at most 15 minutes.\n"
"  - id: owner-any-secret\n"
"    effect: allow\n"
"    callers: [\"unix:uid:@UID@\"]\n"
"    secrets: [\"*\"]\n"
"    max_ttl: 15m\n"
"\n"
"  # More examples; uncomment and adapt.  Put a deny above the rule it\n"
"  # carves an exception from.\n"
"  #\n"
"  # - id: no-prod-for-agents\n"
"  #   effect: deny\n"
"  #   callers: [\"unix:ancestor-exe:*/claude\", \"unix:ancestor-exe:*/codex\"]\n"
"  #   labels: {env: prod}\n"
"  #   reason: production credentials are not for coding agents\n"
"  #\n"
"  # - id: deploy-in-office-hours\n"
"  #   effect: allow\n"
"  #   callers: [\"unix:uid:@UID@\"]\n"
"  #   secrets: [\"deploy-*\"]\n"
"  #   intents: [\"deploy *\"]\n"
"  #   repos: [\"github.com/acme/*\"]\n"
"  #   when: {days: [mon-fri], hours: \"09:00-18:00\", timezone: UTC}\n"
"  #   max_ttl: 10m\n"
"  #   max_uses: 3\n";

int
policy_default_render(unsigned uid, struct al_buf *out)
{
	const char *p = default_policy, *at;
	int rc;

	while ((at = strstr(p, "@UID@")) != NULL) {
		if ((rc = al_buf_append(out, p, (size_t)(at - p))) != 0 ||
		    (rc = al_buf_printf(out, "%u", uid)) != 0)
			return rc;
		p = at + 5;
	}
	return al_buf_puts(out, p);
}
