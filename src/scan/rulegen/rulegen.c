/*
 * scan-rulegen IN.yaml OUT.c: the build-time half of the built-in rules.
 *
 * Parses a rule file with the scanner's own parser (so a malformed
 * rules/default.yaml fails the build with its line number) and writes the
 * rules as a C table (struct scan_rule_def, scan_int.h) that the scanner
 * copies at start instead of parsing YAML on every run.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scan_int.h"

/* A C string literal; every byte outside a safe set as an octal escape. */
static void
put_str(FILE *f, const char *s)
{
	const unsigned char *p;

	if (s == NULL) {
		fputs("NULL", f);
		return;
	}
	fputc('"', f);
	for (p = (const unsigned char *)s; *p; p++) {
		/* No '?' (trigraphs), '"' or '\\' as themselves. */
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') ||
		    strchr(" !#$%&'()*+,-./:;<=>@[]^_`{|}~", *p) != NULL)
			fputc(*p, f);
		else
			fprintf(f, "\\%03o", *p);
	}
	fputc('"', f);
}

/* static const char *const NAME_I[] = { ... }; unless the list is empty */
static void
put_list(FILE *f, const char *name, size_t i, const struct scan_strv *sv)
{
	size_t k;

	if (sv->n == 0)
		return;
	fprintf(f, "static const char *const %s_%zu[] = {\n", name, i);
	for (k = 0; k < sv->n; k++) {
		fputc('\t', f);
		put_str(f, sv->v[k]);
		fputs(",\n", f);
	}
	fputs("};\n", f);
}

static void
put_ref(FILE *f, const char *field, const char *name, size_t i,
    const struct scan_strv *sv)
{
	if (sv->n == 0)
		fprintf(f, "\t\t.%s = NULL, .n%s = 0,\n", field, field);
	else
		fprintf(f, "\t\t.%s = %s_%zu, .n%s = %zu,\n", field, name, i,
		    field, sv->n);
}

static int
write_table(FILE *f, const char *in, const struct scan_rules *r)
{
	const struct scan_rule *d;
	size_t i, k;

	fprintf(f, "/* Generated from %s by scan-rulegen: do not edit. */\n"
	    "#include <stddef.h>\n\n#include \"scan_int.h\"\n\n", in);
	for (i = 0; i < r->n; i++) {
		d = &r->v[i];
		put_list(f, "kw", i, &d->keywords);
		put_list(f, "allow", i, &d->allow);
		put_list(f, "paths", i, &d->paths);
		put_list(f, "pos", i, &d->positive);
		put_list(f, "neg", i, &d->negative);
	}
	fputs("\nconst struct scan_rule_def scan_builtin_defs[] = {\n", f);
	for (i = 0; i < r->n; i++) {
		d = &r->v[i];
		fputs("\t{\n\t\t.id = ", f);
		put_str(f, d->id);
		fputs(",\n\t\t.description = ", f);
		put_str(f, d->description);
		fputs(",\n\t\t.regex = ", f);
		put_str(f, d->regex);
		fputs(",\n\t\t.requires = ", f);
		put_str(f, d->requires);
		fputs(",\n\t\t.example_path = ", f);
		put_str(f, d->example_path);
		fputs(",\n", f);
		put_ref(f, "keywords", "kw", i, &d->keywords);
		put_ref(f, "allow", "allow", i, &d->allow);
		put_ref(f, "paths", "paths", i, &d->paths);
		put_ref(f, "positive", "pos", i, &d->positive);
		put_ref(f, "negative", "neg", i, &d->negative);
		/* %a: the threshold exactly as parsed. */
		fprintf(f, "\t\t.entropy = %a, .group = %d, .multiline = %d,\n"
		    "\t\t.generic = %d, .severity = %d, .category = %d, "
		    ".line = %d, .decode = %d,\n\t\t.keywords_cased = %d,\n"
		    "\t},\n", d->entropy, d->group,
		    d->multiline, d->info.generic, d->info.severity,
		    d->info.category, d->line, d->decode, d->keywords_cased);
	}
	fprintf(f, "};\nconst size_t scan_builtin_ndefs = %zu;\n\n"
	    "const char *const scan_builtin_allow[] = {\n", r->n);
	for (k = 0; k < r->allow.n; k++) {
		fputc('\t', f);
		put_str(f, r->allow.v[k]);
		fputs(",\n", f);
	}
	/* An empty initializer list is not C17. */
	fprintf(f, "\tNULL\n};\nconst size_t scan_builtin_nallow = %zu;\n",
	    r->allow.n);
	return ferror(f) ? -1 : 0;
}

int
main(int argc, char **argv)
{
	struct scan_rules *r = NULL;
	struct al_buf text;
	struct al_err err;
	FILE *f = NULL;
	int fd = -1, rc = 1;

	al_buf_init(&text, 64u * 1024 * 1024, 0);
	al_err_clear(&err);
	if (argc != 3) {
		fprintf(stderr, "usage: scan-rulegen RULES.yaml OUT.c\n");
		return 2;
	}
	if ((fd = open(argv[1], O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "scan-rulegen: %s: %s\n", argv[1],
		    strerror(errno));
		goto out;
	}
	if (al_buf_read_fd(&text, fd, text.max, argv[1], &err) != 0 ||
	    scan_rules_parse((const char *)text.data, text.len,
	    "rules/default.yaml", &r, &err) != 0) {
		fprintf(stderr, "scan-rulegen: %s\n", err.msg);
		goto out;
	}
	if ((f = fopen(argv[2], "w")) == NULL) {
		fprintf(stderr, "scan-rulegen: %s: %s\n", argv[2],
		    strerror(errno));
		goto out;
	}
	if (write_table(f, "rules/default.yaml", r) != 0) {
		fprintf(stderr, "scan-rulegen: cannot write %s\n", argv[2]);
		goto out;
	}
	rc = 0;
out:
	if (f != NULL && fclose(f) != 0)
		rc = 1;
	if (rc != 0 && f != NULL)
		(void)remove(argv[2]);
	if (fd != -1)
		(void)close(fd);
	scan_rules_free(r);
	al_buf_release(&text);
	return rc;
}
