/*
 * A run's certificate authority: a P-256 key made for the run and kept in
 * this process's memory only (never written anywhere), a self-signed
 * certificate valid from a minute ago until the run's end, and leaf
 * certificates minted per host on first use and cached for the run.
 * The key dies with the run (EVP_PKEY_free clears it).
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "proxy_int.h"

static EVP_PKEY *
new_key(const struct ossl_dl *dl)
{
	return dl->EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static int
add_ext(const struct ossl_dl *dl, X509 *cert, X509 *issuer, int nid,
    const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;

	memset(&ctx, 0, sizeof(ctx));	/* no config database */
	dl->X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	if ((ex = dl->X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	if (!dl->X509_add_ext(cert, ex, -1)) {
		dl->X509_EXTENSION_free(ex);
		return -1;
	}
	dl->X509_EXTENSION_free(ex);
	return 0;
}

/* A certificate for key signed by ca_key (or itself), serial random. */
static X509 *
new_cert(const struct ossl_dl *dl, EVP_PKEY *key, const char *cn,
    X509 *issuer, EVP_PKEY *ca_key, int64_t not_after)
{
	X509 *c = NULL;
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	int ok = 0;

	if ((c = dl->X509_new()) == NULL || !dl->X509_set_version(c, 2))
		goto out;
	if (dl->RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f;
	if ((bn = dl->BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    dl->BN_to_ASN1_INTEGER(bn, dl->X509_get_serialNumber(c)) == NULL)
		goto out;
	if (dl->X509_gmtime_adj(dl->X509_getm_notBefore(c), -60) == NULL ||
	    dl->ASN1_TIME_set(dl->X509_getm_notAfter(c), (time_t)not_after) == NULL)
		goto out;
	name = dl->X509_get_subject_name(c);
	if (!dl->X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"airlock proxy", -1, -1, 0) ||
	    !dl->X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0))
		goto out;
	if (!dl->X509_set_issuer_name(c, issuer ? dl->X509_get_subject_name(issuer) :
	    name) || !dl->X509_set_pubkey(c, key))
		goto out;
	ok = 1;
out:
	dl->BN_free(bn);
	if (!ok) {
		dl->X509_free(c);
		return NULL;
	}
	(void)ca_key;
	return c;
}

int
ca_init(struct proxy_ca *ca, const struct ossl_dl *dl, const char *run_id,
    int64_t not_after, struct al_err *err)
{
	BIO *bio = NULL;
	BUF_MEM *mem;
	char cn[96];
	int rc = AL_ECRYPTO;

	memset(ca, 0, sizeof(*ca));
	ca->dl = dl;
	if (pthread_mutex_init(&ca->lock, NULL) != 0)
		return al_err_set(err, AL_ESYS, "cannot create a lock");
	ca->not_after = not_after;
	(void)snprintf(cn, sizeof(cn), "airlock run %.16s", run_id);
	if ((ca->key = new_key(dl)) == NULL ||
	    (ca->leaf_key = new_key(dl)) == NULL)
		goto out;
	if ((ca->cert = new_cert(dl, ca->key, cn, NULL, ca->key,
	    not_after)) == NULL)
		goto out;
	if (add_ext(dl, ca->cert, ca->cert, NID_basic_constraints,
	    "critical,CA:TRUE,pathlen:0") != 0 ||
	    add_ext(dl, ca->cert, ca->cert, NID_key_usage,
	    "critical,keyCertSign,cRLSign") != 0 ||
	    add_ext(dl, ca->cert, ca->cert, NID_subject_key_identifier,
	    "hash") != 0 ||
	    add_ext(dl, ca->cert, ca->cert, NID_authority_key_identifier,
	    "keyid:always") != 0)
		goto out;
	if (!dl->X509_sign(ca->cert, ca->key, dl->EVP_sha256()))
		goto out;
	if ((bio = dl->BIO_new(dl->BIO_s_mem())) == NULL ||
	    !dl->PEM_write_bio_X509(bio, ca->cert))
		goto out;
	dl->BIO_ctrl(bio, BIO_C_GET_BUF_MEM_PTR, 0, (char *)&mem);
	if ((ca->pem = calloc(1, mem->length + 1)) == NULL) {
		rc = AL_ENOMEM;
		goto out;
	}
	memcpy(ca->pem, mem->data, mem->length);
	rc = 0;
out:
	dl->BIO_free(bio);
	if (rc != 0) {
		dl->ERR_clear_error();
		ca_release(ca);
		return al_err_set(err, rc, "cannot make the run's certificate "
		    "authority");
	}
	return 0;
}

void
ca_release(struct proxy_ca *ca)
{
	const struct ossl_dl *dl = ca->dl;
	size_t i;

	if (dl == NULL)
		return;	/* never initialised */

	for (i = 0; i < ca->nleaves; i++)
		dl->SSL_CTX_free(ca->leaves[i].ctx);
	dl->EVP_PKEY_free(ca->key);
	dl->EVP_PKEY_free(ca->leaf_key);
	dl->X509_free(ca->cert);
	free(ca->pem);
	pthread_mutex_destroy(&ca->lock);
	memset(ca, 0, sizeof(*ca));
}

/* Offer http/1.1 only: an HTTP/2 client falls back to it. */
static int
alpn_select(SSL *s, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned int i = 0;

	(void)s;
	(void)arg;
	while (i < inlen) {
		unsigned int l = in[i];

		if (i + 1 + l > inlen)
			break;
		if (l == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
			*out = in + i + 1;
			*outlen = 8;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + l;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

static SSL_CTX *
mint(struct proxy_ca *ca, const char *host)
{
	const struct ossl_dl *dl = ca->dl;
	unsigned char ip[16];
	char san[PROXY_HOST_MAX + 8];
	SSL_CTX *ctx = NULL;
	X509 *leaf = NULL;
	int is_ip;

	is_ip = inet_pton(AF_INET, host, ip) == 1 ||
	    inet_pton(AF_INET6, host, ip) == 1;
	if (snprintf(san, sizeof(san), "%s:%s", is_ip ? "IP" : "DNS",
	    host) >= (int)sizeof(san))
		return NULL;
	if ((leaf = new_cert(dl, ca->leaf_key, host, ca->cert, ca->key,
	    ca->not_after)) == NULL)
		goto fail;
	if (add_ext(dl, leaf, ca->cert, NID_basic_constraints, "CA:FALSE") ||
	    add_ext(dl, leaf, ca->cert, NID_key_usage,
	    "critical,digitalSignature") ||
	    add_ext(dl, leaf, ca->cert, NID_ext_key_usage, "serverAuth") ||
	    add_ext(dl, leaf, ca->cert, NID_subject_alt_name, san) ||
	    add_ext(dl, leaf, ca->cert, NID_subject_key_identifier, "hash") ||
	    add_ext(dl, leaf, ca->cert, NID_authority_key_identifier,
	    "keyid:always") || !dl->X509_sign(leaf, ca->key, dl->EVP_sha256()))
		goto fail;
	if ((ctx = dl->SSL_CTX_new(dl->TLS_server_method())) == NULL ||
	    !dl->SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION,
	    TLS1_2_VERSION, NULL) ||
	    dl->SSL_CTX_use_certificate(ctx, leaf) != 1 ||
	    dl->SSL_CTX_ctrl(ctx, SSL_CTRL_CHAIN_CERT, 1,
	    (char *)ca->cert) != 1 ||
	    dl->SSL_CTX_use_PrivateKey(ctx, ca->leaf_key) != 1)
		goto fail;
	dl->SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	dl->SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
	(void)dl->SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_MODE,
	    SSL_SESS_CACHE_OFF, NULL);
	dl->X509_free(leaf);
	return ctx;
fail:
	dl->ERR_clear_error();
	dl->SSL_CTX_free(ctx);
	dl->X509_free(leaf);
	return NULL;
}

SSL_CTX *
ca_leaf_ctx(struct proxy_ca *ca, const char *host)
{
	const struct ossl_dl *dl = ca->dl;
	SSL_CTX *ctx = NULL;
	size_t i;

	pthread_mutex_lock(&ca->lock);
	for (i = 0; i < ca->nleaves; i++)
		if (strcasecmp(ca->leaves[i].host, host) == 0) {
			ctx = ca->leaves[i].ctx;
			break;
		}
	if (ctx == NULL && ca->nleaves < PROXY_LEAVES_MAX &&
	    (ctx = mint(ca, host)) != NULL) {
		(void)snprintf(ca->leaves[ca->nleaves].host,
		    sizeof(ca->leaves[0].host), "%s", host);
		ca->leaves[ca->nleaves++].ctx = ctx;
	}
	if (ctx != NULL)
		dl->SSL_CTX_up_ref(ctx);
	pthread_mutex_unlock(&ca->lock);
	return ctx;
}
