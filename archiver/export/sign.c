/*
 * sign.c - export keys, detached CMS, minisign and RFC 3161 timestamps
 * over a bundle's tag manifest (sign.h, docs/BUNDLE.md §5).  OpenSSL does
 * the X.509, CMS and TS work; libsodium the Ed25519 and BLAKE2b.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "archiver/export/sign.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

#define MS_MAGIC "CLMSK001"
#define MS_KEYLEN (8 + 8 + 64)
#define CERT_YEARS 30
#define MAX_PEM (1u << 20)

static const char *const key_files[] = {
	"export.key", "export.crt", "export-minisign.key", "export-minisign.pub"
};

/* The last OpenSSL error as text (static buffer, for messages). */
static const char *ossl_err(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "unknown OpenSSL error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static char *path_in(const char *dir, const char *name)
{
	return cl_strdupf("%s/%s", dir, name);
}

/* ---- key creation ------------------------------------------------------ */

static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ex == NULL)
		return 0;
	ok = X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return ok;
}

/* A self-signed P-256 certificate for `pkey` named `subject`. */
static X509 *make_cert(EVP_PKEY *pkey, const char *subject)
{
	X509 *c = X509_new();
	X509_NAME *name;
	ASN1_INTEGER *serial;
	unsigned char sn[16];
	BIGNUM *bn;
	char cn[64];

	if (c == NULL)
		return NULL;
	/* CN is at most 64 characters (RFC 5280 ub-common-name). */
	cl_fmt(cn, sizeof(cn), "chatledger export %.40s", subject);
	randombytes_buf(sn, sizeof(sn));
	sn[0] &= 0x7f;
	bn = BN_bin2bn(sn, sizeof(sn), NULL);
	serial = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	BN_free(bn);
	name = X509_get_subject_name(c);
	if (serial == NULL || !X509_set_version(c, 2) || !X509_set_serialNumber(c, serial) ||
	    !X509_gmtime_adj(X509_getm_notBefore(c), 0) ||
	    !X509_gmtime_adj(X509_getm_notAfter(c), (long)CERT_YEARS * 365 * 86400) ||
	    !X509_set_pubkey(c, pkey) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"chatledger", -1, -1, 0) ||
	    !X509_set_issuer_name(c, name) ||
	    !add_ext(c, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_ext(c, NID_key_usage, "critical,digitalSignature,nonRepudiation,keyCertSign") ||
	    !add_ext(c, NID_subject_key_identifier, "hash") ||
	    !X509_sign(c, pkey, EVP_sha256())) {
		ASN1_INTEGER_free(serial);
		X509_free(c);
		return NULL;
	}
	ASN1_INTEGER_free(serial);
	return c;
}

/* PEM text of a BIO: write it to `path` exclusively with `mode`, wiping
 * the memory BIO's buffer afterwards when it held a secret. */
static int bio_to_file(BIO *bio, const char *path, unsigned mode, char **err)
{
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);

	if (n <= 0 || data == NULL)
		return cl_error(err, CL_EIO, "encoding %s failed", path);
	return cl_file_create(path, data, (size_t)n, mode, err);
}

static int create_x509(const char *dir, const char *subject, char **err)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *cert = NULL;
	BIO *kb = BIO_new(BIO_s_secmem()), *cb = BIO_new(BIO_s_mem());
	char *kp = path_in(dir, "export.key"), *cp = path_in(dir, "export.crt");
	int rc = CL_OK;

	if (pkey == NULL || kb == NULL || cb == NULL || kp == NULL || cp == NULL) {
		rc = cl_error(err, CL_ENOMEM, "creating the export key: %s", ossl_err());
		goto out;
	}
	if ((cert = make_cert(pkey, subject)) == NULL) {
		rc = cl_error(err, CL_EIO, "creating the export certificate: %s", ossl_err());
		goto out;
	}
	if (!PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_X509(cb, cert)) {
		rc = cl_error(err, CL_EIO, "encoding the export key: %s", ossl_err());
		goto out;
	}
	if ((rc = bio_to_file(kb, kp, 0600, err)) || (rc = bio_to_file(cb, cp, 0644, err)))
		goto out;
