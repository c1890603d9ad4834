/*
 * test_wa_pair.c - pairing and login stanzas: the ClientPayload for
 * registration and login (archiver/wa/payload.c), <pair-device> refs,
 * <pair-success> (archiver/wa/pair.c) and the pre-key upload.
 *
 * pair-success nodes are built here the way the phone and server make
 * them: an account key signs the device details, an HMAC under the ADV
 * secret covers the signed identity (computed with OpenSSL's one-shot
 * HMAC(), not the code under test), and the node goes through the binary
 * codec as it would on the wire.  Known answers from the Node reference
 * (npm baileys) are in tests/wa/vectors/adv.json; the test fails when that
 * file is missing.  Run from the repository root (or set CL_ROOT).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "wa.pb-c.h"

#include "archiver/wa/binary.h"
#include "archiver/wa/creds.h"
#include "archiver/wa/pair.h"
#include "archiver/wa/payload.h"
#include "archiver/wa/xeddsa.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "../unit/tap.h"
#include "common/banned.h"

#define VECTORS "tests/wa/vectors/adv.json"

/* ---- helpers ------------------------------------------------------------ */

static int bin_eq(const ProtobufCBinaryData *b, const void *p, size_t len)
{
	return b->len == len && (len == 0 || memcmp(b->data, p, len) == 0);
}

static int attr_is(const struct cl_wa_node *n, size_t i, const char *k,
		   const char *v)
{
	return i < n->nattrs && !strcmp(n->attrs[i].key, k) &&
	       !strcmp(n->attrs[i].value, v);
}

/* Encode and decode, as a node arrives from the wire. */
static struct cl_wa_node *wire(struct cl_wa_node *n)
{
	struct cl_wa_node *back = NULL;
	struct cl_buf b;

	cl_buf_init(&b, 1 << 20);
	if (cl_wa_node_encode(n, &b, NULL) != CL_OK ||
	    cl_wa_node_decode(b.data, b.len, &back, NULL) != CL_OK)
		abort();
	cl_buf_release(&b);
	cl_wa_node_free(n);
	return back;
}

static void add_bytes(struct cl_wa_node *parent, const char *tag,
		      const void *p, size_t len)
{
	struct cl_wa_node *n = NULL;

	if (cl_wa_node_new_s(&n, tag) || cl_wa_node_set_bytes(n, p, len) ||
	    cl_wa_node_add_child(parent, n))
		abort();
}

static struct cl_wa_node *add_empty(struct cl_wa_node *parent,
				    const char *tag)
{
	struct cl_wa_node *n = NULL;

	if (cl_wa_node_new_s(&n, tag) || cl_wa_node_add_child(parent, n))
		abort();
	return n;
}

/* <iq to=s.whatsapp.net type=error id=id><error code text/></iq> */
static int is_error_reply(const struct cl_wa_node *r, const char *id,
			  const char *code, const char *text)
{
	const struct cl_wa_node *e;

	if (r == NULL || strcmp(r->tag, "iq") || r->nattrs != 3 ||
	    !attr_is(r, 0, "to", "s.whatsapp.net") ||
	    !attr_is(r, 1, "type", "error") || !attr_is(r, 2, "id", id) ||
	    r->kind != CL_WA_LIST || r->nchildren != 1)
		return 0;
	e = r->children[0];
	return !strcmp(e->tag, "error") && e->nattrs == 2 &&
	       attr_is(e, 0, "code", code) && attr_is(e, 1, "text", text) &&
	       e->kind == CL_WA_NONE;
}

/* ---- the test account and pair-success builder ---------------------------- */

static unsigned char acct_pub[32], acct_priv[32];

struct spec {
	int acct_hosted;       /* container accountType HOSTED */
	int hmac_prefix;       /* HMAC over 06 05 || details */
	int dev_hosted;        /* ADVDeviceIdentity.deviceType HOSTED */
	int sig_prefix_hosted; /* account signature with 06 05 */
	int bad_hmac;          /* flip a bit of the HMAC */
	int bad_sig;           /* flip a bit of the account signature */
	int no_acct_key;
	int garbage_identity;  /* <device-identity> not a protobuf */
	int garbage_details;   /* HMAC'd details not a protobuf */
	int no_device_identity, no_device, no_id, no_t, no_lid;
	const char *jid, *biz, *platform;
	uint32_t key_index;
};

static unsigned char last_details[256]; /* ADVDeviceIdentity bytes */
static size_t last_details_len;
static unsigned char last_acct_sig[64];

