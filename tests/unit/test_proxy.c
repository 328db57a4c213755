/*
 * Unit tests for src/proxy: host patterns, placeholders, the run's CA, and
 * the CONNECT door (credential, ended run, method) over a real loopback
 * socket, and refusals inside a TLS tunnel (no upstream needed).  The
 * whole path with real servers is tests/e2e/t_proxy.sh.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "airlock/proxy.h"

static void
test_proxy_host_match_patterns(void **state)
{
	(void)state;
	assert_true(proxy_host_match("api.github.com", "api.github.com", 443));
	assert_true(proxy_host_match("API.GitHub.com", "api.github.com", 8443));
	assert_true(proxy_host_match("*.github.com", "api.github.com", 443));
	assert_false(proxy_host_match("*.github.com", "github.com", 443));
	assert_false(proxy_host_match("*.github.com", "api.github.com.evil",
	    443));
	assert_false(proxy_host_match("api.github.com", "api.github.co", 443));
	assert_true(proxy_host_match("host:8443", "host", 8443));
	assert_false(proxy_host_match("host:8443", "host", 443));
	assert_false(proxy_host_match("host:0", "host", 443));
	assert_true(proxy_host_match("127.0.0.1", "127.0.0.1", 1234));
	assert_false(proxy_host_match("127.0.0.1", "127.0.0.2", 1234));
	assert_true(proxy_host_match("[::1]:443", "::1", 443));
	assert_false(proxy_host_match("[::1]:443", "::1", 444));
}

/*
 * A '*' that ends a pattern ("10.0.0.*", "api.example.*") stands for the
 * end of a name or address, never for a domain of someone else's:
 * "10.0.0.1.attacker.example" resolves wherever its owner says.
 */
static void
test_proxy_host_match_trailing_star_stays_in_its_label(void **state)
{
	(void)state;
	assert_true(proxy_host_match("10.0.0.*", "10.0.0.17", 443));
	assert_false(proxy_host_match("10.0.0.*", "10.0.0.1.attacker.example",
	    443));
	assert_false(proxy_host_match("10.0.0.*", "10.0.0.1-x.attacker.example",
	    443));
	assert_false(proxy_host_match("127.0.0.*", "127.0.0.1.nip.io", 443));
	assert_false(proxy_host_match("10.0.0.*", "10.0.0.evil", 443));
	assert_true(proxy_host_match("10.0.*.5", "10.0.3.5", 443));
	assert_false(proxy_host_match("10.0.*.5", "10.0.evil.com.5", 443));
	assert_true(proxy_host_match("api.example.*", "api.example.com", 443));
	assert_false(proxy_host_match("api.example.*",
	    "api.example.com.attacker.example", 443));
	assert_true(proxy_host_match("api.example.c*", "api.example.com", 443));
	assert_false(proxy_host_match("api.example.c*",
	    "api.example.co.attacker.example", 443));
	assert_false(proxy_host_match("github*", "github.attacker.example", 443));
	assert_true(proxy_host_match("github*", "github-enterprise", 443));
	/* A leading or inner '*' still spans labels: the end is fixed. */
	assert_true(proxy_host_match("*.github.com", "a.b.github.com", 443));
	assert_true(proxy_host_match("api.*.example.com", "api.x.y.example.com",
	    443));
	assert_true(proxy_host_match("*", "any.host.example", 443));
	assert_true(proxy_host_match("*:8443", "any.host.example", 8443));
	assert_false(proxy_host_match("*:8443", "any.host.example", 443));
}

static int
cred(const char *name, const char *extra)
{
	return proxy_cred_header(name, strlen(name), extra);
}

