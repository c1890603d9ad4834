/*
 * tsa.h - RFC 3161 trusted timestamps of checkpoints (OpenSSL 3 TS API).
 *
 * The imprint is SHA-256 of the checkpoint body (the text the log signs,
 * docs/FORMAT.md §11.6).  A token is kept as the whole TimeStampResp
 * (DER), so `openssl ts -verify -in FILE` reads it as it is.
 */
#ifndef CL_TSA_H
#define CL_TSA_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/*
 * Append a DER TimeStampReq for `digest` (SHA-256), with a random 64-bit
 * nonce (returned in *nonce) and certReq set, to out.
 */
int cl_tsa_request(const unsigned char digest[32], uint64_t *nonce,
		   struct cl_buf *out, char **err);

/*
 * Check a DER TimeStampResp: status granted, SHA-256 imprint equal to
 * `digest`, the nonce (if nonce != 0) and, with ca_file, the signature
 * and the TSA certificate's chain to it (critical timeStamping EKU).
 * Without ca_file only the imprint and the structure are checked.
 * Sets *gen_time (s since the epoch).  CL_ECORRUPT when the token does
 * not match or does not verify (*err says why), CL_EINVAL when it does
 * not parse.
 */
int cl_tsa_check(const unsigned char *der, size_t len,
		 const unsigned char digest[32], uint64_t nonce,
		 const char *ca_file, int64_t *gen_time, char **err)
	__attribute__((warn_unused_result));

/* POST the request to url and check the answer as above; on CL_OK the
 * DER response is appended to out. */
int cl_tsa_fetch(const char *url, unsigned timeout_s,
		 const unsigned char digest[32], const char *ca_file,
		 struct cl_buf *out, int64_t *gen_time, char **err);

#endif
