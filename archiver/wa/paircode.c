/*
 * paircode.c - the companion's side of linking with a phone number
 * (paircode.h): the code, the wrapped ephemeral key, the companion_hello
 * and companion_finish stanzas, and the ADV secret.  Crypto: OpenSSL EVP
 * (PBKDF2, AES-256-CTR, AES-256-GCM, HKDF) and libsodium (X25519 through
 * xed.h, random bytes, guarded memory).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sodium.h>

#include "archiver/wa/binary.h"
#include "archiver/wa/creds.h"
#include "archiver/wa/pair.h"
#include "archiver/wa/paircode.h"
#include "archiver/wa/xeddsa.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define PHONE_MIN 7
#define PHONE_MAX 15
#define DISPLAY_MAX 64
#define INFO_BUNDLE "link_code_pairing_key_bundle_encryption_key"
#define INFO_ADV "adv_secret"

struct cl_wa_paircode {
	char code[CL_WA_PAIRCODE_LEN + 1];  /* the PBKDF2 password */
	char shown[CL_WA_PAIRCODE_LEN + 2]; /* "ABCD-EFGH" */
	char phone[PHONE_MAX + 1];          /* digits only */
	char jid[PHONE_MAX + 32];           /* phone@s.whatsapp.net */
	unsigned char eph_pub[32], eph_priv[32];
	unsigned char wrapped[CL_WA_PAIRCODE_WRAPPED_BYTES];
	unsigned char ref[CL_WA_PAIRCODE_REF_MAX];
	size_t ref_len;                     /* 0: no hello result yet */
	int fixed;                          /* use the values below */
	unsigned char adv_random[32], bundle_salt[32], bundle_nonce[12];
};

/* ---- crypto (OpenSSL EVP) ------------------------------------------------ */

/* key[32] = PBKDF2-HMAC-SHA256(code, salt[32], CL_WA_PAIRCODE_ITER). */
static int code_key(const char *code, const unsigned char salt[32],
		    unsigned char key[32])
{
	return PKCS5_PBKDF2_HMAC(code, CL_WA_PAIRCODE_LEN, salt, 32,
				 CL_WA_PAIRCODE_ITER, EVP_sha256(), 32,
				 key) == 1 ?
		       CL_OK :
		       CL_ENOMEM;
}

/* out[32] = AES-256-CTR(key, iv[16]) of in[32] (the same both ways). */
static int aes_ctr32(const unsigned char key[32], const unsigned char iv[16],
		     const unsigned char in[32], unsigned char out[32])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int l1 = 0, l2 = 0, ok;

	ok = ctx != NULL &&
	     EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), NULL, key, iv) == 1 &&
	     EVP_EncryptUpdate(ctx, out, &l1, in, 32) == 1 &&
	     EVP_EncryptFinal_ex(ctx, out + l1, &l2) == 1 && l1 + l2 == 32;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? CL_OK : CL_ENOMEM;
}

/* out = ct[len] || tag[16]: AES-256-GCM(key, nonce[12]), no AAD. */
static int aes_gcm_seal(const unsigned char key[32],
			const unsigned char nonce[12], const unsigned char *in,
			int len, unsigned char *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int l1 = 0, l2 = 0, ok;

	ok = ctx != NULL &&
	     EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
	     EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) == 1 &&
	     EVP_EncryptUpdate(ctx, out, &l1, in, len) == 1 &&
	     EVP_EncryptFinal_ex(ctx, out + l1, &l2) == 1 && l1 + l2 == len &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out + len) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? CL_OK : CL_ENOMEM;
}

/* out[32] = HKDF-SHA256(ikm, salt (none when slen is 0), info). */
static int hkdf32(const unsigned char *ikm, size_t ilen,
		  const unsigned char *salt, size_t slen, const char *info,
		  unsigned char out[32])
{
	char digest[] = "SHA256";
	OSSL_PARAM params[5], *p = params;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	int ok;

	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest,
						0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 (void *)(uintptr_t)ikm, ilen);
	if (slen > 0)
		*p++ = OSSL_PARAM_construct_octet_string(
			OSSL_KDF_PARAM_SALT, (void *)(uintptr_t)salt, slen);
	*p++ = OSSL_PARAM_construct_octet_string(
		OSSL_KDF_PARAM_INFO, (void *)(uintptr_t)info, strlen(info));
	*p = OSSL_PARAM_construct_end();
	ok = ctx != NULL && EVP_KDF_derive(ctx, out, 32, params) == 1;
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return ok ? CL_OK : CL_ENOMEM;
}