/* The value goes only in headers that carry credentials. */
static void
test_proxy_cred_header_names(void **state)
{
	(void)state;
	assert_true(cred("Authorization", NULL));
	assert_true(cred("authorization", NULL));
	assert_true(cred("COOKIE", NULL));
	assert_true(cred("X-Api-Key", NULL));
	assert_true(cred("x-auth-token", NULL));
	assert_true(cred("Private-Token", NULL));
	assert_false(cred("Proxy-Authorization", NULL));
	assert_false(cred("Authorizations", NULL));
	assert_false(cred("Origin", NULL));
	assert_false(cred("X-Debug", NULL));
	assert_false(cred("Token", NULL));
	assert_false(cred("-Key", NULL));
	assert_false(cred("Sec-WebSocket-Key", NULL));
	assert_false(cred("Idempotency-Key", NULL));
	assert_false(cred("X-Custom-Auth", NULL));
	assert_true(cred("x-custom-auth", "X-Other, X-Custom-Auth "));
	assert_true(cred("X-Other", "X-Other,X-Custom-Auth"));
	assert_false(cred("X-Custom", "X-Other, X-Custom-Auth"));
	assert_false(cred("X-Custom-Auth", ""));
	assert_false(cred("X-Custom-Auth", " , "));
}

struct fx {
	struct proxy	*p;
};

static int
setup(void **state)
{
	struct proxy_opts o;
	struct fx *f = calloc(1, sizeof(*f));
	struct al_err err;

	memset(&o, 0, sizeof(o));
	o.idle_ms = 300;
	assert_int_equal(proxy_new(&o, &f->p, &err), 0);
	assert_true(proxy_port(f->p) > 0);
	*state = f;
	return 0;
}

/* A proxy whose connections may hold 1 MiB of requests between them. */
static int
setup_small(void **state)
{
	struct proxy_opts o;
	struct fx *f = calloc(1, sizeof(*f));
	struct al_err err;

	memset(&o, 0, sizeof(o));
	o.idle_ms = 2000;
	o.buffer_max = 1024 * 1024;
	assert_int_equal(proxy_new(&o, &f->p, &err), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	proxy_free(f->p);
	free(f);
	return 0;
}

static int
add_fmt(struct proxy *p, const char *value, const char *format,
    char *const *hosts, size_t nhosts, struct proxy_run **r,
    struct al_err *err)
{
	struct proxy_secret s;

	memset(&s, 0, sizeof(s));
	s.name = "tok";
	assert_int_equal(al_secret_from(value, strlen(value), &s.value), 0);
	s.hosts = hosts;
	s.nhosts = nhosts;
	s.format = format;
	return proxy_run_add(p, "run1", &s, 1, time(NULL) + 60, r, err);
}

static int
add(struct proxy *p, const char *value, char *const *hosts, size_t nhosts,
    struct proxy_run **r, struct al_err *err)
{
	return add_fmt(p, value, NULL, hosts, nhosts, r, err);
}

static int
is_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9');
}

static void
test_proxy_run_placeholder_follows_format(void **state)
{
	struct fx *f = *state;
	char *hosts[] = { "api.example.com" };
	const char *v = "ghp_Abcdefghijklmnopqrstuvwxyz0123456789";
	struct proxy_run *r = NULL;
	struct al_err err;
	const char *ph;
	size_t i;

	assert_int_equal(add_fmt(f->p, v, "ghp_{alnum:36}", hosts, 1, &r,
	    &err), 0);
	ph = proxy_run_placeholder(r, 0);
	assert_non_null(ph);
	assert_int_equal(strlen(ph), 40);
	assert_string_not_equal(ph, v);
	assert_memory_equal(ph, "ghp_", 4);
	for (i = 4; i < 40; i++)
		assert_true(is_alnum(ph[i]));
	assert_int_equal(strlen(proxy_run_credential(r)), 32);
	proxy_run_end(f->p, r);
	/* Without a format: 32 letters and digits, whatever the value. */
	assert_int_equal(add(f->p, "ab-cd-ef-gh", hosts, 1, &r, &err), 0);
	ph = proxy_run_placeholder(r, 0);
	assert_int_equal(strlen(ph), 32);
	for (i = 0; i < 32; i++)
		assert_true(is_alnum(ph[i]));
	proxy_run_end(f->p, r);
}

/*
 * A placeholder tells nothing of its value beyond the format: values of
 * different lengths and character layouts, under the same format (the
 * default, and a declared one), give placeholders of the same length whose
 * characters do not follow the value's classes.  Over 40 runs per value
 * (1,280 characters), the share of digits is 10/62 = 0.16 for every value
 * (bounds at 7 standard deviations); a placeholder that mirrored the value
 * gives 1.0 for an all-digit value and 0 for a value without digits.
 */
