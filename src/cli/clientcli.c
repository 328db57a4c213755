/* Reaching the broker from a command. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clientcli.h"

static void
say(const char *msg, void *arg)
{
	(void)arg;
	al_msg(stderr, "notice", "%s", msg);
}

int
cli_client_open(struct cli *cli, struct client **out, struct al_err *err)
{
	struct client_opts o = { .home = cli->home,
	    .socket_path = getenv("AIRLOCK_SOCKET"), .notice = say };
	char self[PATH_MAX];
	ssize_t n;
	int rc;

	/* Autostart runs this very binary, whatever $PATH says. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		o.airlock_bin = self;
	}
	rc = client_open(&o, out, err);
	/*
	 * A passphrase vault cannot be autostarted; on a terminal, ask for
	 * the passphrase once and start the broker holding it (ssh-add).
	 */
	if (rc == AL_EUNAVAIL && strstr(err->msg, "needs a passphrase") &&
	    isatty(STDIN_FILENO) && isatty(STDERR_FILENO)) {
		al_err_clear(err);
		if ((rc = cli_unlock_broker(cli, -1, 0, err)) == 0)
			rc = client_open(&o, out, err);
	}
	return rc;
}