/* ---- the code and the hello ---------------------------------------------- */

/* 5 bytes -> 8 characters of CL_WA_PAIRCODE_ALPHABET, 5 bits each, most
 * significant first (base32 without padding, as whatsmeow and Baileys). */
static void encode_code(const unsigned char raw[5], char out[9])
{
	static const char alphabet[] = CL_WA_PAIRCODE_ALPHABET;
	uint64_t v = 0;
	int i;

	for (i = 0; i < 5; i++)
		v = (v << 8) | raw[i];
	for (i = 0; i < 8; i++)
		out[i] = alphabet[(v >> (35 - 5 * i)) & 31];
	out[8] = 0;
}

/* Copy the digits of phone (optional leading '+') into out; 0 if bad. */
static int phone_ok(const char *phone, char out[PHONE_MAX + 1])
{
	size_t n = 0;

	if (phone == NULL)
		return 0;
	if (*phone == '+')
		phone++;
	for (; *phone; phone++) {
		if (*phone < '0' || *phone > '9' || n == PHONE_MAX)
			return 0;
		out[n++] = *phone;
	}
	out[n] = 0;
	return n >= PHONE_MIN;
}

int cl_wa_paircode_new_fixed(struct cl_wa_paircode **out,
			     const char *phone_digits,
			     const struct cl_wa_paircode_fixed *fx,
			     char **err)
{
	struct cl_wa_paircode *pc = NULL;
	unsigned char key[32];
	int rc = CL_OK;

	*out = NULL;
	if (sodium_init() < 0)
		return cl_error(err, CL_ENOMEM, "cannot initialise libsodium");
	pc = sodium_malloc(sizeof(*pc));
	if (pc == NULL)
		return cl_error(err, CL_ENOMEM, "out of memory");
	memset(pc, 0, sizeof(*pc));
	if (!phone_ok(phone_digits, pc->phone)) {
		rc = cl_error(err, CL_EINVAL,
			      "the phone number must be 7 to 15 digits, with "
			      "the country code and an optional leading '+'");
		goto out;
	}
	(void)cl_fmt(pc->jid, sizeof(pc->jid), "%s@%s", pc->phone,
		     CL_WA_SERVER_JID);
	encode_code(fx->code, pc->code);
	memcpy(pc->shown, pc->code, 4);
	pc->shown[4] = '-';
	memcpy(pc->shown + 5, pc->code + 4, 5);
	memcpy(pc->eph_priv, fx->eph_priv, 32);
	pc->eph_priv[0] &= 248;
	pc->eph_priv[31] &= 127;
	pc->eph_priv[31] |= 64;
	if (cl_wa_x25519_pub(pc->eph_pub, pc->eph_priv) != CL_OK) {
		rc = cl_error(err, CL_ENOMEM, "cannot make the ephemeral key");
		goto out;
	}
	memcpy(pc->wrapped, fx->salt, 32);
	memcpy(pc->wrapped + 32, fx->iv, 16);
	if ((rc = code_key(pc->code, fx->salt, key)) ||
	    (rc = aes_ctr32(key, fx->iv, pc->eph_pub, pc->wrapped + 48))) {
		rc = cl_error(err, rc, "cannot wrap the ephemeral key");
		goto out;
	}
	memcpy(pc->adv_random, fx->adv_random, 32);
	memcpy(pc->bundle_salt, fx->bundle_salt, 32);
	memcpy(pc->bundle_nonce, fx->bundle_nonce, 12);
	pc->fixed = 1;
	*out = pc;
	pc = NULL;
out:
	sodium_memzero(key, sizeof(key));
	cl_wa_paircode_free(pc);
	return rc;
}

int cl_wa_paircode_new(struct cl_wa_paircode **out, const char *phone_digits,
		       char **err)
{
	struct cl_wa_paircode_fixed *fx;
	int rc;

	*out = NULL;
	if (sodium_init() < 0)
		return cl_error(err, CL_ENOMEM, "cannot initialise libsodium");
	fx = sodium_malloc(sizeof(*fx));
	if (fx == NULL)
		return cl_error(err, CL_ENOMEM, "out of memory");
	randombytes_buf(fx, sizeof(*fx));
	rc = cl_wa_paircode_new_fixed(out, phone_digits, fx, err);
	if (*out != NULL)
		(*out)->fixed = 0;
	sodium_free(fx); /* wipes */
	return rc;
}

