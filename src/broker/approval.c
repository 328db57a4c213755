/*
 * Pending approvals.  They live in memory only: a request waiting for a
 * human is short-lived (API_APPROVAL_TTL) and its requester is connected;
 * after a broker restart the requester asks again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int
approval_proc_stat(pid_t pid, pid_t *ppid, pid_t *sid, int *tty)
{
	struct al_proc_stat st;

	*ppid = *sid = -1;
	if (tty != NULL)
		*tty = 0;
	if (al_proc_stat(pid, &st) != 0)
		return -1;
	*ppid = st.ppid;
	*sid = st.session;
	if (tty != NULL)
		*tty = st.tty;
	return 0;
}

#define TREE_DEPTH_MAX	128

const char *
approval_tree_refusal(const struct approval *a, pid_t approver)
{
	pid_t p = approver, pp, sid, asid;
	int depth, atty;

	if (a->sid < 0)
		return "the requester's session cannot be read, so an approval "
		    "cannot be told apart from its own: refused";
	if (approval_proc_stat(approver, &pp, &asid, &atty) != 0)
		return "the approver's process cannot be read: refused";
	if (a->sid > 0 && asid == a->sid)
		return "an approval cannot come from the requester's own "
		    "session: approve from another terminal";
	/*
	 * Session 0: the requester's session leader is outside this PID
	 * namespace (a container entered with exec, a CI runner), so sessions
	 * cannot be compared.  Terminals can: the approver typed its PIN on a
	 * terminal of its own, which must not be the requester's.
	 */
	if (a->sid == 0 && atty == 0)
		return "the requester's session cannot be read and the approver "
		    "has no terminal: refused (approve from a terminal)";
	if (a->sid == 0 && atty == a->tty)
		return "an approval cannot come from the requester's own "
		    "terminal: approve from another terminal";
	for (depth = 0; depth < TREE_DEPTH_MAX && p > 1; depth++) {
		if (p == a->pid)
			return "an approval cannot come from the requester's "
			    "own process tree";
		if (approval_proc_stat(p, &pp, &sid, NULL) != 0)
			return "the approver's ancestry cannot be read: "
			    "refused";
		p = pp;
	}
	if (p > 1)
		return "the approver's ancestry is too deep to check: refused";
	/*
	 * Nor from one of the requester's ancestors: a person approves with
	 * a short-lived `airlock approve`, never with a process that started
	 * the requester (an agent that moved its request to a new session).
	 */
	for (p = a->pid, depth = 0; depth < TREE_DEPTH_MAX && p > 1;
	    depth++) {
		/*
		 * A requester that has exited has no ancestors to ask, and
		 * its lease is bound to its pid and start time, which no
		 * process has any more: nothing reaches the approver.
		 */
		if (approval_proc_stat(p, &pp, &sid, NULL) != 0) {
			if (p == a->pid)
				return NULL;
			return "the requester's ancestry cannot be read: "
			    "refused";
		}
		if (pp == approver)
			return "an approval cannot come from a process that "
			    "started the requester";
		p = pp;
	}
	if (p > 1)
		return "the requester's ancestry is too deep to check: refused";
	return NULL;
}
