/*
 * The Aho-Corasick automaton over every pattern.
 *
 * Why not vectorscan, which the scanner uses: a stream must know, after each
 * byte, how many trailing bytes could still begin a pattern (that is what it
 * holds back), and the compiled tables spell the secret values, so they must
 * live in guarded memory that we wipe.  Vectorscan reports neither the depth
 * of its state nor lets its compiler's temporaries be kept out of the heap.
 * The automaton is small, so it is written here.
 *
 * States near the root, where nearly all the time is spent, get a full row
 * of transitions (one load per byte); deeper states keep only their
 * children and fall back along fail links, which is rare on real output and
 * keeps a 64 KiB PEM key from costing a full row per state.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "redact_int.h"

/* Bytes of full transition rows; states beyond it are sparse. */
#define RX_DENSE_BYTES	(6u * 1024 * 1024)

struct tnode {
	uint32_t	child;		/* first child, RX_NONE */
	uint32_t	sibling;
	uint32_t	fail;
	uint32_t	out;		/* first pattern ending here */
	uint32_t	rep;		/* value of the first pattern through */
	uint32_t	depth;
	uint32_t	id;		/* final state number */
	uint8_t		byte;
	uint8_t		ev;		/* a pattern ends here or at a suffix */
	uint8_t		trig;		/* RX_TRIG_* of this node */
	uint8_t		trig_any;	/* ... of it and its suffixes */
};

struct build {
	struct gvec	 nodes;		/* struct tnode */
	struct gvec	 order;		/* uint32_t node index, BFS order */
	uint32_t	 root_child[256];
};

#define NODE(b, i)	(((struct tnode *)(b)->nodes.p)[i])

static uint32_t
child_of(const struct build *b, uint32_t u, unsigned char c)
{
	uint32_t x;

	if (u == 0)
		return b->root_child[c];
	for (x = NODE(b, u).child; x != RX_NONE; x = NODE(b, x).sibling)
		if (NODE(b, x).byte == c)
			return x;
	return RX_NONE;
}

static int
node_new(struct build *b, uint32_t parent, unsigned char c, uint32_t value,
    uint32_t *out)
{
	struct tnode n;
	uint32_t id = (uint32_t)(b->nodes.len / sizeof(n));
	int rc;

	if (id >= RX_MAX_STATES)
		return AL_ETOOBIG;
	memset(&n, 0, sizeof(n));
	n.child = n.sibling = n.out = RX_NONE;
	n.rep = value;
	n.byte = c;
	if (id != 0) {
		n.depth = NODE(b, parent).depth + 1;
		n.sibling = NODE(b, parent).child;
	}
	if ((rc = gvec_append(&b->nodes, &n, sizeof(n))) != 0)
		return rc;
	if (id != 0) {
		NODE(b, parent).child = id;
		if (parent == 0)
			b->root_child[c] = id;
	}
	*out = id;
	return 0;
}

static int
child_get(struct build *b, uint32_t u, unsigned char c, uint32_t *out)
{
	uint32_t x = child_of(b, u, c);
	int rc;

	if (x == RX_NONE && (rc = node_new(b, u, c, 0, &x)) != 0)
		return rc;
	*out = x;
	return 0;
}

/*
 * Line-break triggers for the wrapped patterns (those a second automaton
 * matches across line breaks): a state tells the stream that a line break
 * may be crossed by one of them when the text before an LF (or CRLF) ends
 * with 3 or more of its first characters (RX_TRIG_LF, on the LF), or with
 * 1 or 2 of them and the 2 that follow come right after the break
 * (RX_TRIG_LF2, two bytes after the LF).  Every crossing starts one of
 * these ways, so the stream does nothing at other line breaks.
 */
