/* Internals shared by the files of src/audit. */
#ifndef AIRLOCK_AUDIT_INT_H
#define AIRLOCK_AUDIT_INT_H

#include <stdint.h>

#include "airlock/audit.h"

#define AUDIT_MAC_LEN	32
/* A line ends with ,"mac":"<64 hex>"} before its newline. */
#define MAC_PREFIX	",\"mac\":\""
#define MAC_PREFIX_LEN	8
#define MAC_SUFFIX_LEN	(MAC_PREFIX_LEN + 64 + 2)

/*
 * The head file: two fixed slots so that a write torn by a crash spoils at
 * most one of them; readers take the valid slot with the higher seq.  Each
 * slot sits in its own 512-byte sector.
 */
#define HEAD_SLOT_LEN	256
#define HEAD_SLOT_OFF1	512
#define HEAD_FILE_LEN	(HEAD_SLOT_OFF1 + HEAD_SLOT_LEN)

/* Subkeys derived from the audit key (crypto_kdf, context "alaudit1"). */
struct audit_keys {
	unsigned char	chain[32];	/* line macs */
	unsigned char	head[32];	/* head slot tags */
	unsigned char	fp[32];		/* value fingerprints */
};

struct audit_head {
	uint64_t	seq;
	uint64_t	off;		/* offset of line seq (0 when seq 0) */
	unsigned char	mac[AUDIT_MAC_LEN];
};

/* What audit_line_check learns from a line. */
struct audit_line_info {
	uint64_t	seq;
	int64_t		time_ms;
	char		time[AUDIT_TIME_LEN];
	unsigned char	mac[AUDIT_MAC_LEN];
	int		recover;	/* event "recover" */
};

/* One line from a reader. */
struct audit_linev {
	const unsigned char	*p;
	size_t			 n;		/* without the newline */
	uint64_t		 off;		/* offset of its first byte */
	int			 complete;	/* ended with a newline */
	int			 toolong;	/* over AUDIT_LINE_MAX (p = NULL) */
};

/* Reads lines from a descriptor (pread, from an offset) or from memory. */
struct audit_lines {
	int			 fd;
	const unsigned char	*mem;
	size_t			 memlen;
	unsigned char		*buf;
	size_t			 start;
	size_t			 end;
	uint64_t		 bufoff;	/* file offset of buf[0] */
	uint64_t		 readoff;	/* next pread offset */
	int			 eof;
};

/* keys.c */
/* Derive the subkeys of key (AUDIT_KEY_LEN bytes) into new guarded memory. */
int	audit_keys_derive(struct al_secret *key, struct al_secret **out,
	    struct al_err *err);
/* HMAC-SHA-256 over prev || body, body being line[0..n-MAC_SUFFIX_LEN]"}". */
void	audit_line_mac(const unsigned char *chain_key,
	    const unsigned char prev[AUDIT_MAC_LEN], const unsigned char *line,
	    size_t n, unsigned char out[AUDIT_MAC_LEN]);
void	audit_fp_bytes(const unsigned char *fp_key, const void *p, size_t n,
	    char out[AUDIT_FP_HEX]);
int	audit_hex_decode(const char *hex, size_t n, unsigned char *out);

/* line.c */
/*
 * Build the line for ev at seq and now_ms, chained on prev, into b (reset
 * first), newline included; mac receives its mac.
 */
int	audit_line_build(struct al_buf *b, const struct audit_event *ev,
	    uint64_t seq, int64_t now_ms, const unsigned char *chain_key,
	    const unsigned char prev[AUDIT_MAC_LEN],
	    unsigned char mac[AUDIT_MAC_LEN], struct al_err *err);
/*
 * Check the shape of one line (no newline): mac suffix, JSON object,
 * members.  Returns AUDIT_INTACT or AUDIT_MALFORMED (with *pos the byte
 * offset of the fault).  *obj (may be NULL) receives the parsed object.
 */
enum audit_problem audit_line_check(const unsigned char *p, size_t n,
	    struct audit_line_info *li, json_t **obj, size_t *pos);

/* head.c */
void	audit_head_format(char slot[HEAD_SLOT_LEN], const struct audit_head *h,
	    const unsigned char *head_key);
/*
 * The valid slot with the higher seq in the head file content p[0..n).
 * Returns 1 when one was found, 0 when none.
 */
int	audit_head_parse(const unsigned char *p, size_t n,
	    const unsigned char *head_key, struct audit_head *out);
/* Read the head file; *n = 0 when it is empty. */
int	audit_head_read(int hfd, unsigned char buf[HEAD_FILE_LEN], size_t *n,
	    struct al_err *err);
/*
 * Store slot (for seq) over the older of the two slots, unless the head
 * already holds seq or more.  The caller holds the head's flock.
 */
int	audit_head_store(int hfd, const char slot[HEAD_SLOT_LEN], uint64_t seq,
	    const unsigned char *head_key, struct al_err *err);

/* lines.c */
void	audit_lines_init_fd(struct audit_lines *r, int fd, uint64_t off);
void	audit_lines_init_mem(struct audit_lines *r, const void *p, size_t n);
void	audit_lines_release(struct audit_lines *r);
/* 1: a line in *v; 0: end of input; < 0: error. */
int	audit_lines_next(struct audit_lines *r, struct audit_linev *v,
	    struct al_err *err);

/* verify.c, used by audit_open to check a head against the log. */
int	audit_verify_lines(struct audit_lines *r, const unsigned char *head,
	    size_t headn, int have_head, const unsigned char *keys,
	    struct audit_report *rep, struct al_err *err);

#endif
