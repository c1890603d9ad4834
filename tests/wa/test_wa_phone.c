/*
 * test_wa_phone.c - the phone's last-seen time and the 12-day warning
 * (phone.c), with an injected clock: which stanzas count as the phone
 * (receipts and messages from our own device 0, by phone JID or LID;
 * media-retry notifications), which do not (other devices, other
 * numbers, other stanzas), the time taken from the stanza, and the
 * warning raised once per absence, again after the phone came back.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/wa/binary.h"
#include "archiver/wa/phone.h"
#include "common/status.h"
#include "tests/unit/tap.h"

#define OWN "85291234567"
#define OWN_LID "77000000009"
#define DAY (24LL * 3600 * 1000)
#define T0 1800000000000LL   /* the injected "now" */

/* A stanza <tag k1=v1 k2=v2 ...> (pairs, NULL-terminated). */
static struct cl_wa_node *node(const char *tag, ...)
{
	struct cl_wa_node *n = NULL;
	const char *k, *v;
	va_list ap;

	if (cl_wa_node_new_s(&n, tag) != CL_OK)
		return NULL;
	va_start(ap, tag);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		(void)cl_wa_node_add_attr_s(n, k, v);
	}
	va_end(ap);
	return n;
}

/* Evidence check of one stanza: 1/0 and *at. */
static int ev(struct cl_wa_node *n, int64_t *at)
{
	int r = n ? cl_wa_phone_evidence(n, OWN, OWN_LID, T0, at) : -1;

	cl_wa_node_free(n);
	return r;
}

static void test_evidence(void)
{
	int64_t at = 0;

	TAP_EQ_INT(ev(node("receipt", "from", OWN "@s.whatsapp.net", "id", "A",
			   "t", "1799999000", NULL), &at), 1,
		   "receipt from our phone (no device part) counts");
	TAP_OK(at == 1799999000000LL, "... at the stanza's t");
	TAP_EQ_INT(ev(node("receipt", "from", "85290000001@s.whatsapp.net",
			   "participant", OWN ":0@s.whatsapp.net",
			   "type", "read", NULL), &at), 1,
		   "receipt with our device 0 as participant counts");
	TAP_OK(at == T0, "... at now when t is absent");
	TAP_EQ_INT(ev(node("receipt", "from", OWN_LID ":0@lid", "t",
			   "1900000000", NULL), &at), 1,
		   "receipt from our LID, device 0, counts");
	TAP_OK(at == T0, "... a t in the future is not believed: now");
	TAP_EQ_INT(ev(node("message", "from", OWN ":0@s.whatsapp.net",
			   "recipient", "85290000001@s.whatsapp.net", "t",
			   "1799990000", NULL), &at), 1,
		   "a message our phone sent counts");
	TAP_EQ_INT(ev(node("message", "from", "120363000000000001@g.us",
			   "participant", OWN ":0@s.whatsapp.net", NULL), &at),
		   1, "a group message from our phone counts");
	TAP_EQ_INT(ev(node("notification", "type", "mediaretry", "from",
			   OWN "@s.whatsapp.net", NULL), &at), 1,
		   "a media-retry notification counts");
	TAP_EQ_INT(ev(node("receipt", "from", OWN ":3@s.whatsapp.net", NULL),
		      &at), 0, "our other companion (device 3) does not");
	TAP_EQ_INT(ev(node("message", "from", "85290000001:0@s.whatsapp.net",
			   NULL), &at), 0, "a contact's phone does not");
	TAP_EQ_INT(ev(node("message", "from", "120363000000000001@g.us",
			   "participant", "85290000001:0@s.whatsapp.net",
			   NULL), &at), 0, "a contact in a group does not");
	TAP_EQ_INT(ev(node("notification", "type", "devices", "from",
			   OWN "@s.whatsapp.net", NULL), &at), 0,
		   "a devices notification does not");
	TAP_EQ_INT(ev(node("iq", "from", OWN "@s.whatsapp.net", NULL), &at), 0,
		   "an iq does not");
	TAP_EQ_INT(ev(node("receipt", "from", "garbage", NULL), &at), 0,
		   "a malformed JID does not");
	TAP_EQ_INT(ev(node("receipt", NULL), &at), 0, "no from: no");
}

static void test_warning(void)
{
	struct cl_wa_phone p;

	memset(&p, 0, sizeof(p));
	TAP_EQ_INT(cl_wa_phone_due(&p, T0), 0, "never seen: no warning");
	TAP_EQ_INT(cl_wa_phone_seen(&p, T0), CL_WA_PHONE_SEEN, "first sighting");
	TAP_EQ_INT(cl_wa_phone_seen(&p, T0 + 1000), CL_WA_PHONE_SAME,
		   "a sighting within a minute is not recorded again");
	TAP_EQ_INT(cl_wa_phone_seen(&p, T0 - DAY), CL_WA_PHONE_SAME,
		   "an older (replayed) sighting does not move it back");
	TAP_EQ_INT(cl_wa_phone_due(&p, T0 + 11 * DAY), 0, "11 days: no warning");
	TAP_EQ_INT(cl_wa_phone_due(&p, T0 + 12 * DAY - 1), 0,
		   "just under 12 days: no warning");
	TAP_EQ_INT(cl_wa_phone_due(&p, T0 + 12 * DAY), 1, "12 days: the warning");
	TAP_OK(p.warned_for == T0, "... raised for this absence");
	TAP_EQ_INT(cl_wa_phone_due(&p, T0 + 12 * DAY + 1), 0, "raised once");
	TAP_EQ_INT(cl_wa_phone_due(&p, T0 + 20 * DAY), 0,
		   "still once, days later");
	TAP_EQ_INT(cl_wa_phone_seen(&p, T0 + 13 * DAY), CL_WA_PHONE_BACK,
		   "the phone comes back: BACK, the warning cleared");
	TAP_OK(p.last_seen == T0 + 13 * DAY && p.warned_for == 0,
	       "... last seen moved on");
	TAP_EQ_INT(cl_wa_phone_due(&p, T0 + 24 * DAY), 0,
		   "11 days after that: no warning");
	TAP_EQ_INT(cl_wa_phone_due(&p, T0 + 25 * DAY), 1,
		   "a new absence of 12 days: warned again");
	/* a restart: the state says the warning was raised for last_seen */
	p.last_seen = T0;
	p.warned_for = T0;
	TAP_EQ_INT(cl_wa_phone_due(&p, T0 + 30 * DAY), 0,
		   "restored state: not raised twice for one absence");
}

int main(void)
{
	test_evidence();
	test_warning();
	return tap_done();
}
