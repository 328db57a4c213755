/* Unit tests of src/report: attention, CSV and HTML escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "airlock/report.h"

#define NOW	1800000000

static struct report_secret
sec(const char *name, const char *owner, const char *status)
{
	struct report_secret s;

	memset(&s, 0, sizeof(s));
	s.name = name;
	s.owner = owner;
	s.purpose = "p";
	s.engine = "";
	s.status = status;
	s.created = NOW - 86400;
	return s;
}

static char *
render(const struct report *r, int (*fn)(const struct report *, FILE *))
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	assert_non_null(f);
	assert_int_equal(fn(r, f), 0);
	fclose(f);
	return buf;
}

static void
test_report_attention_most_urgent_first(void **state)
{
	struct report r = { NULL, 0, NOW, 14 * 86400 };
	struct report_exposure x = { (int64_t)NOW * 1000, "/h", 10, -1, 1,
	    NOW + 3600 };
	struct report_secret s = sec("a", "", "active");

	(void)state;
	assert_int_equal(report_attention(&r, &s), REPORT_NO_OWNER);
	s.owner = "o";
	assert_int_equal(report_attention(&r, &s), REPORT_OK);
	s.expires = NOW + 86400;
	assert_int_equal(report_attention(&r, &s), REPORT_EXPIRES_SOON);
	s.rotation_due = NOW - 1;
	assert_int_equal(report_attention(&r, &s), REPORT_ROTATION_OVERDUE);
	s.expires = NOW;
	assert_int_equal(report_attention(&r, &s), REPORT_EXPIRED);
	s.exposures = &x;
	s.nexposures = 1;
	assert_int_equal(report_attention(&r, &s), REPORT_EXPOSED);
	/* Past the owner's rotation SLA: first of all. */
	x.rotate_by = NOW;
	assert_int_equal(report_attention(&r, &s), REPORT_OVERDUE);
	x.rotate_ms = 5000;
	assert_int_equal(report_attention(&r, &s), REPORT_EXPIRED);
}

static void
test_report_csv_quotes_and_formulas(void **state)
{
	struct report_secret s[1];
	struct report r = { s, 1, NOW, 0 };
	char *out;

	(void)state;
	s[0] = sec("k", "=HYPERLINK(\"x\")", "active");
	s[0].purpose = "a, b";
	out = render(&r, report_write_csv);
	assert_non_null(strstr(out, "\r\nk,'\"=HYPERLINK(\"\"x\"\")\",\"a, b\","));
	free(out);
}

static void
test_report_html_escapes_fields(void **state)
{
	struct report_secret s[2];
	struct report r = { s, 2, NOW, 0 };
	char *out;

	(void)state;
	s[0] = sec("x1", "<script>alert(1)</script>", "active");
	s[1] = sec("x2", "o", "active");
	s[1].purpose = "<img src=\"http://e.invalid/\">";
	out = render(&r, report_write_html);
	assert_null(strstr(out, "<script"));
	assert_null(strstr(out, "<img"));
	assert_non_null(strstr(out, "&lt;img src=&quot;http://e.invalid/"));
	assert_non_null(strstr(out, "<tr class=\"secret\" id=\"secret-x1\">"));
	assert_non_null(strstr(out, "<tr class=\"secret\" id=\"secret-x2\">"));
	assert_non_null(strstr(out, "default-src 'none'"));
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_attention_most_urgent_first),
		cmocka_unit_test(test_report_csv_quotes_and_formulas),
		cmocka_unit_test(test_report_html_escapes_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
