/*
 * status.h - what the collector last reported about itself, for
 * `chatledger status`: read from DIR/wa/state.json, which
 * cl_wa_collector_run() (collector.h) keeps up to date.  The file is
 * informative, not authenticated (docs/FORMAT.md §1); reading it needs no
 * secret and no lock, and never touches the credentials.
 */
#ifndef CL_WA_STATUS_H
#define CL_WA_STATUS_H

#include <stdint.h>

/* The state file, in DIR/wa/ (written by collector.c, read by status.c). */
#define CL_WA_STATE_FILE "state.json"

/*
 * The collector's last known state.  Strings are NULL and times
 * CL_TIME_NONE (common/util.h) when the file does not hold them.  The
 * strings are owned by the struct: cl_wa_status_release() frees them.
 */
struct cl_wa_status {
	char *state;              /* pairing, paired, connecting, connected,
	                             disconnected, stopped, logged-out,
	                             conflict, outdated, banned */
	char *jid;                /* the linked device, e.g.
	                             "85291234567:7@s.whatsapp.net" */
	int has_device;           /* jid is a device JID: */
	unsigned device;          /*   its device number */
	char *lid;
	int64_t paired_at;        /* ms since the epoch, or CL_TIME_NONE */
	int64_t connected_since;  /* CL_TIME_NONE when not connected */
	int64_t last_stanza_at;
	int64_t gap_open_since;   /* start of the open coverage gap, or
	                             CL_TIME_NONE */
	char *last_end_reason;    /* why the last connection ended */
	int has_server_offset;
	int64_t server_offset_ms; /* server clock minus ours */
	int has_logged_out_code;
	int64_t logged_out_code;  /* 401, 403, ... once logged out */
	int64_t updated_at;       /* when the collector last wrote the file */
	char *devices;            /* the number's linked devices, a JSON
	                             array [{device, first_seen, last_seen}]
	                             (devices.h), or NULL */
	int has_messages;
	int64_t messages_archived; /* by the current or last run */
	int64_t phone_last_seen;  /* the number's phone (device 0) last
	                             seen online (phone.h), or CL_TIME_NONE */
	int64_t phone_warning_at; /* when the 12-day warning was raised for
	                             that absence, or CL_TIME_NONE */
};

/* Set every field to "not known" (no allocation). */
void cl_wa_status_init(struct cl_wa_status *st);
/* Free the strings and init again; st may be NULL. */
void cl_wa_status_release(struct cl_wa_status *st);

/*
 * Read the collector's state for the archive `dir` into *st (which is
 * initialised first, and filled only on success).  CL_OK;
 * CL_ENOTFOUND when no collector ever ran there (no state file);
 * CL_ECORRUPT when the file is not a JSON object; CL_ENOMEM.  *err
 * (optional, freed by the caller with free()) says which.  Values of
 * the wrong type are treated as absent.
 */
int cl_wa_status_read(const char *dir, struct cl_wa_status *st, char **err);

#endif
