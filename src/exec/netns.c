/*
 * Network isolation for `run --proxy`: the command runs in a network
 * namespace of its own (inside a user namespace when not root, which the
 * kernel allows unprivileged where user namespaces are enabled) holding
 * only a loopback interface.  Its one way out is the proxy: a listening
 * socket created *inside* that namespace, on 127.0.0.1 (a port of its
 * own), whose connections this process accepts and relays to the broker's
 * proxy outside.  A socket belongs to the namespace it was created in, so
 * this process can accept on it from outside without joining it.  Any
 * other connection, and any DNS lookup, finds no route.
 *
 * A short-lived helper process makes the namespaces and hands back their
 * descriptors and the listening socket (SCM_RIGHTS); the command's child
 * joins them with setns(2) between fork and exec.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec_int.h"

#define RELAY_BUF	(64 * 1024)	/* a pipe's default size */
#define RELAY_PIPE_MAX	(1024 * 1024)
#define RELAYS_MAX	256

struct relay {
	struct exec_netns	*ns;
	int			 in, out;
	struct relay		*next;
};

static int
write_file(const char *path, const char *s, size_t n)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t w;

	if (fd < 0)
		return -1;
	w = write(fd, s, n);
	(void)close(fd);
	return w == (ssize_t)n ? 0 : -1;
}

