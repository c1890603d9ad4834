/*
 * payload.c - ClientPayload for registration and login (payload.h), built
 * with protobuf-c from archiver/wa/proto/wa.proto.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "wa.pb-c.h"

#include "archiver/wa/binary.h"
#include "archiver/wa/payload.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

/* Fields every payload shares; strings point into `s`. */
struct base {
	Wa__ClientPayload p;
	Wa__ClientPayload__UserAgent ua;
	Wa__ClientPayload__UserAgent__AppVersion av;
	Wa__ClientPayload__WebInfo wi;
	char mcc[4], mnc[4], os_version[4], manufacturer[1], device[8];
	char os_build[4], lang[3], country[3];
	char *push_name; /* malloc'd copy, or NULL */
};

static int base_init(struct base *b, const struct cl_wa_client_info *ci,
		     char **err)
{
	static const Wa__ClientPayload p0 = WA__CLIENT_PAYLOAD__INIT;
	static const Wa__ClientPayload__UserAgent ua0 =
		WA__CLIENT_PAYLOAD__USER_AGENT__INIT;
	static const Wa__ClientPayload__UserAgent__AppVersion av0 =
		WA__CLIENT_PAYLOAD__USER_AGENT__APP_VERSION__INIT;
	static const Wa__ClientPayload__WebInfo wi0 =
		WA__CLIENT_PAYLOAD__WEB_INFO__INIT;

	b->p = p0;
	b->ua = ua0;
	b->av = av0;
	b->wi = wi0;
	b->push_name = NULL;
	if (ci == NULL || ci->os_name == NULL || ci->os_name[0] == 0 ||
	    ci->platform_type < 0)
		return cl_error(err, CL_EINVAL, "incomplete client information");
	memcpy(b->mcc, "000", 4);
	memcpy(b->mnc, "000", 4);
	memcpy(b->os_version, "0.1", 4);
	b->manufacturer[0] = 0;
	memcpy(b->device, "Desktop", 8);
	memcpy(b->os_build, "0.1", 4);
	memcpy(b->lang, "en", 3);
	memcpy(b->country, "US", 3);

	b->av.has_primary = b->av.has_secondary = b->av.has_tertiary = 1;
	b->av.primary = ci->version.primary;
	b->av.secondary = ci->version.secondary;
	b->av.tertiary = ci->version.tertiary;

	b->ua.has_platform = 1;
	b->ua.platform = WA__CLIENT_PAYLOAD__USER_AGENT__PLATFORM__WEB;
	b->ua.appversion = &b->av;
	b->ua.mcc = b->mcc;
	b->ua.mnc = b->mnc;
	b->ua.osversion = b->os_version;
	b->ua.manufacturer = b->manufacturer;
	b->ua.device = b->device;
	b->ua.osbuildnumber = b->os_build;
	b->ua.has_releasechannel = 1;
	b->ua.releasechannel =
		WA__CLIENT_PAYLOAD__USER_AGENT__RELEASE_CHANNEL__RELEASE;
	b->ua.localelanguageiso6391 = b->lang;
	b->ua.localecountryiso31661alpha2 = b->country;

	b->wi.has_websubplatform = 1;
	b->wi.websubplatform =
		WA__CLIENT_PAYLOAD__WEB_INFO__WEB_SUB_PLATFORM__WEB_BROWSER;

	b->p.useragent = &b->ua;
	b->p.webinfo = &b->wi;
	b->p.has_connecttype = 1;
	b->p.connecttype = WA__CLIENT_PAYLOAD__CONNECT_TYPE__WIFI_UNKNOWN;
	b->p.has_connectreason = 1;
	b->p.connectreason =
		WA__CLIENT_PAYLOAD__CONNECT_REASON__USER_ACTIVATED;
	if (ci->push_name) {
		b->push_name = strdup(ci->push_name);
		if (b->push_name == NULL)
			return cl_error(err, CL_ENOMEM, "out of memory");
		b->p.pushname = b->push_name;
	}
	return CL_OK;
}

/* Append the packed payload to out (keeping the NUL after the data). */
static int pack(const Wa__ClientPayload *p, struct cl_buf *out, char **err)
{
	size_t n = wa__client_payload__get_packed_size(p);
	int rc = cl_buf_reserve(out, n);

	if (rc)
		return cl_error(err, rc, "the payload does not fit");
	if (wa__client_payload__pack(p, out->data + out->len) != n)
		return cl_error(err, CL_EINVAL, "cannot pack the payload");
	out->len += n;
	out->data[out->len] = 0;
	return CL_OK;
}

/* MD5 of the version as "P.S.T" (WhatsApp's buildHash). */
static int build_hash(const struct cl_wa_version *v, unsigned char md[16])
{
	char s[40];
	unsigned int len = 0;

	if (cl_fmt(s, sizeof(s), "%u.%u.%u", (unsigned)v->primary,
		   (unsigned)v->secondary, (unsigned)v->tertiary) != CL_OK ||
	    EVP_Digest(s, strlen(s), md, &len, EVP_md5(), NULL) != 1 ||
	    len != 16)
		return CL_EINVAL;
	return CL_OK;
}

