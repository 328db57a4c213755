/*
 * The policy's YAML reader.  libyaml's document loader would silently expand
 * aliases (a "billion laughs" file is a few lines) and keep the last of two
 * duplicate keys, so the tree is built here from the event stream instead:
 * one document, no anchors, aliases or tags, bounded nesting and node count,
 * every node tagged with its line for messages.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "policy_int.h"

#define PTREE_NODES_MAX	200000

struct builder {
	struct pnode	*stack[POLICY_DEPTH_MAX + 1];
	size_t		 depth;
	struct pnode	*root;
	size_t		 nodes;
	int		 ndocs;
	struct pdiags	*d;
};

void
pdiag_add(struct pdiags *d, int line, const char *fmt, ...)
{
	struct policy_diag *v, *x;
	va_list ap;
	size_t ncap;
	char *c;

	if (d->n >= POLICY_DIAG_MAX) {
		d->dropped++;
		return;
	}
	if (d->n == d->cap) {
		ncap = d->cap ? d->cap * 2 : 8;
		if ((v = reallocarray(d->v, ncap, sizeof(*v))) == NULL) {
			d->nomem = 1;
			return;
		}
		d->v = v;
		d->cap = ncap;
	}
	x = &d->v[d->n++];
	x->line = line;
	va_start(ap, fmt);
	/* Truncation is fine: a message is a hint, quoted input is short. */
	(void)vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
	va_end(ap);
	/* Text from the file must not forge lines on a terminal or in a log. */
	for (c = x->msg; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

static int
diag_cmp(const void *a, const void *b)
{
	const struct policy_diag *x = a, *y = b;

	return (x->line > y->line) - (x->line < y->line);
}

void
pdiag_sort(struct pdiags *d)
{
	size_t i, j;
	struct policy_diag t;

	/* A stable insertion sort: messages of one line stay in the order found. */
	for (i = 1; i < d->n; i++) {
		t = d->v[i];
		for (j = i; j > 0 && diag_cmp(&d->v[j - 1], &t) > 0; j--)
			d->v[j] = d->v[j - 1];
		d->v[j] = t;
	}
}

void
ptree_free(struct pnode *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->nkids; i++)
		ptree_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

static int
kid_add(struct pnode *parent, struct pnode *kid)
{
	struct pnode **v;
	size_t ncap;

	if (parent->nkids == parent->capkids) {
		ncap = parent->capkids ? parent->capkids * 2 : 4;
		if ((v = reallocarray(parent->kids, ncap, sizeof(*v))) == NULL)
			return AL_ENOMEM;
		parent->kids = v;
		parent->capkids = ncap;
	}
	parent->kids[parent->nkids++] = kid;
	return 0;
}

/* Refuse a second key of the same name in the mapping being built. */
static void
check_duplicate_key(struct builder *b, struct pnode *map, struct pnode *key)
{
	size_t i;

	if (key->type != PN_SCALAR) {
		pdiag_add(b->d, key->line, "a mapping key must be a string");
		return;
	}
	for (i = 0; i + 1 < map->nkids; i += 2)
		if (map->kids[i]->type == PN_SCALAR &&
		    strcmp(map->kids[i]->str, key->str) == 0) {
			pdiag_add(b->d, key->line, "duplicate key '%.64s' "
			    "(first on line %d)", key->str,
			    map->kids[i]->line);
			return;
		}
}

/* Attach a finished node to its parent (or make it the root). */
static int
attach(struct builder *b, struct pnode *n)
{
	struct pnode *parent;

	if (++b->nodes > PTREE_NODES_MAX) {
		pdiag_add(b->d, n->line, "more than %d YAML nodes",
		    PTREE_NODES_MAX);
		ptree_free(n);
		return 1;
	}
	if (b->depth == 0) {
		if (b->root != NULL) {
			ptree_free(n);
			return 0;
		}
		b->root = n;
		return 0;
	}
	parent = b->stack[b->depth - 1];
	if (parent->type == PN_MAP && parent->nkids % 2 == 0)
		check_duplicate_key(b, parent, n);
	if (kid_add(parent, n) != 0) {
		ptree_free(n);
		return AL_ENOMEM;
	}
	return 0;
}

static struct pnode *
node_new(enum pnode_type t, const yaml_event_t *ev)
{
	struct pnode *n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	n->type = t;
	n->line = (int)ev->start_mark.line + 1;
	return n;
}

/* Anchors and tags are refused where they appear; the node is kept. */
static void
check_props(struct builder *b, const yaml_event_t *ev,
    const yaml_char_t *anchor, const yaml_char_t *tag)
{
	int line = (int)ev->start_mark.line + 1;

	if (anchor != NULL)
		pdiag_add(b->d, line, "anchors and aliases are not allowed");
	if (tag != NULL)
		pdiag_add(b->d, line, "YAML tags are not allowed");
}

/* 0 to go on, 1 to stop after a recorded error, or AL_ENOMEM. */
static int
on_event(struct builder *b, const yaml_event_t *ev)
{
	struct pnode *n = NULL;
	int line = (int)ev->start_mark.line + 1;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++b->ndocs > 1) {
			pdiag_add(b->d, line, "only one YAML document is "
			    "allowed");
			return 1;
		}
		return 0;
	case YAML_ALIAS_EVENT:
		pdiag_add(b->d, line, "anchors and aliases are not allowed");
		if ((n = node_new(PN_SCALAR, ev)) == NULL ||
		    (n->str = strdup("")) == NULL) {
			ptree_free(n);
			return AL_ENOMEM;
		}
		return attach(b, n);
	case YAML_SCALAR_EVENT:
		check_props(b, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
		if ((n = node_new(PN_SCALAR, ev)) == NULL)
			return AL_ENOMEM;
		n->len = ev->data.scalar.length;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if ((n->str = malloc(n->len + 1)) == NULL) {
			ptree_free(n);
			return AL_ENOMEM;
		}
		memcpy(n->str, ev->data.scalar.value, n->len);
		n->str[n->len] = '\0';
		if (strlen(n->str) != n->len)
			pdiag_add(b->d, line, "NUL bytes are not allowed");
		return attach(b, n);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (ev->type == YAML_SEQUENCE_START_EVENT)
			check_props(b, ev, ev->data.sequence_start.anchor,
			    ev->data.sequence_start.tag);
		else
			check_props(b, ev, ev->data.mapping_start.anchor,
			    ev->data.mapping_start.tag);
		if (b->depth >= POLICY_DEPTH_MAX) {
			pdiag_add(b->d, line, "nesting deeper than %d levels",
			    POLICY_DEPTH_MAX);
			return 1;
		}
		if ((n = node_new(ev->type == YAML_SEQUENCE_START_EVENT ?
		    PN_SEQ : PN_MAP, ev)) == NULL)
			return AL_ENOMEM;
		b->stack[b->depth++] = n;
		return 0;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		assert(b->depth > 0);
		n = b->stack[--b->depth];
		return attach(b, n);
	default:
		return 0;
	}
}