static struct cl_wa_node *pair_success(const struct cl_wa_creds *c,
				       const struct spec *s)
{
	Wa__ADVDeviceIdentity d = WA__ADVDEVICE_IDENTITY__INIT;
	Wa__ADVSignedDeviceIdentity sdi = WA__ADVSIGNED_DEVICE_IDENTITY__INIT;
	Wa__ADVSignedDeviceIdentityHMAC h = WA__ADVSIGNED_DEVICE_IDENTITY_HMAC__INIT;
	unsigned char details[256], signed_id[512], cont[1024], msg[512];
	unsigned char sig[64], mac[32], key[32], *hin;
	unsigned int maclen = 0;
	size_t dlen, slen, clen, hlen;
	struct cl_wa_node *iq = NULL, *ps, *n;

	d.has_rawid = 1;
	d.rawid = 123456;
	d.has_timestamp = 1;
	d.timestamp = 1700000000;
	d.has_keyindex = 1;
	d.keyindex = s->key_index;
	if (s->dev_hosted) {
		d.has_accounttype = d.has_devicetype = 1;
		d.accounttype = d.devicetype = WA__ADVENCRYPTION_TYPE__HOSTED;
	}
	dlen = wa__advdevice_identity__pack(&d, details);
	memcpy(last_details, details, dlen);
	last_details_len = dlen;

	msg[0] = 6;
	msg[1] = s->sig_prefix_hosted ? 5 : 0;
	memcpy(msg + 2, details, dlen);
	memcpy(msg + 2 + dlen, c->ident_pub, 32);
	if (cl_wa_xeddsa_sign(sig, acct_priv, msg, 2 + dlen + 32) != CL_OK)
		abort();
	if (s->bad_sig)
		sig[10] ^= 1;
	memcpy(last_acct_sig, sig, 64);
	memcpy(key, acct_pub, 32);
	sdi.has_details = 1;
	sdi.details.data = details;
	sdi.details.len = dlen;
	sdi.has_accountsignaturekey = !s->no_acct_key;
	sdi.accountsignaturekey.data = key;
	sdi.accountsignaturekey.len = 32;
	sdi.has_accountsignature = 1;
	sdi.accountsignature.data = sig;
	sdi.accountsignature.len = 64;
	slen = wa__advsigned_device_identity__pack(&sdi, signed_id);
	if (s->garbage_details) {
		memset(signed_id, 0xff, 20);
		slen = 20;
	}

	hin = malloc(2 + slen);
	if (hin == NULL)
		abort();
	hin[0] = 6;
	hin[1] = 5;
	memcpy(hin + 2, signed_id, slen);
	hlen = s->hmac_prefix ? 2 + slen : slen;
	if (HMAC(EVP_sha256(), c->adv_secret, 32,
		 s->hmac_prefix ? hin : hin + 2, hlen, mac, &maclen) == NULL ||
	    maclen != 32)
		abort();
	free(hin);
	if (s->bad_hmac)
		mac[31] ^= 0x80;
	h.has_details = 1;
	h.details.data = signed_id;
	h.details.len = slen;
	h.has_hmac = 1;
	h.hmac.data = mac;
	h.hmac.len = 32;
	if (s->acct_hosted) {
		h.has_accounttype = 1;
		h.accounttype = WA__ADVENCRYPTION_TYPE__HOSTED;
	}
	clen = wa__advsigned_device_identity_hmac__pack(&h, cont);
	if (s->garbage_identity) {
		memset(cont, 0xff, 16);
		clen = 16;
	}

	if (cl_wa_node_new_s(&iq, "iq") ||
	    cl_wa_node_add_attr_s(iq, "from", "s.whatsapp.net") ||
	    cl_wa_node_add_attr_s(iq, "type", "set") ||
	    (!s->no_id && cl_wa_node_add_attr_s(iq, "id", "4173.29-7")) ||
	    (!s->no_t && cl_wa_node_add_attr_s(iq, "t", "1700000123")))
		abort();
	ps = add_empty(iq, "pair-success");
	if (!s->no_device_identity)
		add_bytes(ps, "device-identity", cont, clen);
	n = add_empty(ps, "platform");
	if (cl_wa_node_add_attr_s(n, "name", s->platform ? s->platform : "smbi"))
		abort();
	if (!s->no_device) {
		n = add_empty(ps, "device");
		if (cl_wa_node_add_attr_s(n, "jid",
					  s->jid ? s->jid : "15551234567:3@s.whatsapp.net") ||
		    (!s->no_lid &&
		     cl_wa_node_add_attr_s(n, "lid", "987654321012345:3@lid")))
			abort();
	}
	if (s->biz) {
		n = add_empty(ps, "biz");
		if (cl_wa_node_add_attr_s(n, "name", s->biz))
			abort();
	}
	return wire(iq);
}

/* A copy of the whole struct, to show it did not change. */
static void *snapshot(const struct cl_wa_creds *c)
{
	void *p = malloc(sizeof(*c));

	if (p == NULL)
		abort();
	memcpy(p, c, sizeof(*c));
	return p;
}

/*
 * Run pair-success on `s` with fresh state; check a refusal: the status,
 * the error reply (code/text, or none when code is NULL), c unchanged.
 */
static void expect_refusal(struct cl_wa_creds *c, const struct spec *s,
			   int want_rc, const char *code, const char *text,
			   const char *name)
{
	struct cl_wa_node *iq = pair_success(c, s), *reply = NULL;
	void *before = snapshot(c);
	int64_t t = 99;
	char *err = NULL;
	int rc = cl_wa_pair_success(iq, c, &t, &reply, &err);

	TAP_EQ_INT(rc, want_rc, name);
	TAP_OK(code ? is_error_reply(reply, "4173.29-7", code, text) :
		      reply == NULL,
	       "%s: reply %s %s", name, code ? code : "none", text ? text : "");
	TAP_OK(memcmp(before, c, sizeof(*c)) == 0 && t == 0 && err != NULL,
	       "%s: creds unchanged, time 0, message", name);
	cl_wa_node_free(iq);
	cl_wa_node_free(reply);
	free(before);
	free(err);
}

/* ---- payloads ------------------------------------------------------------ */

static const struct cl_wa_client_info info = {
	{ 2, 3000, 1027934701 }, "chatledger", 1, NULL, 1
};

static int user_agent_ok(const Wa__ClientPayload *p)
{
	const Wa__ClientPayload__UserAgent *ua = p->useragent;

	return ua && ua->has_platform &&
	       ua->platform == WA__CLIENT_PAYLOAD__USER_AGENT__PLATFORM__WEB &&
	       ua->appversion && ua->appversion->has_primary &&
	       ua->appversion->primary == 2 && ua->appversion->secondary == 3000 &&
	       ua->appversion->tertiary == 1027934701 &&
	       !strcmp(ua->mcc, "000") && !strcmp(ua->mnc, "000") &&
	       !strcmp(ua->osversion, "0.1") && !strcmp(ua->manufacturer, "") &&
	       !strcmp(ua->device, "Desktop") && !strcmp(ua->osbuildnumber, "0.1") &&
	       ua->has_releasechannel &&
	       ua->releasechannel ==
		       WA__CLIENT_PAYLOAD__USER_AGENT__RELEASE_CHANNEL__RELEASE &&
	       !strcmp(ua->localelanguageiso6391, "en") &&
	       !strcmp(ua->localecountryiso31661alpha2, "US") && p->webinfo &&
	       p->webinfo->has_websubplatform &&
	       p->webinfo->websubplatform ==
		       WA__CLIENT_PAYLOAD__WEB_INFO__WEB_SUB_PLATFORM__WEB_BROWSER &&
	       p->has_connecttype &&
	       p->connecttype == WA__CLIENT_PAYLOAD__CONNECT_TYPE__WIFI_UNKNOWN &&
	       p->has_connectreason &&
	       p->connectreason ==
		       WA__CLIENT_PAYLOAD__CONNECT_REASON__USER_ACTIVATED;
}