/* The packed DeviceProps in a new buffer (*out, *len; free()). */
static int device_props(const struct cl_wa_client_info *ci,
			unsigned char **out, size_t *len)
{
	Wa__DeviceProps dp = WA__DEVICE_PROPS__INIT;
	Wa__DeviceProps__AppVersion v = WA__DEVICE_PROPS__APP_VERSION__INIT;
	Wa__DeviceProps__HistorySyncConfig h =
		WA__DEVICE_PROPS__HISTORY_SYNC_CONFIG__INIT;
	char *os = strdup(ci->os_name);
	size_t n;

	*out = NULL;
	if (os == NULL)
		return CL_ENOMEM;
	v.has_primary = v.has_secondary = v.has_tertiary = 1;
	v.primary = 0;
	v.secondary = 1;
	v.tertiary = 0;
	h.has_storagequotamb = 1;
	h.storagequotamb = 10240;
	h.has_inlineinitialpayloadine2eemsg = 1;
	h.inlineinitialpayloadine2eemsg = 1;
	dp.os = os;
	dp.version = &v;
	dp.has_platformtype = 1;
	dp.platformtype = (Wa__DeviceProps__PlatformType)ci->platform_type;
	dp.has_requirefullsync = 1;
	dp.requirefullsync = ci->full_history ? 1 : 0;
	dp.historysyncconfig = &h;
	n = wa__device_props__get_packed_size(&dp);
	*out = malloc(n ? n : 1);
	if (*out == NULL) {
		free(os);
		return CL_ENOMEM;
	}
	*len = wa__device_props__pack(&dp, *out);
	free(os);
	return CL_OK;
}

int cl_wa_payload_register(const struct cl_wa_creds *c,
			   const struct cl_wa_client_info *ci,
			   struct cl_buf *out, char **err)
{
	Wa__ClientPayload__DevicePairingRegistrationData d =
		WA__CLIENT_PAYLOAD__DEVICE_PAIRING_REGISTRATION_DATA__INIT;
	unsigned char regid[4], keytype[1] = { 0x05 }, skid[3], md[16];
	unsigned char ident[32], skval[32], sksig[64];
	unsigned char *props = NULL;
	size_t plen = 0;
	struct base b;
	int rc;

	if ((rc = base_init(&b, ci, err)))
		goto out;
	if (build_hash(&ci->version, md) != CL_OK) {
		rc = cl_error(err, CL_EINVAL, "cannot hash the version");
		goto out;
	}
	if ((rc = device_props(ci, &props, &plen))) {
		rc = cl_error(err, rc, "out of memory");
		goto out;
	}
	regid[0] = (unsigned char)(c->reg_id >> 24);
	regid[1] = (unsigned char)(c->reg_id >> 16);
	regid[2] = (unsigned char)(c->reg_id >> 8);
	regid[3] = (unsigned char)c->reg_id;
	skid[0] = (unsigned char)(c->spk_id >> 16);
	skid[1] = (unsigned char)(c->spk_id >> 8);
	skid[2] = (unsigned char)c->spk_id;
	/* protobuf-c wants non-const pointers: pack from copies. */
	memcpy(ident, c->ident_pub, 32);
	memcpy(skval, c->spk_pub, 32);
	memcpy(sksig, c->spk_sig, 64);
	d.has_eregid = 1;
	d.eregid.data = regid;
	d.eregid.len = sizeof(regid);
	d.has_ekeytype = 1;
	d.ekeytype.data = keytype;
	d.ekeytype.len = sizeof(keytype);
	d.has_eident = 1;
	d.eident.data = ident;
	d.eident.len = sizeof(ident);
	d.has_eskeyid = 1;
	d.eskeyid.data = skid;
	d.eskeyid.len = sizeof(skid);
	d.has_eskeyval = 1;
	d.eskeyval.data = skval;
	d.eskeyval.len = sizeof(skval);
	d.has_eskeysig = 1;
	d.eskeysig.data = sksig;
	d.eskeysig.len = sizeof(sksig);
	d.has_buildhash = 1;
	d.buildhash.data = md;
	d.buildhash.len = sizeof(md);
	d.has_deviceprops = 1;
	d.deviceprops.data = props;
	d.deviceprops.len = plen;
	b.p.has_passive = 1;
	b.p.passive = 0;
	b.p.has_pull = 1;
	b.p.pull = 0;
	b.p.devicepairingdata = &d;
	rc = pack(&b.p, out, err);
out:
	free(b.push_name);
	free(props);
	return rc;
}

int cl_wa_payload_login(const struct cl_wa_creds *c,
			const struct cl_wa_client_info *ci,
			struct cl_buf *out, char **err)
{
	struct cl_wa_jid jid;
	struct base b;
	uint64_t user = 0;
	size_t i;
	int rc;

	if ((rc = base_init(&b, ci, err)))
		goto out;
	if (!c->paired ||
	    cl_wa_jid_parse(c->jid, strlen(c->jid), &jid) != CL_OK ||
	    jid.user_len == 0 || jid.user_len > 19) {
		rc = cl_error(err, CL_EINVAL, "the device is not paired");
		goto out;
	}
	for (i = 0; i < jid.user_len; i++) {
		if (jid.user[i] < '0' || jid.user[i] > '9') {
			rc = cl_error(err, CL_EINVAL,
				      "the account's user is not a number");
			goto out;
		}
		user = user * 10 + (uint64_t)(jid.user[i] - '0');
	}
	b.p.has_username = 1;
	b.p.username = user;
	b.p.has_device = 1;
	b.p.device = jid.device;
	b.p.has_passive = 1;
	b.p.passive = 1;
	b.p.has_pull = 1;
	b.p.pull = 1;
	b.p.has_liddbmigrated = 1;
	b.p.liddbmigrated = 0;
	rc = pack(&b.p, out, err);
out:
	free(b.push_name);
	return rc;
}
