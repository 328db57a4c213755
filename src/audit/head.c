/*
 * The head file next to the log: (seq, offset, mac) of the last line known
 * to be durable, so that cutting lines off the end of the log is noticed.
 *
 * Two slots of fixed size, each in its own 512-byte sector; a writer always
 * replaces the older slot, so a write torn by a crash spoils at most one
 * slot and the other still holds an earlier, valid head.  The head is
 * written after the log's fdatasync and is not synced itself: after a power
 * loss it may lag behind the log, never run ahead of it.  It is a lower
 * bound on the length of the log.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "audit_int.h"

#define HEAD_MAGIC	"airlock-audit-head 1 seq="
#define HEAD_MAGIC_LEN	25
/* magic seq(20) " off="(5) off(20) " mac="(5) mac(64) " tag="(5) tag(64) \n */
#define HEAD_TEXT_LEN	(HEAD_MAGIC_LEN + 20 + 5 + 20 + 5 + 64 + 5 + 64 + 1)
#define HEAD_TAGGED_LEN	(HEAD_MAGIC_LEN + 20 + 5 + 20 + 5 + 64)

static void
head_tag(const unsigned char *head_key, const char *text,
    unsigned char tag[32])
{
	crypto_auth_hmacsha256_state st;

	(void)crypto_auth_hmacsha256_init(&st, head_key, 32);
	(void)crypto_auth_hmacsha256_update(&st, (const unsigned char *)text,
	    HEAD_TAGGED_LEN);
	(void)crypto_auth_hmacsha256_final(&st, tag);
	sodium_memzero(&st, sizeof(st));
}

void
audit_head_format(char slot[HEAD_SLOT_LEN], const struct audit_head *h,
    const unsigned char *head_key)
{
	char mac[65], tag[65];
	unsigned char t[32];
	int n;

	memset(slot, 0, HEAD_SLOT_LEN);
	al_hex(h->mac, AUDIT_MAC_LEN, mac);
	n = snprintf(slot, HEAD_SLOT_LEN, "%s%020llu off=%020llu mac=%s tag=",
	    HEAD_MAGIC, (unsigned long long)h->seq,
	    (unsigned long long)h->off, mac);
	assert(n == HEAD_TAGGED_LEN + 5);
	head_tag(head_key, slot, t);
	al_hex(t, sizeof(t), tag);
	memcpy(slot + n, tag, 64);
	slot[n + 64] = '\n';
}

static int
parse_u64(const char *p, uint64_t *out)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 20; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return 0;
}

/* One slot: 1 valid (into h), 0 not. */
static int
slot_parse(const unsigned char *up, const unsigned char *head_key,
    struct audit_head *h)
{
	const char *p = (const char *)up;
	unsigned char want[32], got[32];
	size_t i;

	if (memcmp(p, HEAD_MAGIC, HEAD_MAGIC_LEN) != 0)
		return 0;
	p += HEAD_MAGIC_LEN;
	if (parse_u64(p, &h->seq) != 0 || memcmp(p + 20, " off=", 5) != 0 ||
	    parse_u64(p + 25, &h->off) != 0 ||
	    memcmp(p + 45, " mac=", 5) != 0 ||
	    audit_hex_decode(p + 50, 64, h->mac) != 0 ||
	    memcmp(p + 114, " tag=", 5) != 0 ||
	    audit_hex_decode(p + 119, 64, got) != 0 || p[183] != '\n')
		return 0;
	for (i = HEAD_TEXT_LEN; i < HEAD_SLOT_LEN; i++)
		if (up[i] != 0)
			return 0;
	head_tag(head_key, (const char *)up, want);
	if (sodium_memcmp(want, got, sizeof(want)) != 0)
		return 0;
	if (h->seq == 0 && h->off != 0)
		return 0;
	return 1;
}

int
audit_head_parse(const unsigned char *p, size_t n,
    const unsigned char *head_key, struct audit_head *out)
{
	struct audit_head a, b;
	int va = 0, vb = 0;

	memset(out, 0, sizeof(*out));
	if (n >= HEAD_SLOT_LEN)
		va = slot_parse(p, head_key, &a);
	if (n >= HEAD_SLOT_OFF1 + HEAD_SLOT_LEN)
		vb = slot_parse(p + HEAD_SLOT_OFF1, head_key, &b);
	if (va && (!vb || a.seq >= b.seq))
		*out = a;
	else if (vb)
		*out = b;
	return va || vb;
}

int
audit_head_read(int hfd, unsigned char buf[HEAD_FILE_LEN], size_t *n,
    struct al_err *err)
{
	ssize_t r;
	size_t got = 0;

	*n = 0;
	while (got < HEAD_FILE_LEN) {
		r = pread(hfd, buf + got, HEAD_FILE_LEN - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return al_err_set(err, AL_ESYS, "cannot read the audit "
			    "head: %s", strerror(errno));
		if (r == 0)
			break;
		got += (size_t)r;
	}
	*n = got;
	return 0;
}

int
audit_head_store(int hfd, const char slot[HEAD_SLOT_LEN], uint64_t seq,
    const unsigned char *head_key, struct al_err *err)
{
	unsigned char buf[HEAD_FILE_LEN];
	struct audit_head a, b;
	size_t n;
	off_t where;
	ssize_t w;
	int va = 0, vb = 0, rc;

	if ((rc = audit_head_read(hfd, buf, &n, err)) != 0)
		return rc;
	if (n >= HEAD_SLOT_LEN)
		va = slot_parse(buf, head_key, &a);
	if (n >= HEAD_FILE_LEN)
		vb = slot_parse(buf + HEAD_SLOT_OFF1, head_key, &b);
	if ((va && a.seq >= seq) || (vb && b.seq >= seq))
		return 0;	/* another writer got further already */
	/* Replace an invalid slot first, else the older one. */
	if (!va)
		where = 0;
	else if (!vb)
		where = HEAD_SLOT_OFF1;
	else
		where = a.seq <= b.seq ? 0 : HEAD_SLOT_OFF1;
	if (where == HEAD_SLOT_OFF1 && n < HEAD_SLOT_OFF1) {
		/* Fill the gap so the second slot sits in its own sector. */
		static const char zero[HEAD_SLOT_OFF1];

		if (pwrite(hfd, zero + n, HEAD_SLOT_OFF1 - n, (off_t)n) !=
		    (ssize_t)(HEAD_SLOT_OFF1 - n))
			return al_err_set(err, AL_EIO, "cannot write the audit "
			    "head: %s", strerror(errno));
	}
	do
		w = pwrite(hfd, slot, HEAD_SLOT_LEN, where);
	while (w < 0 && errno == EINTR);
	if (w != HEAD_SLOT_LEN)
		return al_err_set(err, AL_EIO, "cannot write the audit head: %s",
		    w < 0 ? strerror(errno) : "short write");
	return 0;
}
