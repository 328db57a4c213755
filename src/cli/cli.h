/*
 * Shared declarations of the airlock command-line front end (private to
 * src/cli).  Each subcommand lives in cmd_<name>.c and registers in the
 * table in main.c.
 */
#ifndef AIRLOCK_CLI_H
#define AIRLOCK_CLI_H

#include <limits.h>
#include <stdio.h>

#include "airlock/base.h"

/*
 * Exit codes, mapped in one place (see docs/cli.md, "Exit status"):
 *   0 success; 1 a check found something (findings, failed verification,
 *   a denial asked about); 2 usage error or failure; 125 `run` failed before
 *   the child started; 126 command not executable; 127 command not found;
 *   128+N the child was killed by signal N.
 */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FOUND = 1,
	CLI_EXIT_FAIL = 2,
	CLI_EXIT_RUN_FAIL = 125,
	CLI_EXIT_NOEXEC = 126,
	CLI_EXIT_NOTFOUND = 127,
};

struct cli {
	char			 home[PATH_MAX];	/* $AIRLOCK_HOME */
	const struct al_clock	*clock;
	int			 color_out;	/* colour allowed on stdout */
	int			 color_err;
};

struct cli_cmd {
	const char	*name;
	const char	*summary;	/* one line for `airlock help` */
	const char	*help;		/* full text for `airlock help NAME` */
	int		(*run)(struct cli *cli, int argc, char **argv);
};

/* Print an error in the standard form and return CLI_EXIT_FAIL. */
int	cli_fail(const struct al_err *err);
/* Print "airlock: error: ..." and return CLI_EXIT_FAIL. */
int	cli_failf(const char *fmt, ...) AL_PRINTF(1, 2);
/*
 * Print "airlock: <what>: ..." plus a pointer to `airlock help <cmd>` and
 * return CLI_EXIT_FAIL (2, usage).
 */
int	cli_usage(const char *cmd, const char *fmt, ...) AL_PRINTF(2, 3);
/* Report getopt's unknown option / missing argument for cmd. */
int	cli_bad_option(const char *cmd, int argc, char **argv, int opt);
/*
 * Parse the options of a command whose only option is --json (and -h):
 * returns -1 to go on (*json set), else the status to exit with (help
 * printed, or a usage error reported for cmd; help names its page).
 */
int	cli_json_only(const char *cmd, const char *help, int argc, char **argv,
	    int *json);
/*
 * getopt_long for every command: options may follow operands (unless
 * shortopts starts with '+'), "--" ends them, and a long option matches only
 * when spelled in full (an abbreviation is an unknown option: '?' with optopt
 * 0, for cli_bad_option).
 */
struct option;
int	cli_getopt(int argc, char **argv, const char *shortopts,
	    const struct option *longopts, int *longindex);
/* True when argv holds -h or --help before any "--". */
int	cli_wants_help(int argc, char **argv);
/* Print help text of cmd name ("secret add" or "secret"). */
int	cli_print_help(const char *name, FILE *out);
/* Map an AL_E code to an exit status (always CLI_EXIT_FAIL today). */
int	cli_exit_for(int code);

/* JSON helpers. */
struct json_t;

/* Subcommands. */
int	cmd_init(struct cli *cli, int argc, char **argv);
int	cmd_secret(struct cli *cli, int argc, char **argv);
int	cmd_key(struct cli *cli, int argc, char **argv);
int	cmd_doctor(struct cli *cli, int argc, char **argv);
int	cmd_audit(struct cli *cli, int argc, char **argv);
int	cmd_whoami(struct cli *cli, int argc, char **argv);
int	cmd_policy(struct cli *cli, int argc, char **argv);
int	cmd_serve(struct cli *cli, int argc, char **argv);
int	cmd_lease(struct cli *cli, int argc, char **argv);
int	cmd_approvals(struct cli *cli, int argc, char **argv);
int	cmd_approve(struct cli *cli, int argc, char **argv);
int	cmd_deny(struct cli *cli, int argc, char **argv);
int	cmd_approver(struct cli *cli, int argc, char **argv);
int	cmd_run(struct cli *cli, int argc, char **argv);
int	cmd_redact(struct cli *cli, int argc, char **argv);
int	cmd_guard(struct cli *cli, int argc, char **argv);

/*
 * Whether this process may inspect other users' processes (root or
 * CAP_SYS_PTRACE): a broker that may not cannot read their executables,
 * ancestors and working directories.  The selector keys it then cannot
 * read for them are cli_unreadable_keys (CLI_UNREADABLE_N of them).
 */
int	cli_can_inspect_others(void);
#define CLI_UNREADABLE_N	4
extern const char *const cli_unreadable_keys[CLI_UNREADABLE_N];
int	cmd_stop(struct cli *cli, int argc, char **argv);
int	cmd_unlock(struct cli *cli, int argc, char **argv);
/*
 * Ask for the vault passphrase (from passfd when >= 0) and start a broker
 * holding the unlocked vault, stopping after lock_after seconds (0: never).
 */
int	cli_unlock_broker(struct cli *cli, int passfd, int64_t lock_after,
	    struct al_err *err) AL_WUR;
/* Stop the broker of cli->home (`stop`, `serve --stop`); an exit status. */
int	cli_broker_stop(struct cli *cli);

/* Write the default policy.yaml for the effective uid unless one exists. */
int	cli_policy_write_default(struct cli *cli, struct al_err *err) AL_WUR;
int	cmd_mcp(struct cli *cli, int argc, char **argv);
int	cmd_agent(struct cli *cli, int argc, char **argv);
int	cmd_scan(struct cli *cli, int argc, char **argv);
int	cmd_sweep(struct cli *cli, int argc, char **argv);
int	cmd_report(struct cli *cli, int argc, char **argv);
int	cmd_hook(struct cli *cli, int argc, char **argv);

extern const char cmd_init_help[];
extern const char cmd_secret_help[];
extern const char cmd_key_help[];
extern const char cmd_doctor_help[];
extern const char cmd_audit_help[];
extern const char cmd_whoami_help[];
extern const char cmd_policy_help[];
extern const char cmd_mcp_help[];
extern const char cmd_agent_help[];
extern const char cmd_serve_help[];
extern const char cmd_lease_help[];
extern const char cmd_approvals_help[];
extern const char cmd_approve_help[];
extern const char cmd_deny_help[];
extern const char cmd_approver_help[];
extern const char cmd_scan_help[];
extern const char cmd_sweep_help[];
extern const char cmd_report_help[];
extern const char cmd_hook_help[];
extern const char cmd_run_help[];
extern const char cmd_redact_help[];
extern const char cmd_guard_help[];
extern const char cmd_stop_help[];
extern const char cmd_unlock_help[];

#endif