static void test_payload_register(const struct cl_wa_creds *c)
{
	/* MD5("2.3000.1027934701"), from Python's hashlib */
	static const char md5_hex[] = "54bb0d4e84a27cb53abb2633273c1708";
	unsigned char md5[16], regid[4], skid[3], msg[33];
	Wa__ClientPayload *p;
	Wa__DeviceProps *dp = NULL;
	const Wa__ClientPayload__DevicePairingRegistrationData *d;
	struct cl_buf b;
	char *err = NULL;

	cl_buf_init(&b, 1 << 20);
	TAP_EQ_INT(cl_wa_payload_register(c, &info, &b, &err), CL_OK,
		   "registration payload");
	p = wa__client_payload__unpack(NULL, b.len, b.data);
	TAP_OK(p != NULL, "it unpacks");
	if (p == NULL)
		goto out;
	TAP_OK(user_agent_ok(p), "user agent, web info, connect type/reason");
	TAP_OK(p->has_passive && !p->passive && p->has_pull && !p->pull,
	       "passive=false, pull=false");
	TAP_OK(!p->has_username && !p->has_device && !p->has_liddbmigrated &&
	       !p->has_lc && p->pushname == NULL, "no login fields, no push name");
	d = p->devicepairingdata;
	TAP_OK(d != NULL, "devicePairingData");
	if (d == NULL)
		goto out;
	cl_store_be64(msg, 0);
	regid[0] = (unsigned char)(c->reg_id >> 24);
	regid[1] = (unsigned char)(c->reg_id >> 16);
	regid[2] = (unsigned char)(c->reg_id >> 8);
	regid[3] = (unsigned char)c->reg_id;
	skid[0] = (unsigned char)(c->spk_id >> 16);
	skid[1] = (unsigned char)(c->spk_id >> 8);
	skid[2] = (unsigned char)c->spk_id;
	TAP_OK(d->has_eregid && bin_eq(&d->eregid, regid, 4),
	       "eRegid: 4-byte big-endian registration id");
	TAP_OK(d->has_ekeytype && bin_eq(&d->ekeytype, "\x05", 1), "eKeytype 0x05");
	TAP_OK(d->has_eident && bin_eq(&d->eident, c->ident_pub, 32),
	       "eIdent: identity public key");
	TAP_OK(d->has_eskeyid && bin_eq(&d->eskeyid, skid, 3),
	       "eSkeyId: 3-byte big-endian");
	TAP_OK(d->has_eskeyval && bin_eq(&d->eskeyval, c->spk_pub, 32), "eSkeyVal");
	msg[0] = 5;
	if (d->has_eskeyval && d->eskeyval.len == 32)
		memcpy(msg + 1, d->eskeyval.data, 32);
	TAP_OK(d->has_eskeysig && d->eskeysig.len == 64 &&
	       cl_wa_xeddsa_verify(c->ident_pub, msg, 33, d->eskeysig.data) == CL_OK,
	       "eSkeySig verifies over 0x05 || eSkeyVal");
	TAP_OK(cl_hex_decode(md5_hex, md5, 16) == CL_OK && d->has_buildhash &&
	       bin_eq(&d->buildhash, md5, 16), "buildHash = MD5(\"2.3000.1027934701\")");
	TAP_OK(d->has_deviceprops &&
	       (dp = wa__device_props__unpack(NULL, d->deviceprops.len,
					      d->deviceprops.data)) != NULL,
	       "deviceProps unpacks");
	TAP_OK(dp && dp->os && !strcmp(dp->os, "chatledger") &&
	       dp->has_platformtype &&
	       dp->platformtype == WA__DEVICE_PROPS__PLATFORM_TYPE__CHROME &&
	       dp->has_requirefullsync && dp->requirefullsync && dp->version &&
	       dp->version->primary == 0 && dp->version->secondary == 1 &&
	       dp->version->tertiary == 0 && dp->historysyncconfig &&
	       dp->historysyncconfig->storagequotamb == 10240 &&
	       dp->historysyncconfig->inlineinitialpayloadine2eemsg,
	       "deviceProps: os, platform CHROME, version 0.1.0, full sync asked");
	{ /* full_history = no: requireFullSync false */
		struct cl_wa_client_info recent = info;
		Wa__DeviceProps *dp2 = NULL;
		Wa__ClientPayload *p2 = NULL;

		recent.full_history = 0;
		cl_buf_reset(&b);
		if (cl_wa_payload_register(c, &recent, &b, &err) == CL_OK &&
		    (p2 = wa__client_payload__unpack(NULL, b.len, b.data)) != NULL &&
		    p2->devicepairingdata && p2->devicepairingdata->has_deviceprops)
			dp2 = wa__device_props__unpack(NULL, p2->devicepairingdata->deviceprops.len,
						       p2->devicepairingdata->deviceprops.data);
		TAP_OK(dp2 && dp2->has_requirefullsync && !dp2->requirefullsync,
		       "deviceProps with full_history off: no full sync");
		if (dp2)
			wa__device_props__free_unpacked(dp2, NULL);
		if (p2)
			wa__client_payload__free_unpacked(p2, NULL);
	}
out:
	if (dp)
		wa__device_props__free_unpacked(dp, NULL);
	if (p)
		wa__client_payload__free_unpacked(p, NULL);
	{
		struct cl_wa_client_info bad = info;

		bad.os_name = NULL;
		cl_buf_reset(&b);
		TAP_EQ_INT(cl_wa_payload_register(c, &bad, &b, &err), CL_EINVAL,
			   "no os name: CL_EINVAL");
		free(err);
		err = NULL;
	}
	{
		struct cl_buf small;

		cl_buf_init(&small, 50);
		TAP_EQ_INT(cl_wa_payload_register(c, &info, &small, &err),
			   CL_ETOOBIG, "over the buffer cap: CL_ETOOBIG");
		TAP_EQ_INT(small.len, 0, "buffer unchanged");
		cl_buf_release(&small);
	}
	cl_buf_release(&b);
	free(err);
}

static void test_payload_login(struct cl_wa_creds *c)
{
	struct cl_wa_client_info named = info;
	Wa__ClientPayload *p;
	struct cl_buf b;
	char *err = NULL;

	cl_buf_init(&b, 1 << 20);
	TAP_EQ_INT(cl_wa_payload_login(c, &info, &b, &err), CL_EINVAL,
		   "login before pairing: CL_EINVAL");
	free(err);
	err = NULL;
	c->paired = 1;
	snprintf(c->jid, sizeof(c->jid), "15551234567:12@s.whatsapp.net");
	named.push_name = "Compliance Archive";
	TAP_EQ_INT(cl_wa_payload_login(c, &named, &b, &err), CL_OK, "login payload");
	p = wa__client_payload__unpack(NULL, b.len, b.data);
	TAP_OK(p != NULL, "it unpacks");
	if (p) {
		TAP_OK(user_agent_ok(p), "user agent, web info, connect type/reason");
		TAP_OK(p->has_username && p->username == 15551234567ull,
		       "username = the JID's user as a number");
		TAP_OK(p->has_device && p->device == 12, "device = the JID's device");
		TAP_OK(p->has_passive && p->passive && p->has_pull && p->pull,
		       "passive=true, pull=true");
		TAP_OK(p->has_liddbmigrated && !p->liddbmigrated, "lidDbMigrated=false");
		TAP_OK(p->devicepairingdata == NULL, "no devicePairingData");
		TAP_EQ_STR(p->pushname, "Compliance Archive", "pushName");
		wa__client_payload__free_unpacked(p, NULL);
	}
	snprintf(c->jid, sizeof(c->jid), "abc:1@s.whatsapp.net");
	TAP_EQ_INT(cl_wa_payload_login(c, &info, &b, &err), CL_EINVAL,
		   "non-numeric user: CL_EINVAL");
	c->paired = 0;
	c->jid[0] = 0;
	cl_buf_release(&b);
	free(err);
}

