/*
 * Who holds a connection.  The broker talks to whoever holds the client's
 * end of a socket, not to the process that connected: a forked child
 * shares it, a parent keeps it while its child calls exec.  The kernel
 * names the peer socket (sock_diag, UNIX_DIAG_PEER); /proc/PID/fd says
 * which processes hold it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>

#include "identity_int.h"

/* The inode of the socket at the other end of our socket (inode ino). */
static int
peer_inode(ino_t ino, ino_t *peer)
{
	struct {
		struct nlmsghdr		nlh;
		struct unix_diag_req	req;
	} q;
	union {
		struct nlmsghdr	nlh;
		char		buf[8192];
	} r;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct nlmsghdr *h;
	struct unix_diag_msg *m;
	struct rtattr *a;
	ssize_t n;
	int fd, rc = -1, len;

	if ((fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) < 0)
		return -1;
	memset(&q, 0, sizeof(q));
	q.nlh.nlmsg_len = sizeof(q);
	q.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	q.nlh.nlmsg_flags = NLM_F_REQUEST;
	q.req.sdiag_family = AF_UNIX;
	q.req.udiag_ino = (__u32)ino;
	q.req.udiag_show = UDIAG_SHOW_PEER;
	q.req.udiag_cookie[0] = q.req.udiag_cookie[1] = ~0U;
	if (sendto(fd, &q, sizeof(q), 0, (struct sockaddr *)&sa,
	    sizeof(sa)) != (ssize_t)sizeof(q))
		goto out;
	do
		n = recv(fd, &r, sizeof(r), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		goto out;
	for (h = &r.nlh; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
			break;
		m = NLMSG_DATA(h);
		len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
		for (a = (struct rtattr *)(m + 1); RTA_OK(a, len);
		    a = RTA_NEXT(a, len))
			if (a->rta_type == UNIX_DIAG_PEER &&
			    RTA_PAYLOAD(a) >= sizeof(__u32)) {
				*peer = *(__u32 *)RTA_DATA(a);
				rc = 0;
			}
		break;
	}
out:
	(void)close(fd);
	return rc;
}

/* 1 when process dirfd holds socket inode ino, 0 not, -1 unreadable. */
static int
holds(int procfd, const char *pid, const char *want)
{
	char path[300], link[64];
	struct dirent *e;
	DIR *d;
	ssize_t n;
	int dfd, found = 0;

	(void)snprintf(path, sizeof(path), "%s/fd", pid);
	if ((dfd = openat(procfd, path, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		return -1;
	if ((d = fdopendir(dfd)) == NULL) {
		(void)close(dfd);
		return -1;
	}
	while (!found && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		n = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found = strcmp(link, want) == 0;
	}
	(void)closedir(d);
	return found;
}

int
ident_conn_holders(int fd, pid_t pid, uid_t uid, pid_t *other,
    size_t *unseen, struct al_err *err)
{
	char want[64];
	struct stat sb;
	struct dirent *e;
	ino_t peer;
	DIR *d = NULL;
	long p;
	char *end;
	int procfd = -1, rc = 0, self = 0, h;

	*other = 0;
	*unseen = 0;
	/* Root can take any process's descriptors: nothing to prove. */
	if (uid == 0)
		return 0;
	if (fstat(fd, &sb) != 0 || peer_inode(sb.st_ino, &peer) != 0)
		return al_err_set(err, AL_ESYS, "the kernel cannot name the "
		    "peer of this connection (sock_diag for Unix sockets is "
		    "missing)");
	(void)snprintf(want, sizeof(want), "socket:[%llu]",
	    (unsigned long long)peer);
	if ((procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (d = fdopendir(procfd)) == NULL) {
		if (procfd >= 0)
			(void)close(procfd);
		return al_err_set(err, AL_ESYS, "cannot read /proc: %s",
		    strerror(errno));
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		p = strtol(e->d_name, &end, 10);
		if (*end != '\0' || p <= 0)
			continue;
		/* Undumpable processes show as root's. */
		if (fstatat(dirfd(d), e->d_name, &sb, 0) != 0 ||
		    (sb.st_uid != uid && sb.st_uid != 0 && p != pid))
			continue;
		if ((h = holds(dirfd(d), e->d_name, want)) < 0) {
			if (sb.st_uid == uid || p == pid)
				(*unseen)++;
			continue;
		}
		if (h && p == pid)
			self = 1;
		else if (h && *other == 0)
			*other = (pid_t)p;
	}
	(void)closedir(d);
	if (*other != 0)
		rc = al_err_set(err, AL_EPERM, "process %ld also holds this "
		    "connection, which process %ld opened",
		    (long)*other, (long)pid);
	else if (!self && *unseen == 0)
		rc = al_err_set(err, AL_ENOENT, "process %ld no longer holds "
		    "the connection it opened", (long)pid);
	return rc;
}
