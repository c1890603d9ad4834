/*
 * phone.c - the phone's last-seen time and the 12-day warning (phone.h).
 */
#include <stdlib.h>
#include <string.h>

#include "archiver/wa/binary.h"
#include "archiver/wa/phone.h"
#include "common/banned.h"

/* Is `jid` ("user[.agent][_domain][:device]@server", as received: device 0
 * may be written out or left off) one of our own number's, on device 0? */
static int own_phone(const char *jid, const char *own_user,
		     const char *own_lid_user)
{
	const char *at, *colon, *own;
	size_t ulen;
	char *end;
	long device = 0;

	if (jid == NULL || (at = strchr(jid, '@')) == NULL)
		return 0;
	colon = memchr(jid, ':', (size_t)(at - jid));
	ulen = strcspn(jid, ".:_@");
	if (colon) {
		device = strtol(colon + 1, &end, 10);
		if (end != at || end == colon + 1)
			return 0;
	}
	if (device != 0)
		return 0;
	if (strcmp(at + 1, "s.whatsapp.net") == 0 || strcmp(at + 1, "c.us") == 0)
		own = own_user;
	else if (strcmp(at + 1, "lid") == 0)
		own = own_lid_user;
	else
		return 0;
	return own && *own && ulen > 0 && strlen(own) == ulen &&
		memcmp(own, jid, ulen) == 0;
}

static int is_group(const char *jid)
{
	const char *at = jid ? strchr(jid, '@') : NULL;

	return at && (strcmp(at, "@g.us") == 0 ||
		      strcmp(at, "@broadcast") == 0);
}

int cl_wa_phone_evidence(const struct cl_wa_node *n, const char *own_user,
			 const char *own_lid_user, int64_t now, int64_t *at)
{
	const char *from = cl_wa_node_attr_str(n, "from");
	const char *part = cl_wa_node_attr_str(n, "participant");
	const char *type = cl_wa_node_attr_str(n, "type");
	const char *t = cl_wa_node_attr_str(n, "t");

	if (strcmp(n->tag, "receipt") == 0 || strcmp(n->tag, "message") == 0) {
		/* a group's (or a receipt's) participant acted */
		const char *sender = part && (is_group(from) ||
					      strcmp(n->tag, "receipt") == 0) ?
			part : from;

		if (!own_phone(sender, own_user, own_lid_user))
			return 0;
	} else if (strcmp(n->tag, "notification") != 0 || type == NULL ||
		   strcmp(type, "mediaretry") != 0) {
		return 0;
	}
	*at = now;
	if (t) {
		char *end;
		int64_t ts = (int64_t)strtoll(t, &end, 10);

		if (end != t && *end == 0 && ts > 0 && ts < now / 1000 + 1)
			*at = ts * 1000;
	}
	return 1;
}

enum cl_wa_phone_change cl_wa_phone_seen(struct cl_wa_phone *p, int64_t at)
{
	if (at <= 0 || at < p->last_seen + CL_WA_PHONE_RESOLUTION_MS)
		return CL_WA_PHONE_SAME;
	p->last_seen = at;
	if (p->warned_for) {
		p->warned_for = 0;
		return CL_WA_PHONE_BACK;
	}
	return CL_WA_PHONE_SEEN;
}

int cl_wa_phone_due(struct cl_wa_phone *p, int64_t now)
{
	if (p->last_seen <= 0 || now - p->last_seen < CL_WA_PHONE_WARN_MS ||
	    p->warned_for == p->last_seen)
		return 0;
	p->warned_for = p->last_seen;
	return 1;
}
