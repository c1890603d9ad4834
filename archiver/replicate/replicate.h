/*
 * replicate.h - off-site WORM copies of an archive in S3 Object Lock
 * storage, and restore from them (docs/FORMAT.md §12, SECURITY.md
 * "Off-site copies").
 *
 * Layout.  The WORM bucket (Object Lock on) holds, under PREFIX/:
 *   archive.json            identity: origin, log.pub, seal.pub, seal.key
 *   seg/FFFF…-EEEE…         a segment: entries [F, E) (leaves, dedup rows,
 *                           ciphertexts) and the checkpoints in (F, E]
 *   man/EEEE…               its manifest (the "last word": written after
 *                           the segment and its key object)
 *   cosig/SSSS…-HHHH…       one witness cosignature row
 * each under COMPLIANCE retention.  The key store (a second bucket,
 * versioning never enabled) holds, under its PREFIX/:
 *   keys/FFFF…-EEEE…        the segment's erasable rows: eph, wrapped
 *                           payload key, attrs; rewritten after erasures
 *   secrets                 log.key and tag.key, sealed to seal.pub
 * The leaves commit to the key rows (aux_hash), so a lost or altered key
 * store is detected, and erasing a record locally then crypto-shreds the
 * off-site ciphertext.
 *
 * Nothing here prints, exits or reads the environment; the CLI decides.
 */
#ifndef CL_REPLICATE_H
#define CL_REPLICATE_H

#include <stddef.h>
#include <stdint.h>

#define CL_REPL_STATE_FILE "replicate.state"

/* A parsed store location. */
struct cl_repl_where {
	char endpoint[512];     /* scheme://host[:port] */
	char bucket[64];
	char prefix[512];       /* without leading or trailing '/', may be "" */
};

/* [replicate] of DIR/chatledger.conf (config/README). */
struct cl_repl_conf {
	char url[1024];             /* url: the WORM bucket (S3-URL) */
	char keys_url[1024];        /* keys_url: the key store (S3-URL) */
	char endpoint[512];         /* endpoint: for s3:// URLs */
	char region[64];            /* region (us-east-1) */
	char credentials_file[1024];/* credentials_file (relative to DIR) */
	char ca_file[1024];         /* ca_file: extra CA bundle */
	int allow_http;             /* allow_http: plain http beyond loopback */
	uint64_t segment_entries;   /* segment_entries (10000) */
	uint64_t segment_bytes;     /* segment_bytes (64 MiB) */
	uint64_t retention_days;    /* retention_days: floor (0) */
	unsigned interval_s;        /* interval: service loop (60 s) */
	unsigned timeout_s;         /* timeout: per request (120 s) */
};

/* Defaults, then DIR/chatledger.conf's [replicate] (absent file: just the
 * defaults).  CL_EINVAL "path:line: reason" on a bad key or value. */
int cl_repl_conf_load(const char *dir, struct cl_repl_conf *c, char **err);

/*
 * Parse an S3-URL: "s3://BUCKET[/PREFIX]" (with `endpoint`, else
 * CL_EINVAL) or path-style "http(s)://HOST[:PORT]/BUCKET[/PREFIX]".
 * Bucket names are [a-z0-9.-] (3-63); prefixes [A-Za-z0-9._-] parts
 * joined by '/'.
 */
int cl_repl_where_parse(const char *url, const char *endpoint,
			struct cl_repl_where *w, char **err);

/*
 * Read an AWS shared-credentials style file (aws_access_key_id,
 * aws_secret_access_key, in [default] or no section).  Both strings are
 * sodium_malloc'd: sodium_free them.  The file must not be readable by
 * group or others (CL_EINVAL otherwise); its contents never appear in
 * *err.
 */
int cl_repl_credentials_load(const char *path, char **access_key, char **secret_key,
			     char **err);

struct cl_repl;

struct cl_repl_opts {
	struct cl_repl_where worm;  /* WORM bucket and prefix */
	struct cl_repl_where keys;  /* key store; bucket "" = read it from
	                               archive.json (restore, verify) */
	const char *region;
	const char *access_key, *secret_key;
	const char *ca_file;
	int allow_http;
	unsigned timeout_s;
};
int cl_repl_new(const struct cl_repl_opts *o, struct cl_repl **out, char **err);
void cl_repl_free(struct cl_repl *r);

/* ---- replicate --------------------------------------------------------- */

