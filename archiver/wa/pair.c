/*
 * pair.c - <pair-device> refs, <pair-success> verification and reply, and
 * the pre-key upload stanza (pair.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include "wa.pb-c.h"

#include "archiver/wa/binary.h"
#include "archiver/wa/creds.h"
#include "archiver/wa/pair.h"
#include "archiver/wa/xeddsa.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define IDENT_MAX 1024 /* sizeof(struct cl_wa_creds.signed_identity) */

/* ---- small node helpers ------------------------------------------------ */

/* Append <tag>bytes</tag> to parent. */
static int add_bytes(struct cl_wa_node *parent, const char *tag,
		     const void *p, size_t len)
{
	struct cl_wa_node *n = NULL;
	int rc = cl_wa_node_new_s(&n, tag);

	if (rc == CL_OK)
		rc = cl_wa_node_set_bytes(n, p, len);
	if (rc == CL_OK)
		rc = cl_wa_node_add_child(parent, n);
	if (rc)
		cl_wa_node_free(n);
	return rc;
}

/* A node's content as bytes (raw or string), or NULL. */
static const unsigned char *content(const struct cl_wa_node *n, size_t *len)
{
	if (n == NULL || (n->kind != CL_WA_BYTES && n->kind != CL_WA_TEXT))
		return NULL;
	*len = n->len;
	return n->data;
}

/* ---- pair-device ------------------------------------------------------- */

static int ref_ok(const unsigned char *p, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return 0;
	return 1;
}

int cl_wa_pair_refs(const struct cl_wa_node *iq, char ***refs,
		    size_t *nrefs, char **err)
{
	const struct cl_wa_node *pd = iq ? cl_wa_node_child(iq, "pair-device") :
					   NULL;
	char **v = NULL;
	size_t i, n = 0;
	int rc = CL_OK;

	*refs = NULL;
	*nrefs = 0;
	if (pd == NULL)
		return cl_error(err, CL_EINVAL, "no <pair-device> in the iq");
	if (pd->kind == CL_WA_LIST && pd->nchildren > 0) {
		v = calloc(pd->nchildren, sizeof(*v));
		if (v == NULL)
			return cl_error(err, CL_ENOMEM, "out of memory");
	}
	for (i = 0; v != NULL && i < pd->nchildren; i++) {
		const struct cl_wa_node *ch = pd->children[i];
		const unsigned char *p;
		size_t len = 0;

		if (strcmp(ch->tag, "ref") != 0 ||
		    (p = content(ch, &len)) == NULL || !ref_ok(p, len))
			continue;
		v[n] = strndup((const char *)p, len);
		if (v[n] == NULL) {
			rc = cl_error(err, CL_ENOMEM, "out of memory");
			goto out;
		}
		n++;
	}
	if (n == 0) {
		rc = cl_error(err, CL_EINVAL, "no usable <ref> in <pair-device>");
		goto out;
	}
	*refs = v;
	*nrefs = n;
	v = NULL;
out:
	if (v) {
		for (i = 0; i < n; i++)
			free(v[i]);
		free(v);
	}
	return rc;
}

/* ---- pair-success ------------------------------------------------------ */

/* What a verified pair-success yields, before it goes into the creds. */
struct paired {
	char jid[96], lid[96], platform[32], biz_name[128];
	uint32_t key_index;
	unsigned char account_sig_key[32];
	unsigned char ident[IDENT_MAX];
	size_t ident_len;
	unsigned char reply_ident[IDENT_MAX];
	size_t reply_len;
};

/* The reply <iq to=server type=error id=id><error code text/></iq>. */
static int error_reply(const char *id, const char *code, const char *text,
		       struct cl_wa_node **out)
{
	struct cl_wa_node *iq = NULL, *e = NULL;
	int rc;

	*out = NULL;
	if ((rc = cl_wa_node_new_s(&iq, "iq")) ||
	    (rc = cl_wa_node_add_attr_s(iq, "to", CL_WA_SERVER_JID)) ||
	    (rc = cl_wa_node_add_attr_s(iq, "type", "error")) ||
	    (rc = cl_wa_node_add_attr_s(iq, "id", id)) ||
	    (rc = cl_wa_node_new_s(&e, "error")) ||
	    (rc = cl_wa_node_add_attr_s(e, "code", code)) ||
	    (rc = cl_wa_node_add_attr_s(e, "text", text)) ||
	    (rc = cl_wa_node_add_child(iq, e)))
		goto out;
	e = NULL;
	*out = iq;
	iq = NULL;
out:
	cl_wa_node_free(e);
	cl_wa_node_free(iq);
	return rc;
}

