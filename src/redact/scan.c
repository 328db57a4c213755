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
 *
 * Before that, where the processor has AVX2, a filter skips the bytes no
 * match can start at (most bytes of most output, which holds no value):
 * while the automaton is at its root, 32 positions at a time are tested
 * for a pair of bytes that begins a path of the automaton (its states of
 * depth two); the automaton steps only from such a pair on, until it is
 * back at the root.  That gives the same states and events as stepping
 * every byte: at the root no string of the automaton began earlier, and a
 * byte that is not followed by a pair's second byte only ever leads back
 * to where the root would go with the next byte.  Output where the filter
 * stops often (text made of the values' own characters) goes to the lanes.
 */
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define RX_HAVE_SKIP	1
#endif

#include "redact_int.h"

#define RX_LANE_MIN	4096	/* smallest lane worth interleaving */
#define RX_SKIP_MIN	256	/* smallest scan worth the filter */

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

/* Whether the pair p[0], p[1] passes the skip filter. */
static inline int
skip_pass(const struct rx_ac *ac, const unsigned char *p)
{
	return (ac->skip_tab[0][p[0] & 15] & ac->skip_tab[1][p[0] >> 4] &
	    ac->skip_tab[2][p[1] & 15] & ac->skip_tab[3][p[1] >> 4]) != 0;
}

void
rx_skip_build(struct rx_ac *ac)
{
	uint8_t tab[4][16];
	uint32_t a, b, t1, t2, x, pass = 0, group = 0, bit;
	int any;

	ac->skip = 0;
#ifdef RX_HAVE_SKIP
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2"))
		return;
#else
	return;
#endif
	/* The root and every state of one byte must be quiet. */
	if (ac->hot_limit == 0)
		return;
	memset(tab, 0, sizeof(tab));
	for (a = 0; a < 256; a++) {
		t1 = step(ac, 0, (unsigned char)a);
		if (t1 == 0)
			continue;
		if (t1 >= ac->hot_limit)
			return;
		bit = 1u << (group % 8);
		any = 0;
		for (b = 0; b < 256; b++) {
			t2 = step(ac, t1, (unsigned char)b);
			if (ac->depth[t2 / ac->ncls] != 2)
				continue;
			tab[2][b & 15] |= (uint8_t)bit;
			tab[3][b >> 4] |= (uint8_t)bit;
			any = 1;
		}
		if (!any)
			continue;	/* a string of one byte only */
		tab[0][a & 15] |= (uint8_t)bit;
		tab[1][a >> 4] |= (uint8_t)bit;
		group++;
	}
	memcpy(ac->skip_tab, tab, sizeof(tab));
	for (x = 0; x < 65536; x++) {
		unsigned char pr[2] = { (unsigned char)x,
		    (unsigned char)(x >> 8) };

		pass += (uint32_t)skip_pass(ac, pr);
	}
	ac->skip = pass <= 65536 / 256;
}

#ifdef RX_HAVE_SKIP
/*
 * The first i <= j < end - 1 whose pair p[j], p[j + 1] passes the filter;
 * else end - 1 (the last byte, whose pair is not known yet), or i.
 */
__attribute__((target("avx2")))
static size_t
skip_to(const struct rx_ac *ac, const unsigned char *p, size_t i,
    size_t end)
{
	const __m256i nib = _mm256_set1_epi8(0x0f), zero =
	    _mm256_setzero_si256();
	const __m256i t0 = _mm256_broadcastsi128_si256(_mm_loadu_si128(
	    (const __m128i *)(const void *)ac->skip_tab[0]));
	const __m256i t1 = _mm256_broadcastsi128_si256(_mm_loadu_si128(
	    (const __m128i *)(const void *)ac->skip_tab[1]));
	const __m256i t2 = _mm256_broadcastsi128_si256(_mm_loadu_si128(
	    (const __m128i *)(const void *)ac->skip_tab[2]));
	const __m256i t3 = _mm256_broadcastsi128_si256(_mm_loadu_si128(
	    (const __m128i *)(const void *)ac->skip_tab[3]));
	__m256i a, b, m;
	uint32_t hit;

	while (end - i >= 33) {
		a = _mm256_loadu_si256((const __m256i *)(const void *)(p + i));
		b = _mm256_loadu_si256((const __m256i *)(const void *)
		    (p + i + 1));
		m = _mm256_and_si256(
		    _mm256_shuffle_epi8(t0, _mm256_and_si256(a, nib)),
		    _mm256_shuffle_epi8(t1, _mm256_and_si256(
		    _mm256_srli_epi16(a, 4), nib)));
		m = _mm256_and_si256(m, _mm256_and_si256(
		    _mm256_shuffle_epi8(t2, _mm256_and_si256(b, nib)),
		    _mm256_shuffle_epi8(t3, _mm256_and_si256(
		    _mm256_srli_epi16(b, 4), nib))));
		hit = ~(uint32_t)_mm256_movemask_epi8(
		    _mm256_cmpeq_epi8(m, zero));
		if (hit != 0)
			return i + (size_t)__builtin_ctz(hit);
		i += 32;
	}
	for (; i + 1 < end; i++)
		if (skip_pass(ac, p + i))
			return i;
	return i;
}

/*
 * One lane with the filter.  0 when done, -1 when ev filled up (as
 * scan_one), 1 when the automaton has stepped more bytes than the filter
 * saves (then i and t are where it stopped, exact).
 */
static int
scan_skip(const struct rx_ac *ac, const unsigned char *p, struct lane *l,
    size_t cap)
{
	const uint32_t hot = ac->hot_limit;
	uint32_t t = l->t;
	size_t i = l->i, end = l->end, stepped = 0;
	size_t budget = (end - i) / 32 + 64;
	int rc = 0;

	while (i < end) {
		if (t == 0 && (i = skip_to(ac, p, i, end)) == end)
			break;
		t = step(ac, t, p[i++]);
		if (t >= hot && has_output(ac, t)) {
			l->ev[2 * l->nev] = (uint32_t)i;
			l->ev[2 * l->nev + 1] = t / ac->ncls;
			if (++l->nev == cap && i < end) {
				rc = -1;
				break;
			}
		}
		if (++stepped > budget && i < end) {
			rc = 1;
			break;
		}
	}
	l->t = t;
	l->i = i;
	return rc;
}
#endif

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
	size_t done = 0, j;

#ifdef RX_HAVE_SKIP
	if (ac->skip && n >= RX_SKIP_MIN) {
		int rc;

		l.i = 0;
		l.end = n;
		l.t = *tp;
		l.nev = 0;
		l.ev = ev;
		rc = scan_skip(ac, p, &l, RX_EVMAX);
		if (rc == 1 && l.nev > 0)	/* go on plain after events */
			(void)scan_one(ac, p, &l, RX_EVMAX);
		if (rc != 1 || l.nev > 0) {
			*tp = l.t;
			*nev = l.nev;
			return l.i;
		}
		done = l.i;	/* no event yet: the rest in lanes */
		*tp = l.t;
	}
#endif
	if (n - done >= RX_LANES * RX_LANE_MIN &&
	    scan_lanes(ac, tp, p + done, n - done, ev, nev, lanes) == 0) {
		for (j = 0; j < *nev; j++)
			ev[2 * j] += (uint32_t)done;
		return n;
	}
	l.i = done;
	l.end = n;
	l.t = *tp;
	l.nev = 0;
	l.ev = ev;
	(void)scan_one(ac, p, &l, RX_EVMAX);
	*tp = l.t;
	*nev = l.nev;
	return l.i;
}