static void
test_proxy_run_placeholder_ignores_value_layout(void **state)
{
	struct fx *f = *state;
	char *hosts[] = { "h" };
	static const char *const values[] = {
		"0123456789012345678901234567890123456789",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
		"abcdefghij-klmnopqrst-uvwxyz-abcdefghij-klmnopqrst",
		"x1Y2z3W4v5U6t7S8r9Q0",
		"AAAA1111bbbb2222CCCC3333dddd4444EEEE5555ffff6666gggg",
	};
	static const char *const formats[] = { NULL, "pfx-{alnum:32}" };
	struct proxy_run *r = NULL;
	struct al_err err;
	const char *ph;
	size_t v, fi, k, i, len, digits, upper, total, want;

	for (fi = 0; fi < 2; fi++) {
		want = fi == 0 ? 32 : 36;
		for (v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
			digits = upper = total = 0;
			for (k = 0; k < 40; k++) {
				assert_int_equal(add_fmt(f->p, values[v],
				    formats[fi], hosts, 1, &r, &err), 0);
				ph = proxy_run_placeholder(r, 0);
				len = strlen(ph);
				assert_int_equal(len, want);
				for (i = want - 32; i < len; i++) {
					digits += ph[i] >= '0' && ph[i] <= '9';
					upper += ph[i] >= 'A' && ph[i] <= 'Z';
					total++;
				}
				proxy_run_end(f->p, r);
			}
			assert_in_range(digits * 1000 / total, 90, 240);
			assert_in_range(upper * 1000 / total, 330, 510);
		}
	}
}

static void
test_proxy_format_check_refuses_bad_formats(void **state)
{
	struct al_err err;

	(void)state;
	assert_int_equal(proxy_format_check("t", NULL, &err), 0);
	assert_int_equal(proxy_format_check("t", "ghp_{alnum:36}", &err), 0);
	assert_int_equal(proxy_format_check("t", "{digit:20}", &err), 0);
	assert_int_equal(proxy_format_check("t", "{hex:8}", &err), AL_EINVAL);
	assert_non_null(strstr(err.msg, "fewer than 64"));
	assert_non_null(strstr(err.msg, "secret 't'"));
	assert_int_equal(proxy_format_check("t", "{digit:19}", &err),
	    AL_EINVAL);
	assert_int_equal(proxy_format_check("t", "{word:40}", &err),
	    AL_EINVAL);
	assert_int_equal(proxy_format_check("t", "{alnum:32", &err),
	    AL_EINVAL);
	assert_int_equal(proxy_format_check("t", "{alnum:}", &err), AL_EINVAL);
	assert_int_equal(proxy_format_check("t", "{alnum:0}{alnum:32}", &err),
	    AL_EINVAL);
	assert_int_equal(proxy_format_check("t", "{alnum:257}", &err),
	    AL_EINVAL);
	assert_int_equal(proxy_format_check("t", "a b{alnum:32}", &err),
	    AL_EINVAL);
	assert_non_null(strstr(err.msg, "character 2"));
	assert_int_equal(proxy_format_check("t", "x:{alnum:32}", &err),
	    AL_EINVAL);
}

static void
test_proxy_run_refuses_unbound_or_unsafe_value(void **state)
{
	struct fx *f = *state;
	char *hosts[] = { "api.example.com" };
	char *bad[] = { "api example com" };
	struct proxy_run *r = NULL;
	struct al_err err;

	assert_int_equal(add(f->p, "abcdefgh12345678", hosts, 0, &r, &err),
	    AL_EINVAL);
	assert_non_null(strstr(err.msg, "bound to no host"));
	assert_null(r);
	/* A CR/LF in a value could forge a header line. */
	assert_int_equal(add(f->p, "abcdefgh\r\nX-Evil: 1", hosts, 1, &r,
	    &err), AL_EINVAL);
	assert_null(r);
	assert_int_equal(add(f->p, "abcdefgh12345678", bad, 1, &r, &err),
	    AL_EINVAL);
	assert_null(r);
}