static int
add_triggers(struct build *b, const unsigned char *arena,
    const struct rx_pat *pat)
{
	const unsigned char *p = arena + pat->off;
	uint32_t u = 0, x, y;
	size_t j, m, br, k;
	int rc;

	for (j = 0; j + 1 < pat->len && j < RX_TRIG_DEPTH; j++) {
		u = child_of(b, u, p[j]);
		if (j + 1 < 3)
			continue;
		if ((rc = child_get(b, u, '\n', &x)) != 0 ||
		    (rc = child_get(b, u, '\r', &y)) != 0 ||
		    (rc = child_get(b, y, '\n', &y)) != 0)
			return rc;
		NODE(b, x).trig |= RX_TRIG_LF;
		NODE(b, y).trig |= RX_TRIG_LF;
	}
	for (m = 1; m <= 2 && m + 2 <= pat->len; m++)
		for (br = 0; br < 2; br++) {
			u = 0;
			for (k = 0; k < m + 2 + 1 + br; k++) {
				unsigned char c = k < m ? p[k] :
				    k < m + br ? '\r' : k == m + br ? '\n' :
				    p[k - 1 - br];

				if ((rc = child_get(b, u, c, &u)) != 0)
					return rc;
			}
			NODE(b, u).trig |= RX_TRIG_LF2;
		}
	return 0;
}

/*
 * Insert every pattern; duplicates are marked, not inserted twice.  With
 * triggers, the line-break triggers of the wrapped patterns too.
 */
static int
build_trie(struct build *b, const unsigned char *arena, struct rx_pat *pat,
    size_t npat, int triggers)
{
	uint32_t u, x, last, i;
	size_t j, most = 1;
	int rc;

	/*
	 * At most a node per pattern byte (triggers add a few): taken at
	 * once, the guarded array is not copied and remapped as it grows.
	 */
	for (i = 0; i < npat && most < RX_MAX_STATES; i++)
		most += pat[i].len;
	if (most > RX_MAX_STATES)
		most = RX_MAX_STATES;
	if ((rc = gvec_reserve(&b->nodes, most * sizeof(struct tnode))) != 0)
		return rc;
	memset(b->root_child, 0xff, sizeof(b->root_child));
	if ((rc = node_new(b, 0, 0, 0, &u)) != 0)
		return rc;
	for (i = 0; i < npat; i++) {
		u = 0;
		for (j = 0; j < pat[i].len; j++) {
			x = child_of(b, u, arena[pat[i].off + j]);
			if (x == RX_NONE && (rc = node_new(b, u,
			    arena[pat[i].off + j], pat[i].value, &x)) != 0)
				return rc;
			u = x;
		}
		if (NODE(b, u).out == RX_NONE) {
			NODE(b, u).out = i;
			continue;
		}
		for (x = NODE(b, u).out; x != RX_NONE; x = pat[x].same) {
			last = x;
			if (pat[x].value == pat[i].value &&
			    pat[x].lead_mask == pat[i].lead_mask &&
			    pat[x].lead_val == pat[i].lead_val)
				break;
		}
		if (x != RX_NONE)
			pat[i].dup = 1;
		else
			pat[last].same = i;
	}
	for (i = 0; triggers && i < npat; i++)
		if (pat[i].wrap && (rc = add_triggers(b, arena, &pat[i])) != 0)
			return rc;
	return 0;
}

/* Breadth-first order, fail links and the output flags. */
static int
build_fail(struct build *b)
{
	uint32_t nn = (uint32_t)(b->nodes.len / sizeof(struct tnode));
	uint32_t *q, head, u, v, f, x;
	int rc;

	if ((rc = gvec_reserve(&b->order, (size_t)nn * sizeof(*q))) != 0)
		return rc;
	q = (uint32_t *)b->order.p;
	b->order.len = (size_t)nn * sizeof(*q);
	q[0] = 0;
	NODE(b, 0).fail = 0;
	for (head = 0, x = 1; head < x; head++) {
		u = q[head];
		for (v = NODE(b, u).child; v != RX_NONE; v = NODE(b, v).sibling) {
			q[x++] = v;
			if (u == 0) {
				NODE(b, v).fail = 0;
			} else {
				for (f = NODE(b, u).fail;; f = NODE(b, f).fail) {
					if ((NODE(b, v).fail = child_of(b, f,
					    NODE(b, v).byte)) != RX_NONE)
						break;
					if (f == 0) {
						NODE(b, v).fail = 0;
						break;
					}
				}
			}
			f = NODE(b, v).fail;
			NODE(b, v).trig_any = NODE(b, v).trig |
			    NODE(b, f).trig_any;
			NODE(b, v).ev = NODE(b, v).out != RX_NONE ||
			    NODE(b, v).trig_any != 0 || NODE(b, f).ev;
		}
	}
	return 0;
}

