/*
 * Fuzz the audit line parser and verifier: the input is a log, optionally
 * followed by a head record (its last 768 bytes when it is long enough).
 * The key is fixed, so seeds written with it (fuzz/corpus/audit) carry
 * valid macs and mutations reach the checks behind them.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "airlock/audit.h"

#define HEAD_LEN	768

/* libFuzzer has no main: the key is made once, before the first input. */
static struct al_secret *fuzz_key;

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0 || al_secret_new(AUDIT_KEY_LEN, &fuzz_key) != 0)
		return -1;
	memset(al_secret_open(fuzz_key), 'A', AUDIT_KEY_LEN);
	al_secret_set_len(fuzz_key, AUDIT_KEY_LEN);
	al_secret_close(fuzz_key);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_report rep;
	struct audit_entry e;
	const uint8_t *p = data, *nl;
	size_t left = size;
	json_t *o;

	/* Every fault but a bad head is pinned to a line. */
	if (audit_verify_mem(data, size, NULL, 0, fuzz_key, &rep, NULL) == 0 &&
	    rep.problem != AUDIT_INTACT && rep.line == 0 &&
	    rep.problem != AUDIT_HEAD_BAD)
		__builtin_trap();
	if (size > HEAD_LEN && audit_verify_mem(data, size - HEAD_LEN,
	    data + size - HEAD_LEN, HEAD_LEN, fuzz_key, &rep, NULL) == 0 &&
	    rep.problem == AUDIT_INTACT && rep.head_seq > rep.last_seq)
		__builtin_trap();
	while (left > 0) {
		size_t n;

		nl = memchr(p, '\n', left);
		n = nl ? (size_t)(nl - p) : left;
		if (audit_parse_line(p, n, &o, &e, NULL) == 0) {
			if (e.event == NULL || e.time == NULL || e.seq == 0)
				__builtin_trap();
			json_decref(o);
		}
		p += n + (nl != NULL);
		left -= n + (nl != NULL);
	}
	return 0;
}
