/*
 * The inventory as one self-contained HTML page: inline CSS, inline SVG
 * charts drawn here, no script, and a Content-Security-Policy that lets
 * the browser fetch nothing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/base.h"
#include "airlock/report.h"

#define W	560	/* chart width */
#define H	180	/* chart height */
#define PAD	36

static void
esc(FILE *out, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		switch (*s) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default:
			if ((unsigned char)*s < 0x20)
				fputc(' ', out);
			else
				fputc(*s, out);
		}
	}
}

static void
when(FILE *out, int64_t t)
{
	char b[21];

	if (t == 0) {
		fputs("&ndash;", out);
		return;
	}
	al_format_time(t, b);
	b[10] = '\0';		/* the date is enough on a page */
	fputs(b, out);
}

static void
dur_ms(FILE *out, int64_t ms)
{
	char b[32];

	if (ms < 0) {
		fputs("&ndash;", out);
		return;
	}
	if (ms < 1000) {
		fprintf(out, "%lld ms", (long long)ms);
		return;
	}
	al_format_duration(ms / 1000, b);
	esc(out, b);
}

static const char css[] =
"body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330}"
"h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}"
".sub{color:#667}table{border-collapse:collapse;width:100%}"
"th,td{border-bottom:1px solid #dde;padding:4px 6px;text-align:left;"
"vertical-align:top}th{background:#f3f4f8}"
".att{color:#b00020;font-weight:600}.ok{color:#2e7d32}"
".charts{display:flex;flex-wrap:wrap;gap:16px}"
".chart{border:1px solid #dde;padding:8px}"
"svg text{font:11px system-ui,sans-serif;fill:#333}"
"@media print{body{margin:0}.chart{break-inside:avoid}}";

/* Axis frame and a title. */
static void
svg_open(FILE *out, const char *title, const char *id)
{
	fprintf(out, "<div class=\"chart\"><svg id=\"%s\" width=\"%d\" "
	    "height=\"%d\" role=\"img\" "
	    "aria-label=\"", id, W, H + 40);
	esc(out, title);
	fprintf(out, "\"><text x=\"4\" y=\"14\" font-weight=\"600\">");
	esc(out, title);
	fprintf(out, "</text><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
	    "stroke=\"#999\"/>", PAD, H, W - 8, H);
}

static void
svg_close(FILE *out)
{
	fputs("</svg></div>\n", out);
}

/* Bars with labels under them; v[i] >= 0. */
static void
bars(FILE *out, const char *const *label, const double *v, size_t n,
    const char *color)
{
	double max = 0;
	size_t i;
	int bw, x, h;

	for (i = 0; i < n; i++)
		if (v[i] > max)
			max = v[i];
	if (n == 0) {
		fprintf(out, "<text x=\"%d\" y=\"%d\">nothing yet</text>", PAD,
		    H / 2);
		return;
	}
	bw = (W - PAD - 16) / (int)n;
	if (bw > 60)
		bw = 60;
	for (i = 0; i < n; i++) {
		x = PAD + (int)i * bw + 4;
		h = max > 0 ? (int)lround(v[i] / max * (H - 30)) : 0;
		fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
		    "fill=\"%s\"><title>", x, H - h, bw - 8, h, color);
		esc(out, label[i]);
		fprintf(out, ": %g</title></rect><text x=\"%d\" y=\"%d\">%g"
		    "</text><text x=\"%d\" y=\"%d\" transform=\"rotate(30 %d %d)"
		    "\">", v[i], x, H - h - 3, v[i], x, H + 12, x, H + 12);
		esc(out, label[i]);
		fputs("</text>", out);
	}
}