static size_t
align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

/* Carve the region and fill it from the trie. */
static int
build_tables(struct build *b, struct rx_ac **out)
{
	const uint32_t *q = (const uint32_t *)b->order.p;
	uint32_t nn = (uint32_t)(b->nodes.len / sizeof(struct tnode));
	uint32_t ndense, nhot = 0, nev = 0, nedge = 0, ncls = 1, i, id, c, v;
	uint16_t clsmap[256];
	unsigned char used[256];
	size_t off[12], size;
	unsigned char *base;
	struct rx_ac *ac;
	uint32_t *row;

	memset(used, 0, sizeof(used));
	for (i = 1; i < nn; i++)		/* patterns and triggers */
		used[NODE(b, i).byte] = 1;
	memset(clsmap, 0, sizeof(clsmap));
	for (c = 0; c < 256; c++)
		if (used[c]) {
			clsmap[c] = (uint16_t)ncls++;
		}
	ndense = (uint32_t)(RX_DENSE_BYTES / (ncls * sizeof(uint32_t)));
	if (ndense > nn)
		ndense = nn;
	for (i = 0; i < ndense; i++)
		if (!NODE(b, q[i]).ev)
			nhot++;
	for (i = ndense; i < nn; i++)
		for (v = NODE(b, q[i]).child; v != RX_NONE;
		    v = NODE(b, v).sibling)
			nedge++;
	/* Number the states: quiet dense, dense with output, sparse. */
	for (i = 0; i < ndense; i++)
		NODE(b, q[i]).id = NODE(b, q[i]).ev ? nhot + nev++ : i - nev;
	for (i = ndense; i < nn; i++)
		NODE(b, q[i]).id = i;

	off[0] = align64(sizeof(*ac));
	off[1] = off[0] + align64((size_t)ndense * ncls * 4);	/* dense */
	off[2] = off[1] + align64((size_t)nn * 4);		/* fail */
	off[3] = off[2] + align64((size_t)nn * 4);		/* depth */
	off[4] = off[3] + align64((size_t)nn * 4);		/* out */
	off[5] = off[4] + align64((size_t)nn * 4);		/* dict */
	off[6] = off[5] + align64((size_t)nn * 4);		/* rep */
	off[7] = off[6] + align64((size_t)(nn - ndense + 1) * 4); /* eoff */
	off[8] = off[7] + align64((size_t)nedge * 2);		/* ecls */
	off[9] = off[8] + align64((size_t)nedge * 4);		/* eto */
	size = off[9] + align64((size_t)nn);			/* trig */
	if ((base = sodium_malloc(size)) == NULL)
		return AL_ENOMEM;
	memset(base, 0, size);
	ac = (struct rx_ac *)base;
	ac->size = size;
	ac->nstate = nn;
	ac->ndense = ndense;
	ac->nhot = nhot;
	ac->ncls = ncls;
	ac->hot_limit = nhot * ncls;
	ac->dense_limit = ndense * ncls;
	ac->dense = (uint32_t *)(base + off[0]);
	ac->fail = (uint32_t *)(base + off[1]);
	ac->depth = (uint32_t *)(base + off[2]);
	ac->out = (uint32_t *)(base + off[3]);
	ac->dict = (uint32_t *)(base + off[4]);
	ac->rep = (uint32_t *)(base + off[5]);
	ac->eoff = (uint32_t *)(base + off[6]);
	ac->ecls = (uint16_t *)(base + off[7]);
	ac->eto = (uint32_t *)(base + off[8]);
	ac->trig = (uint8_t *)(base + off[9]);
	memcpy(ac->cls, clsmap, sizeof(clsmap));

	nedge = 0;
	for (i = 0; i < nn; i++) {
		const struct tnode *n = &NODE(b, q[i]);
		const struct tnode *fn = &NODE(b, n->fail);

		id = n->id;
		ac->fail[id] = fn->id;
		ac->depth[id] = n->depth;
		ac->out[id] = n->out;
		ac->rep[id] = n->rep;
		ac->trig[id] = n->trig_any;
		/* Output of the nearest proper suffix (q is BFS: done). */
		ac->dict[id] = q[i] == 0 ? RX_NONE : fn->out != RX_NONE ?
		    fn->id : ac->dict[fn->id];
		if (i < ndense) {
			row = ac->dense + (size_t)id * ncls;
			if (q[i] != 0)
				memcpy(row, ac->dense + (size_t)fn->id * ncls,
				    (size_t)ncls * 4);
			for (v = n->child; v != RX_NONE; v = NODE(b, v).sibling)
				row[clsmap[NODE(b, v).byte]] =
				    NODE(b, v).id * ncls;
		} else {
			ac->eoff[id - ndense] = nedge;
			for (v = n->child; v != RX_NONE;
			    v = NODE(b, v).sibling) {
				ac->ecls[nedge] = clsmap[NODE(b, v).byte];
				ac->eto[nedge++] = NODE(b, v).id;
			}
		}
	}
	ac->eoff[nn - ndense] = nedge;
	*out = ac;
	return 0;
}