const char *cl_wa_paircode_code(const struct cl_wa_paircode *pc)
{
	return pc->shown;
}

const char *cl_wa_paircode_phone(const struct cl_wa_paircode *pc)
{
	return pc->phone;
}

const unsigned char *cl_wa_paircode_wrapped(const struct cl_wa_paircode *pc)
{
	return pc->wrapped;
}

/*
 * Baileys' CompanionWebClientType for "Browser (OS)": '1'..'9' (see
 * paircode.h), or 0 when the display is not of that form.
 */
static char platform_id(const char *display)
{
	static const struct {
		const char *name;
		char id;
	} browsers[] = {
		{ "Chrome", '1' }, { "Edge", '2' },   { "Firefox", '3' },
		{ "IE", '4' },     { "Opera", '5' },  { "Safari", '6' },
	};
	const char *open = strstr(display, " (");
	size_t len = strlen(display), blen, i;

	if (len == 0 || len > DISPLAY_MAX || open == NULL || open == display ||
	    display[len - 1] != ')' || open + 3 > display + len - 1)
		return 0;
	for (i = 0; i < len; i++)
		if (display[i] < 0x20 || display[i] > 0x7e)
			return 0;
	blen = (size_t)(open - display);
	if (blen == 7 && strncmp(display, "Desktop", 7) == 0)
		return strcmp(open, " (Windows)") == 0 ? '8' : '7';
	for (i = 0; i < sizeof(browsers) / sizeof(browsers[0]); i++)
		if (strlen(browsers[i].name) == blen &&
		    strncmp(display, browsers[i].name, blen) == 0)
			return browsers[i].id;
	return '9';
}

/* <iq xmlns="md" type="set" to="s.whatsapp.net" id=id> with an empty
 * <link_code_companion_reg jid stage> child returned in *reg. */
static int reg_iq(const struct cl_wa_paircode *pc, const char *id,
		  const char *stage, struct cl_wa_node **iq_out,
		  struct cl_wa_node **reg)
{
	struct cl_wa_node *iq = NULL, *r = NULL;
	int rc;

	*iq_out = NULL;
	*reg = NULL;
	if ((rc = cl_wa_node_new_s(&iq, "iq")) ||
	    (rc = cl_wa_node_add_attr_s(iq, "xmlns", "md")) ||
	    (rc = cl_wa_node_add_attr_s(iq, "type", "set")) ||
	    (rc = cl_wa_node_add_attr_s(iq, "to", CL_WA_SERVER_JID)) ||
	    (rc = cl_wa_node_add_attr_s(iq, "id", id)) ||
	    (rc = cl_wa_node_new_s(&r, "link_code_companion_reg")) ||
	    (rc = cl_wa_node_add_attr_s(r, "jid", pc->jid)) ||
	    (rc = cl_wa_node_add_attr_s(r, "stage", stage)) ||
	    (rc = cl_wa_node_add_child(iq, r)))
		goto out;
	*reg = r;
	r = NULL;
	*iq_out = iq;
	iq = NULL;
out:
	cl_wa_node_free(r);
	cl_wa_node_free(iq);
	return rc;
}

int cl_wa_paircode_hello_node(const struct cl_wa_paircode *pc,
			      const struct cl_wa_creds *c, const char *iq_id,
			      const char *platform_display,
			      struct cl_wa_node **out, char **err)
{
	static const unsigned char nonce = 0;
	struct cl_wa_node *iq = NULL, *reg = NULL;
	char pid;
	int rc;

	*out = NULL;
	if (iq_id == NULL || *iq_id == 0)
		return cl_error(err, CL_EINVAL, "the hello needs an iq id");
	pid = platform_display ? platform_id(platform_display) : 0;
	if (pid == 0)
		return cl_error(err, CL_EINVAL,
				"the platform display must be \"Browser (OS)\", "
				"printable ASCII, at most %d characters",
				DISPLAY_MAX);
	if ((rc = reg_iq(pc, iq_id, "companion_hello", &iq, &reg)) ||
	    (rc = cl_wa_node_add_attr_s(reg, "should_show_push_notification",
					"true")) ||
	    (rc = cl_wa_node_add_leaf(reg,
			    "link_code_pairing_wrapped_companion_ephemeral_pub",
			    pc->wrapped, sizeof(pc->wrapped), 0)) ||
	    (rc = cl_wa_node_add_leaf(reg, "companion_server_auth_key_pub", c->noise_pub,
			    32, 0)) ||
	    (rc = cl_wa_node_add_leaf(reg, "companion_platform_id", &pid, 1, 1)) ||
	    (rc = cl_wa_node_add_leaf(reg, "companion_platform_display",
			    platform_display, strlen(platform_display), 1)) ||
	    (rc = cl_wa_node_add_leaf(reg, "link_code_pairing_nonce", &nonce, 1, 0))) {
		cl_wa_node_free(iq);
		return cl_error(err, rc, "cannot build the pairing-code hello");
	}
	*out = iq;
	return CL_OK;
}

