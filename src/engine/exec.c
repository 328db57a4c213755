/*
 * The exec engine: any issuer, by command.  `--issue CMD` gets a JSON
 * request on stdin and prints {"value": ..., "id": ..., "expires": ...};
 * `--revoke CMD` gets the id (as $1 and in a JSON request on stdin) and
 * exits 0 once the credential is gone.  Both run through /bin/sh -c, in
 * their own process group, killed at the timeout.
 *
 * What the issuer prints goes straight into guarded memory and is parsed
 * there; the value is decoded into guarded memory of its own.  Neither
 * command's stderr is kept or logged: it may hold what the command was
 * given or made, and airlock cannot tell which bytes are secret.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cred_int.h"

#define EXEC_OUT_MAX	(64 * 1024)

extern char **environ;

static int64_t
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Run `sh -c cmd sh arg` with in on stdin; stdout into *out (guarded; NULL
 * to discard), exit status in *status.  AL_ETIMEDOUT when it runs past
 * timeout seconds (its process group is killed).
 */
static int
run_cmd(const char *what, const char *cmd, const char *arg, const char *in,
    int timeout, struct al_secret **out, int *status, struct al_err *err)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	char *argv[6];
	struct al_secret *buf = NULL;
	struct pollfd pf[3];
	unsigned char *b = NULL, sink[4096];
	size_t inlen = strlen(in), inoff = 0, n = 0;
	int64_t deadline = mono_ms() + (int64_t)timeout * 1000;
	pid_t pid = -1;
	ssize_t r;
	int rc = 0, w, st = 0, done_out = 0, done_err = 0;

	if (out != NULL)
		*out = NULL;
	if (pipe2(pin, O_CLOEXEC) != 0 || pipe2(pout, O_CLOEXEC) != 0 ||
	    pipe2(perr, O_CLOEXEC) != 0) {
		rc = al_err_set(err, AL_ESYS, "%s: pipe: %s", what,
		    strerror(errno));
		goto out;
	}
	if ((rc = al_secret_new(EXEC_OUT_MAX, &buf)) != 0) {
		rc = al_err_set(err, rc, "out of memory");
		goto out;
	}
	b = al_secret_open(buf);
	argv[0] = "sh";
	argv[1] = "-c";
	argv[2] = (char *)cmd;
	argv[3] = "sh";
	argv[4] = (char *)arg;
	argv[5] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
	posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
	posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
#ifdef __GLIBC__
	/* Nothing of the broker's reaches the command. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	w = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (w != 0) {
		pid = -1;
		rc = al_err_set(err, AL_ESYS, "%s: cannot start /bin/sh: %s",
		    what, strerror(w));
		goto out;
	}
	(void)close(pin[0]);
	(void)close(pout[1]);
	(void)close(perr[1]);
	pin[0] = pout[1] = perr[1] = -1;
	(void)fcntl(pin[1], F_SETFL, O_NONBLOCK);
	if (inlen == 0) {
		(void)close(pin[1]);
		pin[1] = -1;
	}
	while (!done_out || !done_err) {
		int64_t left = deadline - mono_ms();
		nfds_t k = 0;

		if (left <= 0) {
			rc = al_err_set(err, AL_ETIMEDOUT, "%s: killed after "
			    "%d s", what, timeout);
			goto out;
		}
		pf[k].fd = pout[0]; pf[k].events = POLLIN; k++;
		pf[k].fd = perr[0]; pf[k].events = POLLIN; k++;
		if (pin[1] >= 0) {
			pf[k].fd = pin[1]; pf[k].events = POLLOUT; k++;
		}
		if (done_out)
			pf[0].fd = -1;
		if (done_err)
			pf[1].fd = -1;
		if (poll(pf, k, (int)left) < 0 && errno != EINTR) {
			rc = al_err_set(err, AL_ESYS, "%s: poll: %s", what,
			    strerror(errno));
			goto out;
		}
		if (k == 3 && pf[2].revents) {
			r = write(pin[1], in + inoff, inlen - inoff);
			if (r > 0)
				inoff += (size_t)r;
			if (r < 0 && errno != EAGAIN && errno != EINTR)
				inoff = inlen;	/* it closed its stdin */
			if (inoff == inlen) {
				(void)close(pin[1]);
				pin[1] = -1;
			}
		}
		if (pf[0].revents) {
			if (n == EXEC_OUT_MAX) {
				rc = al_err_set(err, AL_ETOOBIG, "%s: printed "
				    "more than %d bytes", what, EXEC_OUT_MAX);
				goto out;
			}
			r = read(pout[0], b + n, EXEC_OUT_MAX - n);
			if (r > 0)
				n += (size_t)r;
			else if (r == 0 || errno != EINTR)
				done_out = 1;
		}
		if (pf[1].revents) {
			r = read(perr[0], sink, sizeof(sink));
			if (r <= 0 && !(r < 0 && errno == EINTR))
				done_err = 1;
		}
	}
	for (;;) {
		w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			rc = al_err_set(err, AL_ESYS, "%s: waitpid: %s", what,
			    strerror(errno));
			goto out;
		}
		if (mono_ms() >= deadline) {
			rc = al_err_set(err, AL_ETIMEDOUT, "%s: killed after "
			    "%d s", what, timeout);
			goto out;
		}
		{
			struct timespec ts = { 0, 5000000 };

			(void)nanosleep(&ts, NULL);
		}
	}
	pid = -1;
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	al_secret_set_len(buf, n);
	al_secret_close(buf);
	b = NULL;
	if (out != NULL) {
		*out = buf;
		buf = NULL;
	}
