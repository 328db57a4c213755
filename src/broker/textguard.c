/*
 * Values in free text.  A task, an intent, a reason or an exposure's where
 * is written into the audit log, the lease table or the vault's labels for
 * good; an agent told to (or mistaken) can type a secret's value into one.
 * The client refuses text that looks like a token; only the broker knows
 * the values, so only it can refuse a plain one ("hunter22").
 *
 * It keeps, per process, a keyed 64-bit hash (SipHash-2-4, crypto_shorthash,
 * under a key drawn at start) of every value in the vault, grouped by
 * length, and tests each window of a text of those lengths against them: a
 * text is at most API_TEXT_MAX bytes, and a bitmap of the values' first
 * four bytes (hashed) skips almost every window.  The values are read
 * into guarded memory only while the set is built and wiped at once; the
 * set holds hashes only.  It is rebuilt when vault.db or its WAL changed
 * (the CLI writes the vault itself), and, as git does for a racily clean
 * index, whenever it was built within a second of such a change, which a
 * file's coarse timestamp might not show.
 *
 * An answer tells the caller whether its text held some value, which
 * would let it test guesses at a plain password: a refusal says a guess
 * was right, and a text that passes says that every window of it was
 * wrong, at no cost.  So each uid may have TG_BYTES_FREE bytes of new text
 * checked a minute (a text it sent in that minute, which passed, is
 * checked again at no cost: callers repeat their task and intent), and a
 * uid whose texts were refused TG_REFUSALS_FREE times in a minute has
 * every free text refused unchecked (429) for the rest of that minute, as
 * has one whose new text would go past its bytes.  The uids that have no
 * account (those a user namespace maps a user's subordinate ids to: tens
 * of thousands each, where newuidmap is installed) count as one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "airlock/identity.h"
#include "airlock/redact.h"
#include "broker_int.h"

#define TG_RACY_NS	1000000000LL	/* a change this recent: look again */
#define TG_HEAD_BITS	18		/* 32 KiB: a window's first 4 bytes */
#define TG_REFUSALS_FREE 10		/* refusals of one uid a window */
#define TG_WINDOW_MS	60000
#define TG_UIDS		32		/* uids whose refusals are counted */
#define TG_BYTES_FREE	16384		/* new text checked, a uid a window */
#define TG_SEEN		32		/* texts a uid sent that passed */
#define TG_UNNAMED	((uid_t)-1)	/* every uid with no account */

struct tg_entry {
	uint64_t	h;
	uint32_t	len;
	uint32_t	name;
};

struct textguard {
	unsigned char	*key;		/* guarded, read-only */
	char		 path[2][PATH_MAX];	/* vault.db, vault.db-wal */
	struct al_file_stamp	 stamp[2];	/* as the set was built from */
	int		 trusted;	/* the set matches the stamps */
	int		 failed;	/* the last build failed: why */
	char		 error[AL_ERR_MSG_MAX];
	uint64_t	 seen_request;	/* stamps checked for this request */
	char		(*names)[VAULT_NAME_MAX + 1];
	struct tg_entry	*v;		/* by length (longest first), hash */
	size_t		 n;
	struct tg_group {
		uint32_t len;
		size_t	 lo, hi;	/* its entries: v[lo..hi) */
	}		*groups;	/* one per length, longest first */
	size_t		 ngroups;
	struct tg_uid {
		uid_t	 uid;
		unsigned n;		/* refusals since since_ms */
		size_t	 bytes;		/* new text checked since then */
		uint64_t seen[TG_SEEN];	/* hashes of texts that passed */
		size_t	 nseen;
		int64_t	 since_ms;
	}		 uids[TG_UIDS];
	size_t		 nuids;
	uint32_t	 mul;		/* odd, random: hashes a head */
	uint64_t	 heads[(1u << TG_HEAD_BITS) / 64];
};

_Static_assert(REDACT_VALUE_MIN >= 4, "a value's head is 4 bytes");

/* Which bit of heads stands for the 4 bytes at p. */
static uint32_t
head_bit(const struct textguard *g, const unsigned char *p)
{
	uint32_t w;

	memcpy(&w, p, sizeof(w));
	return (w * g->mul) >> (32 - TG_HEAD_BITS);
}

void
textguard_free(struct textguard *g)
{
	if (g == NULL)
		return;
	sodium_free(g->key);
	free(g->names);
	free(g->v);
	free(g->groups);
	sodium_memzero(g, sizeof(*g));
	free(g);
}

