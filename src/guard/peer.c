/*
 * Who is at the other end of a connection to the guard.  The guard listens
 * on a loopback address, which every local user can reach; its answers
 * (a request refused for a secret in a thinking block, a mask the
 * provider's token count shows) would tell any of them whether a text
 * held one of this user's values, and a hit marks the secret exposed.  So
 * only this user's processes are served: the owner of the client's end of
 * a loopback connection is asked of the kernel's socket diagnostics
 * (NETLINK_SOCK_DIAG, an exact look-up of that one socket), which
 * unprivileged processes may do.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "guard_int.h"

int
guard_peer_uid(const struct sockaddr_in *peer, const struct sockaddr_in *local,
    uid_t *uid)
{
	struct {
		struct nlmsghdr		h;
		struct inet_diag_req_v2	r;
	} req;
	union {
		struct nlmsghdr	h;
		char		b[4096];
	} resp;
	struct sockaddr_nl kernel;
	struct timeval tv = { 1, 0 };
	struct nlmsghdr *h;
	ssize_t n;
	int fd, rc = -1;

	if ((fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.h.nlmsg_flags = NLM_F_REQUEST;
	req.r.sdiag_family = AF_INET;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0U;
	/* The client's socket: its own end first, then ours. */
	req.r.id.idiag_sport = peer->sin_port;
	req.r.id.idiag_dport = local->sin_port;
	req.r.id.idiag_src[0] = peer->sin_addr.s_addr;
	req.r.id.idiag_dst[0] = local->sin_addr.s_addr;
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	memset(&kernel, 0, sizeof(kernel));
	kernel.nl_family = AF_NETLINK;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel,
	    sizeof(kernel)) != (ssize_t)sizeof(req))
		goto out;
	while ((n = recv(fd, &resp, sizeof(resp), 0)) < 0 && errno == EINTR)
		;
	for (h = &resp.h; n > 0 && NLMSG_OK(h, (size_t)n);
	    h = NLMSG_NEXT(h, n)) {
		const struct inet_diag_msg *m = NLMSG_DATA(h);

		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
			break;		/* an error: no such socket */
		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
		    m->id.idiag_sport != peer->sin_port ||
		    m->id.idiag_src[0] != peer->sin_addr.s_addr)
			break;
		*uid = (uid_t)m->idiag_uid;
		rc = 0;
		break;
	}
out:
	close(fd);
	return rc;
}
