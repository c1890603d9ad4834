/*
 * tsa.c - RFC 3161 request, fetch and check (tsa.h).
 */
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "archiver/witness/http.h"
#include "archiver/witness/tsa.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

int cl_tsa_request(const unsigned char digest[32], uint64_t *nonce,
		   struct cl_buf *out, char **err)
{
	TS_REQ *req = TS_REQ_new();
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_INTEGER *n = NULL;
	unsigned char *der = NULL;
	int dlen, rc = CL_OK;
	uint64_t v;

	randombytes_buf(&v, sizeof(v));
	v &= 0x7fffffffffffffffULL;
	if (v == 0)
		v = 1;
	if (req == NULL || mi == NULL || alg == NULL ||
	    (n = ASN1_INTEGER_new()) == NULL || !ASN1_INTEGER_set_uint64(n, v) ||
	    !X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) ||
	    !TS_MSG_IMPRINT_set_algo(mi, alg) ||
	    !TS_MSG_IMPRINT_set_msg(mi, (unsigned char *)(uintptr_t)digest, 32) ||
	    !TS_REQ_set_version(req, 1) || !TS_REQ_set_msg_imprint(req, mi) ||
	    !TS_REQ_set_nonce(req, n) || !TS_REQ_set_cert_req(req, 1) ||
	    (dlen = i2d_TS_REQ(req, &der)) <= 0) {
		rc = cl_error(err, CL_ENOMEM, "cannot build a timestamp request");
		goto out;
	}
	rc = cl_buf_add(out, der, (size_t)dlen);
	*nonce = v;
out:
	OPENSSL_free(der);
	ASN1_INTEGER_free(n);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(mi);
	TS_REQ_free(req);
	return rc;
}

/* The first OpenSSL error as text, for messages. */
static const char *ossl_why(char buf[256])
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "no detail";
	ERR_error_string_n(e, buf, 256);
	ERR_clear_error();
	return buf;
}

int cl_tsa_check(const unsigned char *der, size_t len,
		 const unsigned char digest[32], uint64_t nonce,
		 const char *ca_file, int64_t *gen_time, char **err)
{
	const unsigned char *p = der;
	TS_RESP *resp = NULL;
	TS_TST_INFO *tst;
	TS_MSG_IMPRINT *mi;
	ASN1_OCTET_STRING *msg;
	X509_ALGOR *alg;
	const ASN1_GENERALIZEDTIME *gt;
	const ASN1_OBJECT *obj = NULL;
	TS_VERIFY_CTX *vc = NULL;
	X509_STORE *store = NULL;
	ASN1_INTEGER *n = NULL;
	struct tm tm;
	char why[256];
	int rc = CL_OK;

	if (len > 1 << 20 || (resp = d2i_TS_RESP(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		rc = cl_error(err, CL_EINVAL, "not a DER TimeStampResp");
		goto out;
	}
	if (ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp))) >
	    1 || (tst = TS_RESP_get_tst_info(resp)) == NULL) {
		rc = cl_error(err, CL_ECORRUPT, "the TSA did not grant a timestamp");
		goto out;
	}
	mi = TS_TST_INFO_get_msg_imprint(tst);
	msg = TS_MSG_IMPRINT_get_msg(mi);
	alg = TS_MSG_IMPRINT_get_algo(mi);
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	if (OBJ_obj2nid(obj) != NID_sha256 || ASN1_STRING_length(msg) != 32 ||
	    memcmp(ASN1_STRING_get0_data(msg), digest, 32) != 0) {
		rc = cl_error(err, CL_ECORRUPT,
			      "the token is for other data (its imprint is not this checkpoint's SHA-256)");
		goto out;
	}
	if (nonce) {
		const ASN1_INTEGER *tn = TS_TST_INFO_get_nonce(tst);
		uint64_t got = 0;

		if (tn == NULL || !ASN1_INTEGER_get_uint64(&got, tn) || got != nonce) {
			rc = cl_error(err, CL_ECORRUPT, "the token's nonce is not the request's");
			goto out;
		}
	}
	gt = TS_TST_INFO_get_time(tst);
	if (gt == NULL || !ASN1_TIME_to_tm(gt, &tm)) {
		rc = cl_error(err, CL_ECORRUPT, "the token has no usable time");
		goto out;
	}
	*gen_time = (int64_t)timegm(&tm);
	if (ca_file) {
		unsigned char *d = (unsigned char *)OPENSSL_memdup(digest, 32);

		vc = TS_VERIFY_CTX_new();
		store = X509_STORE_new();
		if (vc == NULL || store == NULL || d == NULL ||
		    X509_STORE_load_file(store, ca_file) != 1) {
			OPENSSL_free(d);
			rc = cl_error(err, CL_EIO, "cannot load the TSA CA file %s", ca_file);
			goto out;
		}
		TS_VERIFY_CTX_set_flags(vc, TS_VFY_VERSION | TS_VFY_SIGNER |
					TS_VFY_SIGNATURE | TS_VFY_IMPRINT);
		TS_VERIFY_CTX_set_imprint(vc, d, 32);
		TS_VERIFY_CTX_set_store(vc, store);
		store = NULL; /* owned by vc now */
		if (TS_RESP_verify_response(vc, resp) != 1) {
			rc = cl_error(err, CL_ECORRUPT, "the token does not verify: %s",
				      ossl_why(why));
			goto out;
		}
	}
out:
	ERR_clear_error();
	ASN1_INTEGER_free(n);
	X509_STORE_free(store);
	TS_VERIFY_CTX_free(vc);
	TS_RESP_free(resp);
	return rc;
}

int cl_tsa_fetch(const char *url, unsigned timeout_s,
		 const unsigned char digest[32], const char *ca_file,
		 struct cl_buf *out, int64_t *gen_time, char **err)
{
	struct cl_buf q;
	struct cl_http_resp r;
	uint64_t nonce = 0;
	int rc;

	cl_buf_init(&q, 4096);
	memset(&r, 0, sizeof(r));
	cl_buf_init(&r.body, 16);
	if ((rc = cl_tsa_request(digest, &nonce, &q, err)))
		goto out;
	cl_http_resp_release(&r);
	if ((rc = cl_http_request(url, "application/timestamp-query", q.data, q.len,
				  timeout_s, &r, err)))
		goto out;
	if (r.status != 200) {
		rc = cl_error(err, CL_EIO, "%s answered HTTP %ld", url, r.status);
		goto out;
	}
	if ((rc = cl_tsa_check(r.body.data, r.body.len, digest, nonce, ca_file,
			       gen_time, err)))
		goto out;
	rc = cl_buf_add(out, r.body.data, r.body.len);
out:
	cl_buf_release(&q);
	cl_http_resp_release(&r);
	return rc;
}