static void
chart_expiry(FILE *out, const struct report *r)
{
	int64_t lo = r->now, hi = r->now + 90 * 86400, t;
	size_t i, n = 0;
	double x;
	int y;

	for (i = 0; i < r->nsecrets; i++) {
		t = r->secrets[i].expires ? r->secrets[i].expires :
		    r->secrets[i].rotation_due;
		if (t != 0 && t > hi)
			hi = t;
		if (t != 0 && t < lo)
			lo = t;
	}
	svg_open(out, "Expiry and rotation timeline", "chart-expiry");
	x = PAD + (double)(r->now - lo) / (double)(hi - lo) * (W - PAD - 16);
	fprintf(out, "<line x1=\"%.0f\" y1=\"20\" x2=\"%.0f\" y2=\"%d\" "
	    "stroke=\"#b00020\" stroke-dasharray=\"3\"/><text x=\"%.0f\" "
	    "y=\"%d\">now</text>", x, x, H, x + 2, H + 14);
	for (i = 0; i < r->nsecrets; i++) {
		t = r->secrets[i].expires ? r->secrets[i].expires :
		    r->secrets[i].rotation_due;
		if (t == 0)
			continue;
		x = PAD + (double)(t - lo) / (double)(hi - lo) *
		    (W - PAD - 16);
		y = 30 + (int)(n++ % 10) * 14;
		fprintf(out, "<circle cx=\"%.0f\" cy=\"%d\" r=\"4\" fill=\"%s\">"
		    "<title>", x, y, t <= r->now ? "#b00020" : "#1565c0");
		esc(out, r->secrets[i].name);
		fputs("</title></circle>", out);
		fprintf(out, "<text x=\"%.0f\" y=\"%d\">", x + 6, y + 4);
		esc(out, r->secrets[i].name);
		fputs("</text>", out);
	}
	if (n == 0)
		fprintf(out, "<text x=\"%d\" y=\"%d\">no expiry or rotation "
		    "period set</text>", PAD, H / 2);
	fprintf(out, "<text x=\"%d\" y=\"%d\">", PAD, H + 30);
	when(out, lo);
	fprintf(out, "</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">",
	    W - 8, H + 30);
	when(out, hi);
	fputs("</text>", out);
	svg_close(out);
}

/* Exposures per day, over the days that had any. */
static void
chart_exposures(FILE *out, const struct report *r)
{
	char (*days)[11] = NULL;
	const char **lab = NULL;
	double *cnt = NULL;
	size_t i, k, d, nd = 0, total = 0;
	char b[21];

	for (i = 0; i < r->nsecrets; i++)
		total += r->secrets[i].nexposures;
	if (total > 0 && ((days = calloc(total, sizeof(*days))) == NULL ||
	    (lab = calloc(total, sizeof(*lab))) == NULL ||
	    (cnt = calloc(total, sizeof(*cnt))) == NULL))
		total = 0;
	for (i = 0; i < r->nsecrets && total > 0; i++) {
		for (k = 0; k < r->secrets[i].nexposures; k++) {
			al_format_time(r->secrets[i].exposures[k].since_ms /
			    1000, b);
			b[10] = '\0';
			for (d = 0; d < nd && strcmp(days[d], b) != 0; d++)
				;
			if (d == nd) {
				memcpy(days[nd], b, 11);
				lab[nd] = days[nd];
				nd++;
			}
			cnt[d] += 1;
		}
	}
	svg_open(out, "Exposures per day", "chart-exposures");
	bars(out, lab, cnt, nd, "#b00020");
	svg_close(out);
	free(days);
	free(lab);
	free(cnt);
}

static void
chart_revoke(FILE *out, const struct report *r)
{
	static const char *const lab[] = { "< 1 s", "< 10 s", "< 1 min",
	    "< 10 min", "< 1 h", ">= 1 h" };
	static const int64_t lim[] = { 1000, 10000, 60000, 600000, 3600000,
	    INT64_MAX };
	double cnt[6] = { 0 };
	size_t i, k, b;
	int64_t ms;

	for (i = 0; i < r->nsecrets; i++)
		for (k = 0; k < r->secrets[i].nexposures; k++) {
			if ((ms = r->secrets[i].exposures[k].revoke_ms) < 0)
				continue;
			for (b = 0; ms >= lim[b]; b++)
				;
			cnt[b] += 1;
		}
	svg_open(out, "Time to revoke", "chart-revoke");
	bars(out, lab, cnt, 6, "#ef6c00");
	svg_close(out);
}

static void
chart_owners(FILE *out, const struct report *r)
{
	const char **lab = NULL;
	double *cnt = NULL;
	size_t i, k, n = 0;

	if (r->nsecrets > 0 && ((lab = calloc(r->nsecrets, sizeof(*lab))) ==
	    NULL || (cnt = calloc(r->nsecrets, sizeof(*cnt))) == NULL))
		n = 0;
	for (i = 0; i < r->nsecrets && cnt != NULL; i++) {
		for (k = 0; k < n && strcmp(lab[k], r->secrets[i].owner); k++)
			;
		if (k == n)
			lab[n++] = r->secrets[i].owner;
		cnt[k] += (double)r->secrets[i].leases;
	}
	svg_open(out, "Leases per owner", "chart-owners");
	bars(out, lab, cnt, n, "#1565c0");
	svg_close(out);
	free(lab);
	free(cnt);
}

