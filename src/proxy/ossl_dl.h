/*
 * Private to src/proxy: OpenSSL (libssl, libcrypto) and zlib, loaded with
 * dlopen() when the broker starts its proxy instead of linked, so that
 * every other command (and a broker that never proxies) starts without
 * mapping them.
 *
 * The table lives in struct proxy (no global state); the CA and each
 * connection reach it through their proxy.  Each field has the function's
 * declared type (__typeof__) and the function's own name, so a call reads
 * `dl->SSL_new(ctx)`.  OpenSSL's function-like macros are not in the
 * table; the code calls what they expand to (SSL_CTX_ctrl, SSL_ctrl,
 * BIO_ctrl, EVP_PKEY_Q_keygen), and zlib's inflateInit2 is inflateInit2_.
 * The libraries stay mapped once loaded (they keep process-wide state).
 */
#ifndef AIRLOCK_PROXY_OSSL_DL_H
#define AIRLOCK_PROXY_OSSL_DL_H

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <zlib.h>

#include "airlock/base.h"

#define OSSL_DL_SSL_FUNCS(X)						\
	X(SSL_CTX_ctrl)							\
	X(SSL_CTX_free)							\
	X(SSL_CTX_load_verify_locations)				\
	X(SSL_CTX_new)							\
	X(SSL_CTX_set_alpn_protos)					\
	X(SSL_CTX_set_alpn_select_cb)					\
	X(SSL_CTX_set_default_read_buffer_len)				\
	X(SSL_CTX_set_default_verify_paths)				\
	X(SSL_CTX_set_options)						\
	X(SSL_CTX_set_verify)						\
	X(SSL_CTX_up_ref)						\
	X(SSL_CTX_use_PrivateKey)					\
	X(SSL_CTX_use_certificate)					\
	X(SSL_accept)							\
	X(SSL_connect)							\
	X(SSL_ctrl)							\
	X(SSL_free)							\
	X(SSL_get0_param)						\
	X(SSL_get_error)						\
	X(SSL_get_servername)						\
	X(SSL_get_verify_result)					\
	X(SSL_get_wbio)						\
	X(SSL_has_pending)						\
	X(SSL_new)							\
	X(SSL_read_ex)							\
	X(SSL_set0_wbio)						\
	X(SSL_set1_host)						\
	X(SSL_set_fd)							\
	X(SSL_shutdown)							\
	X(SSL_write_ex)							\
	X(TLS_client_method)						\
	X(TLS_server_method)

#define OSSL_DL_CRYPTO_FUNCS(X)						\
	X(ASN1_TIME_set)						\
	X(BIO_ctrl)							\
	X(BIO_f_buffer)						\
	X(BIO_free)							\
	X(BIO_new)							\
	X(BIO_new_socket)						\
	X(BIO_push)							\
	X(BIO_s_mem)							\
	X(BN_bin2bn)							\
	X(BN_free)							\
	X(BN_to_ASN1_INTEGER)						\
	X(ERR_clear_error)						\
	X(EVP_PKEY_Q_keygen)						\
	X(EVP_PKEY_free)						\
	X(EVP_sha256)							\
	X(OPENSSL_thread_stop)						\
	X(PEM_write_bio_X509)						\
	X(RAND_bytes)							\
	X(X509V3_EXT_conf_nid)						\
	X(X509V3_set_ctx)						\
	X(X509_EXTENSION_free)						\
	X(X509_NAME_add_entry_by_txt)					\
	X(X509_VERIFY_PARAM_set1_ip_asc)				\
	X(X509_add_ext)							\
	X(X509_free)							\
	X(X509_get_serialNumber)					\
	X(X509_get_subject_name)					\
	X(X509_getm_notAfter)						\
	X(X509_getm_notBefore)						\
	X(X509_gmtime_adj)						\
	X(X509_new)							\
	X(X509_set_issuer_name)						\
	X(X509_set_pubkey)						\
	X(X509_set_version)						\
	X(X509_sign)							\
	X(X509_verify_cert_error_string)

#define OSSL_DL_Z_FUNCS(X)						\
	X(inflate)							\
	X(inflateEnd)							\
	X(inflateInit2_)						\
	X(inflateReset)

struct ossl_dl {
	void	*ssl, *crypto, *z;	/* handles; NULL: not loaded */
#define OSSL_DL_FIELD(fn)	__typeof__(&fn) fn;
	OSSL_DL_SSL_FUNCS(OSSL_DL_FIELD)
	OSSL_DL_CRYPTO_FUNCS(OSSL_DL_FIELD)
	OSSL_DL_Z_FUNCS(OSSL_DL_FIELD)
#undef OSSL_DL_FIELD
};

/*
 * Load the three libraries (OSSL_SSL_SONAME, OSSL_CRYPTO_SONAME,
 * ZLIB_SONAME: the files found when airlock was built) and fill t.
 * AL_ESYS naming the library and why; t is then cleared.
 */
int	ossl_dl_open(struct ossl_dl *t, struct al_err *err) AL_WUR;
/* Forget the table (the libraries stay mapped).  A cleared t: no-op. */
void	ossl_dl_close(struct ossl_dl *t);

#endif
