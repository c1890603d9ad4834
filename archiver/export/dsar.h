/*
 * dsar.h - PDPO data access requests (s.18, answered within 40 days under
 * s.19): the request and its reply as control entries, and the bundle of
 * the party's records (docs/man/chatledger-dsar.1, docs/FORMAT.md §3.6).
 *
 * A request is a control entry of kind "dsar-request": public body
 * {"deadline":D,"party":[tokens],"received":R} (no personal data: the
 * party as the keyed tokens of its selector, parties.h); sealed
 * {"deadline","party":P,"received","who"}.  Its ledger index is the
 * request's id.  The reply is a "dsar-close" entry: public
 * {"closed":T,"request":ID}, sealed {"note","request","who"}.
 */
#ifndef CL_EXPORT_DSAR_H
#define CL_EXPORT_DSAR_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "archiver/ledger/ledger.h"

#define CL_DSAR_DAYS 40   /* PDPO s.19(1) */

/* Record a request received at `received` (ms, UTC midnight of the day);
 * *id gets its index, *deadline received + 40 days. */
int cl_dsar_request(struct cl_ledger *l, const char *party, int64_t received,
		    const char *who, uint64_t *id, int64_t *deadline, char **err);

/* Record the reply to request `id`; CL_ENOTFOUND if there is no open
 * request with that id. */
int cl_dsar_close(struct cl_ledger *l, uint64_t id, const char *note, const char *who,
		  uint64_t *index, char **err);

struct cl_dsar_info {
	uint64_t id;
	int64_t received, deadline;
	int64_t closed_at;           /* CL_TIME_NONE while open */
	uint64_t close_index;
	const json_t *party_tokens;  /* public tokens (borrowed) */
};
typedef int (*cl_dsar_fn)(void *ctx, const struct cl_dsar_info *d);
/* Every request in log order, with its reply if any (no key needed). */
int cl_dsar_each(struct cl_ledger *l, cl_dsar_fn fn, void *ctx, char **err);

struct cl_bundle_result;
struct cl_wcfg;

struct cl_dsar_write_opts {
	uint64_t id;                /* the request (cl_dsar_request) */
	const char *party;
	int64_t received;           /* ms, UTC midnight of the day */
	const char *out;            /* .zip: zip, else tar; created exclusively */
	const char *who;
	const char *reason;         /* why (sealed in the access entry), or NULL */
	json_t *access_sealed;      /* more sealed access members (the console's
	                               address), or NULL */
	int64_t now_ms;
	const char *tz_name;        /* NULL: Asia/Hong_Kong */
	int32_t tz_offset_s;
	const struct cl_wcfg *witness; /* may be NULL */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *progress_ctx;
};

/* The reason a redacted record carries in the bundle. */
extern const char cl_dsar_reason[];

/*
 * Write the reply bundle for request w->id: the export bag of
 * docs/BUNDLE.md (cl_bundle_export, case "dsar-<id>", access entry
 * command "dsar" with {"request":id}) of every record in which the party
 * takes part, sent up to the end of the day the request was received;
 * in group chats other people's records are masked (cl_dsar_mask) and
 * redacted (proved by leaf and inclusion proof, content withheld,
 * BUNDLE.md §4.2), their attachments left out.  The custody log carries
 * the request (id, party, received, deadline, masking).
 */
int cl_dsar_write(struct cl_ledger *l, const unsigned char *seal_sk,
		  const struct cl_dsar_write_opts *w, struct cl_bundle_result *res,
		  char **err);

/*
 * Mask another person's data in a group-chat record, in place: every
 * digit but the last two of sender.id and of each run of 7 or more digits
 * (with spaces, '-', '.', '(', ')' or '+' between them) in sender.name
 * (a sender without a saved name is named by its number), text and
 * attachment names is replaced by '*'; names are kept; "raw" (the
 * source's bytes) is removed.  Returns CL_OK or CL_ENOMEM.
 */
int cl_dsar_mask(json_t *rec);

/* The phone-number masking of cl_dsar_mask on one string (malloc'd
 * result, or NULL when out of memory). */
char *cl_dsar_mask_digits(const char *s);

#endif