int
ptree_parse(const char *text, size_t len, struct pnode **root,
    struct pdiags *d)
{
	struct builder b;
	yaml_parser_t parser;
	yaml_event_t ev;
	int rc = 0, done = 0;

	*root = NULL;
	memset(&b, 0, sizeof(b));
	b.d = d;
	if (!yaml_parser_initialize(&parser))
		return AL_ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text,
	    len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			if (parser.error == YAML_MEMORY_ERROR) {
				rc = AL_ENOMEM;
				break;
			}
			/* libyaml's problems are fixed phrases, never input. */
			if (parser.context != NULL &&
			    strstr(parser.context, "alias") != NULL)
				pdiag_add(d, (int)parser.problem_mark.line + 1,
				    "YAML syntax: a value starting with '*' is "
				    "an alias; quote patterns: \"*\"");
			else if (parser.context != NULL)
				pdiag_add(d, (int)parser.problem_mark.line + 1,
				    "YAML syntax: %s %s started on line %d",
				    parser.problem ? parser.problem :
				    "malformed document", parser.context,
				    (int)parser.context_mark.line + 1);
			else
				pdiag_add(d, (int)parser.problem_mark.line + 1,
				    "YAML syntax: %s", parser.problem ?
				    parser.problem : "malformed document");
			rc = 1;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = on_event(&b, &ev);
		yaml_event_delete(&ev);
		if (rc != 0)
			break;
	}
	yaml_parser_delete(&parser);
	/* Containers still open after an error belong to no parent yet. */
	while (b.depth > 0)
		ptree_free(b.stack[--b.depth]);
	if (d->nomem && rc >= 0)
		rc = AL_ENOMEM;
	if (rc != 0) {
		ptree_free(b.root);
		return rc;
	}
	*root = b.root;
	return 0;
}
