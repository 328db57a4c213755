/* The system clock behind the injectable clock interface. */
#include <time.h>

#include "airlock/base.h"

static int64_t
system_now(void *arg)
{
	(void)arg;
	return (int64_t)time(NULL);
}

static int64_t
system_now_ms(void *arg)
{
	struct timespec ts;

	(void)arg;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const struct al_clock system_clock = { system_now, system_now_ms, NULL };

const struct al_clock *
al_clock_system(void)
{
	return &system_clock;
}

int64_t
al_mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
