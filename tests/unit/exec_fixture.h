/*
 * Shared by the test_exec sources: a real streaming masking filter and a
 * fixture that runs one command through exec_run with random canaries,
 * capturing stdout and stderr in memfds.
 */
#ifndef EXEC_FIXTURE_H
#define EXEC_FIXTURE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "airlock/exec.h"

#define MASK	"[MASKED]"

struct mask {
	const char	*needle[2];
	size_t		 nneedle;
	unsigned char	 hold[256];
	size_t		 hlen;
	size_t		 writes;
};

extern const struct exec_filter_ops mask_ops;

struct t {
	struct exec_spec	 spec;
	struct exec_result	 res;
	struct al_err		 err;
	struct exec_var		 vars[2];
	struct al_secret	*sec[2];
	char			 canary[2][48];
	struct mask		 mo, me;
	int			 outfd, errfd;
	char			*out, *errs;
	size_t			 outn, errn;
	int			 rc;
};

/* exec_probe, next to the test binary (set by main). */
extern char probe[PATH_MAX];

#define SH(...) ((char *const[]){ "/bin/sh", "-c", __VA_ARGS__, NULL })
#define PROBE(...) ((char *const[]){ probe, __VA_ARGS__, NULL })

void	make_canary(char *out, size_t n);
void	t_init(struct t *t);
/* Inject canary i as name (EXEC_VAR_ENV or EXEC_VAR_FILE). */
void	t_var(struct t *t, const char *name, int i, enum exec_var_kind kind);
char	*slurp(int fd, size_t *n);
/* The canaries must appear nowhere in b. */
void	no_leak(const struct t *t, const char *b, size_t n);
void	t_run(struct t *t, char *const *argv);
void	t_free(struct t *t);
int64_t	mono_ns(void);

#endif
