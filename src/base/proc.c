/* Process hardening applied at the start of every airlock process. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/base.h"

int
al_process_harden(struct al_err *err)
{
	struct rlimit rl = { 0, 0 };
	int fd;

	/* Core dumps would write guarded memory to disk. */
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return al_err_set(err, AL_ESYS, "cannot disable core dumps: %s",
		    strerror(errno));
	/*
	 * Not dumpable: no core file even if a limit is raised later, and
	 * other processes of the same user cannot ptrace us or read
	 * /proc/PID/mem.
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return al_err_set(err, AL_ESYS, "cannot mark the process "
		    "non-dumpable: %s", strerror(errno));
	(void)umask(077);
	/*
	 * If stdin, stdout or stderr were closed by our parent, the next
	 * open() would take that number and a printf could land in the vault.
	 * Point them at /dev/null instead (as OpenSSH's sanitise_stdfd).
	 */
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd < 0)
		return al_err_set(err, AL_ESYS, "cannot open /dev/null: %s",
		    strerror(errno));
	(void)close(fd);
	return 0;
}
