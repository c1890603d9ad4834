/*
 * fuzz_wa_pair.c - arbitrary bytes decoded as a binary node and run
 * through the pairing handlers: cl_wa_pair_refs() and
 * cl_wa_pair_success() (with the login payload after a success).
 *
 * The credentials use fixed keys, so seeds can carry a valid HMAC and
 * account signature and reach the deep paths: identity key = X25519 of
 * FUZZ_IDENT_PRIV, ADV secret = FUZZ_ADV; `test_wa_pair --seeds DIR`
 * writes the seeds in tests/wa/corpus/wa_pair/ for them.  Checked: a
 * success fills the account and yields an encodable result iq (and the
 * login payload builds); a refusal leaves the credentials byte for byte
 * as they were, with an error iq or no reply, and a message; refs are
 * non-empty and comma-free.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/wa/binary.h"
#include "archiver/wa/creds.h"
#include "archiver/wa/pair.h"
#include "archiver/wa/payload.h"
#include "archiver/wa/xeddsa.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fixed secrets: 0x11.. for the identity key, 0x22.. for the ADV secret. */
#define FUZZ_IDENT_PRIV 0x11
#define FUZZ_ADV 0x22

static struct cl_wa_creds *tmpl, *work;

/* Both live until exit, in sodium_malloc memory. */
static void setup(void)
{
	if (tmpl != NULL)
		return;
	if (sodium_init() < 0 || cl_wa_creds_generate(&tmpl, NULL) != CL_OK ||
	    cl_wa_creds_generate(&work, NULL) != CL_OK)
		abort();
	memset(tmpl->ident_priv, FUZZ_IDENT_PRIV, 32);
	tmpl->ident_priv[0] &= 248;
	tmpl->ident_priv[31] &= 127;
	tmpl->ident_priv[31] |= 64;
	if (cl_wa_x25519_pub(tmpl->ident_pub, tmpl->ident_priv) != CL_OK)
		abort();
	memset(tmpl->adv_secret, FUZZ_ADV, 32);
}

static void check_refs(const struct cl_wa_node *n)
{
	char **refs = NULL, *err = NULL;
	size_t nrefs = 0;
	int rc = cl_wa_pair_refs(n, &refs, &nrefs, &err);

	if (rc == CL_OK) {
		size_t i;

		if (nrefs == 0 || refs == NULL)
			abort();
		for (i = 0; i < nrefs; i++) {
			if (refs[i][0] == 0 || strchr(refs[i], ',') != NULL)
				abort();
			free(refs[i]);
		}
	} else if (refs != NULL || nrefs != 0 || err == NULL) {
		abort();
	}
	free(refs);
	free(err);
}

static void check_pair_success(const struct cl_wa_node *n)
{
	static const struct cl_wa_client_info info = {
		{ 2, 3000, 1 }, "fuzz", 1, NULL, 1
	};
	struct cl_wa_node *reply = NULL;
	struct cl_buf b;
	char *err = NULL;
	int64_t t = -1;
	int rc;

	memcpy(work, tmpl, sizeof(*work));
	rc = cl_wa_pair_success(n, work, &t, &reply, &err);
	cl_buf_init(&b, 1 << 20);
	if (rc == CL_OK) {
		if (!work->paired || work->jid[0] == 0 || reply == NULL ||
		    t < 0 || work->signed_identity_len == 0 ||
		    work->signed_identity_len > sizeof(work->signed_identity) ||
		    strcmp(cl_wa_node_attr_str(reply, "type"), "result") != 0 ||
		    cl_wa_node_encode(reply, &b, NULL) != CL_OK)
			abort();
		cl_buf_reset(&b);
		if (cl_wa_payload_login(work, &info, &b, NULL) != CL_OK)
			abort();
	} else {
		if (memcmp(work, tmpl, sizeof(*work)) != 0 || t != 0 ||
		    err == NULL)
			abort();
		if (reply != NULL &&
		    (strcmp(cl_wa_node_attr_str(reply, "type"), "error") != 0 ||
		     cl_wa_node_encode(reply, &b, NULL) != CL_OK))
			abort();
	}
	cl_buf_release(&b);
	cl_wa_node_free(reply);
	free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_wa_node *n = NULL;
	char *err = NULL;

	setup();
	if (cl_wa_node_decode(data, size, &n, &err) != CL_OK) {
		free(err);
		return 0;
	}
	check_refs(n);
	check_pair_success(n);
	cl_wa_node_free(n);
	return 0;
}