static void
row(FILE *out, const struct report *r, const struct report_secret *s)
{
	enum report_attention a = report_attention(r, s);
	size_t k;

	fputs("<tr class=\"secret\" id=\"secret-", out);
	esc(out, s->name);
	fputs("\"><td>", out);
	esc(out, s->name);
	fputs("</td><td>", out);
	if (s->owner[0] == '\0')
		fputs("<span class=\"att\">none</span>", out);
	esc(out, s->owner);
	fputs("</td><td>", out);
	esc(out, s->purpose);
	fputs("</td><td>", out);
	esc(out, s->engine[0] ? s->engine : "static");
	fputs("</td><td>", out);
	esc(out, s->status);
	fputs("</td><td>", out);
	when(out, s->created);
	fputs("</td><td>", out);
	when(out, s->expires);
	fputs("</td><td>", out);
	when(out, s->rotation_due);
	fputs("</td><td>", out);
	when(out, s->last_used);
	fprintf(out, "</td><td>%llu</td><td>%llu</td><td>",
	    (unsigned long long)s->leases, (unsigned long long)s->denials);
	for (k = 0; k < s->nexposures; k++) {
		fputs(k ? "<br>" : "", out);
		when(out, s->exposures[k].since_ms / 1000);
		fputs(" in <code>", out);
		esc(out, s->exposures[k].where);
		fputs("</code>: revoked in ", out);
		dur_ms(out, s->exposures[k].revoke_ms);
		fputs(", rotated ", out);
		if (s->exposures[k].rotate_ms < 0)
			fputs(report_exposure_overdue(r, &s->exposures[k]) ?
			    "<span class=\"att\">not yet: overdue</span>" :
			    "<span class=\"att\">not yet</span>", out);
		else {
			fputs("in ", out);
			dur_ms(out, s->exposures[k].rotate_ms);
		}
	}
	fprintf(out, "</td><td class=\"%s\">", a ? "att" : "ok");
	esc(out, a ? report_attention_name(a) : "ok");
	fputs("</td></tr>\n", out);
}

int
report_write_html(const struct report *r, FILE *out)
{
	size_t i, natt = 0;
	int a;
	char b[21];

	al_format_time(r->now, b);
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta http-equiv=\"Content-Security-Policy\" content=\""
	    "default-src 'none'; style-src 'unsafe-inline'\">"
	    "<title>airlock inventory</title><style>", out);
	fputs(css, out);
	fprintf(out, "</style></head><body><h1>airlock inventory</h1>"
	    "<div class=\"sub\">%zu secrets, generated %s</div>\n",
	    r->nsecrets, b);
	fputs("<h2>Needs attention</h2><ol id=\"attention\">", out);
	for (a = REPORT_OVERDUE; a <= REPORT_EXPIRES_SOON; a++)
		for (i = 0; i < r->nsecrets; i++) {
			if ((int)report_attention(r, &r->secrets[i]) != a)
				continue;
			natt++;
			fputs("<li><b>", out);
			esc(out, r->secrets[i].name);
			fputs("</b>: ", out);
			esc(out, report_attention_name(report_attention(r,
			    &r->secrets[i])));
			fputs("</li>", out);
		}
	if (natt == 0)
		fputs("<li class=\"ok\">nothing</li>", out);
	fputs("</ol>\n<h2>Charts</h2><div class=\"charts\">\n", out);
	chart_expiry(out, r);
	chart_exposures(out, r);
	chart_revoke(out, r);
	chart_owners(out, r);
	fputs("</div>\n<h2>Inventory</h2><table id=\"inventory\"><thead><tr>"
	    "<th>secret</th><th>owner</th><th>purpose</th><th>engine</th>"
	    "<th>status</th><th>created</th><th>expires</th>"
	    "<th>rotation due</th><th>last used</th><th>leases</th>"
	    "<th>denials</th><th>exposures</th><th>attention</th></tr>"
	    "</thead><tbody>\n", out);
	for (i = 0; i < r->nsecrets; i++)
		row(out, r, &r->secrets[i]);
	fputs("</tbody></table></body></html>\n", out);
	return ferror(out) ? AL_EIO : 0;
}
