/*
 * An eventfd as a wake-up between threads: one side posts, the other
 * takes (and so clears) what was posted.
 */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "airlock/base.h"

int
al_event_post(int fd)
{
	uint64_t one = 1;

	while (write(fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		if (errno != EINTR)
			return -1;
	return 0;
}

int
al_event_take(int fd)
{
	uint64_t n;

	while (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		if (errno != EINTR)
			return -1;
	return 0;
}