out:
	BIO_free(kb); /* secmem: cleared on free */
	BIO_free(cb);
	X509_free(cert);
	EVP_PKEY_free(pkey);
	free(kp);
	free(cp);
	return rc;
}

static int minisign_pub_text(const unsigned char keyid[8], const unsigned char pk[32],
			     struct cl_buf *out)
{
	unsigned char raw[42];
	uint64_t id = 0;
	int i, rc;

	for (i = 7; i >= 0; i--)
		id = (id << 8) | keyid[i];
	raw[0] = 'E';
	raw[1] = 'd';
	memcpy(raw + 2, keyid, 8);
	memcpy(raw + 10, pk, 32);
	if ((rc = cl_buf_addf(out, "untrusted comment: minisign public key %016llX\n",
			      (unsigned long long)id)) ||
	    (rc = cl_b64_add(out, raw, sizeof(raw))) || (rc = cl_buf_addstr(out, "\n")))
		return rc;
	return CL_OK;
}

static int create_minisign(const char *dir, char **err)
{
	unsigned char *k = sodium_malloc(MS_KEYLEN);
	unsigned char pk[32];
	char *kp = path_in(dir, "export-minisign.key"), *pp = path_in(dir, "export-minisign.pub");
	struct cl_buf pub;
	int rc;

	cl_buf_init(&pub, 4096);
	if (k == NULL || kp == NULL || pp == NULL) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(k, MS_MAGIC, 8);
	randombytes_buf(k + 8, 8);
	crypto_sign_keypair(pk, k + 16);
	if ((rc = minisign_pub_text(k + 8, pk, &pub))) {
		rc = cl_error(err, rc, "out of memory");
		goto out;
	}
	if ((rc = cl_file_create(kp, k, MS_KEYLEN, 0600, err)) ||
	    (rc = cl_file_create(pp, pub.data, pub.len, 0644, err)))
		goto out;
out:
	sodium_free(k);
	cl_buf_release(&pub);
	free(kp);
	free(pp);
	return rc;
}

int cl_sign_keys_ensure(const char *dir, const char *subject, int *created,
			char **err)
{
	int have[4], n = 0, i, rc;

	*created = 0;
	for (i = 0; i < 4; i++) {
		char *p = path_in(dir, key_files[i]);
		struct stat st;

		if (p == NULL)
			return cl_error(err, CL_ENOMEM, "out of memory");
		have[i] = lstat(p, &st) == 0;
		n += have[i];
		free(p);
	}
	if (n == 4)
		return CL_OK;
	if (have[0] != have[1] || have[2] != have[3])
		return cl_error(err, CL_ECORRUPT,
				"%s: the export keys are incomplete (export.key, export.crt,"
				" export-minisign.key, export-minisign.pub must come in pairs)",
				dir);
	if (!have[0] && (rc = create_x509(dir, subject, err)))
		return rc;
	if (!have[2] && (rc = create_minisign(dir, err)))
		return rc;
	*created = 1;
	return CL_OK;
}

int cl_sign_cert_fingerprint(const char *pem_path, char out[96], char **err)
{
	FILE *f = fopen(pem_path, "r");
	X509 *c = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	unsigned char md[32];
	unsigned int n = 0, i;

	if (f)
		fclose(f);
	if (c == NULL)
		return cl_error(err, CL_EINVAL, "%s: not a PEM certificate", pem_path);
	if (!X509_digest(c, EVP_sha256(), md, &n) || n != 32) {
		X509_free(c);
		return cl_error(err, CL_EIO, "fingerprint failed");
	}
	X509_free(c);
	for (i = 0; i < 32; i++)
		cl_fmt(out + i * 3, 4, "%02X%s", md[i], i < 31 ? ":" : "");
	return CL_OK;
}

/* ---- CMS ----------------------------------------------------------------- */

