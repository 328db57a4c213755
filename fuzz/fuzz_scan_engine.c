/*
 * Fuzz the scanning engine with the built-in rules on arbitrary bytes: the
 * first byte picks the path (so path-restricted rules run too), the rest
 * is the content.  Every match must lie inside the buffer and its preview
 * must never hold more than 6 bytes of a secret.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
on_match(const struct scan_match *m, const unsigned char *buf, size_t n,
    void *arg)
{
	(void)arg;
	if (m->len == 0 || m->off + m->len > n ||
	    m->match_off + m->match_len > n || m->off < m->match_off)
		abort();
	(void)scan_entropy(buf + m->off, m->len);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = { NULL, "Dockerfile",
	    ".github/workflows/ci.yml", ".docker/config.json", "a.py",
	    "deploy.sh", ".gitlab-ci.yml", "Jenkinsfile" };
	static struct scan_engine *e;
	static struct scan_scratch *s;

	if (e == NULL && (scan_engine_new_builtin(0, &e, NULL) != 0 ||
	    scan_scratch_new(e, &s, NULL) != 0))
		abort();
	if (size == 0)
		return 0;
	(void)scan_buffer(e, s, paths[data[0] % 8], data + 1, size - 1,
	    on_match, NULL, NULL);
	return 0;
}
