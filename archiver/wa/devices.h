/*
 * devices.h - the business number's linked devices, as evidence.
 *
 * The collector learns the number's device list from its own usync query
 * after each login and from <notification type="devices"> (add, remove).
 * Every change is a coverage entry in one durable batch with the side
 * table `wa_device` (docs/FORMAT.md §4):
 *   wa-device-added    device ("user:N"), jid, baseline (listed by the
 *                      first query ever: already linked when the
 *                      collector started), own (this collector), alert
 *                      (a device linked while the collector was watching
 *                      and not itself: the "ten-second QR scan")
 *   wa-device-removed  device, first_seen, last_seen
 * The devices still linked are listed with first and last seen times for
 * `chatledger status`.
 */
#ifndef CL_WA_DEVICES_H
#define CL_WA_DEVICES_H

#include <stdint.h>

#include <jansson.h>

#include "archiver/wa/binary.h"

struct cl_ledger;

/*
 * Apply a usync reply (full list) or a devices notification (changes).
 * *alerts receives an array (possibly empty) of alert objects to raise,
 * *list the linked devices [{device, first_seen, last_seen}] (both new
 * references).  own_jid: this collector's device JID.
 */
int cl_wa_devices_update(struct cl_ledger *l, const char *own_jid,
			 const struct cl_wa_node *n, int full, int64_t now_ms,
			 json_t **alerts, json_t **list, char **err);

#endif