/* All certificates in PEM text. */
static STACK_OF(X509) *pem_certs(const char *pem, size_t len)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	STACK_OF(X509_INFO) *infos = b ? PEM_X509_INFO_read_bio(b, NULL, NULL, NULL) : NULL;
	STACK_OF(X509) *out = sk_X509_new_null();
	int i;

	BIO_free(b);
	if (infos == NULL || out == NULL) {
		sk_X509_INFO_pop_free(infos, X509_INFO_free);
		sk_X509_free(out);
		return NULL;
	}
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);

		if (xi->x509) {
			sk_X509_push(out, xi->x509);
			xi->x509 = NULL;
		}
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	if (sk_X509_num(out) == 0) {
		sk_X509_free(out);
		return NULL;
	}
	return out;
}

static int read_text(const char *path, struct cl_buf *b, char **err)
{
	cl_buf_init(b, MAX_PEM + 1);
	return cl_file_read(path, b, MAX_PEM, err);
}

int cl_sign_cms(const struct cl_signer *s, const void *data, size_t len,
		struct cl_buf *out, char **err)
{
	struct cl_buf cb, kb, chb;
	STACK_OF(X509) *certs = NULL, *chain = NULL;
	EVP_PKEY *key = NULL;
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL, *kbio = NULL, *der = NULL, *vin = NULL;
	X509_STORE *store = NULL;
	char *p = NULL;
	long n;
	int rc = CL_OK;

	cl_buf_init(&chb, 1);
	if ((rc = read_text(s->cert_path, &cb, err)))
		goto out0;
	if ((rc = read_text(s->key_path, &kb, err)))
		goto out1;
	if (s->chain_path && (rc = read_text(s->chain_path, &chb, err)))
		goto out2;
	certs = pem_certs((const char *)cb.data, cb.len);
	kbio = BIO_new_mem_buf(kb.data, (int)kb.len);
	key = kbio ? PEM_read_bio_PrivateKey(kbio, NULL, NULL, NULL) : NULL;
	if (certs == NULL || key == NULL) {
		rc = cl_error(err, CL_EINVAL, "%s", certs == NULL ?
			      "the signing certificate is not PEM" :
			      "the signing key is not an unencrypted PEM private key");
		goto out;
	}
	if (s->chain_path && (chain = pem_certs((const char *)chb.data, chb.len)) == NULL) {
		rc = cl_error(err, CL_EINVAL, "%s: no PEM certificate", s->chain_path);
		goto out;
	}
	in = BIO_new_mem_buf(data, (int)len);
	cms = in ? CMS_sign(sk_X509_value(certs, 0), key, chain, in,
			    CMS_DETACHED | CMS_BINARY) : NULL;
	der = BIO_new(BIO_s_mem());
	if (cms == NULL || der == NULL || !i2d_CMS_bio(der, cms)) {
		rc = cl_error(err, CL_EIO, "CMS signing failed: %s", ossl_err());
		goto out;
	}
	/* Check the new signature before anyone relies on it. */
	store = X509_STORE_new();
	vin = BIO_new_mem_buf(data, (int)len);
	if (store == NULL || vin == NULL ||
	    CMS_verify(cms, NULL, store, vin, NULL,
		       CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) != 1) {
		rc = cl_error(err, CL_EBADSIG, "the new CMS signature does not verify: %s",
			      ossl_err());
		goto out;
	}
	n = BIO_get_mem_data(der, &p);
	if (n <= 0 || (rc = cl_buf_add(out, p, (size_t)n)))
		rc = cl_error(err, rc ? rc : CL_EIO, "CMS encoding failed");
out:
	X509_STORE_free(store);
	BIO_free(vin);
	BIO_free(der);
	BIO_free(in);
	BIO_free(kbio);
	CMS_ContentInfo_free(cms);
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_pop_free(chain, X509_free);
out2:
	if (kb.data)
		sodium_memzero(kb.data, kb.alloc);
	cl_buf_release(&chb);
out1:
	cl_buf_release(&kb);
out0:
	cl_buf_release(&cb);
	return rc;
}

static X509_STORE *store_of(const char *ca_pem, size_t ca_len)
{
	STACK_OF(X509) *cas = pem_certs(ca_pem, ca_len);
	X509_STORE *st = cas ? X509_STORE_new() : NULL;
	int i;

	for (i = 0; st && i < sk_X509_num(cas); i++)
		X509_STORE_add_cert(st, sk_X509_value(cas, i));
	sk_X509_pop_free(cas, X509_free);
	return st;
}

