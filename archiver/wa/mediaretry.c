/*
 * mediaretry.c - media retry requests and answers (mediaretry.h).
 *
 * Primitives from libraries: HKDF-SHA256 (media.c, OpenSSL), AES-256-GCM
 * (noise.c, OpenSSL), the two protobuf messages (protoc-c).  The derived
 * key and every plaintext live in sodium_malloc'd memory.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "wa.pb-c.h"

#include "archiver/wa/media.h"
#include "archiver/wa/mediaretry.h"
#include "archiver/wa/noise.h"
#include "archiver/wa/pballoc.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define IV_LEN 12
#define TAG_LEN 16
#define PLAIN_MAX 8192  /* a ServerErrorReceipt or MediaRetryNotification */

const char *cl_wa_rmr_result_name(int result)
{
	switch (result) {
	case CL_WA_RMR_GENERAL_ERROR: return "general-error";
	case CL_WA_RMR_SUCCESS: return "success";
	case CL_WA_RMR_NOT_FOUND: return "not-found";
	case CL_WA_RMR_DECRYPTION_ERROR: return "decryption-error";
	case CL_WA_RMR_PHONE_ERROR: return "phone-error";
	default: return "unknown";
	}
}

/* The retry key, in guarded memory (sodium_free), or NULL. */
static unsigned char *rmr_key(const unsigned char media_key[32])
{
	unsigned char *k = sodium_malloc(32);

	if (k && cl_wa_media_hkdf(media_key, CL_WA_RMR_INFO, k, 32) != CL_OK) {
		sodium_free(k);
		k = NULL;
	}
	return k;
}

int cl_wa_rmr_request(const struct cl_wa_rmr_target *t,
		      const unsigned char media_key[32],
		      struct cl_wa_node **out)
{
	Wa__ServerErrorReceipt ser = WA__SERVER_ERROR_RECEIPT__INIT;
	struct cl_wa_node *n = NULL, *enc = NULL, *rmr = NULL;
	unsigned char iv[IV_LEN], *key = NULL, *pt = NULL, *ct = NULL;
	size_t plen;
	int rc;

	*out = NULL;
	if (t->id == NULL || !*t->id || t->own_jid == NULL || !*t->own_jid ||
	    t->chat == NULL || !*t->chat)
		return CL_EINVAL;
	ser.stanzaid = (char *)(uintptr_t)t->id;
	plen = wa__server_error_receipt__get_packed_size(&ser);
	if (plen > PLAIN_MAX)
		return CL_EINVAL;
	pt = sodium_malloc(plen + 1);
	ct = malloc(plen + TAG_LEN);
	key = rmr_key(media_key);
	if (pt == NULL || ct == NULL || key == NULL) {
		rc = key == NULL && pt && ct ? CL_EIO : CL_ENOMEM;
		goto out;
	}
	(void)wa__server_error_receipt__pack(&ser, pt);
	randombytes_buf(iv, sizeof(iv));
	if ((rc = cl_wa_aes_gcm(1, key, iv, (const unsigned char *)t->id,
				strlen(t->id), pt, plen, ct)))
		goto out;
	if ((rc = cl_wa_node_new_s(&n, "receipt")) ||
	    (rc = cl_wa_node_add_attr_s(n, "id", t->id)) ||
	    (rc = cl_wa_node_add_attr_s(n, "to", t->own_jid)) ||
	    (rc = cl_wa_node_add_attr_s(n, "type", "server-error")) ||
	    (rc = cl_wa_node_new_s(&enc, "encrypt")) ||
	    (rc = cl_wa_node_add_leaf(enc, "enc_p", ct, plen + TAG_LEN, 0)) ||
	    (rc = cl_wa_node_add_leaf(enc, "enc_iv", iv, sizeof(iv), 0)) ||
	    (rc = cl_wa_node_add_child(n, enc)))
		goto out;
	enc = NULL;
	if ((rc = cl_wa_node_new_s(&rmr, "rmr")) ||
	    (rc = cl_wa_node_add_attr_s(rmr, "jid", t->chat)) ||
	    (rc = cl_wa_node_add_attr_s(rmr, "from_me",
					t->from_me ? "true" : "false")) ||
	    (t->participant && *t->participant &&
	     (rc = cl_wa_node_add_attr_s(rmr, "participant",
					 t->participant))) ||
	    (rc = cl_wa_node_add_child(n, rmr)))
		goto out;
	rmr = NULL;
	*out = n;
	n = NULL;
out:
	cl_wa_node_free(rmr);
	cl_wa_node_free(enc);
	cl_wa_node_free(n);
	sodium_free(key);
	sodium_free(pt);
	free(ct);
	return rc;
}

static const unsigned char *node_bytes(const struct cl_wa_node *n,
				       size_t *len)
{
	if (n == NULL || (n->kind != CL_WA_BYTES && n->kind != CL_WA_TEXT))
		return NULL;
	*len = n->len;
	return n->data;
}