static struct textguard *
textguard_new(const struct broker *b)
{
	struct textguard *g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	if ((g->key = sodium_malloc(crypto_shorthash_KEYBYTES)) == NULL ||
	    snprintf(g->path[0], PATH_MAX, "%s/%s", b->home, VAULT_DB_FILE) >=
	    PATH_MAX || snprintf(g->path[1], PATH_MAX, "%s/%s-wal", b->home,
	    VAULT_DB_FILE) >= PATH_MAX) {
		textguard_free(g);
		return NULL;
	}
	crypto_shorthash_keygen(g->key);
	g->mul = randombytes_random() | 1;
	/* Read on every check: toggling its protection would cost more. */
	(void)sodium_mprotect_readonly(g->key);
	return g;
}

/* Whether st changed less than TG_RACY_NS before now_ms. */
static int
stamp_racy(const struct al_file_stamp *st, int64_t now_ms)
{
	long long n = (long long)now_ms * 1000000LL;
	long long m = (long long)st->mtime.tv_sec * 1000000000LL +
	    st->mtime.tv_nsec;
	long long c = (long long)st->ctime.tv_sec * 1000000000LL +
	    st->ctime.tv_nsec;

	return st->present && (n - m < TG_RACY_NS || n - c < TG_RACY_NS);
}

static uint64_t
hash(const struct textguard *g, const void *p, size_t n)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t h;

	(void)crypto_shorthash(out, p, n, g->key);
	memcpy(&h, out, sizeof(h));
	return h;
}

static int
entry_cmp(const void *x, const void *y)
{
	const struct tg_entry *a = x, *b = y;

	if (a->len != b->len)
		return a->len > b->len ? -1 : 1;
	return a->h < b->h ? -1 : a->h > b->h;
}

/* Empty g's set. */
static void
set_clear(struct textguard *g)
{
	free(g->names);
	free(g->v);
	free(g->groups);
	g->names = NULL;
	g->v = NULL;
	g->groups = NULL;
	g->n = g->ngroups = 0;
}

/* (Re)build g's set from the vault; on failure g holds no set. */
static int
build(struct broker *b, struct textguard *g, struct al_err *err)
{
	struct vault_meta *list = NULL;
	struct al_secret *val = NULL;
	const unsigned char *p;
	size_t n = 0, i, len;
	int rc;

	set_clear(g);
	memset(g->heads, 0, sizeof(g->heads));
	if ((rc = vault_secret_list(b->vault, &list, &n, err)) != 0)
		goto out;
	if (n > 0 && ((g->names = calloc(n, sizeof(*g->names))) == NULL ||
	    (g->v = calloc(n, sizeof(*g->v))) == NULL ||
	    (g->groups = calloc(n, sizeof(*g->groups))) == NULL)) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		/* Unreadable by anyone through airlock: nothing to hash. */
		if (list[i].corrupt)
			continue;
		rc = vault_secret_read(b->vault, list[i].name, &val, NULL, err);
		if (rc == AL_ECRYPTO) {
			/*
			 * Tampered with or corrupted: no one can have its
			 * value through airlock, and leaving it out keeps one
			 * broken record from refusing every text.
			 */
			broker_log(b, "free text is not checked for the value "
			    "of secret %s: it cannot be decrypted",
			    list[i].name);
			continue;
		}
		if (rc != 0)
			goto out;
		/* As the redactor: shorter is ordinary text. */
		if ((len = al_secret_len(val)) >= REDACT_VALUE_MIN) {
			p = al_secret_open(val);
			g->v[g->n].h = hash(g, p, len);
			g->v[g->n].len = (uint32_t)len;
			g->v[g->n].name = (uint32_t)i;
			g->heads[head_bit(g, p) / 64] |=
			    1ULL << (head_bit(g, p) % 64);
			al_secret_close(val);
			g->n++;
		}
		(void)snprintf(g->names[i], sizeof(g->names[i]), "%s",
		    list[i].name);
		al_secret_free(val);
		val = NULL;
	}
	qsort(g->v, g->n, sizeof(*g->v), entry_cmp);
	for (i = 0; i < g->n; i++) {
		if (i == 0 || g->v[i].len != g->v[i - 1].len) {
			g->groups[g->ngroups].len = g->v[i].len;
			g->groups[g->ngroups].lo = i;
			g->ngroups++;
		}
		g->groups[g->ngroups - 1].hi = i + 1;
	}
	rc = 0;