int cl_sign_cms_verify(const unsigned char *der, size_t der_len,
		       const void *data, size_t len, const char *ca_pem,
		       size_t ca_len, char **err)
{
	BIO *db = BIO_new_mem_buf(der, (int)der_len), *in = BIO_new_mem_buf(data, (int)len);
	CMS_ContentInfo *cms = db ? d2i_CMS_bio(db, NULL) : NULL;
	X509_STORE *st = store_of(ca_pem, ca_len);
	int rc = CL_OK;

	if (cms == NULL)
		rc = cl_error(err, CL_EBADSIG, "the CMS signature is not DER CMS");
	else if (st == NULL)
		rc = cl_error(err, CL_EINVAL, "no CA certificate to verify the CMS signature with");
	else if (in == NULL || CMS_verify(cms, NULL, st, in, NULL, CMS_BINARY) != 1)
		rc = cl_error(err, CL_EBADSIG, "CMS verification failed: %s", ossl_err());
	X509_STORE_free(st);
	CMS_ContentInfo_free(cms);
	BIO_free(db);
	BIO_free(in);
	return rc;
}

/* ---- minisign -------------------------------------------------------------- */

int cl_sign_minisign(const char *dir, const void *data, size_t len,
		     const char *comment, struct cl_buf *out, char **err)
{
	char *kp = path_in(dir, "export-minisign.key");
	struct cl_buf kb;
	unsigned char hash[64], sigblob[74], gsig[64];
	unsigned char *gm = NULL;
	size_t clen = strlen(comment);
	int rc;

	cl_buf_init(&kb, MS_KEYLEN + 1);
	if (kp == NULL) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	if (strchr(comment, '\n') || strchr(comment, '\r')) {
		rc = cl_error(err, CL_EINVAL, "a minisign trusted comment is one line");
		goto out;
	}
	if ((rc = cl_file_read(kp, &kb, MS_KEYLEN, err)))
		goto out;
	if (kb.len != MS_KEYLEN || memcmp(kb.data, MS_MAGIC, 8) != 0) {
		rc = cl_error(err, CL_ECORRUPT, "%s is not a chatledger minisign key", kp);
		goto out;
	}
	crypto_generichash(hash, 64, data, len, NULL, 0);
	sigblob[0] = 'E';
	sigblob[1] = 'D';
	memcpy(sigblob + 2, kb.data + 8, 8);
	crypto_sign_detached(sigblob + 10, NULL, hash, 64, kb.data + 16);
	if ((gm = malloc(64 + clen)) == NULL) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(gm, sigblob + 10, 64);
	memcpy(gm + 64, comment, clen);
	crypto_sign_detached(gsig, NULL, gm, 64 + clen, kb.data + 16);
	if ((rc = cl_buf_addstr(out, "untrusted comment: signature from chatledger export key\n")) ||
	    (rc = cl_b64_add(out, sigblob, sizeof(sigblob))) ||
	    (rc = cl_buf_addf(out, "\ntrusted comment: %s\n", comment)) ||
	    (rc = cl_b64_add(out, gsig, sizeof(gsig))) || (rc = cl_buf_addstr(out, "\n")))
		rc = cl_error(err, rc, "out of memory");
out:
	free(gm);
	if (kb.data)
		sodium_memzero(kb.data, kb.alloc);
	cl_buf_release(&kb);
	free(kp);
	return rc;
}

/* The n-th line (0-based) of text, without its newline. */
static int nth_line(const char *t, size_t len, int n, const char **s, size_t *l)
{
	const char *end = t + len, *p = t;

	for (; n > 0; n--) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			return -1;
		p = nl + 1;
	}
	if (p >= end)
		return -1;
	*s = p;
	*l = (size_t)(end - p);
	{
		const char *nl = memchr(p, '\n', *l);

		if (nl)
			*l = (size_t)(nl - p);
	}
	if (*l && p[*l - 1] == '\r')
		(*l)--;
	return 0;
}

static int b64_line(const char *t, size_t len, int n, struct cl_buf *out, size_t want)
{
	const char *s;
	size_t l;

	cl_buf_reset(out);
	if (nth_line(t, len, n, &s, &l) != 0 || cl_b64_decode(s, l, out) != 0 ||
	    out->len != want)
		return -1;
	return 0;
}