static int result_reply(const char *id, const struct paired *r,
			struct cl_wa_node **out)
{
	struct cl_wa_node *iq = NULL, *sign = NULL, *di = NULL;
	char kidx[16];
	int rc;

	*out = NULL;
	(void)cl_fmt(kidx, sizeof(kidx), "%u", (unsigned)r->key_index);
	if ((rc = cl_wa_node_new_s(&iq, "iq")) ||
	    (rc = cl_wa_node_add_attr_s(iq, "to", CL_WA_SERVER_JID)) ||
	    (rc = cl_wa_node_add_attr_s(iq, "type", "result")) ||
	    (rc = cl_wa_node_add_attr_s(iq, "id", id)) ||
	    (rc = cl_wa_node_new_s(&sign, "pair-device-sign")) ||
	    (rc = cl_wa_node_new_s(&di, "device-identity")) ||
	    (rc = cl_wa_node_add_attr_s(di, "key-index", kidx)) ||
	    (rc = cl_wa_node_set_bytes(di, r->reply_ident, r->reply_len)) ||
	    (rc = cl_wa_node_add_child(sign, di)))
		goto out;
	di = NULL;
	if ((rc = cl_wa_node_add_child(iq, sign)))
		goto out;
	sign = NULL;
	*out = iq;
	iq = NULL;
out:
	cl_wa_node_free(di);
	cl_wa_node_free(sign);
	cl_wa_node_free(iq);
	return rc;
}

/* HMAC-SHA256(key, a || b) into out[32] (OpenSSL EVP_MAC). */
static int hmac_sha256(const unsigned char *key, size_t klen,
		       const unsigned char *a, size_t alen,
		       const unsigned char *b, size_t blen,
		       unsigned char out[32])
{
	char digest[] = "SHA256";
	OSSL_PARAM params[2];
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	size_t outl = 0;
	int ok;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = ctx != NULL && EVP_MAC_init(ctx, key, klen, params) == 1 &&
	     (alen == 0 || EVP_MAC_update(ctx, a, alen) == 1) &&
	     (blen == 0 || EVP_MAC_update(ctx, b, blen) == 1) &&
	     EVP_MAC_final(ctx, out, &outl, 32) == 1 && outl == 32;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ok ? CL_OK : CL_ENOMEM;
}

/* 1 when s (len bytes) is a phone user's JID: digits@server or
 * digits:device@server, short enough to store. */
static int jid_ok(const char *s, size_t len, size_t max, int need_digits)
{
	struct cl_wa_jid j;
	size_t i;

	if (s == NULL || len == 0 || len >= max || memchr(s, 0, len) ||
	    cl_wa_jid_parse(s, len, &j) != CL_OK ||
	    (j.form != CL_WA_JID_PAIR && j.form != CL_WA_JID_AD) ||
	    j.user_len == 0 || j.user_len > 19)
		return 0;
	for (i = 0; i < j.user_len; i++)
		if (need_digits && (j.user[i] < '0' || j.user[i] > '9'))
			return 0;
	return 1;
}

/*
 * Copy an attribute value into out[n] as UTF-8 safe for logs and JSON:
 * cut to fit at a character boundary; if it is not valid UTF-8 (or holds
 * control characters), every byte outside printable ASCII becomes '?'.
 */
