/*
 * fuzz_wa_paircode.c - arbitrary bytes decoded as a binary node and given
 * to the pairing-code handlers: cl_wa_paircode_on_notification() (the
 * phone's primary_hello) and cl_wa_paircode_on_hello_result().
 *
 * The pairing and credentials use the fixed inputs of
 * tests/wa/vectors/paircode.json (code, ephemeral key, identity key,
 * pairing ref), so the seeds that `test_wa_paircode --seeds DIR` writes
 * into tests/wa/corpus/wa_paircode/ reach the deep paths.  Checked: a
 * success yields an encodable companion_finish iq carrying our identity
 * key and the recorded ref, and changes nothing in the credentials but
 * the ADV secret; a refusal leaves them byte for byte as they were, with
 * no iq and a message.  A well-formed notification costs one PBKDF2 run
 * (131072 rounds), so expect few executions a second there.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/wa/binary.h"
#include "archiver/wa/creds.h"
#include "archiver/wa/paircode.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The vector file's fixed inputs. */
#define V_CODE "636bb68f41"
#define V_EPH "38ef30c9c5a816db737123292233fe8a9a5f2045a3e6a74ffff8d75b0c08196b"
#define V_SALT "d02720465628ce427ccff3aee79f56c96ee4585cb93c1825ceff221c28066142"
#define V_IV "4fd120a1272687ae2aa375635a101587"
#define V_ADV "49588204136a0109ae082f3c0e734759cdf84258f1a28c1a6b4d98a1697bac16"
#define V_BSALT "4ebcc0ac726a8bdc198eb074dac3b7b4150a5c46252c94762b43208b31ff5c79"
#define V_BNONCE "5cc23a0b5e3124731db3310a"
#define V_IDENT_PUB "50a0063861cc48addf34da6408596a98ca75d7c42af50ca8de40e957e1af6924"
#define V_IDENT_PRIV "f85d3437049a8727025d2022321f333ccc6388e42ce0449fd4f2d1ff9057b160"
#define V_REF "3@2:cl-test-ref/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/="

static struct cl_wa_paircode *pc, *pc_hello;
static struct cl_wa_creds *tmpl, *work;

static void hex(const char *h, unsigned char *out, size_t n)
{
	if (cl_hex_decode(h, out, n) != CL_OK)
		abort();
}

/* All live until exit. */
static void setup(void)
{
	struct cl_wa_paircode_fixed *fx;
	struct cl_wa_node *res = NULL, *reg = NULL, *ref = NULL;

	if (pc != NULL)
		return;
	if (sodium_init() < 0)
		abort();
	fx = sodium_malloc(sizeof(*fx));
	if (fx == NULL ||
	    cl_wa_creds_generate(&tmpl, NULL) != CL_OK ||
	    cl_wa_creds_generate(&work, NULL) != CL_OK)
		abort();
	hex(V_CODE, fx->code, 5);
	hex(V_EPH, fx->eph_priv, 32);
	hex(V_SALT, fx->salt, 32);
	hex(V_IV, fx->iv, 16);
	hex(V_ADV, fx->adv_random, 32);
	hex(V_BSALT, fx->bundle_salt, 32);
	hex(V_BNONCE, fx->bundle_nonce, 12);
	hex(V_IDENT_PUB, tmpl->ident_pub, 32);
	hex(V_IDENT_PRIV, tmpl->ident_priv, 32);
	if (cl_wa_paircode_new_fixed(&pc, "85291234567", fx, NULL) != CL_OK ||
	    cl_wa_paircode_new_fixed(&pc_hello, "85291234567", fx, NULL) !=
		    CL_OK ||
	    cl_wa_node_new_s(&res, "iq") ||
	    cl_wa_node_add_attr_s(res, "type", "result") ||
	    cl_wa_node_new_s(&reg, "link_code_companion_reg") ||
	    cl_wa_node_add_child(res, reg) ||
	    cl_wa_node_new_s(&ref, "link_code_pairing_ref") ||
	    cl_wa_node_set_bytes(ref, V_REF, strlen(V_REF)) ||
	    cl_wa_node_add_child(reg, ref) ||
	    cl_wa_paircode_on_hello_result(pc, res, NULL) != CL_OK)
		abort();
	cl_wa_node_free(res);
	sodium_free(fx);
}

static void check_notification(const struct cl_wa_node *n)
{
	struct cl_wa_node *fin = NULL;
	struct cl_buf b;
	char *err = NULL;
	int rc;

	memcpy(work, tmpl, sizeof(*work));
	rc = cl_wa_paircode_on_notification(pc, work, n, "fz", &fin, &err);
	if (rc == CL_OK) {
		const struct cl_wa_node *reg, *id, *ref;

		reg = fin && fin->kind == CL_WA_LIST && fin->nchildren == 1 ?
			      fin->children[0] :
			      NULL;
		id = reg ? cl_wa_node_child(reg, "companion_identity_public") :
			   NULL;
		ref = reg ? cl_wa_node_child(reg, "link_code_pairing_ref") :
			    NULL;
		if (id == NULL || id->len != 32 ||
		    memcmp(id->data, tmpl->ident_pub, 32) != 0 ||
		    ref == NULL || ref->len != strlen(V_REF) ||
		    memcmp(ref->data, V_REF, ref->len) != 0 || err != NULL)
			abort();
		cl_buf_init(&b, 1 << 16);
		if (cl_wa_node_encode(fin, &b, NULL) != CL_OK)
			abort();
		cl_buf_release(&b);
		memcpy(work->adv_secret, tmpl->adv_secret, 32);
	} else if (fin != NULL || err == NULL ||
		   (rc != CL_EINVAL && rc != CL_EBADSIG)) {
		abort();
	}
	if (memcmp(work, tmpl, sizeof(*work)) != 0)
		abort();
	cl_wa_node_free(fin);
	free(err);
}

static void check_hello_result(const struct cl_wa_node *n)
{
	char *err = NULL;
	int rc = cl_wa_paircode_on_hello_result(pc_hello, n, &err);

	if ((rc == CL_OK) != (err == NULL) ||
	    (rc != CL_OK && rc != CL_EINVAL))
		abort();
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
	check_notification(n);
	check_hello_result(n);
	cl_wa_node_free(n);
	return 0;
}