out:
	al_secret_free(val);
	vault_meta_list_free(list, n);
	if (rc != 0)
		set_clear(g);
	return rc;
}

/* g's set as the vault is now: 0, or why it cannot be had. */
static int
ready(struct broker *b, struct textguard *g, struct al_err *err)
{
	struct al_file_stamp now[2];
	int64_t t;

	/* One look at the files per request, however many fields it has. */
	if (g->trusted && g->seen_request == b->metrics.requests)
		return 0;
	g->seen_request = b->metrics.requests;
	al_file_stamp_take(g->path[0], &now[0]);
	al_file_stamp_take(g->path[1], &now[1]);
	if (g->trusted && al_file_stamp_same(&now[0], &g->stamp[0]) &&
	    al_file_stamp_same(&now[1], &g->stamp[1]))
		return 0;
	/* Stamped before reading: a change while reading shows next time. */
	g->trusted = 0;
	g->stamp[0] = now[0];
	g->stamp[1] = now[1];
	if (build(b, g, err) != 0) {
		if (!g->failed)
			broker_log(b, "cannot read the vault's values to check "
			    "free text: %s", err->msg);
		g->failed = 1;
		return err->code != 0 ? err->code : AL_EIO;
	}
	g->failed = 0;
	t = b->clock->now_ms(b->clock->arg);
	g->trusted = !stamp_racy(&now[0], t) && !stamp_racy(&now[1], t);
	return 0;
}

static int
has_hash(const struct textguard *g, size_t lo, size_t hi, uint64_t h,
    uint32_t *name)
{
	size_t m;

	while (lo < hi) {
		m = lo + (hi - lo) / 2;
		if (g->v[m].h == h) {
			*name = g->v[m].name;
			return 1;
		}
		if (g->v[m].h < h)
			lo = m + 1;
		else
			hi = m;
	}
	return 0;
}

/*
 * The first value of the vault whole in t[from..n), the longest where
 * several start at one place: *at, *len, *name.  1 found, 0 not.
 */
static int
find(const struct textguard *g, const unsigned char *t, size_t n, size_t from,
    size_t *at, size_t *len, uint32_t *name)
{
	const struct tg_group *gr;
	uint32_t bit;
	size_t i, k;

	for (i = from; i + REDACT_VALUE_MIN <= n; i++) {
		bit = head_bit(g, t + i);
		if (!(g->heads[bit / 64] & (1ULL << (bit % 64))))
			continue;
		for (k = 0; k < g->ngroups; k++) {
			gr = &g->groups[k];
			if (i + gr->len <= n && has_hash(g, gr->lo, gr->hi,
			    hash(g, t + i, gr->len), name)) {
				*at = i;
				*len = gr->len;
				return 1;
			}
		}
	}
	return 0;
}

/* uid's refusal count (a new one replaces the stalest), current at now. */
static struct tg_uid *
uid_slot(struct textguard *g, uid_t uid, int64_t now, int add)
{
	struct tg_uid *u = NULL;
	size_t i;

	for (i = 0; i < g->nuids; i++)
		if (g->uids[i].uid == uid)
			u = &g->uids[i];
	if (u == NULL && !add)
		return NULL;
	if (u == NULL && g->nuids < TG_UIDS)
		u = &g->uids[g->nuids++];
	else if (u == NULL) {
		u = &g->uids[0];
		for (i = 1; i < TG_UIDS; i++)
			if (g->uids[i].since_ms < u->since_ms)
				u = &g->uids[i];
	}
	if (u->uid != uid || now - u->since_ms >= TG_WINDOW_MS) {
		u->uid = uid;
		u->n = 0;
		u->bytes = 0;
		u->nseen = 0;
		u->since_ms = now;
	}
	return u;
}

/* Whose limits c's texts count against. */
static uid_t
limited_uid(const struct broker_caller *c)
{
	return c->ident != NULL && c->ident->user == NULL ? TG_UNNAMED :
	    c->uid;
}

static struct textguard *
guard_of(struct broker *b)
{
	if (b->textguard == NULL)
		b->textguard = textguard_new(b);
	return b->textguard;
}