/* A node's content as bytes (raw or text), or NULL. */
static const unsigned char *content(const struct cl_wa_node *n, size_t *len)
{
	*len = 0;
	if (n == NULL || (n->kind != CL_WA_BYTES && n->kind != CL_WA_TEXT))
		return NULL;
	*len = n->len;
	return n->data;
}

int cl_wa_paircode_on_hello_result(struct cl_wa_paircode *pc,
				   const struct cl_wa_node *iq, char **err)
{
	const char *type = iq ? cl_wa_node_attr_str(iq, "type") : NULL;
	const struct cl_wa_node *reg, *e;
	const unsigned char *ref;
	size_t len = 0;

	if (iq == NULL || strcmp(iq->tag, "iq") != 0 || type == NULL)
		return cl_error(err, CL_EINVAL, "the hello answer is not an iq");
	if (strcmp(type, "error") == 0) {
		const char *code;

		e = cl_wa_node_child(iq, "error");
		code = e ? cl_wa_node_attr_str(e, "code") : NULL;
		return cl_error(err, CL_EINVAL,
				"the server refused the pairing-code hello "
				"(error %.8s)",
				code && strspn(code, "0123456789") == strlen(code) ?
					code :
					"?");
	}
	reg = strcmp(type, "result") == 0 ?
		      cl_wa_node_child(iq, "link_code_companion_reg") :
		      NULL;
	ref = reg ? content(cl_wa_node_child(reg, "link_code_pairing_ref"),
			    &len) :
		    NULL;
	if (ref == NULL || len == 0 || len > sizeof(pc->ref))
		return cl_error(err, CL_EINVAL,
				"no usable link_code_pairing_ref in the hello "
				"answer");
	sodium_memzero(pc->ref, sizeof(pc->ref));
	memcpy(pc->ref, ref, len);
	pc->ref_len = len;
	return CL_OK;
}

/* ---- primary_hello -> companion_finish ---------------------------------- */

/* The secrets of one notification, in sodium_malloc memory. */
struct finish_secrets {
	unsigned char key[32];       /* PBKDF2 key, then the bundle key */
	unsigned char primary_eph[32];
	unsigned char ikm[96];       /* s1 || identity DH || r */
	unsigned char plain[96];     /* our ident || primary ident || r */
	unsigned char adv[32];
	unsigned char rnd[32 + 32 + 12]; /* r, bundle salt, nonce */
};

int cl_wa_paircode_on_notification(struct cl_wa_paircode *pc,
				   struct cl_wa_creds *c,
				   const struct cl_wa_node *notification,
				   const char *iq_id,
				   struct cl_wa_node **finish_out, char **err)
{
	const struct cl_wa_node *n = notification, *reg = NULL;
	const char *type = NULL, *stage = NULL;
	const unsigned char *wrapped, *pident, *ref;
	size_t wlen = 0, plen = 0, rlen = 0;
	struct finish_secrets *s = NULL;
	struct cl_wa_node *iq = NULL, *freg = NULL;
	unsigned char bundle[CL_WA_PAIRCODE_BUNDLE_BYTES];
	int rc = CL_OK;