int cl_sign_minisign_verify(const char *pub, size_t pub_len, const char *sig,
			    size_t sig_len, const void *data, size_t len,
			    char **err)
{
	struct cl_buf pk, sb, gs;
	unsigned char hash[64];
	unsigned char *gm = NULL;
	const char *tc;
	size_t tcl;
	int rc = CL_OK;

	cl_buf_init(&pk, 256);
	cl_buf_init(&sb, 256);
	cl_buf_init(&gs, 256);
	if (b64_line(pub, pub_len, 1, &pk, 42) != 0 || memcmp(pk.data, "Ed", 2) != 0) {
		rc = cl_error(err, CL_EINVAL, "the minisign public key is malformed");
		goto out;
	}
	if (b64_line(sig, sig_len, 1, &sb, 74) != 0 || b64_line(sig, sig_len, 3, &gs, 64) != 0 ||
	    nth_line(sig, sig_len, 2, &tc, &tcl) != 0 || tcl < 17 ||
	    memcmp(tc, "trusted comment: ", 17) != 0) {
		rc = cl_error(err, CL_EBADSIG, "the minisign signature is malformed");
		goto out;
	}
	if (memcmp(sb.data + 2, pk.data + 2, 8) != 0) {
		rc = cl_error(err, CL_EBADSIG, "the minisign signature was made with another key");
		goto out;
	}
	if (memcmp(sb.data, "ED", 2) == 0) {
		crypto_generichash(hash, 64, data, len, NULL, 0);
		if (crypto_sign_verify_detached(sb.data + 10, hash, 64, pk.data + 10) != 0)
			rc = cl_error(err, CL_EBADSIG, "minisign: signature verification failed");
	} else if (memcmp(sb.data, "Ed", 2) == 0) {
		if (crypto_sign_verify_detached(sb.data + 10, data, len, pk.data + 10) != 0)
			rc = cl_error(err, CL_EBADSIG, "minisign: signature verification failed");
	} else {
		rc = cl_error(err, CL_EBADSIG, "minisign: unknown signature algorithm");
	}
	if (rc)
		goto out;
	tc += 17;
	tcl -= 17;
	if ((gm = malloc(64 + tcl + 1)) == NULL) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(gm, sb.data + 10, 64);
	memcpy(gm + 64, tc, tcl);
	if (crypto_sign_verify_detached(gs.data, gm, 64 + tcl, pk.data + 10) != 0)
		rc = cl_error(err, CL_EBADSIG, "minisign: the trusted comment's signature fails");
out:
	free(gm);
	cl_buf_release(&pk);
	cl_buf_release(&sb);
	cl_buf_release(&gs);
	return rc;
}

/* ---- RFC 3161 ---------------------------------------------------------------- */

static size_t curl_sink(char *p, size_t sz, size_t n, void *ctx)
{
	struct cl_buf *b = ctx;

	if (cl_buf_add(b, p, sz * n) != 0)
		return 0;
	return sz * n;
}

int cl_sign_timestamp(const char *url, const void *data, size_t len,
		      struct cl_buf *out, char **err)
{
	unsigned char md[32], nb[8];
	TS_REQ *req = TS_REQ_new();
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_INTEGER *nonce = NULL;
	BIGNUM *bn = NULL;
	TS_RESP *resp = NULL;
	TS_VERIFY_CTX *vctx = NULL;
	unsigned char *qder = NULL;
	const unsigned char *rp;
	int qlen, rc = CL_OK;
	CURL *c = NULL;
	struct curl_slist *hdr = NULL;
	struct cl_buf reply;
	long status = 0;

