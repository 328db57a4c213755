/* Private declarations of the scan component. */
#ifndef AIRLOCK_SCAN_INT_H
#define AIRLOCK_SCAN_INT_H

#include <stddef.h>

#include <yaml.h>

#include "airlock/base.h"
#include "airlock/scan.h"

/* One string list (regexes, keywords, example texts). */
struct scan_strv {
	char	**v;
	size_t	  n;
};

struct scan_rule {
	struct scan_rule_info	 info;
	char			*id;
	char			*description;
	char			*regex;
	struct scan_strv	 keywords;	/* literal prefilter, if any */
	int			 keywords_cased; /* matched case-sensitively */
	struct scan_strv	 allow;		/* regexes on the secret */
	struct scan_strv	 paths;		/* rule applies to these paths */
	char			*requires;	/* regex the whole buffer needs */
	char			*example_path;
	struct scan_strv	 positive;
	struct scan_strv	 negative;
	double			 entropy;	/* minimum, bits per byte */
	int			 group;		/* -1: 1 if any group, else 0 */
	int			 multiline;
	int			 decode;	/* SCAN_DECODE_*: judge decoded */
	int			 enabled;
	int			 builtin;
	int			 line;		/* where it is defined */
};

struct scan_rules {
	struct scan_rule	*v;
	size_t			 n, cap;
	struct scan_strv	 allow;		/* global, on every secret */
};

struct scan_config {
	struct scan_rules	*rules;		/* added rules */
	struct scan_strv	 disable;
	struct scan_strv	 allow_paths;
	struct scan_strv	 allow_secrets;
	size_t			 max_file_size;
};

/*
 * The built-in rules as C data: rules/default.yaml is parsed at build time
 * by scan-rulegen (rulegen/rulegen.c) into rules_default.c, so no run
 * parses YAML for them.  Each string list is (pointer, count).
 */
struct scan_rule_def {
	const char		 *id, *description, *regex, *requires;
	const char		 *example_path;
	const char *const	 *keywords;
	const char *const	 *allow;
	const char *const	 *paths;
	const char *const	 *positive;
	const char *const	 *negative;
	size_t			  nkeywords, nallow, npaths, npositive,
				  nnegative;
	double			  entropy;
	int			  group, multiline, generic, severity,
				  category, line, decode, keywords_cased;
};

/*
 * How a rule's secret is judged: as matched, or decoded from base64 (a
 * Kubernetes Secret's data values), so that entropy and allowlists see the
 * value itself.
 */
#define SCAN_DECODE_NONE	0
#define SCAN_DECODE_BASE64	1

extern const struct scan_rule_def scan_builtin_defs[];
extern const size_t scan_builtin_ndefs;
extern const char *const scan_builtin_allow[];	/* the global allowlist */
extern const size_t scan_builtin_nallow;

/* ---- strv helpers (rules.c) ---- */
int	scan_strv_push(struct scan_strv *sv, const char *s) AL_WUR;
void	scan_strv_free(struct scan_strv *sv);
int	scan_strv_has(const struct scan_strv *sv, const char *s);

/* ---- YAML helpers (yamlutil.c) ---- */

/* A parsed YAML document and the name for errors. */
struct scan_yaml {
	yaml_document_t	 doc;
	const char	*name;
	int		 loaded;
	size_t		 budget;	/* node visits left (alias bombs) */
};

int	scan_yaml_load(struct scan_yaml *y, const char *text, size_t len,
	    const char *name, struct al_err *err) AL_WUR;
void	scan_yaml_release(struct scan_yaml *y);
yaml_node_t *scan_yaml_node(struct scan_yaml *y, int id);
int	scan_yaml_line(const yaml_node_t *n);
/* Error "name:line: what" at node n. */
int	scan_yaml_err(struct scan_yaml *y, const yaml_node_t *n,
	    struct al_err *err, const char *fmt, ...) AL_PRINTF(4, 5);
/* The scalar value of n, or an error naming field. */
int	scan_yaml_str(struct scan_yaml *y, yaml_node_t *n, const char *field,
	    const char **out, struct al_err *err) AL_WUR;
/* A scalar or a sequence of scalars appended to sv. */
int	scan_yaml_strv(struct scan_yaml *y, yaml_node_t *n, const char *field,
	    struct scan_strv *sv, struct al_err *err) AL_WUR;
int	scan_yaml_bool(struct scan_yaml *y, yaml_node_t *n, const char *field,
	    int *out, struct al_err *err) AL_WUR;
/* Size with an optional K/M/G suffix. */
int	scan_yaml_size(struct scan_yaml *y, yaml_node_t *n, const char *field,
	    size_t *out, struct al_err *err) AL_WUR;

/* Parse a sequence of rule mappings into r (rules.c). */
int	scan_rules_parse_seq(struct scan_yaml *y, yaml_node_t *seq,
	    struct scan_rules *r, int builtin, struct al_err *err) AL_WUR;
struct scan_rules *scan_rules_alloc(void);
/* Deep copy of s into d (d is overwritten).  AL_ENOMEM. */
int	scan_rule_copy(struct scan_rule *d, const struct scan_rule *s) AL_WUR;
void	scan_rule_release(struct scan_rule *r);

/* ---- engine internals (engine.c) ---- */

/* The engine's rule description by index, and rule examples for tests. */
const struct scan_rule *scan_engine_rule_def(const struct scan_engine *e,
	    size_t i);
/*
 * Check rule i's examples: each positive must yield a match of rule i,
 * no negative may.  AL_EINVAL naming the rule and the example.
 */
int	scan_engine_check_examples(const struct scan_engine *e,
	    struct scan_scratch *s, size_t i, struct al_err *err) AL_WUR;

/* The preview of a secret: at most 4 leading and 2 trailing bytes. */
void	scan_preview(const unsigned char *p, size_t n, int whole,
	    char *out, size_t outsz);

/* ---- git and files (source_*.c) ---- */

/* A child process with its stdout on a pipe (and stdin if asked). */
struct scan_child {
	int	pid;
	int	out_fd;		/* read its stdout */
	int	in_fd;		/* write its stdin, or -1 */
};

#define SCAN_CHILD_STDIN 0x1	/* a pipe to its stdin (else /dev/null) */
#define SCAN_CHILD_QUIET 0x2	/* its stderr to /dev/null */
int	scan_child_start(const char *dir, char *const argv[], int flags,
	    struct scan_child *c, struct al_err *err) AL_WUR;
/* Close the pipes, wait; AL_EIO naming argv[1] when it failed. */
int	scan_child_finish(struct scan_child *c, const char *what,
	    struct al_err *err) AL_WUR;
/*
 * Whether dir may be in a git work tree: some directory from it up to / has
 * a .git entry, or GIT_DIR / GIT_WORK_TREE is set.  When not, git would
 * only say so: asking it costs a process start for nothing.
 */
int	scan_git_maybe(const char *dir);
/* Run a git command and capture its stdout (at most max bytes). */
int	scan_git_capture(const char *dir, char *const argv[], int flags,
	    size_t max, struct al_buf *out, struct al_err *err) AL_WUR;

#endif
