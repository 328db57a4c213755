/*
 * airlock scan: find hardcoded secrets, and code that handles secrets
 * unsafely, in files, staged changes, git history and streams.
 *
 * Four layers, each usable alone:
 *
 *   rules    a rule set parsed from YAML: the built-in set (rules/default.yaml,
 *            compiled into the binary) plus what a .airlock.yaml adds or
 *            disables.
 *   engine   the rules compiled once: one vectorscan database finds
 *            candidates, PCRE2 (JIT) confirms each one and extracts the
 *            secret group, then entropy and allowlists decide.  An engine is
 *            immutable and shared by threads; each thread brings a scratch.
 *   run      sources (paths, stdin, staged changes, git ranges, the whole
 *            history) scanned on every core into a report of findings.
 *   report   text, JSON and SARIF 2.1.0 writers, and baselines.
 *
 * No finding, report or message ever holds a secret value: a finding keeps
 * a preview (at most the first 4 and the last 2 characters) and, when a
 * fingerprint key is given, a keyed hash.
 */
#ifndef AIRLOCK_SCAN_H
#define AIRLOCK_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "airlock/error.h"

enum scan_severity {
	SCAN_SEV_WARNING = 1,
	SCAN_SEV_ERROR = 2,
};

enum scan_category {
	SCAN_CAT_SECRET = 1,	/* a hardcoded credential */
	SCAN_CAT_UNSAFE = 2,	/* code that leaks or weakens a credential */
};

/* What a rule is, for reports.  Owned by the rule set. */
struct scan_rule_info {
	const char	*id;		/* "github-pat" */
	const char	*description;
	int		 severity;	/* enum scan_severity */
	int		 category;	/* enum scan_category */
	int		 generic;	/* a broad rule: yields to a specific one */
};

/* ---- rules ------------------------------------------------------------ */

struct scan_rules;

/* The built-in rule set (rules/default.yaml as compiled into the binary). */
int	scan_rules_builtin(struct scan_rules **out, struct al_err *err) AL_WUR;
/*
 * Parse a rule file (the format of rules/default.yaml and docs/rules.md)
 * from text.  name labels errors: "name:14: rule 'x': unknown key 'rgx'".
 * Regexes are only checked when an engine is built.
 */
int	scan_rules_parse(const char *text, size_t len, const char *name,
	    struct scan_rules **out, struct al_err *err) AL_WUR;
void	scan_rules_free(struct scan_rules *r);
/* Number of rules, disabled ones included; rule i's description. */
size_t	scan_rules_count(const struct scan_rules *r);
const struct scan_rule_info *scan_rules_info(const struct scan_rules *r,
	    size_t i);
/* Whether rule i is enabled (a config may disable it). */
int	scan_rules_enabled(const struct scan_rules *r, size_t i);
/*
 * Write the rule list as Markdown (docs/rules.md) or as a text table.
 */
int	scan_rules_write_markdown(const struct scan_rules *r, FILE *out) AL_WUR;
int	scan_rules_write_table(const struct scan_rules *r, FILE *out) AL_WUR;

/* ---- .airlock.yaml ---------------------------------------------------- */

/*
 * A repository's scan configuration:
 *
 *   rules:            # extra rules, in the rule-file format
 *     - id: acme-token
 *       regex: '\b(acme_[a-z0-9]{32})\b'
 *       examples: { positive: [...], negative: [...] }
 *   disable: [generic-password, unsafe-set-x]
 *   allow:
 *     paths: ['fixtures/secrets.txt', 'go.sum']  # fnmatch patterns
 *     secrets: ['^dev-only-']                  # regexes on the secret
 *   max_file_size: 4M
 */
struct scan_config;

/*
 * Parse a configuration; name labels errors with a line number
 * (".airlock.yaml:7: unknown key 'disabel'").  AL_EINVAL on bad input.
 */
int	scan_config_parse(const char *text, size_t len, const char *name,
	    struct scan_config **out, struct al_err *err) AL_WUR;