int cl_wa_rmr_parse(const struct cl_wa_node *n, struct cl_wa_rmr_answer *a,
		    char **err)
{
	const struct cl_wa_node *rmr, *e, *enc;
	const char *type = cl_wa_node_attr_str(n, "type");
	const char *fm;
	size_t iv_len = 0;

	memset(a, 0, sizeof(*a));
	a->error_code = -1;
	if (strcmp(n->tag, "notification") != 0 || type == NULL ||
	    strcmp(type, "mediaretry") != 0)
		return cl_error(err, CL_EINVAL,
				"not a media retry notification");
	a->id = cl_wa_node_attr_str(n, "id");
	if (a->id == NULL || !*a->id)
		return cl_error(err, CL_EINVAL,
				"media retry notification without a message id");
	if ((rmr = cl_wa_node_child(n, "rmr")) == NULL)
		return cl_error(err, CL_EINVAL,
				"media retry notification %s without <rmr>",
				a->id);
	a->chat = cl_wa_node_attr_str(rmr, "jid");
	a->participant = cl_wa_node_attr_str(rmr, "participant");
	fm = cl_wa_node_attr_str(rmr, "from_me");
	a->from_me = fm && strcmp(fm, "true") == 0;
	if (a->chat == NULL || !*a->chat)
		return cl_error(err, CL_EINVAL,
				"media retry notification %s: <rmr> without a jid",
				a->id);
	if ((e = cl_wa_node_child(n, "error")) != NULL) {
		const char *code = cl_wa_node_attr_str(e, "code");
		size_t k, len = code ? strlen(code) : 0;

		for (k = 0; k < len && code[k] >= '0' && code[k] <= '9'; k++)
			;
		if (len == 0 || len > 5 || k != len)
			return cl_error(err, CL_EINVAL,
					"media retry notification %s: <error> without a usable code",
					a->id);
		a->error_code = 0;
		for (k = 0; k < len; k++)
			a->error_code = a->error_code * 10 + (code[k] - '0');
		return CL_OK;
	}
	enc = cl_wa_node_child(n, "encrypt");
	a->ct = enc ? node_bytes(cl_wa_node_child(enc, "enc_p"), &a->ct_len)
		: NULL;
	a->iv = enc ? node_bytes(cl_wa_node_child(enc, "enc_iv"), &iv_len)
		: NULL;
	if (a->ct == NULL || a->iv == NULL)
		return cl_error(err, CL_EINVAL,
				"media retry notification %s: neither <error> nor <encrypt><enc_p/><enc_iv/>",
				a->id);
	if (iv_len != IV_LEN || a->ct_len < TAG_LEN ||
	    a->ct_len > PLAIN_MAX + TAG_LEN)
		return cl_error(err, CL_EINVAL,
				"media retry notification %s: a %zu-byte IV and %zu-byte ciphertext",
				a->id, iv_len, a->ct_len);
	return CL_OK;
}

/* A direct path as the media hosts take it: "/..." of printable ASCII. */
static int path_ok(const char *p)
{
	size_t i, n = strlen(p);

	if (n < 2 || n > CL_WA_RMR_PATH_MAX || p[0] != '/')
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
			return 0;
	return 1;
}

int cl_wa_rmr_open(const struct cl_wa_rmr_answer *a,
		   const unsigned char media_key[32], int *result,
		   char **direct_path, char **err)
{
	Wa__MediaRetryNotification *m = NULL;
	struct cl_wa_pb pb;
	unsigned char *key = NULL, *pt = NULL;
	size_t plen;
	int rc;

	*direct_path = NULL;
	*result = CL_WA_RMR_PHONE_ERROR;
	if (a->error_code >= 0)
		return CL_OK;
	if (a->ct == NULL || a->iv == NULL || a->ct_len < TAG_LEN)
		return cl_error(err, CL_EINVAL, "no encrypted answer");
	plen = a->ct_len - TAG_LEN;
	pt = sodium_malloc(plen + 1);
	key = rmr_key(media_key);
	if (pt == NULL || key == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	rc = cl_wa_aes_gcm(0, key, a->iv, (const unsigned char *)a->id,
			   strlen(a->id), a->ct, a->ct_len, pt);
	if (rc == CL_EBADSIG) {
		rc = cl_error(err, CL_EBADSIG,
			      "the answer does not open with this message's media key");
		goto out;
	}
	if (rc)
		goto out;
	cl_wa_pb_init(&pb);
	m = wa__media_retry_notification__unpack(&pb.a, plen, pt);
	if (m == NULL) {
		rc = pb.oom ? CL_ENOMEM :
			cl_error(err, CL_EINVAL, "the answer is not a MediaRetryNotification");
		goto out;
	}
	if (m->stanzaid && strcmp(m->stanzaid, a->id) != 0) {
		rc = cl_error(err, CL_EINVAL,
			      "the answer is for another message");
		goto out;
	}
	*result = m->has_result ? (int)m->result : CL_WA_RMR_GENERAL_ERROR;
	if (*result == CL_WA_RMR_SUCCESS) {
		if (m->directpath == NULL || !path_ok(m->directpath)) {
			rc = cl_error(err, CL_EINVAL,
				      "a successful answer without a usable direct path");
			goto out;
		}
		if ((*direct_path = cl_strdupf("%s", m->directpath)) == NULL)
			rc = CL_ENOMEM;
	}
out:
	if (m)
		wa__media_retry_notification__free_unpacked(m, &pb.a);
	sodium_free(key);
	sodium_free(pt);
	return rc;
}
