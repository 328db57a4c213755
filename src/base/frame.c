/*
 * Whole writes and reads on a socket, and typed frames on top of them: a
 * type byte, a 4-byte big-endian length, then the payload.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "airlock/base.h"

int
al_send_fds(int sock, const int *fds, size_t n)
{
	union {
		struct cmsghdr	h;
		char		b[CMSG_SPACE(AL_SEND_FDS_MAX * sizeof(int))];
	} u;
	struct msghdr msg;
	struct cmsghdr *cm;
	struct iovec iov;
	char byte = 1;
	ssize_t w;

	if (n == 0 || n > AL_SEND_FDS_MAX)
		return -1;
	memset(&msg, 0, sizeof(msg));
	memset(&u, 0, sizeof(u));
	iov.iov_base = &byte;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.b;
	msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	while ((w = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return w == 1 ? 0 : -1;
}

int
al_send_all(int fd, const void *p, size_t n)
{
	const unsigned char *b = p;
	ssize_t w;

	while (n > 0) {
		w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int
al_recv_full(int fd, void *p, size_t n)
{
	unsigned char *b = p;
	ssize_t r;

	while (n > 0) {
		r = recv(fd, b, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

int
al_frame_send(int fd, char type, const void *p, size_t n)
{
	unsigned char head[AL_FRAME_HEAD];

	if (n > 0xffffffffu)
		return -1;
	head[0] = (unsigned char)type;
	head[1] = (unsigned char)(n >> 24);
	head[2] = (unsigned char)(n >> 16);
	head[3] = (unsigned char)(n >> 8);
	head[4] = (unsigned char)n;
	if (al_send_all(fd, head, sizeof(head)) != 0)
		return -1;
	return n > 0 ? al_send_all(fd, p, n) : 0;
}

size_t
al_frame_len(const unsigned char head[AL_FRAME_HEAD])
{
	return (size_t)head[1] << 24 | (size_t)head[2] << 16 |
	    (size_t)head[3] << 8 | head[4];
}
