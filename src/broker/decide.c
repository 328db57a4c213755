/* Policy glue: load the policy in force and ask it about a request. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "broker_int.h"

void
policy_digest(const struct broker *b, char hex[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	struct al_buf text;

	/* No file: the built-in default is in force. */
	(void)snprintf(hex, 65, "default");
	al_buf_init(&text, POLICY_TEXT_MAX + 1, 0);
	if (policy_read_file(b->policy_path, &text, NULL) == 0) {
		crypto_hash_sha256(h, text.data, text.len);
		(void)sodium_bin2hex(hex, 65, h, sizeof(h));
	}
	al_buf_release(&text);
}

void
policy_watch(struct broker *b)
{
	struct al_file_stamp now;

	al_file_stamp_take(b->policy_path, &now);
	if (al_file_stamp_same(&now, &b->policy_seen))
		return;
	broker_log(b, "%s changed: reloading the policy", b->policy_path);
	if (broker_reload_policy(b, NULL) != 0)
		return;		/* logged, audited, said in /v1/health */
}

int
decide_load(struct broker *b, struct policy **out, struct al_err *err)
{
	int rc;

	*out = NULL;
	/* Taken first: an edit while it is read is seen as the next change. */
	al_file_stamp_take(b->policy_path, &b->policy_seen);
	rc = policy_load_file(b->policy_path, out, err);
	/*
	 * No policy file: the default `airlock init` writes (the owner may
	 * lease for 15 minutes, approval=required needs approval).  A file
	 * that exists but is bad is an error, never a fallback.
	 */
	if (rc == AL_ENOENT) {
		broker_log(b, "no policy at %s: using the default policy",
		    b->policy_path);
		rc = policy_load_default((unsigned)b->owner, out, err);
	}
	return rc;
}

int
decide(struct broker *b, const struct broker_caller *c,
    const struct vault_meta *m, const char *task, const char *intent,
    struct policy_decision *d)
{
	const char *labels[VAULT_LIST_MAX];
	char lbuf[VAULT_LIST_MAX][2 * VAULT_TEXT_MAX + 2];
	struct policy_request r;
	size_t i, n = 0;

	for (i = 0; i < m->nlabels && n < VAULT_LIST_MAX; i++) {
		if (snprintf(lbuf[n], sizeof(lbuf[n]), "%s=%s",
		    m->labels[i].key, m->labels[i].value) >=
		    (int)sizeof(lbuf[n]))
			continue;	/* cannot happen: both are checked */
		labels[n] = lbuf[n];
		n++;
	}
	memset(&r, 0, sizeof(r));
	r.selectors = c->selectors;
	r.nselectors = c->nselectors;
	r.secret = m->name;
	r.labels = labels;
	r.nlabels = n;
	r.intent = intent;
	r.task = task;
	r.repo = c->repo;
	if (r.repo == NULL && c->find_repo != NULL &&
	    policy_needs_repo(b->policy))
		r.repo = c->find_repo(c->find_repo_arg);
	/* Read after find_repo, which says when the lookup failed. */
	r.unknown = c->unknown;
	r.nunknown = c->nunknown;
	r.repo_unknown = c->repo_unknown;
	r.now = b->clock->now(b->clock->arg);
	return policy_decide(b->policy, &r, d);
}