/* ---- pair-device refs ------------------------------------------------------ */

static void test_refs(void)
{
	static const char *const want[] = { "2@first", "2@second+/=", "3@x" };
	struct cl_wa_node *iq = NULL, *pd, *n;
	char **refs = NULL, *err = NULL;
	size_t nrefs = 0, i;
	int same = 1;

	if (cl_wa_node_new_s(&iq, "iq") || cl_wa_node_add_attr_s(iq, "type", "set"))
		abort();
	pd = add_empty(iq, "pair-device");
	add_bytes(pd, "ref", want[0], strlen(want[0]));
	add_bytes(pd, "other", "2@no", 4);
	add_bytes(pd, "ref", want[1], strlen(want[1]));
	add_bytes(pd, "ref", "has,comma", 9);
	add_bytes(pd, "ref", "", 0);
	add_empty(pd, "ref");
	add_bytes(pd, "ref", want[2], strlen(want[2]));
	iq = wire(iq);
	TAP_EQ_INT(cl_wa_pair_refs(iq, &refs, &nrefs, &err), CL_OK, "refs");
	TAP_EQ_INT(nrefs, 3, "usable refs only, in order");
	for (i = 0; i < nrefs && i < 3; i++)
		same &= !strcmp(refs[i], want[i]);
	TAP_OK(same, "ref texts");
	for (i = 0; i < nrefs; i++)
		free(refs[i]);
	free(refs);
	cl_wa_node_free(iq);

	if (cl_wa_node_new_s(&iq, "iq"))
		abort();
	n = add_empty(iq, "pair-device");
	add_bytes(n, "ref", "a,b", 3);
	TAP_OK(cl_wa_pair_refs(iq, &refs, &nrefs, &err) == CL_EINVAL &&
	       refs == NULL && nrefs == 0, "no usable ref: CL_EINVAL");
	cl_wa_node_free(iq);
	if (cl_wa_node_new_s(&iq, "iq"))
		abort();
	add_empty(iq, "pair-success");
	TAP_EQ_INT(cl_wa_pair_refs(iq, &refs, &nrefs, &err), CL_EINVAL,
		   "no <pair-device>: CL_EINVAL");
	cl_wa_node_free(iq);
	free(err);
}

/* ---- pair-success ---------------------------------------------------------- */

/* Check an accepted pair-success: reply shape, signatures, creds. */
static void check_accepted(const struct cl_wa_creds *c,
			   const struct cl_wa_node *reply, uint32_t key_index,
			   const char *name)
{
	const struct cl_wa_node *sign, *di;
	Wa__ADVSignedDeviceIdentity *sent = NULL, *kept = NULL;
	unsigned char msg[512];
	char kidx[16];
	int shape;

	snprintf(kidx, sizeof(kidx), "%u", (unsigned)key_index);
	shape = reply && !strcmp(reply->tag, "iq") && reply->nattrs == 3 &&
		attr_is(reply, 0, "to", "s.whatsapp.net") &&
		attr_is(reply, 1, "type", "result") &&
		attr_is(reply, 2, "id", "4173.29-7") &&
		reply->kind == CL_WA_LIST && reply->nchildren == 1;
	sign = shape ? reply->children[0] : NULL;
	shape = shape && !strcmp(sign->tag, "pair-device-sign") &&
		sign->nattrs == 0 && sign->kind == CL_WA_LIST &&
		sign->nchildren == 1;
	di = shape ? sign->children[0] : NULL;
	shape = shape && !strcmp(di->tag, "device-identity") && di->nattrs == 1 &&
		attr_is(di, 0, "key-index", kidx) && di->kind == CL_WA_BYTES;
	TAP_OK(shape, "%s: reply <iq to type=result id><pair-device-sign>"
	       "<device-identity key-index=%s>", name, kidx);
	if (!shape)
		return;
	sent = wa__advsigned_device_identity__unpack(NULL, di->len, di->data);
	kept = wa__advsigned_device_identity__unpack(NULL, c->signed_identity_len,
						     c->signed_identity);
	TAP_OK(sent && kept, "%s: sent and stored identities unpack", name);
	if (!sent || !kept)
		goto out;
	TAP_OK(sent->has_details &&
	       bin_eq(&sent->details, last_details, last_details_len) &&
	       sent->has_accountsignature &&
	       bin_eq(&sent->accountsignature, last_acct_sig, 64),
	       "%s: details and account signature passed on", name);
	TAP_OK(!sent->has_accountsignaturekey,
	       "%s: accountSignatureKey absent from the reply", name);
	msg[0] = 6;
	msg[1] = 1;
	memcpy(msg + 2, last_details, last_details_len);
	memcpy(msg + 2 + last_details_len, c->ident_pub, 32);
	memcpy(msg + 2 + last_details_len + 32, acct_pub, 32);
	TAP_OK(sent->has_devicesignature && sent->devicesignature.len == 64 &&
	       cl_wa_xeddsa_verify(c->ident_pub, msg, 2 + last_details_len + 64,
				   sent->devicesignature.data) == CL_OK,
	       "%s: deviceSignature verifies with ident_pub over "
	       "06 01 || details || ident_pub || account key", name);
	TAP_OK(kept->has_accountsignaturekey &&
	       bin_eq(&kept->accountsignaturekey, acct_pub, 32) &&
	       bin_eq(&kept->details, last_details, last_details_len) &&
	       kept->has_devicesignature &&
	       bin_eq(&kept->devicesignature, sent->devicesignature.data, 64),
	       "%s: stored identity is complete (account key, our signature)",
	       name);
	TAP_OK(c->paired == 1 && !memcmp(c->account_sig_key, acct_pub, 32) &&
	       c->key_index == key_index, "%s: paired, account key, key index",
	       name);
out:
	if (sent)
		wa__advsigned_device_identity__free_unpacked(sent, NULL);
	if (kept)
		wa__advsigned_device_identity__free_unpacked(kept, NULL);
}

