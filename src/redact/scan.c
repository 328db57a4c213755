/*
 * The hot loop: the automaton over a chunk of output.
 *
 * A dense step is one dependent table load, so a single pass is bound by
 * load latency (about six cycles a byte).  Large chunks are therefore cut
 * into RX_LANES (eight) lanes run side by side, which the processor overlaps.  A
 * lane after the first starts from the root; its state equals the true one
 * from the first position where the true state's string lies wholly inside
 * the lane (its depth is at most the distance from the lane's start), so
 * the true state carried out of the previous lane is stepped only until
 * then, and the lane's own events before that point are replaced.  In most
 * text that takes no byte at all.
 */
#include <string.h>

#include "redact_int.h"

#define RX_LANE_MIN	4096	/* smallest lane worth interleaving */

struct lane {
	size_t		 i, end;
	uint32_t	 t;
	size_t		 nev;
	uint32_t	*ev;
};

static inline int
has_output(const struct rx_ac *ac, uint32_t t)
{
	uint32_t id;

	if (t < ac->hot_limit)
		return 0;
	if (t < ac->dense_limit)
		return 1;
	id = t / ac->ncls;
	return ac->out[id] != RX_NONE || ac->dict[id] != RX_NONE ||
	    ac->trig[id] != 0;
}

static inline uint32_t
step(const struct rx_ac *ac, uint32_t t, unsigned char c)
{
	if (t < ac->dense_limit)
		return ac->dense[t + ac->cls[c]];
	return rx_ac_step(ac, t / ac->ncls, ac->cls[c]) * ac->ncls;
}

/*
 * One lane over p[i..end): the plain loop.  0, or -1 when ev filled up
 * (then i and t stop just after the last recorded event).
 */
static int
scan_one(const struct rx_ac *ac, const unsigned char *p, struct lane *l,
    size_t cap)
{
	const uint32_t *dense = ac->dense;
	const uint16_t *cls = ac->cls;
	const uint32_t hot = ac->hot_limit, dlim = ac->dense_limit;
	uint32_t t = l->t;
	size_t i = l->i, end = l->end;
	int rc = 0;

	while (i < end) {
		if (t < dlim) {
			t = dense[t + cls[p[i++]]];
			while (t < hot && i < end)
				t = dense[t + cls[p[i++]]];
			if (t < hot)
				break;
		} else {
			t = step(ac, t, p[i++]);
			if (t < hot)
				continue;
		}
		if (has_output(ac, t)) {
			l->ev[2 * l->nev] = (uint32_t)i;
			l->ev[2 * l->nev + 1] = t / ac->ncls;
			if (++l->nev == cap && i < end) {
				rc = -1;	/* full: stop after this byte */
				break;
			}
		}
	}
	l->t = t;
	l->i = i;
	return rc;
}

static int
record(const struct rx_ac *ac, struct lane *l)
{
	if (!has_output(ac, l->t))
		return 0;
	if (l->nev == RX_EVMAX)
		return -1;
	l->ev[2 * l->nev] = (uint32_t)l->i;
	l->ev[2 * l->nev + 1] = l->t / ac->ncls;
	l->nev++;
	return 0;
}