/* The helper: only system calls, then _exit. */
static void __attribute__((noreturn))
helper(int sock, int port, int userns, const char *umap, const char *gmap)
{
	struct sockaddr_in sa;
	struct ifreq ifr;
	int fds[3], n = 0, s, one = 1;

	if (unshare(userns ? CLONE_NEWUSER | CLONE_NEWNET : CLONE_NEWNET) != 0)
		_exit(1);
	/*
	 * A process that is not dumpable (airlock hardens itself) has its
	 * /proc files owned by root, so it could not write its own maps.
	 * This helper holds no value (a proxied run never fetches one) and
	 * is dumpable only while it writes them; core dumps stay off.
	 */
	if (userns && (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0 ||
	    write_file("/proc/self/setgroups", "deny", 4) != 0 ||
	    write_file("/proc/self/uid_map", umap, strlen(umap)) != 0 ||
	    write_file("/proc/self/gid_map", gmap, strlen(gmap)) != 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0))
		_exit(2);
	/* Bring the namespace's loopback up. */
	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		_exit(3);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
		_exit(3);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
		_exit(3);
	(void)close(s);
	if ((s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		_exit(4);
	(void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(s, 128) != 0)
		_exit(4);
	fds[n++] = s;
	if ((fds[n++] = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		_exit(5);
	if (userns && (fds[n++] = open("/proc/self/ns/user",
	    O_RDONLY | O_CLOEXEC)) < 0)
		_exit(5);
	if (al_send_fds(sock, fds, (size_t)n) != 0)
		_exit(6);
	_exit(0);
}

static const char *const helper_errors[] = {
	"", "unshare failed (namespaces not available to this user)",
	"cannot map the user namespace", "cannot bring up loopback",
	"cannot listen in the namespace", "cannot open the namespace",
	"cannot hand the namespace over",
};

int
exec_netns_open(struct exec_netns *ns, struct al_err *err)
{
	struct sockaddr_in sa;
	socklen_t slen = sizeof(sa);
	int port = 0;
	char umap[64], gmap[64];
	struct msghdr msg;
	struct iovec iov;
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(3 * sizeof(int))];
	} u;
	struct cmsghdr *cm;
	int sv[2], fds[3], userns = geteuid() != 0, ws, n;
	char ok = 0;
	pid_t pid;

	memset(ns, 0, sizeof(*ns));
	ns->listen_fd = ns->netns_fd = ns->userns_fd = ns->stop_fd = -1;
	(void)snprintf(umap, sizeof(umap), "%u %u 1\n", (unsigned)geteuid(),
	    (unsigned)geteuid());
	(void)snprintf(gmap, sizeof(gmap), "%u %u 1\n", (unsigned)getegid(),
	    (unsigned)getegid());
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return al_err_set(err, AL_ESYS, "socketpair: %s",
		    strerror(errno));
	if ((pid = fork()) < 0) {
		(void)close(sv[0]);
		(void)close(sv[1]);
		return al_err_set(err, AL_ESYS, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		(void)close(sv[0]);
		helper(sv[1], port, userns, umap, gmap);
	}
	(void)close(sv[1]);
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = &ok;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	while ((n = (int)recvmsg(sv[0], &msg, MSG_CMSG_CLOEXEC)) < 0 &&
	    errno == EINTR)
		;
	(void)close(sv[0]);
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	cm = n == 1 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (cm == NULL || cm->cmsg_type != SCM_RIGHTS) {
		int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 0;

		return al_err_set(err, AL_ESYS, "no network isolation: %s",
		    code > 0 && code < 7 ? helper_errors[code] :
		    "the namespace helper failed");
	}
	n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
	if (n < 1 || n > 3) {
		/* Not the helper's message: close what came, take nothing. */
		for (int i = 0; i < n; i++) {
			memcpy(&fds[0], CMSG_DATA(cm) + (size_t)i * sizeof(int),
			    sizeof(int));
			(void)close(fds[0]);
		}
		return al_err_set(err, AL_ESYS, "no network isolation: the "
		    "helper handed over %d descriptors", n);
	}
	memcpy(fds, CMSG_DATA(cm), (size_t)n * sizeof(int));
	ns->listen_fd = fds[0];
	ns->netns_fd = n > 1 ? fds[1] : -1;
	ns->userns_fd = n > 2 ? fds[2] : -1;
	if (ns->netns_fd < 0 || (userns && ns->userns_fd < 0)) {
		exec_netns_close(ns);
		return al_err_set(err, AL_ESYS, "no network isolation: the "
		    "helper handed over too little");
	}
	if (getsockname(ns->listen_fd, (struct sockaddr *)&sa, &slen) != 0) {
		exec_netns_close(ns);
		return al_err_set(err, AL_ESYS, "getsockname: %s",
		    strerror(errno));
	}
	ns->inner_port = ntohs(sa.sin_port);
	pthread_mutex_init(&ns->lock, NULL);
	pthread_cond_init(&ns->idle, NULL);
	ns->inited = 1;
	return 0;
}

static int
connect_out(int port)
{
	struct sockaddr_in sa;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

/*
 * Move what from has to to through a pipe (splice: the bytes stay in the
 * kernel).  1 when from is done, 0 to go on, -1 when to failed.  A pipe
 * that a splice fills is made larger, up to RELAY_PIPE_MAX: a bulk
 * transfer then takes a quarter of the system calls (and the socket sends
 * fewer, larger segments), while a connection of small requests keeps the
 * default pipe and the user's pipe budget is not spent on it.
 */
static int
move(int from, int to, int pipefd[2], size_t *cap)
{
	ssize_t got, w;
	int sz;

	got = splice(from, NULL, pipefd[1], NULL, *cap,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (got <= 0)
		return 1;
	if ((size_t)got == *cap && *cap < RELAY_PIPE_MAX &&
	    (sz = fcntl(pipefd[1], F_SETPIPE_SZ, (int)(*cap * 2))) > 0)
		*cap = (size_t)sz;
	while (got > 0) {
		w = splice(pipefd[0], NULL, to, NULL, (size_t)got,
		    SPLICE_F_MOVE);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		got -= w;
	}
	return 0;
}

/* Copy both ways until both sides are done. */
static void *
relay_main(void *arg)
{
	struct relay *r = arg;
	struct exec_netns *ns = r->ns;
	struct relay **pp;
	struct pollfd pfd[2];
	int pipes[2][2] = { { -1, -1 }, { -1, -1 } };
	size_t cap[2] = { RELAY_BUF, RELAY_BUF };
	int i, from, to, m, open_in = 1, open_out = 1, ok;

	ok = pipe2(pipes[0], O_CLOEXEC) == 0 && pipe2(pipes[1], O_CLOEXEC) == 0;
	while (ok && (open_in || open_out)) {
		pfd[0].fd = open_in ? r->in : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = open_out ? r->out : -1;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < 2; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			from = i == 0 ? r->in : r->out;
			to = i == 0 ? r->out : r->in;
			if ((m = move(from, to, pipes[i], &cap[i])) < 0)
				goto done;
			if (m == 1) {
				(void)shutdown(to, SHUT_WR);
				if (i == 0)
					open_in = 0;
				else
					open_out = 0;
			}
		}
	}
done:
	for (i = 0; i < 4; i++)
		if (pipes[i / 2][i % 2] >= 0)
			(void)close(pipes[i / 2][i % 2]);
	pthread_mutex_lock(&ns->lock);
	for (pp = &ns->relays; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	(void)close(r->in);
	(void)close(r->out);
	free(r);
	if (--ns->nrelays == 0)
		pthread_cond_broadcast(&ns->idle);
	pthread_mutex_unlock(&ns->lock);
	return NULL;
}

/*
 * Pass the accepted connection in to the proxy's handoff socket (see
 * proxy_handoff): the proxy then serves it directly, and no bytes go
 * through this process.  -1 when the proxy cannot take it.
 */
static int
hand_over(const char *name, int in)
{
	struct sockaddr_un sa;
	size_t n = strlen(name);
	int fd, rc;

	if (n == 0 || n + 1 >= sizeof(sa.sun_path) ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path + 1, name, n);
	if (connect(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct
	    sockaddr_un, sun_path) + 1 + n)) != 0) {
		(void)close(fd);
		return -1;
	}
	rc = al_send_fds(fd, &in, 1);
	(void)close(fd);
	return rc;
}

static void *
accept_main(void *arg)
{
	struct exec_netns *ns = arg;
	struct pollfd pfd[2];
	pthread_attr_t attr;
	struct relay *r;
	pthread_t t;
	int in, out, one = 1;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		pfd[0].fd = ns->listen_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = ns->stop_fd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		if ((in = accept4(ns->listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		/* Sent small requests at once, with or without the relay. */
		(void)setsockopt(in, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if (ns->handoff[0] != '\0') {
			if (hand_over(ns->handoff, in) == 0) {
				(void)close(in);
				continue;
			}
			ns->handoff[0] = '\0';	/* relay from now on */
		}
		if ((out = connect_out(ns->port)) < 0) {
			(void)close(in);
			continue;
		}
		/* Relayed as they come: never wait for more bytes. */
		(void)setsockopt(in, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		(void)setsockopt(out, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		pthread_mutex_lock(&ns->lock);
		if (ns->nrelays >= RELAYS_MAX ||
		    (r = calloc(1, sizeof(*r))) == NULL) {
			pthread_mutex_unlock(&ns->lock);
			(void)close(in);
			(void)close(out);
			continue;
		}
		r->ns = ns;
		r->in = in;
		r->out = out;
		r->next = ns->relays;
		ns->relays = r;
		ns->nrelays++;
		if (pthread_create(&t, &attr, relay_main, r) != 0) {
			ns->relays = r->next;
			ns->nrelays--;
			(void)close(in);
			(void)close(out);
			free(r);
		}
		pthread_mutex_unlock(&ns->lock);
	}
	pthread_attr_destroy(&attr);
	return NULL;
}

int
exec_isolation_check(struct al_err *err)
{
	struct exec_netns ns;
	int rc;

	rc = exec_netns_open(&ns, err);
	exec_netns_close(&ns);
	return rc;
}

int
exec_netns_start(struct exec_netns *ns, int port, const char *handoff,
    struct al_err *err)
{
	sigset_t all, old;
	int rc;

	ns->port = port;
	(void)snprintf(ns->handoff, sizeof(ns->handoff), "%s",
	    handoff != NULL ? handoff : "");
	if ((ns->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		return al_err_set(err, AL_ESYS, "eventfd: %s", strerror(errno));
	/* exec_run reads its signals from a signalfd: keep them off here. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&ns->acceptor, NULL, accept_main, ns);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return al_err_set(err, AL_ESYS, "cannot start the relay");
	ns->started = 1;
	return 0;
}

void
exec_netns_close(struct exec_netns *ns)
{
	struct relay *r;

	if (ns->started) {
		(void)al_event_post(ns->stop_fd);
		pthread_join(ns->acceptor, NULL);
		pthread_mutex_lock(&ns->lock);
		for (r = ns->relays; r != NULL; r = r->next) {
			(void)shutdown(r->in, SHUT_RDWR);
			(void)shutdown(r->out, SHUT_RDWR);
		}
		while (ns->nrelays > 0)
			pthread_cond_wait(&ns->idle, &ns->lock);
		pthread_mutex_unlock(&ns->lock);
		ns->started = 0;
	}
	if (ns->inited) {
		pthread_mutex_destroy(&ns->lock);
		pthread_cond_destroy(&ns->idle);
		ns->inited = 0;
	}
	if (ns->listen_fd >= 0)
		(void)close(ns->listen_fd);
	if (ns->netns_fd >= 0)
		(void)close(ns->netns_fd);
	if (ns->userns_fd >= 0)
		(void)close(ns->userns_fd);
	if (ns->stop_fd >= 0)
		(void)close(ns->stop_fd);
	ns->listen_fd = ns->netns_fd = ns->userns_fd = ns->stop_fd = -1;
}