static struct cl_wa_creds *fresh(void)
{
	struct cl_wa_creds *c = NULL;

	if (cl_wa_creds_generate(&c, NULL) != CL_OK)
		abort();
	return c;
}

static int accept(struct cl_wa_creds *c, const struct spec *s,
		  struct cl_wa_node **reply, int64_t *t)
{
	struct cl_wa_node *iq = pair_success(c, s);
	char *err = NULL;
	int rc = cl_wa_pair_success(iq, c, t, reply, &err);

	if (rc)
		printf("# %s\n", err ? err : "?");
	cl_wa_node_free(iq);
	free(err);
	return rc;
}

static void test_pair_success(void)
{
	struct cl_wa_creds *c = fresh();
	struct cl_wa_node *reply = NULL;
	struct spec s;
	int64_t t = 0;

	memset(&s, 0, sizeof(s));
	s.key_index = 3;
	s.biz = "Acme Trading Ltd";
	TAP_EQ_INT(accept(c, &s, &reply, &t), CL_OK, "pair-success accepted");
	check_accepted(c, reply, 3, "e2ee");
	TAP_EQ_STR(c->jid, "15551234567:3@s.whatsapp.net", "jid");
	TAP_EQ_STR(c->lid, "987654321012345:3@lid", "lid");
	TAP_EQ_STR(c->platform, "smbi", "platform");
	TAP_EQ_STR(c->biz_name, "Acme Trading Ltd", "biz name");
	TAP_EQ_INT(t, 1700000123, "server time from t");
	{
		struct cl_buf b;

		cl_buf_init(&b, 1 << 20);
		TAP_OK(cl_wa_node_encode(reply, &b, NULL) == CL_OK,
		       "the reply encodes for the wire");
		cl_buf_release(&b);
	}
	cl_wa_node_free(reply);
	reply = NULL;
	cl_wa_creds_free(c);

	/* hosted account: HMAC with the 06 05 prefix */
	c = fresh();
	memset(&s, 0, sizeof(s));
	s.acct_hosted = s.hmac_prefix = 1;
	s.key_index = 1;
	s.no_t = 1;
	t = 5;
	TAP_EQ_INT(accept(c, &s, &reply, &t), CL_OK, "hosted account accepted");
	check_accepted(c, reply, 1, "hosted account");
	TAP_EQ_INT(t, 0, "no t: server time 0");
	TAP_OK(c->biz_name[0] == 0, "no biz: empty name");
	cl_wa_node_free(reply);
	reply = NULL;
	cl_wa_creds_free(c);

	/* hosted device: account signature with the 06 05 prefix */
	c = fresh();
	memset(&s, 0, sizeof(s));
	s.dev_hosted = s.sig_prefix_hosted = 1;
	s.key_index = 9;
	s.no_lid = 1;
	TAP_EQ_INT(accept(c, &s, &reply, &t), CL_OK, "hosted device accepted");
	check_accepted(c, reply, 9, "hosted device");
	TAP_OK(c->lid[0] == 0, "no lid: empty");
	cl_wa_node_free(reply);
	reply = NULL;
	cl_wa_creds_free(c);

	/* odd biz name and platform are made safe */
	c = fresh();
	memset(&s, 0, sizeof(s));
	s.biz = "Caf\xc3\xa9 \xff\xfe Shop\x01";
	s.platform = "android";
	TAP_EQ_INT(accept(c, &s, &reply, &t), CL_OK, "accepted with an odd biz name");
	TAP_EQ_STR(c->biz_name, "Caf?? ?? Shop?", "invalid UTF-8 replaced by '?'");
	TAP_EQ_STR(c->platform, "android", "platform");
	cl_wa_node_free(reply);
	reply = NULL;
	memset(&s, 0, sizeof(s));
	s.biz = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9x";
	TAP_EQ_INT(accept(c, &s, &reply, &t), CL_OK, "accepted with a long biz name");
	TAP_EQ_INT(strlen(c->biz_name), 126, "cut to fit at a character boundary");
	cl_wa_node_free(reply);
	reply = NULL;
	cl_wa_creds_free(c);

	/* refusals */
	c = fresh();
	memset(&s, 0, sizeof(s));
	s.bad_hmac = 1;
	expect_refusal(c, &s, CL_EBADSIG, "401", "hmac-mismatch", "tampered HMAC");
	memset(&s, 0, sizeof(s));
	s.bad_sig = 1;
	expect_refusal(c, &s, CL_EBADSIG, "401", "signature-mismatch",
		       "tampered account signature");
	memset(&s, 0, sizeof(s));
	s.acct_hosted = 1;
	expect_refusal(c, &s, CL_EBADSIG, "401", "hmac-mismatch",
		       "hosted account, HMAC without the prefix");
	memset(&s, 0, sizeof(s));
	s.hmac_prefix = 1;
	expect_refusal(c, &s, CL_EBADSIG, "401", "hmac-mismatch",
		       "E2EE account, HMAC with the hosted prefix");
	memset(&s, 0, sizeof(s));
	s.dev_hosted = 1;
	expect_refusal(c, &s, CL_EBADSIG, "401", "signature-mismatch",
		       "hosted device, signature with the 06 00 prefix");
	memset(&s, 0, sizeof(s));
	s.sig_prefix_hosted = 1;
	expect_refusal(c, &s, CL_EBADSIG, "401", "signature-mismatch",
		       "E2EE device, signature with the 06 05 prefix");
	memset(&s, 0, sizeof(s));
	s.no_acct_key = 1;
	expect_refusal(c, &s, CL_EBADSIG, "401", "signature-mismatch",
		       "no account signature key");
	memset(&s, 0, sizeof(s));
	s.no_device_identity = 1;
	expect_refusal(c, &s, CL_EINVAL, "500", "internal-error",
		       "missing <device-identity>");
	memset(&s, 0, sizeof(s));
	s.no_device = 1;
	expect_refusal(c, &s, CL_EINVAL, "500", "internal-error", "missing <device>");
	memset(&s, 0, sizeof(s));
	s.jid = "not-a-jid";
	expect_refusal(c, &s, CL_EINVAL, "500", "internal-error", "bad device jid");
	memset(&s, 0, sizeof(s));
	s.jid = "abc:3@s.whatsapp.net";
	expect_refusal(c, &s, CL_EINVAL, "500", "internal-error",
		       "device jid user not a number");
	memset(&s, 0, sizeof(s));
	s.garbage_identity = 1;
	expect_refusal(c, &s, CL_EINVAL, "500", "internal-error",
		       "device identity not a protobuf");
	memset(&s, 0, sizeof(s));
	s.garbage_details = 1;
	expect_refusal(c, &s, CL_EINVAL, "500", "internal-error",
		       "signed identity not a protobuf (HMAC valid)");
	memset(&s, 0, sizeof(s));
	s.no_id = 1;
	expect_refusal(c, &s, CL_EINVAL, NULL, NULL, "valid but without an id");
	memset(&s, 0, sizeof(s));
	s.no_id = 1;
	s.bad_hmac = 1;
	expect_refusal(c, &s, CL_EBADSIG, NULL, NULL, "bad HMAC without an id");
	{
		struct cl_wa_node *iq = NULL;
		void *before = snapshot(c);
		char *err = NULL;

		if (cl_wa_node_new_s(&iq, "iq") || cl_wa_node_add_attr_s(iq, "id", "x1"))
			abort();
		add_empty(iq, "pair-device");
		TAP_EQ_INT(cl_wa_pair_success(iq, c, &t, &reply, &err), CL_EINVAL,
			   "no <pair-success>: CL_EINVAL");
		TAP_OK(is_error_reply(reply, "x1", "500", "internal-error") &&
		       !memcmp(before, c, sizeof(*c)), "500 reply, creds unchanged");
		cl_wa_node_free(reply);
		reply = NULL;
		free(err);
		err = NULL;
		TAP_OK(cl_wa_pair_success(NULL, c, &t, &reply, &err) == CL_EINVAL &&
		       reply == NULL, "NULL iq: CL_EINVAL, no reply");
		cl_wa_node_free(iq);
		free(before);
		free(err);
	}
	cl_wa_creds_free(c);
}

