/* Private to src/sweep. */
#ifndef AIRLOCK_SWEEP_INT_H
#define AIRLOCK_SWEEP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "airlock/redact.h"
#include "airlock/sweep.h"

/*
 * A streaming JSON validator (jsonv.c): feed a line in pieces, then ask
 * whether it was one valid JSON value.  It allocates nothing and keeps no
 * byte of its input (only its state), so it may see secret bytes.
 */
#define JV_DEPTH_MAX	1024

struct jv {
	int		 st;		/* state */
	int		 bad;
	int		 key;		/* the string being read is a key */
	int		 hex;		/* \u digits still expected */
	unsigned	 depth;
	unsigned char	 obj[JV_DEPTH_MAX / 8];	/* bit set: object level */
};

void	jv_reset(struct jv *v);
void	jv_feed(struct jv *v, const unsigned char *p, size_t n);
int	jv_valid(struct jv *v);		/* end of the line: valid? */

struct sweep {
	const struct redact	*r;
	int			 flags;
	struct sweep_hit	*hits;
	size_t			 nhits, caphits;
	struct sweep_problem	*probs;
	size_t			 nprobs, capprobs;
	char			**paths;	/* owned path strings */
	size_t			 npaths, cappaths;
	uint64_t		 files, bytes, fixed;
	void			(*on_searched)(void *arg, const char *path);
	void			*on_searched_arg;
};

/* Keep a copy of path for hits and problems; NULL when out of memory. */
const char *sweep_keep_path(struct sweep *s, const char *path);
int	sweep_problemf(struct sweep *s, const char *path, int error,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Search one regular file (problems recorded; errors stop the sweep). */
int	sweep_search_file(struct sweep *s, const char *path,
	    struct al_err *err) AL_WUR;
/* A mask a redaction stream reported: bytes [s, e), SWEEP_HIT_*, name. */
struct sweep_mark {
	uint64_t	s, e;
	int		kind;
	char		name[65];
};

/*
 * The masks of one pass, in stream order.  values_only: keep only the
 * vault values' masks.  oom: one was lost for lack of memory.
 */
struct sweep_marks {
	struct sweep_mark	*v;
	size_t			 n, cap;
	int			 values_only;
	int			 oom;
};

/*
 * One pass over fd through a new redaction stream of the sweep's values
 * (its masks appended to marks): each piece read into buf (bufsz bytes) is
 * handed to chunk(arg, rs, piece, n, offset of the piece), which feeds rs
 * (sweep_discard takes the stream's output), then the stream is finished.
 * *total: the bytes read.  A read error is recorded as a problem of label
 * and sets *unread (the pass stops there).  0, or an error in err: out of
 * memory, the redaction failed.
 */
int	sweep_pass(struct sweep *s, int fd, const char *label,
	    unsigned char *buf, size_t bufsz, struct sweep_marks *marks,
	    int (*chunk)(void *arg, struct redact_stream *rs,
	    const unsigned char *b, size_t n, uint64_t off), void *arg,
	    uint64_t *total, int *unread, struct al_err *err) AL_WUR;
/* A redaction stream's output, dropped: a sweep only counts the masks. */
int	sweep_discard(void *arg, const void *p, size_t n);
/* Append a hit (copied; path must come from sweep_keep_path). */
int	sweep_hit_add(struct sweep *s, const struct sweep_hit *h);

#endif