struct cl_repl_run_opts {
	uint64_t segment_entries;
	uint64_t segment_bytes;
	int64_t retain_until_ms;     /* COMPLIANCE retain-until for new objects */
	uint64_t max_segments;       /* stop after this many (0 = no bound) */
	volatile int *stop;          /* set asynchronously: stop between objects */
};
struct cl_repl_report {
	uint64_t local_size;         /* the committed size read */
	uint64_t remote_before;      /* the bucket's end before the run */
	uint64_t remote_after;
	uint64_t segments;           /* segments written (and adopted) */
	uint64_t adopted;            /* segments found without a manifest, adopted */
	uint64_t entries;
	uint64_t bytes;              /* segment bytes written */
	uint64_t keys_rewritten;     /* key objects rewritten after erasures */
	uint64_t cosigs;             /* cosignature objects written */
	char *alert;                 /* set (malloc'd) when the store refused an
	                                object or diverges from the log */
};
void cl_repl_report_release(struct cl_repl_report *rep);
/*
 * Ship what the bucket lacks: the identity and secrets objects (first
 * time), every complete segment past the bucket's last manifest (ending
 * at a signed checkpoint), the key objects of segments whose entries were
 * erased since, and new cosignatures.  Idempotent and resumable.
 * CL_ECORRUPT (rep->alert set) when the bucket diverges from the log or
 * refuses an object; CL_EIO when the store is unreachable.
 */
int cl_repl_run(struct cl_repl *r, const char *dir, const struct cl_repl_run_opts *o,
		struct cl_repl_report *rep, char **err);

/* DIR/replicate.state: what status shows. */
struct cl_repl_state {
	uint64_t replicated;         /* entries in the bucket (its last manifest) */
	uint64_t local_size;         /* the log's size at the last attempt */
	uint64_t tombstones_done;    /* tombstones below this index processed */
	int64_t ok_at;               /* ms of the last successful run, 0 never */
	int64_t try_at;              /* ms of the last attempt */
	int64_t failing_since;       /* ms, 0 when the last run succeeded */
	int alert;                   /* the last failure was an alert */
	char error[512];             /* the last failure, "" if none */
	char url[1024];
};
/* CL_ENOTFOUND when the archive never replicated. */
int cl_repl_state_load(const char *dir, struct cl_repl_state *s, char **err);
int cl_repl_state_save(const char *dir, const struct cl_repl_state *s, char **err);

/*
 * After a run: update the state file and, on a change of health, append
 * one coverage entry (replica-failed, replica-recovered) or, for each
 * alert, replica-alert (FORMAT.md §12.6).  `rc` is the run's status and
 * `why` its message (NULL on success).  *wrote is set when an entry was
 * appended.
 */
int cl_repl_record(const char *dir, const char *url, int rc, const char *why,
		   const struct cl_repl_report *rep, int *wrote, char **err);

/* ---- audit ------------------------------------------------------------- */

struct cl_repl_vreport {
	uint64_t segments, entries, remote_end, local_size;
	uint64_t downloaded;         /* segment bytes downloaded to check */
	uint64_t matched_by_etag;    /* segments checked without downloading */
	uint64_t retention_checked;
	uint64_t keys_checked;
	uint64_t erasures_pending;   /* erased locally, key still in the store */
	uint64_t cosigs;
	uint64_t repeated;           /* second versions that repeat the first */
	char *problem;               /* the first problem (malloc'd), or NULL */
};
void cl_repl_vreport_release(struct cl_repl_vreport *v);
/*
 * Audit the bucket against the local log (FORMAT.md §12.7): one version
 * per key (or repeats of it: the same bytes, or for a manifest the same
 * statement but for its retain_until; v->repeated counts them), no
 * delete marker, segments contiguous from 0 and each with its
 * manifest, every manifest's checkpoint the local one, every segment's
 * bytes the log's (by ETag = MD5 of the local rebuild, else downloaded
 * and compared entry by entry), COMPLIANCE retention on every segment and
 * manifest, and every key object consistent with the local key rows.
 * With `deep`, every segment is downloaded.  CL_ECORRUPT with
 * v->problem on a finding; CL_EIO when the store cannot be read.
 */
int cl_repl_verify(struct cl_repl *r, const char *dir, int deep,
		   struct cl_repl_vreport *v, char **err);

/* ---- restore ----------------------------------------------------------- */

struct cl_repl_rreport {
	uint64_t entries, segments, payloads, erased, checkpoints, cosigs;
	uint64_t skipped_versions;   /* keys with planted later versions: the
	                                oldest (the locked original) was used */
};
/*
 * Rebuild an archive in `newdir` (must not exist, or be empty) from the
 * bucket: the identity, every segment with a manifest, the key rows from
 * the key store, the cosignatures; log.key and tag.key from the secrets
 * object opened with the officer's passphrase.  Built in a temporary
 * sibling and renamed into place.  CL_ECORRUPT when the bucket or the key
 * store does not match what the log commits to; CL_EKEY on a wrong
 * passphrase.
 */
int cl_repl_restore(struct cl_repl *r, const char *newdir, const unsigned char *pass,
		    size_t passlen, struct cl_repl_rreport *rep, char **err);

#endif
