/*
 * phone.h - when the business number's phone (its primary device, device
 * 0) was last seen, and the warning before WhatsApp logs the linked
 * devices out.
 *
 * A linked device stops working when the phone has not been online for
 * about 14 days (CL_WA_PHONE_CUTOFF_MS).  Like mautrix-whatsapp
 * (pkg/connector/phoneping.go), the collector counts as evidence that
 * the phone is online: a <receipt> sent by our own device 0 (the phone
 * delivering or reading), a <message> sent by it (our own messages from
 * the phone, its protocol messages), and a media-retry notification
 * (only the phone answers those); and warns once CL_WA_PHONE_WARN_MS (12
 * days) have passed without any.  The clock is the caller's (`now`), so
 * tests inject it; nothing here touches storage.
 */
#ifndef CL_WA_PHONE_H
#define CL_WA_PHONE_H

#include <stdint.h>

#include "archiver/wa/binary.h"

#define CL_WA_PHONE_WARN_MS   (12LL * 24 * 3600 * 1000)
#define CL_WA_PHONE_CUTOFF_MS (14LL * 24 * 3600 * 1000)
/* evidence newer than the last by less than this is not recorded again */
#define CL_WA_PHONE_RESOLUTION_MS (60LL * 1000)

/*
 * Is stanza `n` evidence that our phone is online?  own_user and
 * own_lid_user are the user parts of our number's phone JID and LID
 * (own_lid_user may be NULL).  1 and *at = when the phone acted (the
 * stanza's `t`, unless absent or later than `now`: then `now`), or 0.
 */
int cl_wa_phone_evidence(const struct cl_wa_node *n, const char *own_user,
			 const char *own_lid_user, int64_t now, int64_t *at);

/* What the collector keeps (state.json). */
struct cl_wa_phone {
	int64_t last_seen;     /* ms, 0: never */
	int64_t warned_for;    /* the last_seen a warning was raised for, 0:
	                          none outstanding */
};

enum cl_wa_phone_change {
	CL_WA_PHONE_SAME = 0,  /* nothing worth recording */
	CL_WA_PHONE_SEEN,      /* last_seen moved on */
	CL_WA_PHONE_BACK       /* ... after a warning (warned_for cleared) */
};

/* Record evidence from `at`: what changed. */
enum cl_wa_phone_change cl_wa_phone_seen(struct cl_wa_phone *p, int64_t at);

/* Is the warning due at `now` (last_seen known, CL_WA_PHONE_WARN_MS ago
 * or more, not yet raised for this last_seen)?  1 and warned_for set: the
 * caller records it once; or 0. */
int cl_wa_phone_due(struct cl_wa_phone *p, int64_t now);

#endif