out:
	sodium_memzero(sink, sizeof(sink));
	if (pid > 0) {
		(void)kill(-pid, SIGKILL);
		(void)kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	al_secret_free(buf);
	for (w = 0; w < 2; w++) {
		if (pin[w] >= 0)
			(void)close(pin[w]);
		if (pout[w] >= 0)
			(void)close(pout[w]);
		if (perr[w] >= 0)
			(void)close(perr[w]);
	}
	return rc;
}

/* ---- the issuer's answer, parsed in guarded memory ---------------------- */

struct scan {
	const unsigned char	*p, *e;
};

static void
ws(struct scan *s)
{
	while (s->p < s->e && (*s->p == ' ' || *s->p == '\t' ||
	    *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int
hex4(const unsigned char *p, unsigned *v)
{
	int i, h;

	*v = 0;
	for (i = 0; i < 4; i++) {
		h = p[i] >= '0' && p[i] <= '9' ? p[i] - '0' :
		    p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10 :
		    p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 10 : -1;
		if (h < 0)
			return -1;
		*v = *v << 4 | (unsigned)h;
	}
	return 0;
}

/*
 * A JSON string at s->p, decoded into d (room for at least its encoded
 * length; NULL: skip), length in *dn.  -1 on malformed input.
 */
static int
str(struct scan *s, unsigned char *d, size_t *dn)
{
	size_t k = 0;
	unsigned c, lo;

	if (s->p >= s->e || *s->p != '"')
		return -1;
	s->p++;
	while (s->p < s->e && *s->p != '"') {
		c = *s->p++;
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			if (s->p >= s->e)
				return -1;
			c = *s->p++;
			switch (c) {
			case '"': case '\\': case '/': break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u':
				if (s->e - s->p < 4 || hex4(s->p, &c) != 0)
					return -1;
				s->p += 4;
				if (c >= 0xd800 && c < 0xdc00) {
					if (s->e - s->p < 6 || s->p[0] != '\\' ||
					    s->p[1] != 'u' ||
					    hex4(s->p + 2, &lo) != 0 ||
					    lo < 0xdc00 || lo >= 0xe000)
						return -1;
					s->p += 6;
					c = 0x10000 + ((c - 0xd800) << 10) +
					    (lo - 0xdc00);
				} else if (c >= 0xdc00 && c < 0xe000)
					return -1;
				/* UTF-8: at most 4 bytes for 6 read. */
				if (d != NULL) {
					if (c < 0x80)
						d[k++] = (unsigned char)c;
					else if (c < 0x800) {
						d[k++] = 0xc0 | c >> 6;
						d[k++] = 0x80 | (c & 63);
					} else if (c < 0x10000) {
						d[k++] = 0xe0 | c >> 12;
						d[k++] = 0x80 | (c >> 6 & 63);
						d[k++] = 0x80 | (c & 63);
					} else {
						d[k++] = 0xf0 | c >> 18;
						d[k++] = 0x80 | (c >> 12 & 63);
						d[k++] = 0x80 | (c >> 6 & 63);
						d[k++] = 0x80 | (c & 63);
					}
				}
				continue;
			default:
				return -1;
			}
		}
		if (d != NULL)
			d[k++] = (unsigned char)c;
	}
	if (s->p >= s->e)
		return -1;
	s->p++;
	*dn = k;
	return 0;
}

/* Skip any JSON value (nesting counted, strings respected). */
static int
skip(struct scan *s)
{
	size_t depth = 0, dn;

	do {
		ws(s);
		if (s->p >= s->e)
			return -1;
		if (*s->p == '"') {
			if (str(s, NULL, &dn) != 0)
				return -1;
		} else if (*s->p == '{' || *s->p == '[') {
			depth++;
			s->p++;
		} else if (*s->p == '}' || *s->p == ']') {
			if (depth == 0)
				return -1;
			depth--;
			s->p++;
		} else {
			while (s->p < s->e && strchr(",:}] \t\r\n",
			    *s->p) == NULL)
				s->p++;
		}
		ws(s);
		if (depth > 0 && s->p < s->e && (*s->p == ',' || *s->p == ':'))
			s->p++;
	} while (depth > 0);
	return 0;
}

int
engine_json_take(struct al_secret *out, const char *vkey,
    struct al_secret **value, const char *ikey, char ext[ENGINE_EXT_MAX + 1])
{
	struct scan s;
	struct al_secret *v = NULL;
	unsigned char key[16], *d;
	size_t kn, dn, i;
	int rc = AL_EINVAL, got_value = 0;

	*value = NULL;
	if (ext != NULL)
		ext[0] = '\0';
	s.p = al_secret_open(out);
	s.e = s.p + al_secret_len(out);
	if (al_secret_new(al_secret_len(out) + 1, &v) != 0) {
		rc = AL_ENOMEM;
		goto out;
	}
	d = al_secret_open(v);
	ws(&s);
	if (s.p >= s.e || *s.p++ != '{')
		goto out;
	for (;;) {
		ws(&s);
		if (s.p < s.e && *s.p == '}' && !got_value)
			goto out;
		if (s.p < s.e && *s.p == '}')
			break;
		if (s.e - s.p < 2 || s.p[0] != '"')
			goto out;
		/* Keys of interest are short; longer ones are skipped. */
		{
			struct scan k2 = s;

			if (str(&k2, NULL, &kn) != 0)
				goto out;
			if (kn < sizeof(key)) {
				if (str(&s, key, &kn) != 0)
					goto out;
				key[kn] = '\0';
			} else {
				s = k2;
				key[0] = '\0';
			}
		}
		ws(&s);
		if (s.p >= s.e || *s.p++ != ':')
			goto out;
		ws(&s);
		if (strcmp((char *)key, vkey) == 0) {
			if (str(&s, d, &dn) != 0 || dn == 0)
				goto out;
			al_secret_set_len(v, dn);
			got_value = 1;
		} else if (ikey != NULL && strcmp((char *)key, ikey) == 0) {
			struct scan k2 = s;

			if (str(&k2, NULL, &dn) != 0 || dn > ENGINE_EXT_MAX ||
			    str(&s, (unsigned char *)ext, &dn) != 0)
				goto out;
			ext[dn] = '\0';
			for (i = 0; i < dn; i++)
				if ((unsigned char)ext[i] < 0x20 ||
				    ext[i] == 0x7f)
					goto out;
		} else if (skip(&s) != 0)
			goto out;
		ws(&s);
		if (s.p < s.e && *s.p == ',') {
			s.p++;
			continue;
		}
		if (s.p < s.e && *s.p == '}')
			break;
		goto out;
	}
	if (!got_value)
		goto out;
	al_secret_close(v);
	*value = v;
	v = NULL;
	rc = 0;
out:
	al_secret_close(out);
	al_secret_free(v);
	if (rc != 0 && ext != NULL)
		ext[0] = '\0';
	return rc;
}

/* {"value": "...", "id": "...", ...}: value and ext. */
static int
parse_answer(struct al_secret *out, struct al_secret **value,
    char ext[ENGINE_EXT_MAX + 1], struct al_err *err)
{
	int rc = engine_json_take(out, "value", value, "id", ext);

	if (rc == AL_ENOMEM)
		return al_err_set(err, rc, "out of memory");
	if (rc != 0)
		return al_err_set(err, rc, "the issue command's output is not "
		    "{\"value\": \"...\", \"id\": \"...\"} (a non-empty "
		    "string value, an id of at most %d printable bytes)",
		    ENGINE_EXT_MAX);
	return 0;
}

/* ---- ops ------------------------------------------------------------------ */

static int
exec_check(const struct pq_dl *dl, const struct engine_config *c,
    const struct al_secret *root, struct al_err *err)
{
	(void)dl;
	(void)root;
	return engine_config_check(c, err);
}

/* Append s as a JSON string (s is a name, id or number: printable). */
static int
json_str(struct al_buf *b, const char *s)
{
	int rc = al_buf_putc(b, '"');

	for (; rc == 0 && *s; s++)
		rc = (*s == '"' || *s == '\\') ? al_buf_printf(b, "\\%c", *s) :
		    (unsigned char)*s < 0x20 ? al_buf_printf(b, "\\u%04x",
		    (unsigned char)*s) : al_buf_putc(b, *s);
	return rc == 0 ? al_buf_putc(b, '"') : rc;
}

static int
exec_mint(struct engine_source *s, struct engine_slot *h, const char *role,
    const struct engine_for *why, const struct engine_pw *pw,
    int64_t valid_until, struct al_secret **value, char ext[ENGINE_EXT_MAX + 1],
    struct al_secret **keep, struct al_err *err)
{
	struct al_secret *out = NULL;
	struct al_buf req;
	int rc, status = 0;

	(void)h;
	(void)pw;
	*keep = NULL;
	*value = NULL;
	ext[0] = '\0';
	al_buf_init(&req, 4096, 0);
	if (al_buf_puts(&req, "{\"secret\":") != 0 ||
	    json_str(&req, s->name) != 0 ||
	    al_buf_puts(&req, ",\"name\":") != 0 || json_str(&req, role) ||
	    (why && why->task && why->task[0] &&
	    (al_buf_puts(&req, ",\"task\":") != 0 ||
	    json_str(&req, why->task) != 0)) ||
	    (why && why->repo && why->repo[0] &&
	    (al_buf_puts(&req, ",\"repo\":") != 0 ||
	    json_str(&req, why->repo) != 0)) ||
	    al_buf_printf(&req, ",\"expires\":%lld,\"ttl\":%lld}\n",
	    (long long)valid_until, (long long)(valid_until -
	    (int64_t)time(NULL))) != 0) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = run_cmd("the issue command", s->cfg.issue, role,
	    al_buf_str(&req), s->cfg.timeout, &out, &status, err)) != 0)
		goto out;
	if (status != 0) {
		rc = al_err_set(err, AL_EUNAVAIL, "the issue command exited "
		    "with status %d (its stderr is not kept)", status);
		goto out;
	}
	rc = parse_answer(out, value, ext, err);
out:
	al_secret_free(out);
	al_buf_release(&req);
	return rc;
}

