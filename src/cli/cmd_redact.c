/* airlock redact: mask live secrets and their encodings in a stream. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "airlock/api.h"
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
"text is masked by the broker (policy decides, intent `redact`; exposed\n"
"secrets are masked too): the values never leave it.  Output is written\n"
"as soon as it cannot be the start of a secret.\n"
"\n"
"Options:\n"
"  --secret NAME   mask only NAME (repeatable); a name the caller may not\n"
"                  use is an error.  Default: every secret policy grants\n"
"  --task ID       task the policy decides with\n"
"  --intent TEXT   intent the policy decides with (default: redact)\n"
"  --no-rules      mask known values only, not scanner rule hits\n"
"  --check         exit 1 when anything was masked\n"
"  -h, --help      show this help\n"
"\n"
"Exit status: 0 copied (with --check: nothing masked); 1 with --check,\n"
"something was masked; 2 error.  See docs/commands/redact.md.\n";

#define REDACT_IDLE_MS	50
#define REDACT_READ_BUF	(256 * 1024)	/* one read of stdin, one frame */
#define NAMES_MAX	256
#define NAMES_LEN	(NAMES_MAX * 65)

/*
 * The values are masked by a redactor stream in the broker, which never
 * lets them out (POST /v1/redact/stream): this process sends stdin there
 * in frames and writes what comes back.  The scanner's rules, which need
 * no value, run here on what comes back.  Two threads: this one reads
 * stdin and sends (asking for a flush when stdin pauses), the reader
 * writes the output, so neither side ever waits for the other to read.
 */
struct redact_run {
	int			 sock;
	struct redact_stream	*rules;		/* NULL: --no-rules */
	unsigned long long	 masks;		/* the broker's */
	int			 ended;		/* the end frame came */
	int			 out_failed;	/* errno */
	int			 rules_failed;
	char			 error[256];	/* the broker's, or "" */
};

_Static_assert(API_RS_HEAD == AL_FRAME_HEAD,
    "redaction frames are base frames");

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

/* The reader: masked output from the broker, through the rules, out. */
static void *
reader(void *arg)
{
	struct redact_run *rr = arg;
	unsigned char head[API_RS_HEAD], *buf;
	size_t len;
	int rc = 0, i;

	/* Rule hits are secrets too: guarded. */
	if ((buf = sodium_malloc(API_RS_FRAME_MAX)) == NULL) {
		(void)snprintf(rr->error, sizeof(rr->error), "out of memory");
		goto out;
	}
	for (;;) {
		if (al_recv_full(rr->sock, head, sizeof(head)) != 0) {
			(void)snprintf(rr->error, sizeof(rr->error), "the "
			    "broker closed the redaction stream");
			break;
		}
		len = al_frame_len(head);
		if (len > API_RS_FRAME_MAX || al_recv_full(rr->sock, buf,
		    len) != 0) {
			(void)snprintf(rr->error, sizeof(rr->error), "the "
			    "broker sent a malformed frame");
			break;
		}
		if (head[0] == API_RS_DATA) {
			rc = rr->rules != NULL ? redact_stream_write(rr->rules,
			    buf, len, emit_stdout, rr) : emit_stdout(rr, buf,
			    len);
		} else if (head[0] == API_RS_FLUSH) {
			if (rr->rules != NULL)
				rc = redact_stream_flush(rr->rules,
				    emit_stdout, rr);
		} else if (head[0] == API_RS_END && len == 8) {
			for (i = 0; i < 8; i++)
				rr->masks = rr->masks << 8 | buf[i];
			if (rr->rules != NULL)
				rc = redact_stream_finish(rr->rules,
				    emit_stdout, rr);
			rr->ended = rc == 0;
		} else if (head[0] == API_RS_ERROR) {
			(void)snprintf(rr->error, sizeof(rr->error), "the "
			    "broker: %.*s", (int)(len < 200 ? len : 200),
			    (const char *)buf);
			break;
		} else {
			(void)snprintf(rr->error, sizeof(rr->error), "the "
			    "broker sent an unknown frame");
			break;
		}
		sodium_memzero(buf, len);
		if (rc != 0) {
			rr->rules_failed = !rr->out_failed;
			break;
		}
		if (rr->ended)
			break;
	}
out:
	sodium_free(buf);	/* wipes it */
	/* Stop the sender too (it may wait for the broker to read). */
	if (!rr->ended)
		(void)shutdown(rr->sock, SHUT_RDWR);
	return NULL;
}

