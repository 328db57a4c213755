/*
 * Pending approvals.  They live in memory only: a request waiting for a
 * human is short-lived (API_APPROVAL_TTL) and its requester is connected;
 * after a broker restart the requester asks again.
 */
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"

const char *
approval_state_name(enum approval_state s)
{
	switch (s) {
	case APPROVAL_PENDING:		return "pending";
	case APPROVAL_APPROVED:		return "approved";
	case APPROVAL_DENIED:		return "denied";
	case APPROVAL_EXPIRED:		return "expired";
	case APPROVAL_CANCELLED:	return "cancelled";
	}
	return "unknown";
}

static void
approval_free(struct approval *a)
{
	if (a == NULL)
		return;
	json_decref(a->caller);
	free(a);
}

void
approval_list_release(struct approval_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		approval_free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int
approval_add(struct approval_list *l, struct approval *a)
{
	struct approval **v;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 16;
		if ((v = realloc(l->v, cap * sizeof(*v))) == NULL)
			return AL_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = a;
	return 0;
}

struct approval *
approval_find(struct approval_list *l, const char *id)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i]->id, id) == 0)
			return l->v[i];
	return NULL;
}

size_t
approval_count_pending(const struct approval_list *l)
{
	size_t i, n = 0;

	for (i = 0; i < l->n; i++)
		n += l->v[i]->state == APPROVAL_PENDING;
	return n;
}

void
approval_prune(struct approval_list *l, int64_t now, int64_t keep)
{
	size_t i, j = 0;

	for (i = 0; i < l->n; i++) {
		if (l->v[i]->state != APPROVAL_PENDING &&
		    l->v[i]->decided + keep < now)
			approval_free(l->v[i]);
		else
			l->v[j++] = l->v[i];
	}
	l->n = j;
}