/* ---- pre-key upload ----------------------------------------------------------- */

static int key_shape(const struct cl_wa_node *k, const char *tag, uint32_t id,
		     const unsigned char *pub, const unsigned char *sig)
{
	unsigned char idb[3];

	idb[0] = (unsigned char)(id >> 16);
	idb[1] = (unsigned char)(id >> 8);
	idb[2] = (unsigned char)id;
	return !strcmp(k->tag, tag) && k->nattrs == 0 && k->kind == CL_WA_LIST &&
	       k->nchildren == (sig ? 3u : 2u) &&
	       !strcmp(k->children[0]->tag, "id") &&
	       k->children[0]->kind == CL_WA_BYTES && k->children[0]->len == 3 &&
	       !memcmp(k->children[0]->data, idb, 3) &&
	       !strcmp(k->children[1]->tag, "value") &&
	       k->children[1]->len == 32 && !memcmp(k->children[1]->data, pub, 32) &&
	       (!sig || (!strcmp(k->children[2]->tag, "signature") &&
			 k->children[2]->len == 64 &&
			 !memcmp(k->children[2]->data, sig, 64)));
}

static void test_upload(void)
{
	struct cl_wa_creds *c = fresh();
	struct cl_wa_node *n = NULL;
	const struct cl_wa_node *list;
	unsigned char reg[4];
	char *err = NULL;
	size_t i;
	int ok = 1;

	c->next_prekey_id = 0xfffffd;
	if (cl_wa_prekeys_generate(c, 10, &err) != CL_OK)
		abort();
	TAP_EQ_INT(cl_wa_prekey_upload_node(c, 2, 5, "up.1", &n, &err), CL_OK,
		   "upload node");
	if (n == NULL)
		goto out;
	n = wire(n);
	reg[0] = (unsigned char)(c->reg_id >> 24);
	reg[1] = (unsigned char)(c->reg_id >> 16);
	reg[2] = (unsigned char)(c->reg_id >> 8);
	reg[3] = (unsigned char)c->reg_id;
	TAP_OK(!strcmp(n->tag, "iq") && n->nattrs == 4 &&
	       attr_is(n, 0, "xmlns", "encrypt") && attr_is(n, 1, "type", "set") &&
	       attr_is(n, 2, "to", "s.whatsapp.net") && attr_is(n, 3, "id", "up.1") &&
	       n->kind == CL_WA_LIST && n->nchildren == 5,
	       "<iq xmlns=encrypt type=set to=s.whatsapp.net id> with 5 children");
	if (n->nchildren != 5)
		goto out;
	TAP_OK(!strcmp(n->children[0]->tag, "registration") &&
	       n->children[0]->len == 4 && !memcmp(n->children[0]->data, reg, 4),
	       "<registration>: 4-byte big-endian");
	TAP_OK(!strcmp(n->children[1]->tag, "type") && n->children[1]->len == 1 &&
	       n->children[1]->data[0] == 5, "<type>: 0x05");
	TAP_OK(!strcmp(n->children[2]->tag, "identity") &&
	       n->children[2]->len == 32 &&
	       !memcmp(n->children[2]->data, c->ident_pub, 32), "<identity>");
	list = n->children[3];
	TAP_OK(!strcmp(list->tag, "list") && list->nchildren == 5, "<list> of 5");
	for (i = 0; i < list->nchildren && i < 5; i++)
		ok &= key_shape(list->children[i], "key", c->prekeys[2 + i].id,
				c->prekeys[2 + i].pub, NULL);
	TAP_OK(ok, "<key><id>(3 bytes)</id><value>(32)</value></key>, in order");
	TAP_OK(c->prekeys[3].id == 1 && list->nchildren == 5 &&
	       list->children[1]->children[0]->data[2] == 1,
	       "ids after the 24-bit wrap");
	TAP_OK(key_shape(n->children[4], "skey", c->spk_id, c->spk_pub, c->spk_sig),
	       "<skey><id/><value/><signature/></skey>");
	cl_wa_node_free(n);
	n = NULL;
	TAP_EQ_INT(cl_wa_prekey_upload_node(c, 0, 10, "a", &n, &err), CL_OK,
		   "all of them");
	cl_wa_node_free(n);
	n = NULL;
	TAP_OK(cl_wa_prekey_upload_node(c, 5, 6, "a", &n, &err) == CL_EINVAL &&
	       n == NULL, "past the end: CL_EINVAL");
	TAP_EQ_INT(cl_wa_prekey_upload_node(c, 11, 1, "a", &n, &err), CL_EINVAL,
		   "start past the end");
	TAP_EQ_INT(cl_wa_prekey_upload_node(c, 0, 0, "a", &n, &err), CL_EINVAL,
		   "no keys");
	TAP_EQ_INT(cl_wa_prekey_upload_node(c, 0, 1, "", &n, &err), CL_EINVAL,
		   "empty id");
	TAP_EQ_INT(cl_wa_prekey_upload_node(c, SIZE_MAX, 2, "a", &n, &err),
		   CL_EINVAL, "overflowing range");
out:
	cl_wa_node_free(n);
	cl_wa_creds_free(c);
	free(err);
}