/* All lanes together while each has bytes; -1 when events overflow. */
static int
interleave(const struct rx_ac *ac, const unsigned char *p, struct lane *L)
{
	const uint32_t *dense = ac->dense;
	const uint16_t *cls = ac->cls;
	const uint32_t hot = ac->hot_limit, dlim = ac->dense_limit;
	const unsigned char *p0, *p1, *p2, *p3, *p4, *p5, *p6, *p7;
	uint32_t t0, t1, t2, t3, t4, t5, t6, t7;
	size_t m, k, j;

	for (;;) {
		m = SIZE_MAX;
		for (j = 0; j < RX_LANES; j++) {
			if (L[j].t >= dlim)
				m = 0;	/* a sparse lane steps alone below */
			if (L[j].end - L[j].i < m)
				m = L[j].end - L[j].i;
		}
		if (m == 0) {
			for (j = 0; j < RX_LANES; j++) {
				while (L[j].t >= dlim && L[j].i < L[j].end) {
					L[j].t = step(ac, L[j].t, p[L[j].i++]);
					if (record(ac, &L[j]) != 0)
						return -1;
				}
			}
			for (j = 0; j < RX_LANES; j++)
				if (L[j].i == L[j].end)
					return 0;
			continue;
		}
		p0 = p + L[0].i;
		p1 = p + L[1].i;
		p2 = p + L[2].i;
		p3 = p + L[3].i;
		p4 = p + L[4].i;
		p5 = p + L[5].i;
		p6 = p + L[6].i;
		p7 = p + L[7].i;
		t0 = L[0].t;
		t1 = L[1].t;
		t2 = L[2].t;
		t3 = L[3].t;
		t4 = L[4].t;
		t5 = L[5].t;
		t6 = L[6].t;
		t7 = L[7].t;
		for (k = 0; k < m;) {
			t0 = dense[t0 + cls[p0[k]]];
			t1 = dense[t1 + cls[p1[k]]];
			t2 = dense[t2 + cls[p2[k]]];
			t3 = dense[t3 + cls[p3[k]]];
			t4 = dense[t4 + cls[p4[k]]];
			t5 = dense[t5 + cls[p5[k]]];
			t6 = dense[t6 + cls[p6[k]]];
			t7 = dense[t7 + cls[p7[k]]];
			k++;
			if ((t0 >= hot) | (t1 >= hot) | (t2 >= hot) |
			    (t3 >= hot) | (t4 >= hot) | (t5 >= hot) |
			    (t6 >= hot) | (t7 >= hot))
				break;
		}
		L[0].t = t0;
		L[1].t = t1;
		L[2].t = t2;
		L[3].t = t3;
		L[4].t = t4;
		L[5].t = t5;
		L[6].t = t6;
		L[7].t = t7;
		for (j = 0; j < RX_LANES; j++) {
			L[j].i += k;
			if (record(ac, &L[j]) != 0)
				return -1;
		}
	}
}

/*
 * Lanes over p[0..n); on success the merged events are in ev and *tp is
 * the final state.  -1 (nothing changed) when events overflow.
 */
static int
scan_lanes(const struct rx_ac *ac, uint32_t *tp, const unsigned char *p,
    size_t n, uint32_t *ev, size_t *nev, struct rx_lanes *lanes)
{
	struct lane L[RX_LANES], fix;
	size_t j, e, k = 0, b;
	uint32_t T;

	for (j = 0; j < RX_LANES; j++) {
		L[j].i = j * n / RX_LANES;
		L[j].end = (j + 1) * n / RX_LANES;
		L[j].t = j == 0 ? *tp : 0;
		L[j].nev = 0;
		L[j].ev = lanes->ev[j];
	}
	if (interleave(ac, p, L) != 0)
		return -1;
	for (j = 0; j < RX_LANES; j++)
		if (scan_one(ac, p, &L[j], RX_EVMAX) != 0)
			return -1;

	/* Lane 0 is exact; carry the true state into each next lane. */
	memcpy(ev, L[0].ev, 2 * L[0].nev * sizeof(*ev));
	k = L[0].nev;
	T = L[0].t;
	for (j = 1; j < RX_LANES; j++) {
		b = j * n / RX_LANES;
		fix.t = T;
		fix.i = b;
		fix.ev = ev;
		fix.nev = k;
		while (fix.i < L[j].end &&
		    ac->depth[fix.t / ac->ncls] > fix.i - b) {
			fix.t = step(ac, fix.t, p[fix.i++]);
			if (record(ac, &fix) != 0)
				return -1;
		}
		k = fix.nev;
		if (fix.i == L[j].end) {
			T = fix.t;	/* the whole lane was re-stepped */
			continue;
		}
		for (e = 0; e < L[j].nev; e++) {
			if (L[j].ev[2 * e] <= fix.i)
				continue;
			if (k == RX_EVMAX)
				return -1;
			ev[2 * k] = L[j].ev[2 * e];
			ev[2 * k + 1] = L[j].ev[2 * e + 1];
			k++;
		}
		T = L[j].t;
	}
	*tp = T;
	*nev = k;
	return 0;
}

size_t
rx_scan(const struct rx_ac *ac, uint32_t *tp, const unsigned char *p,
    size_t n, uint32_t *ev, size_t *nev, struct rx_lanes *lanes)
{
	struct lane l;

	if (n >= RX_LANES * RX_LANE_MIN &&
	    scan_lanes(ac, tp, p, n, ev, nev, lanes) == 0)
		return n;
	l.i = 0;
	l.end = n;
	l.t = *tp;
	l.nev = 0;
	l.ev = ev;
	(void)scan_one(ac, p, &l, RX_EVMAX);
	*tp = l.t;
	*nev = l.nev;
	return l.i;
}
