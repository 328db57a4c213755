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
"values come from the broker (policy decides, intent `redact`), live in\n"
"guarded memory and are never printed.  Output is written as soon as it\n"
"cannot be the start of a secret.\n"
"\n"
"Options:\n"
"  --secret NAME   mask only NAME (repeatable); a name the caller may not\n"
"                  use is an error.  Default: every secret policy grants\n"
"  --task ID       task sent with the lease requests\n"
"  --intent TEXT   intent sent with the lease requests (default: redact)\n"
"  --no-rules      mask known values only, not scanner rule hits\n"
"  --check         exit 1 when anything was masked\n"
"  -h, --help      show this help\n"
"\n"
"A secret marked exposed cannot be leased, so it cannot be looked for:\n"
"redact then fails before reading anything (rotate the secret first).\n"
"\n"
"Exit status: 0 copied (with --check: nothing masked); 1 with --check,\n"
"something was masked; 2 error.  See docs/commands/redact.md.\n";

#define REDACT_IDLE_MS	50
#define REDACT_READ_BUF	(256 * 1024)	/* one read of stdin */
#define NAMES_MAX	256

struct redact_run {
	struct client		*cl;
	struct client_lease	 lease[NAMES_MAX];
	struct al_secret	*value[NAMES_MAX];
	const char		*name[NAMES_MAX];
	size_t			 n;
	int			 out_failed;
	int			 revoke_failed;
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
 * Lease one secret for its value; strict: an error is fatal.  status: the
 * secret's status as the broker listed it (NULL: not listed).
 */
static int
take(struct redact_run *rr, const char *name, const char *status,
    const char *task, const char *intent, int strict, struct al_err *err)
{
	struct client_lease_req req;
	struct al_err e2;
	int rc;

	if (rr->n >= NAMES_MAX)
		return al_err_set(err, AL_ETOOBIG, "more than %d secrets",
		    NAMES_MAX);
	memset(&req, 0, sizeof(req));
	req.secret = name;
	req.task = task;
	req.intent = intent;
	req.bind = 1;
	rc = client_lease_and_fetch(rr->cl, &req, 0, &rr->lease[rr->n],
	    &rr->value[rr->n], strict ? err : &e2);
	if (rc != 0 && !strict) {
		/*
		 * An exposed secret's value is still live until it is
		 * rotated, and exactly what must not pass unmasked; but the
		 * broker no longer hands it out, so it cannot be looked for
		 * here.  Copying the stream without it would leak it: fail.
		 */
		if (status != NULL && strcmp(status, "exposed") == 0)
			return al_err_set(err, AL_EDENIED, "secret '%s' is "
			    "marked exposed: the broker no longer hands out its "
			    "value, so redact cannot mask it and copies "
			    "nothing; rotate it (airlock secret rotate %s), "
			    "or name with --secret the other secrets to mask",
			    name, name);
		/*
		 * Without --secret, what the policy refuses (or keeps for an
		 * approver) is simply not masked.  Anything else -- the broker
		 * gone, a damaged record -- fails the command: passing the
		 * stream through with a value silently unmasked is worse.
		 */
		if (rc == AL_EDENIED || rc == AL_EPENDING || rc == AL_ENOENT ||
		    rc == AL_EEXPIRED)
			return 0;
		return al_err_set(err, rc, "secret '%s': %s", name, e2.msg);
	}
	if (rc != 0)
		return rc;
	rr->name[rr->n] = name;
	rr->n++;
	return 0;
}

static void
release(struct redact_run *rr)
{
	size_t i;

	for (i = 0; i < rr->n; i++) {
		/* Best effort: the connection's close ends it anyway. */
		if (client_lease_revoke(rr->cl, rr->lease[i].id, NULL) != 0)
			rr->revoke_failed++;
		al_secret_free(rr->value[i]);
	}
	rr->n = 0;
}

/*
 * Pump stdin through the stream, flushing a pending line when idle.  The
 * input is unfiltered (it may hold values), so it is read into guarded
 * memory.  A read that fills the buffer means more is waiting: it goes to
 * write_more, and is completed as soon as nothing more is ready.
 */
static int
pump(struct redact_stream *s, struct redact_run *rr, struct al_err *err)
{
	struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
	unsigned char *buf;
	ssize_t r;
	int rc = 0, pr, deferred = 0, timeout;

	if ((buf = sodium_malloc(REDACT_READ_BUF)) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	for (;;) {
		timeout = deferred ? 0 : redact_stream_held(s) ?
		    REDACT_IDLE_MS : -1;
		pr = poll(&pfd, 1, timeout);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			rc = deferred ? redact_stream_complete(s, emit_stdout,
			    rr) : redact_stream_flush(s, emit_stdout, rr);
			deferred = 0;
			if (rc != 0)
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
		if (r == 0)
			break;
		deferred = (size_t)r == REDACT_READ_BUF;
		rc = deferred ? redact_stream_write_more(s, buf, (size_t)r,
		    emit_stdout, rr) : redact_stream_write(s, buf, (size_t)r,
		    emit_stdout, rr);
		if (rc != 0)
			goto wfail;
	}
	if ((rc = redact_stream_finish(s, emit_stdout, rr)) != 0)
		goto wfail;
	goto out;
wfail:
	if (rr->out_failed)
		rc = al_err_set(err, AL_EIO, "cannot write stdout: %s",
		    strerror(rr->out_failed));
	else
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
	struct redact_stream *s = NULL;
	json_t *list = NULL, *it;
	struct al_err err;
	size_t nnames = 0, i;
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
	if (cli_client_open(cli, &rr.cl, &err) != 0)
		return cli_fail(&err);
	if (nnames > 0) {
		for (i = 0; i < nnames; i++)
			if ((rc = take(&rr, names[i], NULL, task, intent, 1,
			    &err)))
				goto out;
	} else {
		/* Every secret the policy grants: denials are skipped. */
		if ((rc = client_secrets(rr.cl, &list, &err)) != 0)
			goto out;
		json_array_foreach(list, i, it) {
			const char *nm = json_string_value(json_object_get(it,
			    "name"));
			const char *st = json_string_value(json_object_get(it,
			    "status"));

			if (nm != NULL && (rc = take(&rr, nm, st, task, intent,
			    0, &err)) != 0)
				goto out;
		}
	}
	if ((rc = redact_new(&r, &err)) != 0)
		goto out;
	for (i = 0; i < rr.n; i++) {
		if (al_secret_len(rr.value[i]) < REDACT_VALUE_MIN) {
			rc = al_err_set(&err, AL_EINVAL, "secret '%s' is shorter "
			    "than %d bytes: it cannot be masked without masking "
			    "ordinary text", rr.name[i], REDACT_VALUE_MIN);
			goto out;
		}
		if ((rc = redact_add_value(r, rr.name[i], rr.value[i], &err)))
			goto out;
	}
	if (!no_rules && ((rc = cli_redact_rules(&rules, &err)) != 0 ||
	    (rc = redact_use_scan(r, rules, &err)) != 0))
		goto out;
	if ((rc = redact_compile(r, &err)) != 0 ||
	    (rc = redact_stream_new(r, &s)) != 0)
		goto out;
	/* The values now live only in the redactor's guarded tables. */
	release(&rr);
	if ((rc = pump(s, &rr, &err)) != 0)
		goto out;
	status = check && redact_stream_masks(s) > 0 ? CLI_EXIT_FOUND :
	    CLI_EXIT_OK;
out:
	if (rc != 0)
		status = cli_fail(&err);
	release(&rr);
	json_decref(list);
	redact_stream_free(s);
	redact_free(r);
	scan_engine_free(rules);
	client_close(rr.cl);
	return status;
}