/* ---- known answers from the Node reference ----------------------------------- */

static int hex_field(const json_t *o, const char *key, unsigned char *out,
		     size_t n)
{
	const char *h = json_string_value(json_object_get(o, key));

	return h && cl_hex_decode(h, out, n) == CL_OK;
}

/* An accepted vector: creds, reply shape, details, our signature. */
static void kat_accepted(const json_t *cs, const struct cl_wa_creds *c,
			 const unsigned char *acct,
			 const struct cl_wa_node *reply, int rc,
			 const char *err, const char *name)
{
	const char *jid = json_string_value(json_object_get(cs, "jid"));
	const char *lid = json_string_value(json_object_get(cs, "lid"));
	const char *dhex = json_string_value(json_object_get(cs, "details"));
	json_int_t kidx = json_integer_value(json_object_get(cs, "key_index"));
	Wa__ADVSignedDeviceIdentity *sent = NULL;
	const struct cl_wa_node *di = NULL;
	unsigned char msg[2 + 512 + 64];
	size_t dlen = dhex ? strlen(dhex) / 2 : 0;
	char kbuf[24];

	TAP_EQ_INT(rc, CL_OK, name);
	if (rc) {
		printf("# %s\n", err ? err : "");
		return;
	}
	TAP_EQ_STR(c->jid, jid ? jid : "", "vector jid");
	TAP_EQ_STR(c->lid, lid ? lid : "", "vector lid");
	TAP_EQ_INT(c->key_index, kidx, "vector key index");
	TAP_OK(!memcmp(c->account_sig_key, acct, 32), "vector account key");
	snprintf(kbuf, sizeof(kbuf), "%lld", (long long)kidx);
	if (reply && reply->nchildren == 1 && reply->children[0]->nchildren == 1)
		di = reply->children[0]->children[0];
	TAP_OK(di && reply->nattrs == 3 &&
	       attr_is(reply, 0, "to", "s.whatsapp.net") &&
	       attr_is(reply, 1, "type", "result") &&
	       !strcmp(reply->children[0]->tag, "pair-device-sign") &&
	       !strcmp(di->tag, "device-identity") &&
	       attr_is(di, 0, "key-index", kbuf) && di->kind == CL_WA_BYTES,
	       "%s: reply shape", name);
	TAP_OK(dlen > 0 && dlen <= 512 && cl_hex_decode(dhex, msg + 2, dlen) == CL_OK,
	       "%s: vector details", name);
	if (di == NULL || dlen == 0 || dlen > 512)
		return;
	sent = wa__advsigned_device_identity__unpack(NULL, di->len, di->data);
	TAP_OK(sent && bin_eq(&sent->details, msg + 2, dlen) &&
	       !sent->has_accountsignaturekey,
	       "%s: details passed on, no account key", name);
	msg[0] = 6;
	msg[1] = 1;
	memcpy(msg + 2 + dlen, c->ident_pub, 32);
	memcpy(msg + 2 + dlen + 32, acct, 32);
	TAP_OK(sent && sent->has_devicesignature &&
	       sent->devicesignature.len == 64 &&
	       cl_wa_xeddsa_verify(c->ident_pub, msg, dlen + 66,
				   sent->devicesignature.data) == CL_OK,
	       "%s: our device signature verifies", name);
	if (sent == NULL)
		return;
	{
		/* the vector's own message and reply bytes, when it has them */
		const char *mhex = json_string_value(
			json_object_get(cs, "device_signature_message"));
		const char *rhex = json_string_value(json_object_get(
			cs, "reply_device_identity_without_device_signature"));
		const char *id = json_string_value(json_object_get(cs, "id"));
		unsigned char vmsg[2 + 512 + 64], want[1024], got[1024];
		size_t mlen = mhex ? strlen(mhex) / 2 : 0;
		size_t rlen = rhex ? strlen(rhex) / 2 : 0, glen;

		if (mhex)
			TAP_OK(mlen <= sizeof(vmsg) &&
			       cl_hex_decode(mhex, vmsg, mlen) == CL_OK &&
			       mlen == dlen + 66 && !memcmp(vmsg, msg, mlen),
			       "%s: device signature message as the vector's", name);
		if (rhex) {
			sent->has_devicesignature = 0;
			glen = wa__advsigned_device_identity__get_packed_size(sent);
			TAP_OK(rlen <= sizeof(want) && glen == rlen &&
			       cl_hex_decode(rhex, want, rlen) == CL_OK &&
			       wa__advsigned_device_identity__pack(sent, got) == glen &&
			       !memcmp(got, want, rlen),
			       "%s: reply identity minus deviceSignature is byte-exact",
			       name);
			sent->has_devicesignature = 1;
		}
		if (id)
			TAP_OK(attr_is(reply, 2, "id", id), "%s: reply id", name);
	}
	wa__advsigned_device_identity__free_unpacked(sent, NULL);
}