/*
 * Send stdin, asking for a flush once it has been idle REDACT_IDLE_MS
 * after data.  The input is unfiltered (it may hold values), so it is read
 * into guarded memory.
 */
static int
pump(struct redact_run *rr, struct al_err *err)
{
	struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
	unsigned char *buf;
	ssize_t r;
	int pr, pending = 0, rc = 0;

	if ((buf = sodium_malloc(REDACT_READ_BUF)) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	for (;;) {
		pr = poll(&pfd, 1, pending ? REDACT_IDLE_MS : -1);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			pending = 0;
			if (al_frame_send(rr->sock, API_RS_FLUSH, NULL, 0) != 0)
				goto sfail;
			continue;
		}
		r = read(STDIN_FILENO, buf, REDACT_READ_BUF);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = al_err_set(err, AL_EIO, "cannot read stdin: %s",
			    strerror(errno));
			(void)shutdown(rr->sock, SHUT_RDWR);
			goto out;
		}
		if (r == 0)
			break;
		pending = 1;
		if (al_frame_send(rr->sock, API_RS_DATA, buf, (size_t)r) != 0)
			goto sfail;
	}
	if (al_frame_send(rr->sock, API_RS_END, NULL, 0) != 0)
		goto sfail;
	goto out;
sfail:
	/* The reader says why (it saw the end first). */
	rc = AL_EIO;
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
	struct client *cl = NULL;
	char names[NAMES_LEN + 1];
	const char *task = NULL, *intent = "redact";
	struct redact *r = NULL;
	struct al_err err;
	size_t nnames = 0, len = 0;
	struct scan_engine *rules = NULL;
	pthread_t th;
	int c, check = 0, no_rules = 0, rc, started = 0;
	int status = CLI_EXIT_FAIL;

	al_err_clear(&err);
	memset(&rr, 0, sizeof(rr));
	rr.sock = -1;
	names[0] = '\0';
	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (vault_name_check(optarg, &err) != 0)
				return cli_usage("redact", "--secret: %s",
				    err.msg);
			if (nnames >= NAMES_MAX)
				return cli_usage("redact", "at most %d --secret "
				    "options", NAMES_MAX);
			len += (size_t)snprintf(names + len, sizeof(names) -
			    len, "%s%s", nnames ? "," : "", optarg);
			nnames++;
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
	if (!no_rules && ((rc = cli_redact_rules(&rules, &err)) != 0 ||
	    (rc = redact_new(&r, &err)) != 0 ||
	    (rc = redact_use_scan(r, rules, &err)) != 0 ||
	    (rc = redact_compile(r, &err)) != 0 ||
	    (rc = redact_stream_new(r, &rr.rules)) != 0))
		goto out;
	if ((rc = cli_client_open(cli, &cl, &err)) != 0)
		goto out;
	if ((rc = client_redact_stream(cl, task, intent, nnames ? names : NULL,
	    &rr.sock, &err)) != 0)
		goto out;
	if (pthread_create(&th, NULL, reader, &rr) != 0) {
		rc = al_err_set(&err, AL_ESYS, "cannot start a thread");
		goto out;
	}
	started = 1;
	rc = pump(&rr, &err);
	(void)pthread_join(th, NULL);
	started = 0;
	if (rr.out_failed)
		rc = al_err_set(&err, AL_EIO, "cannot write stdout: %s",
		    strerror(rr.out_failed));
	else if (rr.rules_failed)
		rc = al_err_set(&err, AL_EIO, "redaction failed");
	else if (rc == 0 && !rr.ended)
		rc = al_err_set(&err, AL_EIO, "%s", rr.error[0] ? rr.error :
		    "the redaction stream ended early");
	else if (rc == AL_EIO && err.msg[0] == '\0')
		rc = al_err_set(&err, AL_EIO, "%s", rr.error[0] ? rr.error :
		    "the broker closed the redaction stream");
	if (rc != 0)
		goto out;
	status = check && rr.masks + (rr.rules != NULL ?
	    redact_stream_masks(rr.rules) : 0) > 0 ? CLI_EXIT_FOUND :
	    CLI_EXIT_OK;
out:
	if (rc != 0)
		status = cli_fail(&err);
	if (started) {
		(void)shutdown(rr.sock, SHUT_RDWR);
		(void)pthread_join(th, NULL);
	}
	if (rr.sock >= 0)
		(void)close(rr.sock);
	redact_stream_free(rr.rules);
	redact_free(r);
	scan_engine_free(rules);
	client_close(cl);
	return status;
}
