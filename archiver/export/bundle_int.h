/*
 * bundle_int.h - what bundle.c hands to the RSMF, transcript and DAT
 * writers: one conversation slice, its records in log order.
 */
#ifndef CL_BUNDLE_INT_H
#define CL_BUNDLE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "archiver/export/bag.h"

/* One exported entry of a slice. */
struct cl_xrec {
	uint64_t index;
	int64_t sent_at;          /* ms UTC */
	json_t *rec;              /* the record (owned); NULL for an attachment
	                             or an erased entry */
	/* attachments */
	int is_att;
	uint64_t att_of;          /* the record's index */
	char sha256[65];          /* lower-case hex of the bytes */
	uint64_t size;
	char zip_id[96];          /* its file name in rsmf.zip */
	char native[160];         /* bag path under data/natives/ */
	char bates[24];
	/* erased (tombstoned) records in the slice's range */
	int erased;
	char erased_note[160];    /* "erased under rule R on date D" */
	/* redacted (masked) records: the reason, else NULL; rec is masked */
	const char *redacted;
	/* filled by the RSMF writer */
	char event_id[40];
};

struct cl_xslice {
	const char *label;        /* file name part: <label>_<date> */
	const char *date;         /* YYYY-MM-DD[THH] in the slice zone */
	const char *conv_id;      /* conversation.id */
	const char *conv_name;
	const char *conv_type;    /* "direct" / "group" */
	const char *account;
	const char *platform;     /* "whatsapp" / "wechat" */
	const char *collection;   /* eventcollectionid */
	const char *case_id;
	const char *tz_name;
	int32_t tz_off;
	int64_t begin_ms, end_ms; /* the slice bounds, UTC */
	size_t n_redacted;        /* records of the slice redacted */
	size_t n_withheld;        /* their attachments left out */
	struct cl_xrec *r;
	size_t n;
};

/* RFC 3339 UTC with milliseconds and Z. */
void cl_x_utc(int64_t ms, char out[32]);
/* "YYYY-MM-DD HH:MM:SS +hh:mm" in the slice zone. */
void cl_x_local(int64_t ms, int32_t off, char out[48]);

/*
 * The RSMF 2.0 manifest of a slice (sets each record's event_id); caller
 * json_decref's it.  *events and *atts get the counts.
 */
json_t *cl_rsmf_manifest(struct cl_xslice *s, size_t *events, size_t *atts);
/*
 * The .rsmf file: EML headers, a text/plain part with `text`, and the
 * zip spool `zip` as rsmf.zip, base64, written to `out`.
 */
int cl_rsmf_eml(const struct cl_xslice *s, const json_t *manifest, size_t events,
		size_t atts, struct cl_spool *text, struct cl_spool *zip,
		struct cl_spool *out, char **err);
/* The plain-text rendering (one event per line: time, sender, text). */
int cl_rsmf_text(const struct cl_xslice *s, struct cl_spool *out, char **err);

/* The self-contained HTML transcript of a slice. */
int cl_transcript_html(const struct cl_xslice *s, struct cl_spool *out, char **err);
/* Append `s` HTML-escaped (text and attribute context). */
int cl_html_escape(struct cl_spool *out, const char *s, char **err);

/* Concordance DAT: the header line, and one row of `nf` fields: the
 * CL_DAT_FIELDS standard ones, plus REDACTION (CL_DAT_FIELDS_REDACT) in
 * a bundle written with a redaction hook. */
#define CL_DAT_FIELDS 10
#define CL_DAT_FIELDS_REDACT 11
int cl_dat_header(struct cl_spool *out, int nf, char **err);
int cl_dat_row(struct cl_spool *out, const char *const *fields, int nf, char **err);

#endif