/*
 * Where a repository's configuration lives: .airlock.yaml at the root of
 * the git work tree holding dir, else in dir itself.  *out is malloc'd.
 */
int	scan_config_locate(const char *dir, char **out, struct al_err *err)
	    AL_WUR;
/* Read and parse path; AL_ENOENT (and *out NULL) when it does not exist. */
int	scan_config_load(const char *path, struct scan_config **out,
	    struct al_err *err) AL_WUR;
void	scan_config_free(struct scan_config *c);
/*
 * Apply c to r: disable rules (an unknown id is AL_EINVAL naming it), add
 * rules (a duplicate id is AL_EINVAL), add secret allowlist regexes.
 */
int	scan_rules_apply_config(struct scan_rules *r,
	    const struct scan_config *c, struct al_err *err) AL_WUR;
/* Whether path (relative to the repository root) is allowlisted by c. */
int	scan_config_path_allowed(const struct scan_config *c,
	    const char *path);
/* The configured maximum file size, or 0 when the config sets none. */
size_t	scan_config_max_file_size(const struct scan_config *c);

/* ---- engine ----------------------------------------------------------- */

struct scan_engine;
struct scan_scratch;

#define SCAN_ENGINE_SECRETS_ONLY 0x1	/* leave out the unsafe-code rules */

/*
 * Compile the enabled rules of r (r may be freed afterwards).  An invalid
 * regex is AL_EINVAL naming the rule.  Unless SCAN_ENGINE_NO_EXAMPLES is
 * given, rules that did not come from the built-in set have their
 * examples checked here, so a user rule that misses its own positive
 * example is refused at load.
 */
#define SCAN_ENGINE_NO_EXAMPLES 0x2
int	scan_engine_new(const struct scan_rules *r, int flags,
	    struct scan_engine **out, struct al_err *err) AL_WUR;
/*
 * As scan_engine_new, keeping the compiled database in cache_dir (a
 * directory owned by the user, mode 0700; see al_fs_mkdir_private) so the
 * next run with the same rules loads it instead of compiling (about 0.3 s
 * saved).  A missing, unsafe or stale cache is ignored.
 */
int	scan_engine_new_cached(const struct scan_rules *r, int flags,
	    const char *cache_dir, struct scan_engine **out,
	    struct al_err *err) AL_WUR;
/* The built-in rules compiled: the one call the redactor needs. */
int	scan_engine_new_builtin(int flags, struct scan_engine **out,
	    struct al_err *err) AL_WUR;
void	scan_engine_free(struct scan_engine *e);
/* Number of compiled rules and the description of compiled rule i. */
size_t	scan_engine_rule_count(const struct scan_engine *e);
const struct scan_rule_info *scan_engine_rule(const struct scan_engine *e,
	    size_t i);

/* Per-thread working memory for scan_buffer. */
int	scan_scratch_new(const struct scan_engine *e,
	    struct scan_scratch **out, struct al_err *err) AL_WUR;
void	scan_scratch_free(struct scan_scratch *s);

/* One confirmed rule hit in a buffer. */
struct scan_match {
	size_t	 off, len;		/* the secret (the rule's group) */
	size_t	 match_off, match_len;	/* everything the rule matched */
	double	 entropy;		/* of the secret, bits per byte */
	const struct scan_rule_info *rule;
	size_t	 rule_index;		/* in scan_engine_rule() numbering */
};

/*
 * Called for each match, in order of offset.  Return 0 to go on, non-zero
 * to stop the scan (scan_buffer then returns that value).
 */
typedef int (*scan_match_fn)(const struct scan_match *m,
	    const unsigned char *buf, size_t n, void *arg);