static void
test_proxy_ca_valid_for_the_run_only(void **state)
{
	struct fx *f = *state;
	char *hosts[] = { "h.example" };
	struct proxy_run *r = NULL;
	struct al_err err;
	BIO *bio;
	X509 *ca;
	time_t later = time(NULL) + 120;

	assert_int_equal(add(f->p, "abcdefghijklmnopqrstuvwx", hosts, 1, &r,
	    &err), 0);
	bio = BIO_new_mem_buf(proxy_run_ca_pem(r), -1);
	ca = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	assert_non_null(ca);
	assert_int_equal(X509_check_ca(ca), 1);
	/* Expires with the run (60 s from now), not later. */
	assert_true(X509_cmp_time(X509_get0_notAfter(ca), &later) < 0);
	assert_true(X509_cmp_current_time(X509_get0_notAfter(ca)) > 0);
	assert_null(strstr(proxy_run_ca_pem(r), "PRIVATE"));
	X509_free(ca);
	BIO_free(bio);
	proxy_run_end(f->p, r);
}

/* A loopback address: port (0: any, to bind). */
static void
loopback(struct sockaddr_in *sa, int port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa->sin_port = htons((uint16_t)port);
}

/* A connection to the proxy's port, with req written on it. */
static int
connect_proxy(struct proxy *p, const char *req)
{
	struct sockaddr_in sa;
	int fd;

	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	loopback(&sa, proxy_port(p));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	return fd;
}

/*
 * A TCP connection over loopback: *cli the end that connected, *srv the
 * end accepted (what a namespace relay hands over).
 */
static void
tcp_pair(int *cli, int *srv)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int lst;

	assert_true((lst = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	loopback(&sa, 0);
	assert_int_equal(bind(lst, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lst, 1), 0);
	assert_int_equal(getsockname(lst, (struct sockaddr *)&sa, &sl), 0);
	assert_true((*cli = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(connect(*cli, (struct sockaddr *)&sa, sizeof(sa)),
	    0);
	assert_true((*srv = accept(lst, NULL, NULL)) >= 0);
	close(lst);
}

/* Send req to the proxy, return the status of its answer. */
static int
ask(struct proxy *p, const char *req)
{
	char buf[512];
	ssize_t n;
	int fd, st = -1;

	fd = connect_proxy(p, req);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n > 12) {
		buf[n] = '\0';
		st = atoi(buf + 9);
	}
	close(fd);
	return st;
}

static void
connect_req(const char *cred, char *out, size_t outsz)
{
	char up[128], b64[200];

	(void)snprintf(up, sizeof(up), "airlock:%s", cred);
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)up,
	    strlen(up), sodium_base64_VARIANT_ORIGINAL);
	(void)snprintf(out, outsz, "CONNECT h.example:443 HTTP/1.1\r\n"
	    "Host: h.example:443\r\nProxy-Authorization: Basic %s\r\n\r\n",
	    b64);
}

static void
test_proxy_connect_needs_the_live_runs_credential(void **state)
{
	struct fx *f = *state;
	char *hosts[] = { "h.example" };
	struct proxy_run *r = NULL;
	struct al_err err;
	char req[512], cred[40];

	assert_int_equal(add(f->p, "abcdefghijklmnopqrstuvwx", hosts, 1, &r,
	    &err), 0);
	(void)snprintf(cred, sizeof(cred), "%s", proxy_run_credential(r));
	connect_req(cred, req, sizeof(req));
	assert_int_equal(ask(f->p, req), 200);
	connect_req("00000000000000000000000000000000", req, sizeof(req));
	assert_int_equal(ask(f->p, req), 407);
	assert_int_equal(ask(f->p, "CONNECT h.example:443 HTTP/1.1\r\n"
	    "Host: h.example:443\r\n\r\n"), 407);
	assert_int_equal(ask(f->p, "GET http://h.example/ HTTP/1.1\r\n"
	    "Host: h.example\r\n\r\n"), 405);
	assert_int_equal(ask(f->p, "NOT HTTP\r\n\r\n"), 400);
	proxy_run_end(f->p, r);
	/* The ended run's credential no longer opens anything. */
	connect_req(cred, req, sizeof(req));
	assert_int_equal(ask(f->p, req), 407);
}

