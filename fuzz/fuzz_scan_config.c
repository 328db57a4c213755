/*
 * Fuzz the scanner's YAML readers: the bytes are a .airlock.yaml and, read
 * again, a rule file.  Whatever parses is applied to the built-in rules;
 * a small rule file is also compiled (user regexes, examples checked) and
 * run over the input itself.
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
	(void)buf;
	(void)arg;
	if (m->off + m->len > n || m->match_off + m->match_len > n)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct scan_rules *builtin;
	struct scan_config *c = NULL;
	struct scan_rules *r = NULL;
	struct scan_engine *e = NULL;
	struct scan_scratch *s = NULL;

	if (builtin == NULL && scan_rules_builtin(&builtin, NULL) != 0)
		abort();
	if (scan_config_parse((const char *)data, size, "fuzz", &c, NULL) == 0) {
		struct scan_rules *copy = NULL;

		/* Applying to a fresh copy each time keeps runs independent. */
		if (scan_rules_builtin(&copy, NULL) == 0)
			(void)scan_rules_apply_config(copy, c, NULL);
		(void)scan_config_path_allowed(c, "src/main.c");
		scan_rules_free(copy);
		scan_config_free(c);
	}
	if (scan_rules_parse((const char *)data, size, "fuzz", &r, NULL) == 0 &&
	    scan_rules_count(r) <= 4 &&
	    scan_engine_new(r, 0, &e, NULL) == 0 &&
	    scan_scratch_new(e, &s, NULL) == 0)
		(void)scan_buffer(e, s, "fuzz.txt", data, size, on_match, NULL,
		    NULL);
	scan_scratch_free(s);
	scan_engine_free(e);
	scan_rules_free(r);
	return 0;
}