/*
 * Scan the n bytes at p.  path (NULL for a stream) lets rules restricted to
 * some files (CI workflows, Dockerfiles) apply.  Matches of a generic rule
 * that overlap a specific rule's match are dropped.  Lines carrying
 * "airlock:allow" are not filtered here (that is the run layer's job) so
 * a redactor masks everything.  n must be below 4 GiB (AL_ETOOBIG).
 * Errors: AL_ENOMEM, AL_ETOOBIG, AL_EINVAL (vectorscan failure).
 */
int	scan_buffer(const struct scan_engine *e, struct scan_scratch *s,
	    const char *path, const void *p, size_t n, scan_match_fn fn,
	    void *arg, struct al_err *err) AL_WUR;

/* Shannon entropy of n bytes, in bits per byte. */
double	scan_entropy(const void *p, size_t n);

/* ---- running a scan --------------------------------------------------- */

enum scan_source {
	SCAN_SRC_PATHS = 1,	/* files and directories */
	SCAN_SRC_STDIN,		/* one stream */
	SCAN_SRC_STAGED,	/* lines a commit would add */
	SCAN_SRC_GIT_RANGE,	/* lines added by the commits of a range */
	SCAN_SRC_GIT_HISTORY,	/* every blob of every commit, once */
};

/* Where a finding from git history came from (shared by findings). */
struct scan_commit {
	char	*id;		/* full hex object id */
	char	*author;	/* "Name <email>" */
	char	*date;		/* ISO 8601 author date */
	size_t	 seq;		/* order of the walk: oldest first */
};

/* One place a grouped value was seen (git sources). */
struct scan_occurrence {
	const struct scan_commit *commit;
	uint32_t	 line, col;
};

struct scan_finding {
	const struct scan_rule_info *rule;
	char		*path;		/* as given or found; "-" for stdin */
	uint32_t	 line, col;	/* 1-based, of the secret */
	uint32_t	 end_line;
	char		 preview[80];	/* never the whole secret */
	char		 hash[33];	/* keyed hash of the secret, or "" */
	double		 entropy;
	const struct scan_commit *commit; /* NULL outside git sources */
	/*
	 * Git sources report a value once per path and rule: commit is the
	 * oldest commit that brought it in (line and col are there), last
	 * the newest commit whose version of the file still holds it, and
	 * occ the count places it was seen, oldest first (owned by the
	 * report).  Outside git sources: NULL, 1, NULL.
	 */
	const struct scan_commit *last;
	size_t		 count;
	const struct scan_occurrence *occ;
	/* Private: a keyed hash of the value, to group its occurrences. */
	unsigned char	 value_id[16];
};

struct scan_progress {
	uint64_t	files, bytes;	/* done so far */
	uint64_t	total_files;	/* 0 when unknown (history) */
};

struct scan_opts {
	int		 source;	/* enum scan_source */
	char *const	*paths;		/* SCAN_SRC_PATHS (none: ".") */
	size_t		 npaths;
	const char	*range;		/* SCAN_SRC_GIT_RANGE */
	const char	*stdin_name;	/* label for stdin ("-" if NULL) */
	int		 stdin_fd;
	const char	*git_dir;	/* run git here (NULL: cwd) */
	size_t		 max_file_size;	/* 0: SCAN_DEFAULT_MAX_FILE_SIZE */
	int		 threads;	/* 0: one per online CPU */
	int		 no_ignore;	/* walk everything, ignore .gitignore */
	const struct scan_config *config; /* path allowlist; may be NULL */
	/* Key for the keyed hash of each secret (fingerprints); NULL: none. */
	const unsigned char *fp_key;	/* SCAN_FP_KEY_BYTES bytes */
	/* Called about ten times a second from the calling thread. */
	void		(*progress)(const struct scan_progress *p, void *arg);
	void		*progress_arg;
	/* Problems that do not stop the scan (unreadable file ...). */
	void		(*warn)(const char *msg, void *arg);
	void		*warn_arg;
};

/*
 * Whether dir (NULL: the current directory) is in a git repository; with
 * work_tree, inside its work tree (what --staged needs).
 */
int	scan_git_inside(const char *dir, int work_tree);

