/*
 * push.h - the log side of witnessing: the [witness] and [timestamp]
 * sections of chatledger.conf, posting the latest signed checkpoint to
 * the configured witnesses (C2SP tlog-witness), storing their verified
 * cosignatures and an RFC 3161 token beside the checkpoint (side tables of
 * ledger.db, docs/FORMAT.md §11), and recording refusals as coverage
 * entries.
 */
#ifndef CL_PUSH_H
#define CL_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "archiver/witness/cosig.h"

struct cl_ledger;

#define CL_WCFG_MAX 16

struct cl_wcfg_witness {
	char url[512];              /* submission prefix */
	char vkey[600];             /* the witness's 0x04 verifier key */
	struct cl_cosig_key key;
};

struct cl_wcfg {
	size_t n;
	struct cl_wcfg_witness w[CL_WCFG_MAX];
	unsigned quorum;            /* k of n; default n */
	unsigned interval_s;        /* min seconds between pushes; default 60 */
	unsigned timeout_s;         /* per request; default 10 */
	unsigned retries;           /* extra tries on a transport error; default 2 */
	unsigned backoff_ms;        /* first retry delay, doubled each time; default 500 */
	char tsa_url[512];          /* [timestamp] url, "" = none */
	char tsa_ca_file[1024];     /* [timestamp] ca_file: verify tokens at fetch */
	unsigned tsa_timeout_s;     /* [timestamp] timeout; default 10 */
};

/*
 * Read the [witness] and [timestamp] sections of DIR/chatledger.conf
 * (other sections are config.c's).  Missing file or sections: nothing
 * configured (n 0, tsa_url "").  CL_EINVAL with "path:line: reason".
 * A relative ca_file is taken relative to DIR.
 */
int cl_wcfg_load(const char *dir, struct cl_wcfg *c, char **err);

/* What one witness did in a push. */
enum cl_push_outcome {
	CL_PUSH_UPTODATE = 0,  /* already cosigned this size */
	CL_PUSH_COSIGNED,      /* cosigned now */
	CL_PUSH_UNREACHABLE,   /* transport failed after the retries */
	CL_PUSH_REFUSED,       /* 400/403/404/other, or a bad cosignature */
	CL_PUSH_ALERT          /* consistency refusal: fork or rollback */
};

struct cl_push_report {
	int rate_limited;          /* nothing done: the interval has not passed */
	uint64_t size;             /* the checkpoint pushed */
	size_t n;
	enum cl_push_outcome out[CL_WCFG_MAX];
	char why[CL_WCFG_MAX][256];
	size_t cosigned;           /* witnesses holding a cosignature of size */
	int tsa;                   /* 0 none, 1 stored now, 2 already, -1 failed */
	char tsa_why[256];
	size_t coverage;           /* coverage entries appended */
};

/* Log lines while pushing (may be NULL). */
typedef void (*cl_push_log)(void *ctx, const char *line);

/*
 * Push the latest signed checkpoint of `l` (opened for writing) to every
 * configured witness, unless `force` is 0 and the last push is younger
 * than interval_s.  Network I/O happens outside any batch; the results
 * (cosignatures, witness state, evidence, the token, and coverage entries
 * for new refusals and alerts) are written in one batch at the end.
 * CL_OK when the push ran (whatever the witnesses said; see *rep), or an
 * error when the archive could not be read or written.
 */
int cl_witness_push(struct cl_ledger *l, const struct cl_wcfg *c, int force,
		    cl_push_log log, void *lctx, struct cl_push_report *rep,
		    char **err);

/* ---- reading what is stored (status, checkpoint, verify) --------- */

/*
 * The cosignature lines stored for checkpoint `size`, appended to out
 * (nothing if none or no table).
 */
int cl_witness_cosig_lines(struct cl_ledger *l, uint64_t size,
			   struct cl_buf *out, char **err);
/* The stored RFC 3161 response for `size`: CL_ENOTFOUND if none. */
int cl_witness_token(struct cl_ledger *l, uint64_t size, struct cl_buf *out,
		     int64_t *gen_time, char **err);

struct cl_witness_summary {
	uint64_t size;            /* largest size with a cosignature, or 0 */
	int64_t at;               /* newest cosignature time on it (s) */
	size_t by;                /* distinct witnesses on it */
	size_t alerts;            /* witness-alert evidence rows */
	size_t failing;           /* witnesses whose last push failed */
	uint64_t tsa_size;        /* largest timestamped size, 0 none */
	int64_t tsa_time;
};
int cl_witness_summary(struct cl_ledger *l, struct cl_witness_summary *s,
		       char **err);

#endif
