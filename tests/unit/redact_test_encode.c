/*
 * Escaped forms of awkward values: each value has the shape that a tool
 * escapes in its own way (Python's repr with non-ASCII plus '"' and '\',
 * bash's $'...' for a control character, JSON's \u007f, "%xx" in lower
 * case for every byte).  The expected text is written out here by the
 * tool's rules; where the tool itself is on the machine (python3, bash),
 * its output is checked too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "airlock/redact.h"
#include "redact_test.h"

/*
 * The form inside text: all but its quotes (lq leading and rq trailing
 * characters, which are not part of the value's escaping) is masked.
 */
static void
expect_masked_form(const struct redact *r, const char *form, int lq, int rq)
{
	char in[1024], want[1024];
	int n = (int)strlen(form);

	(void)snprintf(in, sizeof(in), "out: %s;\n", form);
	(void)snprintf(want, sizeof(want), "out: %.*s[REDACTED:v]%s;\n", lq,
	    form, form + n - rq);
	assert_masked(r, in, want);
}

/*
 * Run a tool on the value (hex in the environment of the test's child,
 * never the value itself on a command line) and return its output.
 */
static int
tool_output(const char *cmd, const unsigned char *v, size_t n, char *out,
    size_t cap)
{
	char hex[256], full[1024];
	FILE *f;
	size_t got;

	if (access("/usr/bin/python3", X_OK) != 0 ||
	    access("/bin/bash", X_OK) != 0)
		return 0;
	sodium_bin2hex(hex, sizeof(hex), v, n);
	(void)snprintf(full, sizeof(full), "VHEX=%s %s", hex, cmd);
	assert_non_null(f = popen(full, "r"));
	got = fread(out, 1, cap - 1, f);
	out[got] = '\0';
	assert_int_equal(pclose(f), 0);
	out[strcspn(out, "\n")] = '\0';
	return 1;
}

void
test_redact_python_repr_of_non_ascii_quote_and_backslash(void **state)
{
	unsigned char v[64];
	char rnd[17], form[256], tool[256];
	struct redact *r;
	size_t n;

	(void)state;
	canary(rnd, 16, ALNUM);
	n = (size_t)snprintf((char *)v, sizeof(v), "\xc3\xa4\"b\\c%s", rnd);
	r = build1("v", v, n);
	(void)snprintf(form, sizeof(form), "'\xc3\xa4\"b\\\\c%s'", rnd);
	expect_masked_form(r, form, 1, 1);
	if (tool_output("python3 -c 'import os;print(repr(bytes.fromhex("
	    "os.environ[\"VHEX\"]).decode()))'", v, n, tool, sizeof(tool))) {
		assert_string_equal(tool, form);
		expect_masked_form(r, tool, 1, 1);
	}
	redact_free(r);

	/* A "'" and no '"': repr switches to double quotes. */
	n = (size_t)snprintf((char *)v, sizeof(v), "\xc3\xa4'b\\c\xc2\x85%s",
	    rnd);
	r = build1("v", v, n);
	(void)snprintf(form, sizeof(form), "\"\xc3\xa4'b\\\\c\\x85%s\"", rnd);
	expect_masked_form(r, form, 1, 1);
	if (tool_output("python3 -c 'import os;print(repr(bytes.fromhex("
	    "os.environ[\"VHEX\"]).decode()))'", v, n, tool, sizeof(tool)))
		assert_string_equal(tool, form);
	redact_free(r);
}

void
test_redact_bash_ansi_c_quoting_of_control_characters(void **state)
{
	unsigned char v[64];
	char rnd[17], form[256], tool[256];
	struct redact *r;
	size_t n;

	(void)state;
	canary(rnd, 16, ALNUM);
	n = (size_t)snprintf((char *)v, sizeof(v), "esc\x1bPw'\\%s\x01", rnd);
	r = build1("v", v, n);
	(void)snprintf(form, sizeof(form), "$'esc\\EPw\\'\\\\%s\\001'", rnd);
	expect_masked_form(r, form, 2, 1);
	if (tool_output("bash -c 'V=$(printf %s \"$VHEX\" | xxd -r -p); "
	    "printf %q \"$V\"'", v, n, tool, sizeof(tool))) {
		assert_string_equal(tool, form);
		expect_masked_form(r, tool, 2, 1);
	}
	if (tool_output("bash -c 'V=$(printf %s \"$VHEX\" | xxd -r -p); "
	    "printf \"%s\\n\" \"${V@Q}\"'", v, n, tool, sizeof(tool)))
		expect_masked_form(r, tool, 2, 1);
	redact_free(r);

	/* Non-ASCII with a control character: as is (UTF-8) or octal (C). */
	n = (size_t)snprintf((char *)v, sizeof(v), "\xc3\xa4\t%s", rnd);
	r = build1("v", v, n);
	(void)snprintf(form, sizeof(form), "$'\xc3\xa4\\t%s'", rnd);
	expect_masked_form(r, form, 2, 1);
	(void)snprintf(form, sizeof(form), "$'\\303\\244\\t%s'", rnd);
	expect_masked_form(r, form, 2, 1);
	redact_free(r);
}

void
test_redact_json_escapes_del_in_both_cases(void **state)
{
	unsigned char v[64];
	char rnd[17], form[256], tool[256];
	struct redact *r;
	size_t n;

	(void)state;
	canary(rnd, 16, ALNUM);
	n = (size_t)snprintf((char *)v, sizeof(v), "del\x7fPw%s\x1f\xc3\xa9",
	    rnd);
	r = build1("v", v, n);
	(void)snprintf(form, sizeof(form), "\"del\\u007fPw%s\\u001f\\u00e9\"",
	    rnd);
	expect_masked_form(r, form, 1, 1);
	(void)snprintf(form, sizeof(form), "\"del\\u007FPw%s\\u001F\\u00E9\"",
	    rnd);
	expect_masked_form(r, form, 1, 1);
	if (tool_output("python3 -c 'import os,json;print(json.dumps(bytes."
	    "fromhex(os.environ[\"VHEX\"]).decode()))'", v, n, tool,
	    sizeof(tool))) {
		(void)snprintf(form, sizeof(form),
		    "\"del\\u007fPw%s\\u001f\\u00e9\"", rnd);
		assert_string_equal(tool, form);
	}
	redact_free(r);
}

void
test_redact_lower_case_percent_encoding_of_every_byte(void **state)
{
	char v[41], form[256];
	struct redact *r;
	size_t i;

	(void)state;
	canary(v, 40, ALNUM);
	r = build1("v", v, 40);
	for (i = 0; i < 40; i++)
		(void)snprintf(form + 3 * i, 4, "%%%02x", (unsigned char)v[i]);
	expect_masked_form(r, form, 0, 0);
	for (i = 0; i < 40; i++)
		(void)snprintf(form + 3 * i, 4, "%%%02X", (unsigned char)v[i]);
	expect_masked_form(r, form, 0, 0);
	redact_free(r);
}
