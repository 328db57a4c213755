/*
 * Passphrases and values come from a descriptor, a file or a terminal with
 * echo off; never from argv or the environment, and straight into guarded
 * memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "input.h"

/* Read one line (without its newline) from fd, a byte at a time. */
static int
read_line(int fd, size_t max, struct al_secret **out, struct al_err *err)
{
	struct al_secret *s = NULL;
	unsigned char *p, c;
	size_t n = 0;
	ssize_t r;
	int rc;

	*out = NULL;
	if ((rc = al_secret_new(max, &s)) != 0)
		return al_err_set(err, rc, "cannot allocate guarded memory");
	p = al_secret_open(s);
	for (;;) {
		r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = al_err_set(err, AL_EIO, "cannot read: %s",
			    strerror(errno));
			goto out;
		}
		if (r == 0 || c == '\n')
			break;
		if (n == max) {
			rc = al_err_set(err, AL_ETOOBIG, "input line is longer "
			    "than %zu bytes", max);
			goto out;
		}
		p[n++] = c;
	}
	c = 0;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	al_secret_set_len(s, n);
	al_secret_close(s);
	*out = s;
	s = NULL;
	rc = 0;
out:
	al_secret_free(s);
	return rc;
}

/* Best effort: a prompt that cannot be shown is not worth failing over. */
static void
tty_write(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) < 0)
		return;
}

/* Ask on the terminal with echo off; restores the terminal on every path. */
static int
ask_tty(const char *prompt, size_t max, struct al_secret **out,
    struct al_err *err)
{
	struct termios old, quiet;
	int fd, rc, restored = 0;

	*out = NULL;
	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0)
		return al_err_set(err, AL_EINVAL, "no terminal to ask on: give "
		    "the input on stdin or with the documented fd option");
	if (tcgetattr(fd, &old) != 0) {
		(void)close(fd);
		return al_err_set(err, AL_ESYS, "cannot read terminal "
		    "settings: %s", strerror(errno));
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	/*
	 * Echo off (discarding what was typed ahead) before the prompt: what
	 * is typed once the prompt shows is neither echoed nor thrown away.
	 */
	if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
		(void)close(fd);
		return al_err_set(err, AL_ESYS, "cannot turn echo off: %s",
		    strerror(errno));
	}
	tty_write(fd, prompt);
	rc = read_line(fd, max, out, err);
	restored = tcsetattr(fd, TCSAFLUSH, &old) == 0;
	tty_write(fd, "\n");
	(void)close(fd);
	if (rc == 0 && !restored) {
		al_secret_free(*out);
		*out = NULL;
		return al_err_set(err, AL_ESYS, "cannot restore the terminal");
	}
	return rc;
}

static int
same(struct al_secret *a, struct al_secret *b)
{
	int eq;

	if (al_secret_len(a) != al_secret_len(b))
		return 0;
	eq = sodium_memcmp(al_secret_open(a), al_secret_open(b),
	    al_secret_len(a)) == 0;
	al_secret_close(a);
	al_secret_close(b);
	return eq;
}

/* Ask twice; refuse a mismatch. */
static int
ask_twice(const char *prompt, size_t max, struct al_secret **out,
    struct al_err *err)
{
	struct al_secret *a = NULL, *b = NULL;
	int rc;

	*out = NULL;
	if ((rc = ask_tty(prompt, max, &a, err)) != 0)
		return rc;
	if ((rc = ask_tty("Again: ", max, &b, err)) != 0)
		goto out;
	if (!same(a, b)) {
		rc = al_err_set(err, AL_EINVAL, "the two entries do not match");
		goto out;
	}
	*out = a;
	a = NULL;
out:
	al_secret_free(a);
	al_secret_free(b);
	return rc;
}

int
cli_read_passphrase(const char *prompt, int fd, int confirm,
    struct al_secret **out, struct al_err *err)
{
	int rc;

