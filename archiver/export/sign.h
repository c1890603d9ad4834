/*
 * sign.h - the signatures over an export bundle's tag manifest
 * (docs/BUNDLE.md §5): a detached CMS signature (DER, ECDSA P-256) under
 * the archive's export certificate or an organisation's own, an RFC 3161
 * timestamp from a configured TSA, and a minisign signature (Ed25519,
 * prehashed "ED" form).  Also the matching verifiers, used by
 * verify-bundle without any network or secret.
 *
 * The archive's export keys (created by cl_sign_keys_ensure):
 *   export.key          EC P-256 private key, PKCS#8 PEM, 0600, created O_EXCL
 *   export.crt          its self-signed certificate (CA:TRUE, keyUsage
 *                       digitalSignature+keyCertSign, no extendedKeyUsage,
 *                       so `openssl cms -verify` accepts it without -purpose)
 *   export-minisign.key "CLMSK001" || key id (8, LE) || Ed25519 sk (64), 0600
 *   export-minisign.pub minisign public key file
 */
#ifndef CL_SIGN_H
#define CL_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/*
 * Create the export keys in archive directory `dir` if absent (each file
 * exclusively; an existing complete set is left alone).  *created is set
 * to 1 if anything was created.  `subject` names the certificate (the
 * log origin).  CL_ECORRUPT if only some of the files exist.
 */
int cl_sign_keys_ensure(const char *dir, const char *subject, int *created,
			char **err);

/* SHA-256 fingerprint of a PEM certificate file, as "AA:BB:..." (95
 * chars + NUL). */
int cl_sign_cert_fingerprint(const char *pem_path, char out[96], char **err);

struct cl_signer {
	const char *cert_path;   /* PEM certificate */
	const char *key_path;    /* PEM private key (0600) */
	const char *chain_path;  /* PEM certificates to include, or NULL */
};

/* Detached CMS (CMS_DETACHED|CMS_BINARY, SHA-256) over `data`, DER,
 * appended to `out`; the signer's certificate (and chain) included.  The
 * signature is verified against the signer certificate before return. */
int cl_sign_cms(const struct cl_signer *s, const void *data, size_t len,
		struct cl_buf *out, char **err);

/*
 * Verify a detached DER CMS signature over `data`, like `openssl cms
 * -verify -binary -inform DER -content DATA -CAfile ROOT`: the chain must
 * end in a certificate of `ca_pem` (PEM text, one or more certificates).
 * CL_EBADSIG with a reason on failure.
 */
int cl_sign_cms_verify(const unsigned char *der, size_t der_len,
		       const void *data, size_t len, const char *ca_pem,
		       size_t ca_len, char **err);

/* A minisign signature file over `data` with the archive's minisign key
 * in `dir` (prehashed "ED"; trusted comment `comment`, one line). */
int cl_sign_minisign(const char *dir, const void *data, size_t len,
		     const char *comment, struct cl_buf *out, char **err);
/* Verify a minisign signature (text `sig`) over `data` with public key
 * file text `pub`.  CL_EBADSIG on failure. */
int cl_sign_minisign_verify(const char *pub, size_t pub_len, const char *sig,
			    size_t sig_len, const void *data, size_t len,
			    char **err);

/*
 * An RFC 3161 timestamp response (DER) for SHA-256(data) from the TSA at
 * `url` (HTTP POST, application/timestamp-query, certificate requested,
 * random nonce); the response's status, nonce and imprint are checked.
 */
int cl_sign_timestamp(const char *url, const void *data, size_t len,
		      struct cl_buf *out, char **err);
/* Verify a timestamp response over `data` against CA certificates
 * `ca_pem` (PEM text).  *gen_time (may be NULL) gets the time, as text. */
int cl_sign_timestamp_verify(const unsigned char *tsr, size_t tsr_len,
			     const void *data, size_t len, const char *ca_pem,
			     size_t ca_len, char **err);

#endif