static void kat_case(const json_t *root, const json_t *cs)
{
	const char *name = json_string_value(json_object_get(cs, "name"));
	const char *hex = json_string_value(json_object_get(cs, "node_hex"));
	const json_t *code = json_object_get(cs, "error_code");
	const char *etext = json_string_value(json_object_get(cs, "error_text"));
	int want_ok = json_is_true(json_object_get(cs, "ok"));
	struct cl_wa_creds *c = fresh();
	struct cl_wa_node *iq = NULL, *reply = NULL;
	unsigned char *bytes = NULL, acct[32];
	void *before = NULL;
	char *err = NULL;
	int64_t t = 0;
	size_t len;
	int rc;

	if (name == NULL)
		name = "(unnamed)";
	if (hex == NULL || !hex_field(root, "identity_pub", c->ident_pub, 32) ||
	    !hex_field(root, "identity_priv", c->ident_priv, 32) ||
	    !hex_field(root, "adv_secret", c->adv_secret, 32) ||
	    !hex_field(root, "account_pub", acct, 32)) {
		TAP_OK(0, "vector %s is complete", name);
		goto out;
	}
	len = strlen(hex) / 2;
	bytes = malloc(len + 1);
	if (bytes == NULL || cl_hex_decode(hex, bytes, len) != CL_OK ||
	    cl_wa_node_decode(bytes, len, &iq, &err) != CL_OK) {
		TAP_OK(0, "vector %s: node decodes (%s)", name, err ? err : "hex");
		goto out;
	}
	before = snapshot(c);
	rc = cl_wa_pair_success(iq, c, &t, &reply, &err);
	if (want_ok) {
		kat_accepted(cs, c, acct, reply, rc, err, name);
	} else {
		TAP_OK(rc != CL_OK, "%s: refused", name);
		TAP_OK(memcmp(before, c, sizeof(*c)) == 0, "%s: creds unchanged",
		       name);
		if (json_is_integer(code)) {
			char cbuf[24];
			const char *id = cl_wa_node_attr_str(iq, "id");

			snprintf(cbuf, sizeof(cbuf), "%lld",
				 (long long)json_integer_value(code));
			TAP_OK(rc == (json_integer_value(code) == 401 ? CL_EBADSIG :
									CL_EINVAL) &&
			       is_error_reply(reply, id ? id : "", cbuf,
					      etext ? etext : ""),
			       "%s: error reply %s %s", name, cbuf,
			       etext ? etext : "");
		} else {
			TAP_OK(rc == CL_EINVAL, "%s: malformed (CL_EINVAL)", name);
		}
	}
out:
	cl_wa_node_free(iq);
	cl_wa_node_free(reply);
	cl_wa_creds_free(c);
	free(bytes);
	free(before);
	free(err);
}

static void test_vectors(void)
{
	const char *rootdir = getenv("CL_ROOT");
	char path[4096];
	json_error_t je;
	json_t *root, *cases;
	size_t i;

	snprintf(path, sizeof(path), "%s/%s", rootdir ? rootdir : ".", VECTORS);
	root = json_load_file(path, 0, &je);
	TAP_OK(root != NULL, "ADV vectors load from %s", path);
	if (root == NULL) {
		printf("# %s\n", je.text);
		return;
	}
	cases = json_object_get(root, "cases");
	TAP_OK(json_array_size(cases) > 0, "vectors have cases");
	{
		unsigned char pub[32], priv[32], chk[32];

		TAP_OK(hex_field(root, "identity_pub", pub, 32) &&
		       hex_field(root, "identity_priv", priv, 32) &&
		       cl_wa_x25519_pub(chk, priv) == CL_OK &&
		       !memcmp(chk, pub, 32),
		       "vector identity key pair is consistent");
	}
	for (i = 0; i < json_array_size(cases); i++)
		kat_case(root, json_array_get(cases, i));
	json_decref(root);
}

/* ---- fuzz seeds ---------------------------------------------------------- */

static void write_seed(const char *dir, const char *name,
		       const struct cl_wa_node *n)
{
	struct cl_buf b;
	char *path = NULL;
	FILE *f;

	cl_buf_init(&b, 1 << 20);
	if (cl_wa_node_encode(n, &b, NULL) != CL_OK ||
	    asprintf(&path, "%s/%s", dir, name) < 0 ||
	    (f = fopen(path, "wb")) == NULL)
		abort();
	if (fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0)
		abort();
	free(path);
	cl_buf_release(&b);
}

/*
 * `test_wa_pair --seeds DIR` writes the seed corpus of fuzz_wa_pair: nodes
 * made for the fuzzer's fixed credentials (identity key from 32 bytes of
 * 0x11, clamped; ADV secret 32 bytes of 0x22), so valid HMACs and
 * signatures reach every path.
 */
static int write_seeds(const char *dir)
{
	static const struct {
		const char *name;
		struct spec s;
	} seeds[] = {
		{ "ok-e2ee", { .key_index = 3, .biz = "Acme" } },
		{ "ok-hosted-account", { .acct_hosted = 1, .hmac_prefix = 1, .key_index = 1 } },
		{ "ok-hosted-device", { .dev_hosted = 1, .sig_prefix_hosted = 1, .no_lid = 1 } },
		{ "valid-no-id", { .no_id = 1 } },
		{ "bad-hmac", { .bad_hmac = 1 } },
		{ "bad-sig", { .bad_sig = 1 } },
		{ "bad-no-account-key", { .no_acct_key = 1 } },
		{ "bad-no-device-identity", { .no_device_identity = 1 } },
		{ "bad-no-device", { .no_device = 1 } },
		{ "bad-jid", { .jid = "abc:1@s.whatsapp.net" } },
		{ "bad-identity-bytes", { .garbage_identity = 1 } },
		{ "bad-details-bytes", { .garbage_details = 1 } },
	};
	struct cl_wa_creds *c = fresh();
	struct cl_wa_node *n = NULL, *pd;
	size_t i;

	memset(c->ident_priv, 0x11, 32);
	c->ident_priv[0] &= 248;
	c->ident_priv[31] &= 127;
	c->ident_priv[31] |= 64;
	memset(c->adv_secret, 0x22, 32);
	if (cl_wa_x25519_pub(c->ident_pub, c->ident_priv) != CL_OK)
		abort();
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		n = pair_success(c, &seeds[i].s);
		write_seed(dir, seeds[i].name, n);
		cl_wa_node_free(n);
	}
	if (cl_wa_node_new_s(&n, "iq") || cl_wa_node_add_attr_s(n, "id", "r1") ||
	    cl_wa_node_add_attr_s(n, "type", "set"))
		abort();
	pd = add_empty(n, "pair-device");
	add_bytes(pd, "ref", "2@AbCdEf+/gH==", 14);
	add_bytes(pd, "ref", "2@second", 8);
	add_bytes(pd, "ref", "bad,ref", 7);
	write_seed(dir, "pair-device", n);
	cl_wa_node_free(n);
	cl_wa_creds_free(c);
	printf("wrote %zu seeds to %s\n", sizeof(seeds) / sizeof(seeds[0]) + 1, dir);
	return 0;
}

int main(int argc, char **argv)
{
	struct cl_wa_creds *c;

	if (sodium_init() < 0) {
		printf("not ok 1 - sodium_init\n");
		return 1;
	}
	if (cl_wa_x25519_keypair(acct_pub, acct_priv) != CL_OK) {
		printf("not ok 1 - account key\n");
		return 1;
	}
	if (argc == 3 && !strcmp(argv[1], "--seeds"))
		return write_seeds(argv[2]);
	c = fresh();
	test_payload_register(c);
	test_payload_login(c);
	cl_wa_creds_free(c);
	test_refs();
	test_pair_success();
	test_upload();
	test_vectors();
	return tap_done();
}