	*out = NULL;
	if (fd >= 0)
		rc = read_line(fd, 1024, out, err);
	else if (confirm)
		rc = ask_twice(prompt, 1024, out, err);
	else
		rc = ask_tty(prompt, 1024, out, err);
	if (rc == AL_ETOOBIG)
		return al_err_set(err, rc, "the passphrase is longer than "
		    "1024 bytes");
	if (rc == AL_EINVAL && fd < 0 && err != NULL &&
	    strncmp(err->msg, "no terminal", 11) == 0)
		return al_err_set(err, rc, "no terminal to ask on for the vault "
		    "passphrase: give it with --passphrase-fd N%s",
		    isatty(STDIN_FILENO) ? "" : " (stdin may carry the value)");
	if (rc != 0)
		return rc;
	if (al_secret_len(*out) == 0) {
		al_secret_free(*out);
		*out = NULL;
		return al_err_set(err, AL_EINVAL, "the passphrase is empty");
	}
	return 0;
}

int
cli_read_value(const char *name, const char *path, int keep_newline,
    size_t max, struct al_secret **out, struct al_err *err)
{
	char prompt[128];
	unsigned char *p;
	size_t n;
	int fd, rc;

	*out = NULL;
	/* "-": standard input, bytes as they are. */
	if (path != NULL && strcmp(path, "-") == 0) {
		rc = al_secret_read_fd(STDIN_FILENO, max, out, err);
		if (rc == AL_ETOOBIG)
			(void)al_err_set(err, rc, "standard input is larger "
			    "than %zu bytes, the most a secret may hold", max);
		if (rc == 0 && al_secret_len(*out) == 0) {
			al_secret_free(*out);
			*out = NULL;
			rc = al_err_set(err, AL_EINVAL, "the value is empty: "
			    "nothing was stored");
		}
		return rc;
	}
	if (path != NULL) {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return al_err_set(err, AL_EIO, "cannot open --value-file "
			    "%s: %s", path, strerror(errno));
		rc = al_secret_read_fd(fd, max, out, err);
		(void)close(fd);
		if (rc == AL_ETOOBIG)
			(void)al_err_set(err, rc, "%s is larger than %zu bytes, "
			    "the most a secret may hold", path, max);
	} else if (!isatty(STDIN_FILENO)) {
		rc = al_secret_read_fd(STDIN_FILENO, max + 2, out, err);
		if (rc == 0 && !keep_newline) {
			p = al_secret_open(*out);
			n = al_secret_len(*out);
			if (n > 0 && p[n - 1] == '\n')
				n--;
			if (n > 0 && p[n - 1] == '\r' &&
			    al_secret_len(*out) != n)
				n--;
			al_secret_set_len(*out, n);
			al_secret_close(*out);
		}
		if (rc == 0 && al_secret_len(*out) > max)
			rc = al_err_set(err, AL_ETOOBIG, "the value on stdin is "
			    "larger than %zu bytes, the most a secret may hold",
			    max);
		else if (rc == AL_ETOOBIG)
			(void)al_err_set(err, rc, "the value on stdin is larger "
			    "than %zu bytes, the most a secret may hold", max);
	} else {
		(void)snprintf(prompt, sizeof(prompt), "Value for '%s': ",
		    name);	/* names are short; truncation only cosmetic */
		rc = ask_twice(prompt, max, out, err);
	}
	if (rc != 0) {
		al_secret_free(*out);
		*out = NULL;
		return rc;
	}
	if (al_secret_len(*out) == 0) {
		al_secret_free(*out);
		*out = NULL;
		return al_err_set(err, AL_EINVAL, "the value is empty: nothing "
		    "was stored");
	}
	return 0;
}

int
cli_read_pin(const char *prompt, int confirm, struct al_secret **out,
    struct al_err *err)
{
	int rc;

	*out = NULL;
	/* Only the terminal: never a descriptor, stdin or argv. */
	rc = confirm ? ask_twice(prompt, 1024, out, err) :
	    ask_tty(prompt, 1024, out, err);
	if (rc == AL_EINVAL && *out == NULL && strstr(err->msg, "no terminal"))
		return al_err_set(err, AL_EINVAL, "the approver PIN is read "
		    "from a terminal (/dev/tty) only, and there is none: run "
		    "this from your own terminal");
	if (rc != 0)
		return rc;
	if (al_secret_len(*out) == 0) {
		al_secret_free(*out);
		*out = NULL;
		return al_err_set(err, AL_EINVAL, "the approver PIN is empty");
	}
	return 0;
}