/* Pass fd to the proxy's handoff socket, as a namespace relay does. */
static void
hand_over(struct proxy *p, int fd)
{
	struct sockaddr_un sa;
	const char *name = proxy_handoff(p);
	int s;

	assert_non_null(name);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path + 1, name, strlen(name));
	assert_true((s = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(connect(s, (struct sockaddr *)&sa, (socklen_t)
	    (offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name))), 0);
	assert_int_equal(al_send_fds(s, &fd, 1), 0);
	close(s);
	close(fd);	/* the proxy holds the only other copy */
}

/* The status of the answer to req on fd (0: closed unanswered). */
static int
ask_fd(int fd, const char *req)
{
	char buf[512];
	ssize_t n;

	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return 0;	/* closed before it was asked */
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 12)
		return n <= 0 ? 0 : -1;
	buf[n] = '\0';
	return atoi(buf + 9);
}

/*
 * A TCP connection passed in on the handoff socket is served like one
 * made to the port (the credential asked for); a socket of another kind
 * is not served at all.
 */
static void
test_proxy_handoff_serves_passed_tcp_connections_only(void **state)
{
	struct fx *f = *state;
	char *hosts[] = { "h.example" };
	struct proxy_run *r = NULL;
	struct al_err err;
	char req[512];
	int cli, srv, sp[2], i;

	assert_int_equal(add(f->p, "abcdefghijklmnopqrstuvwx", hosts, 1, &r,
	    &err), 0);
	for (i = 0; i < 2; i++) {
		tcp_pair(&cli, &srv);
		hand_over(f->p, srv);
		connect_req(i == 0 ? proxy_run_credential(r) :
		    "00000000000000000000000000000000", req, sizeof(req));
		assert_int_equal(ask_fd(cli, req), i == 0 ? 200 : 407);
		close(cli);
	}
	/* Not a TCP connection: closed without an answer. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	hand_over(f->p, sp[1]);
	connect_req(proxy_run_credential(r), req, sizeof(req));
	assert_int_equal(ask_fd(sp[0], req), 0);
	close(sp[0]);
	proxy_run_end(f->p, r);
}

/*
 * The client's connection is local: the proxy sends on it without pacing
 * (Reno), whatever the system's default congestion control.  Seen through
 * a copy of the handed-over socket, which shares its options.
 */
static void
test_proxy_client_connection_is_not_paced(void **state)
{
	struct fx *f = *state;
	char *hosts[] = { "h.example" };
	struct proxy_run *r = NULL;
	socklen_t ol;
	struct al_err err;
	char req[512], cc[16];
	int cli, srv, copy, probe;

	/* Where the system does not allow Reno, the default stays. */
	assert_true((probe = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	if (setsockopt(probe, IPPROTO_TCP, TCP_CONGESTION, "reno", 4) != 0) {
		close(probe);
		skip();
	}
	close(probe);
	assert_int_equal(add(f->p, "abcdefghijklmnopqrstuvwx", hosts, 1, &r,
	    &err), 0);
	tcp_pair(&cli, &srv);
	assert_true((copy = dup(srv)) >= 0);
	/* Not Reno before: the proxy set it. */
	(void)setsockopt(srv, IPPROTO_TCP, TCP_CONGESTION, "bbr", 3);
	(void)setsockopt(srv, IPPROTO_TCP, TCP_CONGESTION, "cubic", 5);
	ol = sizeof(cc);
	memset(cc, 0, sizeof(cc));
	assert_int_equal(getsockopt(copy, IPPROTO_TCP, TCP_CONGESTION, cc,
	    &ol), 0);
	if (strcmp(cc, "reno") == 0) {
		/* Neither other one is here: nothing to tell apart. */
		close(copy);
		close(cli);
		close(srv);
		proxy_run_end(f->p, r);
		skip();
	}
	hand_over(f->p, srv);
	connect_req(proxy_run_credential(r), req, sizeof(req));
	/* Answered: the proxy has set up the connection. */
	assert_int_equal(ask_fd(cli, req), 200);
	ol = sizeof(cc);
	memset(cc, 0, sizeof(cc));
	assert_int_equal(getsockopt(copy, IPPROTO_TCP, TCP_CONGESTION, cc,
	    &ol), 0);
	assert_string_equal(cc, "reno");
	close(copy);
	close(cli);
	proxy_run_end(f->p, r);
}

/* A TLS session through the proxy to host:443 for run r; NULL if not. */
static SSL *
tunnel(struct proxy *p, struct proxy_run *r, const char *host, int *fdp,
    SSL_CTX **ctxp)
{
	char req[512];
	SSL_CTX *ctx;
	SSL *s;
	BIO *bio;
	X509 *ca;
	char buf[256];
	ssize_t n;
	int fd;

	connect_req(proxy_run_credential(r), req, sizeof(req));
	/* connect_req names h.example; aim it at host instead. */
	{
		char tmp[512];

		(void)snprintf(tmp, sizeof(tmp), "CONNECT %s:443 HTTP/1.1\r\n%s",
		    host, strstr(req, "\r\n") + 2);
		(void)snprintf(req, sizeof(req), "%s", tmp);
	}
	fd = connect_proxy(p, req);
	n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n > 12 && memcmp(buf, "HTTP/1.1 200", 12) == 0);
	ctx = SSL_CTX_new(TLS_client_method());
	bio = BIO_new_mem_buf(proxy_run_ca_pem(r), -1);
	ca = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
	X509_free(ca);
	BIO_free(bio);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	s = SSL_new(ctx);
	SSL_set_fd(s, fd);
	SSL_set_tlsext_host_name(s, host);
	SSL_set1_host(s, host);
	if (SSL_connect(s) != 1) {
		SSL_free(s);
		SSL_CTX_free(ctx);
		close(fd);
		return NULL;
	}
	*fdp = fd;
	*ctxp = ctx;
	return s;
}

/* Send req in the tunnel; the status of the answer and its body in body. */
static int
tls_ask(SSL *s, const char *req, char *body, size_t bodysz)
{
	char buf[4096];
	size_t got = 0, k;
	char *b;

	if (req != NULL)
		assert_int_equal(SSL_write(s, req, (int)strlen(req)),
		    (int)strlen(req));
	while (got < sizeof(buf) - 1 && SSL_read_ex(s, buf + got,
	    sizeof(buf) - 1 - got, &k) == 1) {
		got += k;
		buf[got] = '\0';
		if ((b = strstr(buf, "\r\n\r\n")) != NULL &&
		    strstr(buf, "Content-Length: ") != NULL &&
		    strlen(b + 4) >= (size_t)atoi(strstr(buf,
		    "Content-Length: ") + 16))
			break;
	}
	buf[got] = '\0';
	if (got < 12)
		return -1;
	b = strstr(buf, "\r\n\r\n");
	(void)snprintf(body, bodysz, "%s", b ? b + 4 : "");
	return atoi(buf + 9);
}

static void
close_tunnel(SSL *s, SSL_CTX *ctx, int fd)
{
	SSL_free(s);
	SSL_CTX_free(ctx);
	close(fd);
}

static void
test_proxy_refuses_placeholder_for_unbound_host(void **state)
{
	struct fx *f = *state;
	char *hosts[] = { "api.example.com" };
	struct proxy_run *r = NULL;
	struct al_err err;
	SSL_CTX *ctx;
	SSL *s;
	char req[1024], body[1024];
	int fd;

	assert_int_equal(add(f->p, "abcdefghijklmnopqrstuvwx", hosts, 1, &r,
	    &err), 0);
	s = tunnel(f->p, r, "other.example", &fd, &ctx);
	assert_non_null(s);
	/* Refused before any upstream connection: nothing is resolved. */
	(void)snprintf(req, sizeof(req), "GET /x HTTP/1.1\r\nHost: "
	    "other.example\r\nX-Leak: %s\r\n\r\n",
	    proxy_run_placeholder(r, 0));
	assert_int_equal(tls_ask(s, req, body, sizeof(body)), 403);
	assert_non_null(strstr(body, "secret 'tok' to a host it is not bound "
	    "to; it may only be sent to: api.example.com"));
	/* The tunnel goes on; a Host that is not the CONNECT target: 421. */
	assert_int_equal(tls_ask(s, "GET / HTTP/1.1\r\nHost: api.example.com"
	    "\r\n\r\n", body, sizeof(body)), 421);
	close_tunnel(s, ctx, fd);
	proxy_run_end(f->p, r);
}

static void
test_proxy_slow_request_gets_408(void **state)
{
	struct fx *f = *state;
	char *hosts[] = { "h.example" };
	struct proxy_run *r = NULL;
	struct al_err err;
	SSL_CTX *ctx;
	SSL *s;
	char body[256];
	int fd;

	assert_int_equal(add(f->p, "abcdefghijklmnopqrstuvwx", hosts, 1, &r,
	    &err), 0);
	s = tunnel(f->p, r, "h.example", &fd, &ctx);
	assert_non_null(s);
	/* Half a request, then nothing until the idle time (300 ms) passes. */
	assert_int_equal(tls_ask(s, "GET / HTTP/1.1\r\nHost: h.exa", body,
	    sizeof(body)), 408);
	close_tunnel(s, ctx, fd);
	proxy_run_end(f->p, r);
}

/* Send a request with a body of n bytes; the status of the answer. */
static int
ask_with_body(SSL *s, const char *host, const char *ph, size_t n)
{
	char head[512], body[512];
	char *b = malloc(n);
	size_t off = 0;
	int k;

	assert_non_null(b);
	memset(b, 'x', n);
	(void)snprintf(head, sizeof(head), "POST /x HTTP/1.1\r\nHost: %s\r\n"
	    "X-Leak: %s\r\nContent-Length: %zu\r\n\r\n", host, ph, n);
	assert_int_equal(SSL_write(s, head, (int)strlen(head)),
	    (int)strlen(head));
	while (off < n && (k = SSL_write(s, b + off, (int)(n - off > 65536 ?
	    65536 : n - off))) > 0)
		off += (size_t)k;
	free(b);
	return tls_ask(s, NULL, body, sizeof(body));
}

/*
 * Request bodies are held whole: past what all connections together may
 * hold, 503 (512 connections of 16 MiB bodies would take the broker's
 * memory), and the budget comes back when a request is done.
 */
static void
test_proxy_request_bytes_have_a_budget(void **state)
{
	struct fx *f = *state;
	char *hosts[] = { "api.example.com" };
	struct proxy_run *r = NULL;
	struct al_err err;
	SSL_CTX *ctx;
	SSL *s;
	int fd, i;

	assert_int_equal(add(f->p, "abcdefghijklmnopqrstuvwx", hosts, 1, &r,
	    &err), 0);
	for (i = 0; i < 2; i++) {
		s = tunnel(f->p, r, "other.example", &fd, &ctx);
		assert_non_null(s);
		/* 64 KiB fits: read whole, then refused for the placeholder. */
		assert_int_equal(ask_with_body(s, "other.example",
		    proxy_run_placeholder(r, 0), 64 * 1024), 403);
		assert_int_equal(ask_with_body(s, "other.example",
		    proxy_run_placeholder(r, 0), 64 * 1024), 403);
		/* 512 KiB costs more than the 1 MiB there is. */
		assert_int_equal(ask_with_body(s, "other.example",
		    proxy_run_placeholder(r, 0), 512 * 1024), 503);
		close_tunnel(s, ctx, fd);
	}
	proxy_run_end(f->p, r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proxy_host_match_patterns),
		cmocka_unit_test(test_proxy_cred_header_names),
		cmocka_unit_test(
		    test_proxy_host_match_trailing_star_stays_in_its_label),
		cmocka_unit_test(test_proxy_format_check_refuses_bad_formats),
		cmocka_unit_test_setup_teardown(
		    test_proxy_run_placeholder_ignores_value_layout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_proxy_run_placeholder_follows_format, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_proxy_run_refuses_unbound_or_unsafe_value, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_proxy_ca_valid_for_the_run_only, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proxy_connect_needs_the_live_runs_credential, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_proxy_handoff_serves_passed_tcp_connections_only,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proxy_client_connection_is_not_paced, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_proxy_refuses_placeholder_for_unbound_host, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_proxy_slow_request_gets_408, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proxy_request_bytes_have_a_budget, setup_small,
		    teardown),
	};

	if (sodium_init() < 0)
		return 1;
	/* A refused request's connection may close while the body is sent. */
	(void)signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
