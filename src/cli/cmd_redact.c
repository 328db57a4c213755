/* airlock redact: mask live secrets and their encodings in a stream. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "airlock/client.h"
#include "airlock/redact.h"
#include "airlock/vault.h"
#include "cli.h"
#include "clientcli.h"
#include "rules.h"

const char cmd_redact_help[] =
"usage: airlock redact [--secret NAME]... [--task ID] [--intent TEXT]\n"
"                      [--no-rules] [--check]\n"
"\n"
"Copy stdin to stdout, replacing every live secret value the caller may use,\n"
"and every encoding of it (base64, hex, URL, JSON, C, XML and shell escapes,\n"
"each line of a multi-line value), with [REDACTED:<secret-name>].  The\n"
"broker masks the stream (policy decides, intent `redact`): the values never\n"
"leave it.  Output is written as soon as it cannot be the start of a\n"
"secret.\n"
"\n"
"Options:\n"
"  --secret NAME   mask only NAME (repeatable); a name the caller may not\n"
"                  use is an error.  Default: every secret policy grants\n"
"  --task ID       task sent to the broker\n"
"  --intent TEXT   intent sent to the broker (default: redact)\n"
"  --no-rules      mask known values only, not scanner rule hits\n"
"  --check         exit 1 when anything was masked\n"
"  -h, --help      show this help\n"
"\n"
"Exit status: 0 copied (with --check: nothing masked); 1 with --check,\n"
"something was masked; 2 error.  See docs/commands/redact.md.\n";

#define REDACT_IDLE_MS	50
/* One read of stdin, one request: its base64 fits the broker's 2 MiB. */
#define REDACT_READ_BUF	(1024 * 1024)
#define NAMES_MAX	256

struct redact_run {
	struct client			*cl;
	struct client_redact_opts	 o;
	struct redact_stream		*rules;	/* rule hits, here; or NULL */
	struct al_buf			 got;	/* what the broker released */
	unsigned long long		 masks;	/* the broker's */
	int				 out_failed;
};

static int
emit_stdout(void *arg, const void *p, size_t n)
{
	struct redact_run *rr = arg;
	const unsigned char *b = p;
	ssize_t w;

	while (n > 0) {
		w = write(STDOUT_FILENO, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rr->out_failed = errno;
			return AL_EIO;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * n bytes of input to the broker's stream; what it releases, masked, goes
 * through the rules (when on) to stdout.
 */
static int
feed(struct redact_run *rr, const void *p, size_t n, int end,
    struct al_err *err)
{
	int rc;

	al_buf_reset(&rr->got);
	if ((rc = client_redact_stream(rr->cl, &rr->o, p, n, end, &rr->got,
	    &rr->masks, err)) != 0)
		return rc;
	if (rr->rules == NULL)
		return rr->got.len ? emit_stdout(rr, rr->got.data,
		    rr->got.len) : 0;
	if (rr->got.len && (rc = redact_stream_write(rr->rules, rr->got.data,
	    rr->got.len, emit_stdout, rr)) != 0)
		return rc;
	return end ? redact_stream_finish(rr->rules, emit_stdout, rr) : 0;
}

/*
 * Pump stdin through the stream, flushing a pending line when idle.  The
 * input is unfiltered (it may hold values), so it is read into guarded
 * memory.  A read that fills the buffer means more is waiting: it goes to
 * write_more, and is completed as soon as nothing more is ready.
 */
static int
pump(struct redact_run *rr, struct al_err *err)
{
	struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
	unsigned char *buf;
	ssize_t r;
	int rc = 0, pr;

	if ((buf = sodium_malloc(REDACT_READ_BUF)) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	for (;;) {
		pr = poll(&pfd, 1, rr->rules != NULL &&
		    redact_stream_held(rr->rules) ? REDACT_IDLE_MS : -1);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			/* Idle: a line held for the rules shows now. */
			if ((rc = redact_stream_flush(rr->rules, emit_stdout,
			    rr)) != 0)
				goto wfail;
			continue;
		}
		r = read(STDIN_FILENO, buf, REDACT_READ_BUF);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = al_err_set(err, AL_EIO, "cannot read stdin: %s",
			    strerror(errno));
			goto out;
		}
		if ((rc = feed(rr, buf, (size_t)r, r == 0, err)) != 0)
			goto wfail;
		sodium_memzero(buf, (size_t)r);
		if (r == 0)
			break;
	}
	goto out;
wfail:
	if (rr->out_failed)
		rc = al_err_set(err, AL_EIO, "cannot write stdout: %s",
		    strerror(rr->out_failed));
	else if (err->msg[0] == '\0')
		rc = al_err_set(err, rc, "redaction failed");
out:
	sodium_free(buf);	/* wipes it */
	return rc;
}

int
cmd_redact(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "secret", required_argument, NULL, 's' },
		{ "task", required_argument, NULL, 't' },
		{ "intent", required_argument, NULL, 'i' },
		{ "no-rules", no_argument, NULL, 'n' },
		{ "check", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct redact_run rr;
	const char *names[NAMES_MAX];
	const char *task = NULL, *intent = "redact";
	struct redact *r = NULL;
	struct al_err err;
	size_t nnames = 0;
	struct scan_engine *rules = NULL;
	int c, check = 0, no_rules = 0, rc, status = CLI_EXIT_FAIL;

	al_err_clear(&err);
	memset(&rr, 0, sizeof(rr));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (vault_name_check(optarg, &err) != 0)
				return cli_usage("redact", "--secret: %s",
				    err.msg);
			if (nnames >= NAMES_MAX)
				return cli_usage("redact", "at most %d --secret "
				    "options", NAMES_MAX);
			names[nnames++] = optarg;
			break;
		case 't':
			task = optarg;
			break;
		case 'i':
			intent = optarg;
			break;
		case 'n':
			no_rules = 1;
			break;
		case 'c':
			check = 1;
			break;
		case 'h':
			return cli_print_help("redact", stdout);
		default:
			return cli_bad_option("redact", argc, argv, c);
		}
	}
	if (optind < argc)
		return cli_usage("redact", "unexpected argument (not shown: it "
		    "may be a value; redact reads stdin)");
	rr.o.task = task;
	rr.o.intent = intent;
	rr.o.secrets = names;
	rr.o.nsecrets = nnames;
	/* Masked text only: it holds no value. */
	al_buf_init(&rr.got, 16 * REDACT_READ_BUF, 0);
	if (cli_client_open(cli, &rr.cl, &err) != 0) {
		al_buf_release(&rr.got);
		return cli_fail(&err);
	}
	/*
	 * Rule hits are masked here (the rules hold no value).  The broker's
	 * first answer checks the names and the policy, before any input.
	 */
	if (!no_rules && ((rc = cli_redact_rules(&rules, &err)) != 0 ||
	    (rc = redact_new(&r, &err)) != 0 ||
	    (rc = redact_use_scan(r, rules, &err)) != 0 ||
	    (rc = redact_compile(r, &err)) != 0 ||
	    (rc = redact_stream_new(r, &rr.rules)) != 0))
		goto out;
	if ((rc = feed(&rr, "", 0, 0, &err)) != 0 ||
	    (rc = pump(&rr, &err)) != 0)
		goto out;
	status = check && rr.masks + (rr.rules ? redact_stream_masks(rr.rules) :
	    0) > 0 ? CLI_EXIT_FOUND : CLI_EXIT_OK;
out:
	if (rc != 0)
		status = cli_fail(&err);
	redact_stream_free(rr.rules);
	redact_free(r);
	scan_engine_free(rules);
	client_close(rr.cl);
	al_buf_release(&rr.got);
	return status;
}
