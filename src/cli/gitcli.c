/* Asking git one thing from a command (src/cli). */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gitcli.h"

extern char **environ;

int
cli_git_line(char *const argv[], char *out, size_t outsz, int quiet,
    struct al_err *err)
{
	posix_spawn_file_actions_t fa;
	int p[2], st, rc = 0;
	ssize_t n;
	size_t len = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		return al_err_set(err, AL_ESYS, "pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
	    O_RDONLY, 0);
	if (quiet)
		posix_spawn_file_actions_addopen(&fa, STDERR_FILENO,
		    "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, "git", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	(void)close(p[1]);
	if (rc != 0) {
		(void)close(p[0]);
		return al_err_set(err, AL_ESYS, "cannot run git: %s",
		    strerror(rc));
	}
	while (len + 1 < outsz &&
	    (n = read(p[0], out + len, outsz - len - 1)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;
		len += (size_t)n;
	}
	out[len] = '\0';
	out[strcspn(out, "\n")] = '\0';
	(void)close(p[0]);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || out[0] == '\0')
		rc = al_err_set(err, AL_EINVAL, "not inside a git repository%s",
		    quiet ? "" : " (git rev-parse failed; its message is "
		    "above)");
	return rc;
}