static int
exec_destroy(struct engine_source *s, struct engine_slot *h, const char *role,
    const char *ext, struct al_secret *keep, struct al_err *err)
{
	struct al_buf req;
	const char *id = ext[0] ? ext : role;
	int rc, status = 0;

	(void)h;
	(void)keep;
	al_buf_init(&req, 4096, 0);
	if (al_buf_puts(&req, "{\"secret\":") != 0 ||
	    json_str(&req, s->name) != 0 ||
	    al_buf_puts(&req, ",\"name\":") != 0 || json_str(&req, role) ||
	    al_buf_puts(&req, ",\"id\":") != 0 || json_str(&req, id) ||
	    al_buf_puts(&req, "}\n") != 0) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = run_cmd("the revoke command", s->cfg.revoke, id,
	    al_buf_str(&req), s->cfg.timeout, NULL, &status, err)) != 0)
		goto out;
	if (status != 0)
		rc = al_err_set(err, AL_EUNAVAIL, "the revoke command exited "
		    "with status %d (its stderr is not kept)", status);
out:
	al_buf_release(&req);
	return rc;
}

static void
exec_close(const struct pq_dl *dl, void *h)
{
	(void)dl;
	(void)h;
}

const struct engine_ops engine_exec_ops = {
	.name = "exec",
	.needs_pw = 0,
	.check = exec_check,
	.mint = exec_mint,
	.destroy = exec_destroy,
	.roles = NULL,
	.close = exec_close,
};