/*
 * What a SCAN_SRC_PATHS scan of o leaves out because git ignores it (none
 * with no_ignore or outside a work tree): n paths (an ignored directory
 * counts once), and up to 100 ignored files that look like credentials
 * (.env*, *.pem, *.key, id_*, credentials*), also inside ignored
 * directories, as paths to scan.
 */
struct scan_ignored {
	size_t	  n;
	char	**risky;
	size_t	  nrisky;
};
int	scan_paths_ignored(const struct scan_opts *o,
	    struct scan_ignored *ig, struct al_err *err) AL_WUR;
void	scan_ignored_release(struct scan_ignored *ig);

#define SCAN_DEFAULT_MAX_FILE_SIZE (10u * 1024 * 1024)
#define SCAN_FP_KEY_BYTES 32

struct scan_report {
	struct scan_finding	*findings;	/* sorted: path, line, col */
	size_t			 nfindings;
	uint64_t		 files;		/* scanned */
	uint64_t		 bytes;
	uint64_t		 skipped;	/* binary, too big, allowlisted */
	uint64_t		 errors;	/* unreadable inputs */
	uint64_t		 commits;	/* git sources */
	/* private */
	struct scan_commit	**commits_owned;
	size_t			 ncommits_owned;
	struct scan_occurrence	*occ;		/* of every grouped finding */
};

/*
 * Run a scan.  Unreadable inputs are reported through opts->warn and
 * counted in errors; when nothing at all could be read (every input
 * failed) the result is AL_EIO.  A git failure (bad range, not a
 * repository) is AL_EINVAL / AL_EIO with git's complaint on stderr.
 */
int	scan_run(const struct scan_engine *e, const struct scan_opts *opts,
	    struct scan_report **out, struct al_err *err) AL_WUR;
void	scan_report_free(struct scan_report *r);

/* ---- output ----------------------------------------------------------- */

/* "path:line:col: rule preview" lines; colour when color is set. */
int	scan_report_write_text(const struct scan_report *r, FILE *out,
	    int color) AL_WUR;
/* {"version":1,"findings":[...],"summary":{...}} */
int	scan_report_write_json(const struct scan_report *r, FILE *out) AL_WUR;
/* A SARIF 2.1.0 log with one run; rules from e. */
int	scan_report_write_sarif(const struct scan_report *r,
	    const struct scan_engine *e, FILE *out) AL_WUR;

/* ---- baselines -------------------------------------------------------- */

/*
 * A baseline accepts known findings: a JSON file holding a random key and
 * the fingerprints "rule:path:keyed-hash-of-secret" of accepted findings.
 * Line numbers are not part of a fingerprint, so edits elsewhere in a file
 * keep it valid.
 */
struct scan_baseline;

/* Load path; AL_ENOENT when missing, AL_EINVAL (with the reason) if bad. */
int	scan_baseline_load(const char *path, struct scan_baseline **out,
	    struct al_err *err) AL_WUR;
/* A new empty baseline with a fresh random key. */
int	scan_baseline_new(struct scan_baseline **out, struct al_err *err) AL_WUR;
void	scan_baseline_free(struct scan_baseline *b);
/* The key to pass as scan_opts.fp_key. */
const unsigned char *scan_baseline_key(const struct scan_baseline *b);
/* Remove from r the findings b accepts; returns how many were removed. */
size_t	scan_baseline_filter(const struct scan_baseline *b,
	    struct scan_report *r);
/* Write b's key and every finding of r to path (replacing it). */
int	scan_baseline_write(const struct scan_baseline *b,
	    const struct scan_report *r, const char *path,
	    struct al_err *err) AL_WUR;
/* The fingerprint of f into out (at least SCAN_FINGERPRINT_MAX bytes). */
#define SCAN_FINGERPRINT_MAX 1024
int	scan_fingerprint(const struct scan_finding *f, char *out,
	    size_t outsz) AL_WUR;

#endif