	*finish_out = NULL;
	if (n != NULL && strcmp(n->tag, "notification") == 0)
		type = cl_wa_node_attr_str(n, "type");
	if (type != NULL && strcmp(type, "link_code_companion_reg") == 0)
		reg = cl_wa_node_child(n, "link_code_companion_reg");
	if (reg != NULL)
		stage = cl_wa_node_attr_str(reg, "stage");
	if (stage == NULL || strcmp(stage, "primary_hello") != 0)
		return cl_error(err, CL_EINVAL,
				"not a link_code_companion_reg primary_hello "
				"notification");
	wrapped = content(cl_wa_node_child(
				  reg, "link_code_pairing_wrapped_primary_ephemeral_pub"),
			  &wlen);
	pident = content(cl_wa_node_child(reg, "primary_identity_pub"), &plen);
	ref = content(cl_wa_node_child(reg, "link_code_pairing_ref"), &rlen);
	if (wrapped == NULL || wlen != CL_WA_PAIRCODE_WRAPPED_BYTES)
		return cl_error(err, CL_EINVAL,
				"the phone's wrapped ephemeral key is missing "
				"or not %d bytes",
				CL_WA_PAIRCODE_WRAPPED_BYTES);
	if (pident == NULL || plen != 32)
		return cl_error(err, CL_EINVAL,
				"the primary identity key is missing or not "
				"32 bytes");
	if (pc->ref_len == 0)
		return cl_error(err, CL_EINVAL,
				"a pairing-code notification before the hello "
				"was answered");
	if (ref == NULL || rlen != pc->ref_len ||
	    sodium_memcmp(ref, pc->ref, rlen) != 0)
		return cl_error(err, CL_EINVAL,
				"the notification's pairing ref differs from "
				"the hello's");
	if (iq_id == NULL || *iq_id == 0)
		return cl_error(err, CL_EINVAL, "the finish needs an iq id");

	s = sodium_malloc(sizeof(*s));
	if (s == NULL)
		return cl_error(err, CL_ENOMEM, "out of memory");
	if (pc->fixed) {
		memcpy(s->rnd, pc->adv_random, 32);
		memcpy(s->rnd + 32, pc->bundle_salt, 32);
		memcpy(s->rnd + 64, pc->bundle_nonce, 12);
	} else {
		randombytes_buf(s->rnd, sizeof(s->rnd));
	}

	/* the phone's ephemeral, unwrapped with the code; s1 */
	if ((rc = code_key(pc->code, wrapped, s->key)) ||
	    (rc = aes_ctr32(s->key, wrapped + 32, wrapped + 48,
			    s->primary_eph))) {
		rc = cl_error(err, rc, "cannot unwrap the phone's key");
		goto out;
	}
	if (cl_wa_x25519(s->ikm, pc->eph_priv, s->primary_eph) != CL_OK) {
		rc = cl_error(err, CL_EBADSIG,
			      "the phone's ephemeral key is unusable (wrong "
			      "code or forged notification)");
		goto out;
	}
	if (cl_wa_x25519(s->ikm + 32, c->ident_priv, pident) != CL_OK) {
		rc = cl_error(err, CL_EINVAL,
			      "the primary identity key is a small-order "
			      "point");
		goto out;
	}
	memcpy(s->ikm + 64, s->rnd, 32);

	/* the key bundle */
	memcpy(s->plain, c->ident_pub, 32);
	memcpy(s->plain + 32, pident, 32);
	memcpy(s->plain + 64, s->rnd, 32);
	memcpy(bundle, s->rnd + 32, 32 + 12);
	if ((rc = hkdf32(s->ikm, 32, s->rnd + 32, 32, INFO_BUNDLE, s->key)) ||
	    (rc = aes_gcm_seal(s->key, s->rnd + 64, s->plain, 96,
			       bundle + 44)) ||
	    (rc = hkdf32(s->ikm, 96, NULL, 0, INFO_ADV, s->adv))) {
		rc = cl_error(err, rc, "cannot derive the pairing keys");
		goto out;
	}

	/* the finish iq */
	if ((rc = reg_iq(pc, iq_id, "companion_finish", &iq, &freg)) ||
	    (rc = cl_wa_node_add_leaf(freg, "link_code_pairing_wrapped_key_bundle", bundle,
			    sizeof(bundle), 0)) ||
	    (rc = cl_wa_node_add_leaf(freg, "companion_identity_public", c->ident_pub, 32,
			    0)) ||
	    (rc = cl_wa_node_add_leaf(freg, "link_code_pairing_ref", pc->ref, pc->ref_len,
			    0))) {
		rc = cl_error(err, rc, "cannot build the pairing-code finish");
		goto out;
	}
	memcpy(c->adv_secret, s->adv, 32);
	*finish_out = iq;
	iq = NULL;
out:
	cl_wa_node_free(iq);
	sodium_free(s); /* wipes */
	return rc;
}

void cl_wa_paircode_free(struct cl_wa_paircode *pc)
{
	sodium_free(pc); /* wipes; NULL is fine */
}
