/*
 * cert.c - verification of the server's Noise certificate chain (see
 * cert.h for the rules).  Parsing is protobuf-c's; signatures are XEdDSA
 * (xed.c).  Untrusted details bytes are only parsed after their signature
 * has verified.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "wa.pb-c.h"

#include "cert.h"
#include "archiver/wa/pballoc.h"
#include "archiver/wa/xeddsa.h"
#include "common/status.h"
#include "common/banned.h"

typedef Wa__CertChain__NoiseCertificate cert_t;
typedef Wa__CertChain__NoiseCertificate__Details details_t;

/* Unpack a Details message; NULL when malformed or out of memory. */
static details_t *details_unpack(const ProtobufCBinaryData *d,
				 ProtobufCAllocator *a)
{
	/* protoc-c makes unpack functions for top-level messages only. */
	return (details_t *)protobuf_c_message_unpack(
		&wa__cert_chain__noise_certificate__details__descriptor, a,
		d->len, d->data);
}

/* The message for an unpack that returned NULL. */
static int unpack_failed(int oom, const char *what, char **err)
{
	if (oom)
		return cl_error(err, CL_ENOMEM, "wa cert: out of memory");
	return cl_error(err, CL_EINVAL, "wa cert: malformed %s", what);
}

static int check_time(const details_t *d, const char *which, uint64_t now,
		      char **err)
{
	if (!d->has_notbefore || !d->has_notafter)
		return cl_error(err, CL_EBADSIG,
				"wa cert: %s certificate has no validity period",
				which);
	if (now < d->notbefore)
		return cl_error(err, CL_EBADSIG,
				"wa cert: %s certificate not valid before %" PRIu64
				" (now %" PRIu64 ")", which, d->notbefore, now);
	if (now > d->notafter)
		return cl_error(err, CL_EBADSIG,
				"wa cert: %s certificate expired at %" PRIu64
				" (now %" PRIu64 ")", which, d->notafter, now);
	return CL_OK;
}

/* Present, with details and a signature: 1, else 0. */
static int cert_complete(const cert_t *c)
{
	return c != NULL && c->has_details && c->has_signature;
}

int cl_wa_cert_verify(const unsigned char *chain, size_t len,
		      const unsigned char root_pub[32],
		      const unsigned char server_static[32], uint64_t now,
		      char **err)
{
	Wa__CertChain *cc = NULL;
	details_t *inter = NULL, *leaf = NULL;
	struct cl_wa_pb pb;
	int rc = CL_OK;

	cl_wa_pb_init(&pb);
	if (chain == NULL && len != 0)
		return cl_error(err, CL_EINVAL, "wa cert: no chain");
	if (len > CL_WA_CERT_MAX_BYTES)
		return cl_error(err, CL_EINVAL,
				"wa cert: chain of %zu bytes exceeds %u", len,
				CL_WA_CERT_MAX_BYTES);
	cc = wa__cert_chain__unpack(&pb.a, len, chain);
	if (cc == NULL) {
		rc = unpack_failed(pb.oom, "chain", err);
		goto out;
	}
	if (!cert_complete(cc->intermediate) || !cert_complete(cc->leaf)) {
		rc = cl_error(err, CL_EINVAL,
			      "wa cert: chain lacks a certificate, its details "
			      "or its signature");
		goto out;
	}
	if (cc->intermediate->signature.len != CL_WA_SIG_BYTES ||
	    cc->leaf->signature.len != CL_WA_SIG_BYTES) {
		rc = cl_error(err, CL_EBADSIG,
			      "wa cert: signature length %zu/%zu, want 64 "
			      "(intermediate/leaf)",
			      cc->intermediate->signature.len,
			      cc->leaf->signature.len);
		goto out;
	}

	/* The intermediate, signed by the pinned root. */
	if (cl_wa_xeddsa_verify(root_pub, cc->intermediate->details.data,
				cc->intermediate->details.len,
				cc->intermediate->signature.data) != CL_OK) {
		rc = cl_error(err, CL_EBADSIG,
			      "wa cert: intermediate not signed by the root");
		goto out;
	}
	inter = details_unpack(&cc->intermediate->details, &pb.a);
	if (inter == NULL) {
		rc = unpack_failed(pb.oom, "intermediate details", err);
		goto out;
	}
	if ((inter->has_issuerserial ? inter->issuerserial : 0) !=
	    CL_WA_CERT_ROOT_SERIAL) {
		rc = cl_error(err, CL_EBADSIG,
			      "wa cert: intermediate issuerSerial %" PRIu32
			      ", want %d", inter->issuerserial,
			      CL_WA_CERT_ROOT_SERIAL);
		goto out;
	}
	if (!inter->has_key || inter->key.len != CL_WA_KEY_BYTES) {
		rc = cl_error(err, CL_EBADSIG,
			      "wa cert: intermediate key is %zu bytes, want 32",
			      inter->has_key ? inter->key.len : 0);
		goto out;
	}

	/* The leaf, signed by the intermediate. */
	if (cl_wa_xeddsa_verify(inter->key.data, cc->leaf->details.data,
				cc->leaf->details.len,
				cc->leaf->signature.data) != CL_OK) {
		rc = cl_error(err, CL_EBADSIG,
			      "wa cert: leaf not signed by the intermediate");
		goto out;
	}
	leaf = details_unpack(&cc->leaf->details, &pb.a);
	if (leaf == NULL) {
		rc = unpack_failed(pb.oom, "leaf details", err);
		goto out;
	}
	if ((leaf->has_issuerserial ? leaf->issuerserial : 0) !=
	    (inter->has_serial ? inter->serial : 0)) {
		rc = cl_error(err, CL_EBADSIG,
			      "wa cert: leaf issuerSerial %" PRIu32
			      " is not the intermediate's serial %" PRIu32,
			      leaf->issuerserial, inter->serial);
		goto out;
	}
	if (!leaf->has_key || leaf->key.len != CL_WA_KEY_BYTES ||
	    sodium_memcmp(leaf->key.data, server_static, CL_WA_KEY_BYTES) != 0) {
		rc = cl_error(err, CL_EBADSIG,
			      "wa cert: leaf key is not the server's static key");
		goto out;
	}

	rc = check_time(inter, "intermediate", now, err);
	if (rc == CL_OK)
		rc = check_time(leaf, "leaf", now, err);
out:
	if (leaf)
		protobuf_c_message_free_unpacked(&leaf->base, &pb.a);
	if (inter)
		protobuf_c_message_free_unpacked(&inter->base, &pb.a);
	if (cc)
		wa__cert_chain__free_unpacked(cc, &pb.a);
	return rc;
}