	cl_buf_init(&reply, 1u << 20);
	cl_sha256(data, len, md);
	randombytes_buf(nb, sizeof(nb));
	nb[0] &= 0x7f;
	bn = BN_bin2bn(nb, sizeof(nb), NULL);
	nonce = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	if (req == NULL || mi == NULL || alg == NULL || nonce == NULL ||
	    !X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) ||
	    !TS_MSG_IMPRINT_set_algo(mi, alg) || !TS_MSG_IMPRINT_set_msg(mi, md, 32) ||
	    !TS_REQ_set_version(req, 1) || !TS_REQ_set_msg_imprint(req, mi) ||
	    !TS_REQ_set_nonce(req, nonce) || !TS_REQ_set_cert_req(req, 1) ||
	    (qlen = i2d_TS_REQ(req, &qder)) <= 0) {
		rc = cl_error(err, CL_EIO, "building the timestamp query: %s", ossl_err());
		goto out;
	}
	if ((c = curl_easy_init()) == NULL ||
	    (hdr = curl_slist_append(NULL, "Content-Type: application/timestamp-query")) == NULL) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, qder);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)qlen);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	{
		CURLcode cc = curl_easy_perform(c);

		if (cc != CURLE_OK) {
			rc = cl_error(err, CL_EIO, "timestamp authority %s: %s", url,
				      curl_easy_strerror(cc));
			goto out;
		}
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		rc = cl_error(err, CL_EIO, "timestamp authority %s answered HTTP %ld", url, status);
		goto out;
	}
	rp = reply.data;
	resp = d2i_TS_RESP(NULL, &rp, (long)reply.len);
	vctx = resp ? TS_REQ_to_TS_VERIFY_CTX(req, NULL) : NULL;
	if (resp == NULL || vctx == NULL) {
		rc = cl_error(err, CL_EIO, "timestamp authority %s: the reply is not a TimeStampResp", url);
		goto out;
	}
	/* Status, version, imprint and nonce (the TSA's signature is checked
	 * by the verifier against its root). */
	TS_VERIFY_CTX_set_flags(vctx, TS_VFY_VERSION | TS_VFY_IMPRINT | TS_VFY_NONCE);
	if (TS_RESP_verify_response(vctx, resp) != 1) {
		rc = cl_error(err, CL_EIO, "timestamp authority %s: the reply does not match the query: %s",
			      url, ossl_err());
		goto out;
	}
	if ((rc = cl_buf_add(out, reply.data, reply.len)))
		rc = cl_error(err, rc, "out of memory");
out:
	if (c)
		curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	cl_buf_release(&reply);
	OPENSSL_free(qder);
	TS_VERIFY_CTX_free(vctx);
	TS_RESP_free(resp);
	TS_REQ_free(req);
	TS_MSG_IMPRINT_free(mi);
	X509_ALGOR_free(alg);
	ASN1_INTEGER_free(nonce);
	BN_free(bn);
	return rc;
}

int cl_sign_timestamp_verify(const unsigned char *tsr, size_t tsr_len,
			     const void *data, size_t len, const char *ca_pem,
			     size_t ca_len, char **err)
{
	const unsigned char *p = tsr;
	TS_RESP *resp = d2i_TS_RESP(NULL, &p, (long)tsr_len);
	TS_VERIFY_CTX *v = TS_VERIFY_CTX_new();
	X509_STORE *st = store_of(ca_pem, ca_len);
	unsigned char *imp = OPENSSL_malloc(32);
	int rc = CL_OK;

	if (resp == NULL) {
		rc = cl_error(err, CL_EBADSIG, "the timestamp is not a TimeStampResp");
		goto out;
	}
	if (v == NULL || imp == NULL || st == NULL) {
		rc = cl_error(err, st == NULL ? CL_EINVAL : CL_ENOMEM, "%s", st == NULL ?
			      "no TSA CA certificate to verify the timestamp with" : "out of memory");
		goto out;
	}
	cl_sha256(data, len, imp);
	TS_VERIFY_CTX_set_flags(v, TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_IMPRINT);
	TS_VERIFY_CTX_set_imprint(v, imp, 32);
	imp = NULL;
	TS_VERIFY_CTX_set_store(v, st);
	st = NULL;
	if (TS_RESP_verify_response(v, resp) != 1)
		rc = cl_error(err, CL_EBADSIG, "timestamp verification failed: %s", ossl_err());
out:
	OPENSSL_free(imp);
	X509_STORE_free(st);
	TS_VERIFY_CTX_free(v);
	TS_RESP_free(resp);
	return rc;
}