static void
set_b64(struct rx_ac *ac, const struct rx_pat *pat, size_t npat)
{
	static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned int c, i;
	size_t p;

	memset(ac->b64val, 0xff, sizeof(ac->b64val));
	for (i = 0; i < 64; i++)
		ac->b64val[(unsigned char)std[i]] = (uint8_t)i;
	ac->b64val['-'] = 62;
	ac->b64val['_'] = 63;
	memset(ac->lead_ok, 0, sizeof(ac->lead_ok));
	for (p = 0; p < npat; p++) {
		if (pat[p].dup || pat[p].lead_mask == 0)
			continue;
		ac->has_lead = 1;
		for (c = 0; c < 256; c++)
			if (ac->b64val[c] != 0xff && (ac->b64val[c] &
			    pat[p].lead_mask) == pat[p].lead_val)
				ac->lead_ok[c] = 1;
	}
}

int
rx_ac_build(const struct redact *r, struct gvec *pats, int triggers,
    struct rx_ac **out, struct al_err *err)
{
	struct build b;
	struct rx_pat *pat = (struct rx_pat *)pats->p;
	size_t npat = pats->len / sizeof(*pat), i;
	struct rx_ac *ac = NULL;
	int rc;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	if ((rc = build_trie(&b, r->arena.p, pat, npat, triggers)) != 0 ||
	    (rc = build_fail(&b)) != 0 ||
	    (rc = build_tables(&b, &ac)) != 0) {
		if (rc == AL_ETOOBIG)
			rc = al_err_set(err, rc, "the values to mask need more "
			    "than %u automaton states; mask fewer or shorter "
			    "values", RX_MAX_STATES);
		else
			rc = al_err_set(err, rc, "cannot build the redaction "
			    "automaton: %s", al_strerror(rc));
		goto out;
	}
	ac->pat = pat;
	for (i = 0; i < npat; i++) {
		if (pat[i].dup)
			continue;
		ac->npat++;
		if (pat[i].len > ac->maxlen)
			ac->maxlen = pat[i].len;
	}
	set_b64(ac, pat, npat);
	rx_skip_build(ac);
	(void)sodium_mprotect_readonly(ac);
	*out = ac;
	ac = NULL;
out:
	rx_ac_free(ac);
	gvec_release(&b.nodes);
	gvec_release(&b.order);
	return rc;
}

void
rx_ac_free(struct rx_ac *ac)
{
	if (ac == NULL)
		return;
	(void)sodium_mprotect_readwrite(ac);
	sodium_free(ac);
}

uint32_t
rx_ac_step(const struct rx_ac *ac, uint32_t id, uint16_t c)
{
	uint32_t e;

	for (;;) {
		if (id < ac->ndense)
			return ac->dense[(size_t)id * ac->ncls + c] / ac->ncls;
		for (e = ac->eoff[id - ac->ndense];
		    e < ac->eoff[id - ac->ndense + 1]; e++)
			if (ac->ecls[e] == c)
				return ac->eto[e];
		id = ac->fail[id];
	}
}