static void copy_text(const struct cl_wa_attr *a, char *out, size_t n)
{
	size_t len = a ? a->value_len : 0, i;
	json_t *probe;
	int clean = 1;

	out[0] = 0;
	if (len == 0)
		return;
	if (len > n - 1) {
		len = n - 1;
		while (len > 0 && ((unsigned char)a->value[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(out, a->value, len);
	out[len] = 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			clean = 0;
	probe = clean ? json_stringn(out, len) : NULL;
	if (probe == NULL)
		for (i = 0; i < len; i++)
			if ((unsigned char)out[i] < 0x20 ||
			    (unsigned char)out[i] >= 0x7f)
				out[i] = '?';
	json_decref(probe);
}

/* Copy a JID attribute already checked by jid_ok(). */
static void copy_jid(const struct cl_wa_attr *a, char *out)
{
	memcpy(out, a->value, a->value_len);
	out[a->value_len] = 0;
}

/* Failure kinds, mapped to a status and an error reply. */
enum refusal { PS_OK, PS_MALFORMED, PS_BAD_HMAC, PS_BAD_SIG, PS_NOMEM };

/*
 * Verify the pair-success `ps` against c and fill *r.  *why gets a short
 * message (static text) on failure.
 */
static enum refusal verify(const struct cl_wa_node *ps,
			   const struct cl_wa_creds *c, struct paired *r,
			   const char **why)
{
	static const unsigned char hosted[2] = { 6, 5 };
	const struct cl_wa_node *di = cl_wa_node_child(ps, "device-identity");
	const struct cl_wa_node *dev = cl_wa_node_child(ps, "device");
	const struct cl_wa_attr *jid = dev ? cl_wa_node_attr(dev, "jid") : NULL;
	const struct cl_wa_attr *lid = dev ? cl_wa_node_attr(dev, "lid") : NULL;
	const struct cl_wa_node *plat = cl_wa_node_child(ps, "platform");
	const struct cl_wa_node *biz = cl_wa_node_child(ps, "biz");
	Wa__ADVSignedDeviceIdentityHMAC *h = NULL;
	Wa__ADVSignedDeviceIdentity *sdi = NULL;
	Wa__ADVDeviceIdentity *id = NULL;
	ProtobufCBinaryData saved_sig;
	protobuf_c_boolean saved_has;
	unsigned char mac[32], sig[64], *msg = NULL;
	const unsigned char *p;
	size_t len = 0, dlen, mlen;
	enum refusal res = PS_MALFORMED;

	if ((p = content(di, &len)) == NULL || len == 0) {
		*why = "no <device-identity> in <pair-success>";
		goto out;
	}
	if (jid == NULL || !jid_ok(jid->value, jid->value_len, sizeof(r->jid), 1)) {
		*why = "no usable <device jid> in <pair-success>";
		goto out;
	}
	if (lid != NULL && lid->value_len > 0 &&
	    !jid_ok(lid->value, lid->value_len, sizeof(r->lid), 0)) {
		*why = "unusable <device lid> in <pair-success>";
		goto out;
	}
	h = wa__advsigned_device_identity_hmac__unpack(NULL, len, p);
	if (h == NULL) {
		*why = "cannot parse the device identity container";
		goto out;
	}

	/* 1. HMAC by the ADV secret */
	if (hmac_sha256(c->adv_secret, 32,
			h->has_accounttype &&
					h->accounttype == WA__ADVENCRYPTION_TYPE__HOSTED ?
				hosted : NULL,
			h->has_accounttype &&
					h->accounttype == WA__ADVENCRYPTION_TYPE__HOSTED ?
				2 : 0,
			h->details.data, h->has_details ? h->details.len : 0,
			mac) != CL_OK) {
		res = PS_NOMEM;
		*why = "cannot compute the HMAC";
		goto out;
	}
	if (!h->has_hmac || h->hmac.len != sizeof(mac) ||
	    sodium_memcmp(mac, h->hmac.data, sizeof(mac)) != 0) {
		res = PS_BAD_HMAC;
		*why = "the device identity HMAC does not match";
		goto out;
	}

	/* 2. the signed identity and its details */
	sdi = wa__advsigned_device_identity__unpack(
		NULL, h->has_details ? h->details.len : 0, h->details.data);
	if (sdi == NULL) {
		*why = "cannot parse the signed device identity";
		goto out;
	}
	dlen = sdi->has_details ? sdi->details.len : 0;
	id = wa__advdevice_identity__unpack(NULL, dlen, sdi->details.data);
	if (id == NULL) {
		*why = "cannot parse the device identity details";
		goto out;
	}

	/* 3. the account's signature */
	if (!sdi->has_accountsignaturekey ||
	    sdi->accountsignaturekey.len != 32 || !sdi->has_accountsignature ||
	    sdi->accountsignature.len != 64) {
		res = PS_BAD_SIG;
		*why = "the account signature is missing";
		goto out;
	}
	mlen = 2 + dlen + 32 + 32;
	msg = malloc(mlen);
	if (msg == NULL) {
		res = PS_NOMEM;
		*why = "out of memory";
		goto out;
	}
	msg[0] = 6;
	msg[1] = id->has_devicetype &&
			 id->devicetype == WA__ADVENCRYPTION_TYPE__HOSTED ?
		5 : 0;
	if (dlen)
		memcpy(msg + 2, sdi->details.data, dlen);
	memcpy(msg + 2 + dlen, c->ident_pub, 32);
	if (cl_wa_xeddsa_verify(sdi->accountsignaturekey.data, msg,
				2 + dlen + 32,
				sdi->accountsignature.data) != CL_OK) {
		res = PS_BAD_SIG;
		*why = "the account signature does not verify";
		goto out;
	}

	/* 4. our device signature */
	msg[1] = 1;
	memcpy(msg + 2 + dlen + 32, sdi->accountsignaturekey.data, 32);
	if (cl_wa_xeddsa_sign(sig, c->ident_priv, msg, mlen) != CL_OK) {
		res = PS_NOMEM;
		*why = "cannot sign the device identity";
		goto out;
	}

	/* 5. the identity as stored (full) and as sent (no account key) */
	saved_sig = sdi->devicesignature;
	saved_has = sdi->has_devicesignature;
	sdi->devicesignature.data = sig;
	sdi->devicesignature.len = sizeof(sig);
	sdi->has_devicesignature = 1;
	r->ident_len = wa__advsigned_device_identity__get_packed_size(sdi);
	if (r->ident_len <= sizeof(r->ident)) {
		wa__advsigned_device_identity__pack(sdi, r->ident);
		sdi->has_accountsignaturekey = 0;
		r->reply_len = wa__advsigned_device_identity__pack(
			sdi, r->reply_ident);
		sdi->has_accountsignaturekey = 1;
	}
	sdi->devicesignature = saved_sig;
	sdi->has_devicesignature = saved_has;
	if (r->ident_len > sizeof(r->ident)) {
		*why = "the signed device identity is too large";
		goto out;
	}
	memcpy(r->account_sig_key, sdi->accountsignaturekey.data, 32);
	r->key_index = id->has_keyindex ? id->keyindex : 0;
	copy_jid(jid, r->jid);
	if (lid != NULL && lid->value_len > 0)
		copy_jid(lid, r->lid);
	else
		r->lid[0] = 0;
	copy_text(plat ? cl_wa_node_attr(plat, "name") : NULL, r->platform,
		  sizeof(r->platform));
	copy_text(biz ? cl_wa_node_attr(biz, "name") : NULL, r->biz_name,
		  sizeof(r->biz_name));
	res = PS_OK;
out:
	free(msg);
	sodium_memzero(mac, sizeof(mac));
	if (id)
		wa__advdevice_identity__free_unpacked(id, NULL);
	if (sdi)
		wa__advsigned_device_identity__free_unpacked(sdi, NULL);
	if (h)
		wa__advsigned_device_identity_hmac__free_unpacked(h, NULL);
	return res;
}

/* `t` as seconds, or 0 when absent or not a plain decimal number. */
static int64_t server_time_of(const struct cl_wa_node *iq)
{
	const char *t = cl_wa_node_attr_str(iq, "t");
	int64_t v = 0;

	if (t == NULL || *t == 0 || strlen(t) > 18)
		return 0;
	for (; *t; t++) {
		if (*t < '0' || *t > '9')
			return 0;
		v = v * 10 + (*t - '0');
	}
	return v;
}

int cl_wa_pair_success(const struct cl_wa_node *iq, struct cl_wa_creds *c,
		       int64_t *server_time, struct cl_wa_node **reply,
		       char **err)
{
	const char *id = iq ? cl_wa_node_attr_str(iq, "id") : NULL;
	const struct cl_wa_node *ps = iq ? cl_wa_node_child(iq, "pair-success") :
					   NULL;
	const char *why = "no <pair-success> in the iq";
	struct paired *r = calloc(1, sizeof(*r));
	enum refusal res = PS_MALFORMED;
	int rc;

	*server_time = 0;
	*reply = NULL;
	if (r == NULL)
		return cl_error(err, CL_ENOMEM, "out of memory");
	if (id != NULL && *id == 0)
		id = NULL;
	if (iq != NULL && strcmp(iq->tag, "iq") != 0)
		ps = NULL;
	if (ps != NULL)
		res = verify(ps, c, r, &why);
	switch (res) {
	case PS_OK:
		if (id == NULL) {
			rc = cl_error(err, CL_EINVAL, "pair-success without an id");
			goto out;
		}
		if ((rc = result_reply(id, r, reply))) {
			rc = cl_error(err, rc, "out of memory");
			goto out;
		}
		break;
	case PS_BAD_HMAC:
		rc = cl_error(err, CL_EBADSIG, "%s", why);
		if (id && error_reply(id, "401", "hmac-mismatch", reply))
			rc = CL_ENOMEM;
		goto out;
	case PS_BAD_SIG:
		rc = cl_error(err, CL_EBADSIG, "%s", why);
		if (id && error_reply(id, "401", "signature-mismatch", reply))
			rc = CL_ENOMEM;
		goto out;
	case PS_NOMEM:
		rc = cl_error(err, CL_ENOMEM, "%s", why);
		goto out;
	case PS_MALFORMED:
	default:
		rc = cl_error(err, CL_EINVAL, "%s", why);
		if (id && error_reply(id, "500", "internal-error", reply))
			rc = CL_ENOMEM;
		goto out;
	}
	c->paired = 1;
	memcpy(c->jid, r->jid, sizeof(c->jid));
	memcpy(c->lid, r->lid, sizeof(c->lid));
	memcpy(c->platform, r->platform, sizeof(c->platform));
	memcpy(c->biz_name, r->biz_name, sizeof(c->biz_name));
	c->key_index = r->key_index;
	memcpy(c->account_sig_key, r->account_sig_key, 32);
	memcpy(c->signed_identity, r->ident, r->ident_len);
	c->signed_identity_len = r->ident_len;
	*server_time = server_time_of(iq);
	rc = CL_OK;
out:
	free(r);
	return rc;
}

/* ---- pre-key upload ---------------------------------------------------- */

static void be(unsigned char *p, uint32_t v, size_t n)
{
	while (n-- > 0) {
		p[n] = (unsigned char)v;
		v >>= 8;
	}
}

/* <key>/<skey> with <id>(3 bytes)</id><value>(32)</value>[<signature>]. */
static int key_node(const char *tag, uint32_t kid, const unsigned char *pub,
		    const unsigned char *sig, struct cl_wa_node **out)
{
	struct cl_wa_node *k = NULL;
	unsigned char idb[3];
	int rc;

	*out = NULL;
	be(idb, kid, 3);
	if ((rc = cl_wa_node_new_s(&k, tag)) ||
	    (rc = add_bytes(k, "id", idb, 3)) ||
	    (rc = add_bytes(k, "value", pub, 32)) ||
	    (sig && (rc = add_bytes(k, "signature", sig, 64)))) {
		cl_wa_node_free(k);
		return rc;
	}
	*out = k;
	return CL_OK;
}

int cl_wa_prekey_upload_node(const struct cl_wa_creds *c, size_t first,
			     size_t n, const char *id,
			     struct cl_wa_node **out, char **err)
{
	struct cl_wa_node *iq = NULL, *list = NULL, *k = NULL;
	unsigned char reg[4], type = 0x05;
	size_t i;
	int rc;

	*out = NULL;
	if (n == 0 || first > c->nprekeys || n > c->nprekeys - first ||
	    id == NULL || *id == 0)
		return cl_error(err, CL_EINVAL, "bad pre-key upload range");
	be(reg, c->reg_id, 4);
	if ((rc = cl_wa_node_new_s(&iq, "iq")) ||
	    (rc = cl_wa_node_add_attr_s(iq, "xmlns", "encrypt")) ||
	    (rc = cl_wa_node_add_attr_s(iq, "type", "set")) ||
	    (rc = cl_wa_node_add_attr_s(iq, "to", CL_WA_SERVER_JID)) ||
	    (rc = cl_wa_node_add_attr_s(iq, "id", id)) ||
	    (rc = add_bytes(iq, "registration", reg, 4)) ||
	    (rc = add_bytes(iq, "type", &type, 1)) ||
	    (rc = add_bytes(iq, "identity", c->ident_pub, 32)) ||
	    (rc = cl_wa_node_new_s(&list, "list")) ||
	    (rc = cl_wa_node_set_list(list)))
		goto out;
	for (i = first; i < first + n; i++) {
		if ((rc = key_node("key", c->prekeys[i].id, c->prekeys[i].pub,
				   NULL, &k)) ||
		    (rc = cl_wa_node_add_child(list, k)))
			goto out;
		k = NULL;
	}
	if ((rc = cl_wa_node_add_child(iq, list)))
		goto out;
	list = NULL;
	if ((rc = key_node("skey", c->spk_id, c->spk_pub, c->spk_sig, &k)) ||
	    (rc = cl_wa_node_add_child(iq, k)))
		goto out;
	k = NULL;
	*out = iq;
	iq = NULL;
out:
	if (rc)
		cl_error(err, rc, "cannot build the pre-key upload");
	cl_wa_node_free(k);
	cl_wa_node_free(list);
	cl_wa_node_free(iq);
	return rc;
}
