/*
 * Group commit on a second thread.  The event loop asks for a sync and goes
 * on serving; this thread runs audit_sync (the fdatasync and the head
 * update, which is most of a busy broker's kernel time) on the other core
 * and signals an eventfd in the loop's epoll set when it is done.  Lines
 * appended meanwhile wait for the next round.  The thread touches nothing
 * but the audit log, whose functions are thread-safe; the lease table and
 * every other part of the broker stay on the loop's thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "http_int.h"

struct syncer {
	struct audit_log	*log;
	pthread_t		 thread;
	int			 started;	/* thread running */
	int			 go_fd;		/* loop -> thread */
	int			 done_fd;	/* thread -> loop */
	int			 busy;		/* a round is under way (loop) */
	pthread_mutex_t		 mu;		/* guards what follows */
	int			 stop;
	int			 rc;		/* result of the last round */
	uint64_t		 durable;
	struct al_err		 err;
};

static void *
run(void *arg)
{
	struct syncer *sy = arg;
	struct al_err err;
	uint64_t durable = 0;
	int rc, stop;

	for (;;) {
		if (al_event_take(sy->go_fd) != 0)
			break;
		(void)pthread_mutex_lock(&sy->mu);
		stop = sy->stop;
		(void)pthread_mutex_unlock(&sy->mu);
		if (stop)
			break;
		memset(&err, 0, sizeof(err));
		rc = audit_sync(sy->log, &durable, &err);
		(void)pthread_mutex_lock(&sy->mu);
		sy->rc = rc;
		sy->durable = durable;
		sy->err = err;
		(void)pthread_mutex_unlock(&sy->mu);
		if (al_event_post(sy->done_fd) != 0)
			break;
	}
	return NULL;
}

int
syncer_start(struct audit_log *log, struct syncer **out, struct al_err *err)
{
	struct syncer *sy;
	int rc;

	*out = NULL;
	if ((sy = calloc(1, sizeof(*sy))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	sy->log = log;
	sy->go_fd = eventfd(0, EFD_CLOEXEC);
	sy->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sy->go_fd < 0 || sy->done_fd < 0) {
		rc = al_err_set(err, AL_ESYS, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if (pthread_mutex_init(&sy->mu, NULL) != 0) {
		rc = al_err_set(err, AL_ESYS, "cannot create a mutex");
		goto fail;
	}
	if ((rc = pthread_create(&sy->thread, NULL, run, sy)) != 0) {
		(void)pthread_mutex_destroy(&sy->mu);
		rc = al_err_set(err, AL_ESYS, "cannot start the sync thread: "
		    "%s", strerror(rc));
		goto fail;
	}
	sy->started = 1;
	*out = sy;
	return 0;
fail:
	if (sy->go_fd >= 0)
		(void)close(sy->go_fd);
	if (sy->done_fd >= 0)
		(void)close(sy->done_fd);
	free(sy);
	return rc;
}

int
syncer_fd(const struct syncer *sy)
{
	return sy->done_fd;
}

int
syncer_busy(const struct syncer *sy)
{
	return sy->busy;
}

int
syncer_request(struct syncer *sy, struct al_err *err)
{
	if (sy->busy)
		return 0;
	if (al_event_post(sy->go_fd) != 0)
		return al_err_set(err, AL_ESYS, "cannot wake the sync thread: "
		    "%s", strerror(errno));
	sy->busy = 1;
	return 0;
}

int
syncer_result(struct syncer *sy, uint64_t *durable, struct al_err *err)
{
	int rc;

	*durable = 0;
	if (!sy->busy || al_event_take(sy->done_fd) != 0)
		return AL_EBUSY;
	sy->busy = 0;
	(void)pthread_mutex_lock(&sy->mu);
	rc = sy->rc;
	*durable = sy->durable;
	if (rc != 0 && err != NULL)
		*err = sy->err;
	(void)pthread_mutex_unlock(&sy->mu);
	return rc;
}

void
syncer_stop(struct syncer *sy)
{
	uint64_t durable;

	if (sy == NULL)
		return;
	if (sy->started) {
		/* A round under way finishes first; one not begun is dropped. */
		(void)pthread_mutex_lock(&sy->mu);
		sy->stop = 1;
		(void)pthread_mutex_unlock(&sy->mu);
		(void)al_event_post(sy->go_fd);
		(void)pthread_join(sy->thread, NULL);
		(void)syncer_result(sy, &durable, NULL);
		(void)pthread_mutex_destroy(&sy->mu);
	}
	(void)close(sy->go_fd);
	(void)close(sy->done_fd);
	free(sy);
}
