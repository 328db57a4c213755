/*
 * al-probe: a test client for the broker's end-to-end tests.  It asks for a
 * lease through the real client library, takes uses of the value and
 * prints only the value's SHA-256 and length (never the value), so a test
 * can check what was released without the canary ever being printed.
 *
 * usage: al-probe [--bind] [--task T] [--intent I] [--ttl N] [--uses K]
 *                 [--fetch K] [--wait S] [--hold S] [--lease ID] SECRET
 * Exit: 0 ok, 3 denied, 4 pending, 5 lease ended, 2 other errors.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "airlock/client.h"

static int
exit_for(int code)
{
	switch (code) {
	case 0:			return 0;
	case AL_EDENIED:	return 3;
	case AL_EPENDING:	return 4;
	case AL_EEXPIRED:	return 5;
	default:		return 2;
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bind", no_argument, NULL, 'b' },
		{ "task", required_argument, NULL, 't' },
		{ "intent", required_argument, NULL, 'i' },
		{ "ttl", required_argument, NULL, 'l' },
		{ "uses", required_argument, NULL, 'u' },
		{ "fetch", required_argument, NULL, 'f' },
		{ "wait", required_argument, NULL, 'w' },
		{ "hold", required_argument, NULL, 'H' },
		{ "lease", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_opts o;
	struct client_lease_req r;
	struct client_lease l;
	struct client_approval a;
	struct client *cl = NULL;
	struct al_secret *v = NULL;
	struct al_err err;
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * sizeof(h) + 1], home[PATH_MAX], self[PATH_MAX];
	const char *lease_id = NULL;
	int c, fetch = 1, wait_s = 0, hold = 0, i, rc;
	ssize_t n;

	if (sodium_init() < 0)
		return 2;
	memset(&r, 0, sizeof(r));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b': r.bind = 1; break;
		case 't': r.task = optarg; break;
		case 'i': r.intent = optarg; break;
		case 'l': r.ttl = atoll(optarg); break;
		case 'u': r.uses = atoi(optarg); break;
		case 'f': fetch = atoi(optarg); break;
		case 'w': wait_s = atoi(optarg); break;
		case 'H': hold = atoi(optarg); break;
		case 'L': lease_id = optarg; break;
		default: return 2;
		}
	}
	if (optind != argc - 1 && lease_id == NULL)
		return 2;
	r.secret = optind < argc ? argv[optind] : "";
	if (al_state_dir(home, sizeof(home), &err) != 0)
		return 2;
	memset(&o, 0, sizeof(o));
	o.home = home;
	o.socket_path = getenv("AIRLOCK_SOCKET");
	/* The airlock binary to autostart, as the tests name it. */
	if (getenv("AIRLOCK_BIN") && realpath(getenv("AIRLOCK_BIN"), self))
		o.airlock_bin = self;
	if ((rc = client_open(&o, &cl, &err)) != 0)
		goto out;
	if (lease_id == NULL) {
		rc = client_lease_request(cl, &r, &l, &a, &err);
		if (rc == AL_EPENDING) {
			printf("pending %s\n", a.id);
			fflush(stdout);
			if (wait_s == 0)
				goto out;
			if ((rc = client_approval_wait(cl, a.id, wait_s, &a,
			    &err)) != 0)
				goto out;
			if ((rc = client_lease_get(cl, a.lease, &l, &err)) != 0)
				goto out;
		} else if (rc != 0)
			goto out;
		lease_id = l.id;
		printf("lease %s\n", l.id);
		fflush(stdout);
	}
	for (i = 0; i < fetch; i++) {
		if ((rc = client_lease_value(cl, lease_id, &v, &err)) != 0)
			goto out;
		crypto_hash_sha256(h, al_secret_open(v), al_secret_len(v));
		al_hex(h, sizeof(h), hex);
		printf("value sha256=%s len=%zu\n", hex, al_secret_len(v));
		al_secret_free(v);
		v = NULL;
		fflush(stdout);
	}
	if (hold > 0) {
		printf("holding\n");
		fflush(stdout);
		n = sleep((unsigned)hold);
		(void)n;
	}
out:
	if (rc != 0)
		fprintf(stderr, "al-probe: %s\n", err.msg);
	al_secret_free(v);
	client_close(cl);
	return exit_for(rc);
}
