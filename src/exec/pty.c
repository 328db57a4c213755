/*
 * The pseudo-terminal of EXEC_PTY.  The child gets the slave as its
 * controlling terminal, so /dev/tty is the pty and everything it prints,
 * prompts included, comes back through the master and the output filter.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "airlock/exec.h"
#include "exec_int.h"

int
pty_open(int *master, int *slave, const struct termios *tio,
    struct al_err *err)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	char name[128];
	int m, s = -1;

	*master = *slave = -1;
	if ((m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		return al_err_set(err, AL_ESYS, "cannot open a pseudo-terminal: "
		    "%s", strerror(errno));
	if (grantpt(m) != 0 || unlockpt(m) != 0 ||
	    ptsname_r(m, name, sizeof(name)) != 0 ||
	    (s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		int e = errno;

		(void)close(m);
		return al_err_set(err, AL_ESYS, "cannot set up a "
		    "pseudo-terminal: %s", strerror(e));
	}
	if (tio != NULL)
		(void)tcsetattr(s, TCSANOW, tio);
	(void)ioctl(m, TIOCSWINSZ, &ws);
	if (fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK) != 0) {
		int e = errno;

		(void)close(m);
		(void)close(s);
		return al_err_set(err, AL_ESYS, "cannot set up a "
		    "pseudo-terminal: %s", strerror(e));
	}
	*master = m;
	*slave = s;
	return 0;
}

void
pty_copy_winsize(int master, const int *fds, size_t n)
{
	struct winsize ws;
	size_t i;

	for (i = 0; i < n; i++) {
		if (fds[i] < 0 || ioctl(fds[i], TIOCGWINSZ, &ws) != 0 ||
		    ws.ws_row == 0)
			continue;
		/* The kernel sends SIGWINCH to the pty's foreground group. */
		(void)ioctl(master, TIOCSWINSZ, &ws);
		return;
	}
}

void
pty_send_eof(int master, int partial)
{
	struct termios t;

	if (tcgetattr(master, &t) != 0 || !(t.c_lflag & ICANON))
		return;
	if (partial)
		(void)!write(master, &t.c_cc[VEOF], 1);
	(void)!write(master, &t.c_cc[VEOF], 1);
}

int
pty_make_raw(int fd, struct termios *saved)
{
	struct termios t;

	if (tcgetattr(fd, saved) != 0)
		return -1;
	t = *saved;
	cfmakeraw(&t);
	return tcsetattr(fd, TCSADRAIN, &t);
}

void
pty_restore(int fd, const struct termios *saved)
{
	(void)tcsetattr(fd, TCSADRAIN, saved);
}