int
text_guard(struct route_args *a, const char *field, const char *text)
{
	struct broker *b = a->b;
	struct textguard *g;
	struct al_err err;
	json_t *who = NULL, *detail = NULL;
	char msg[256], reason[256];
	struct tg_uid *u;
	int64_t now = b->clock->now_ms(b->clock->arg);
	size_t at, len, tlen, i;
	uint64_t th = 0;
	uint32_t name;
	int rc, seen = 0;

	if (text == NULL || text[0] == '\0')
		return 0;
	al_err_clear(&err);
	tlen = strlen(text);
	u = NULL;
	if ((g = guard_of(b)) != NULL) {
		u = uid_slot(g, limited_uid(a->req->caller), now, 1);
		th = hash(g, text, tlen);
		for (i = 0; i < u->nseen && i < TG_SEEN && !seen; i++)
			seen = u->seen[i] == th;
	}
	if (u != NULL && (u->n >= TG_REFUSALS_FREE ||
	    (!seen && tlen > TG_BYTES_FREE - u->bytes))) {
		(void)snprintf(msg, sizeof(msg), "'%s' was not checked or "
		    "recorded: %s; free text is refused for %lld more seconds",
		    field, u->n >= TG_REFUSALS_FREE ? "too many texts from "
		    "this user held a secret's value" : "this user sent more "
		    "new free text this minute than is checked",
		    (long long)(u->since_ms + TG_WINDOW_MS - now + 999) / 1000);
		reply_error(a->resp, 429, API_E_RATE, msg);
		return -1;
	}
	/* Charged before the check: an answer is what a guess buys. */
	if (u != NULL && !seen)
		u->bytes += tlen;
	if (g == NULL)
		rc = al_err_set(&err, AL_ENOMEM, "out of memory");
	else
		rc = ready(b, g, &err);
	if (rc != 0) {
		/* Never written unchecked. */
		(void)snprintf(msg, sizeof(msg), "'%s' could not be checked "
		    "for secret values (the vault's values cannot be read), "
		    "so it was not recorded: try again, or send the request "
		    "without it", field);
		reply_error(a->resp, 503, API_E_UNAVAILABLE, msg);
		return -1;
	}
	if (!find(g, (const unsigned char *)text, tlen, 0, &at, &len, &name)) {
		/* Sent again, it is checked again at no cost. */
		if (u != NULL && !seen)
			u->seen[u->nseen++ % TG_SEEN] = th;
		return 0;
	}
	/* The secret is named to the auditor, never to the caller. */
	(void)snprintf(reason, sizeof(reason), "'%s' held the value of secret "
	    "'%s': the request was refused and the text withheld", field,
	    g->names[name]);
	if ((u = uid_slot(g, limited_uid(a->req->caller), now, 1)) != NULL)
		u->n++;
	who = caller_json(a->req->caller);
	detail = json_pack("{s:s}", "field", field);
	b->metrics.denials++;
	if (record(b, "deny", "denied", who, g->names[name], NULL, NULL, NULL,
	    reason, NULL, detail, &err) != 0) {
		reply_al_err(a->resp, &err);
	} else {
		(void)snprintf(msg, sizeof(msg), "'%s' holds the value of a "
		    "secret, so the request was refused and the text was not "
		    "recorded: describe the work in words, never with a "
		    "secret's value", field);
		reply_error(a->resp, 400, API_E_BAD_REQUEST, msg);
		a->resp->need_sync = 1;
	}
	json_decref(detail);
	json_decref(who);
	return -1;
}

int
text_withhold(struct broker *b, const char *text,
    char out[API_TEXT_MAX + 1])
{
	static const char mask[] = BROKER_TEXT_WITHHELD;
	struct textguard *g;
	struct al_err err;
	size_t n, from = 0, at, len, o = 0;
	uint32_t name;
	int held = 0;

	n = strlen(text);
	if (n > API_TEXT_MAX || (g = guard_of(b)) == NULL ||
	    ready(b, g, &err) != 0) {
		(void)snprintf(out, API_TEXT_MAX + 1, "%s", mask);
		return 1;
	}
	while (find(g, (const unsigned char *)text, n, from, &at, &len,
	    &name)) {
		/* Masks can outgrow short values: past the limit, all. */
		if (o + (at - from) + sizeof(mask) - 1 > API_TEXT_MAX) {
			(void)snprintf(out, API_TEXT_MAX + 1, "%s", mask);
			return 1;
		}
		memcpy(out + o, text + from, at - from);
		o += at - from;
		memcpy(out + o, mask, sizeof(mask) - 1);
		o += sizeof(mask) - 1;
		from = at + len;
		held = 1;
	}
	if (o + (n - from) > API_TEXT_MAX) {
		(void)snprintf(out, API_TEXT_MAX + 1, "%s", mask);
		return 1;
	}
	memcpy(out + o, text + from, n - from);
	out[o + n - from] = '\0';
	return held;
}
