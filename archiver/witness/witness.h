/*
 * witness.h - a C2SP tlog-witness (c2sp.org/tlog-witness): the state of
 * the logs it witnesses, its cosigning key, the add-checkpoint decision
 * and the HTTP server around it (libmicrohttpd).
 *
 * A state directory (created 0700) holds:
 *   witness.key   the signer key (cosig.h), 0600, created exclusively;
 *   witness.pub   its verifier key (0x04), public;
 *   witness.db    SQLite (WAL, synchronous=FULL): one row per log origin
 *                 (docs/FORMAT.md §11.3), never deleted, disabled instead.
 *
 * add-checkpoint runs in one BEGIN IMMEDIATE transaction: check the old
 * size against the stored one, verify signature and proof, write the new
 * size, root and cosigned note, COMMIT (fsync), and only then answer.  A
 * kill before the commit leaves the old state; after it, the state is the
 * request's own checkpoint, which the client recovers with a 409.
 */
#ifndef CL_WITNESS_H
#define CL_WITNESS_H

#include <stddef.h>
#include <stdint.h>

#include "archiver/witness/cosig.h"
#include "common/buf.h"

struct cl_wit;

/* Create a state directory with a new key named `name`.  CL_EEXIST if
 * the directory already holds a key. */
int cl_wit_init(const char *dir, const char *name, char **err);
/* Open a state directory (key, database).  Free with cl_wit_close. */
int cl_wit_open(const char *dir, struct cl_wit **out, char **err);
void cl_wit_close(struct cl_wit *w);
/* The witness verifier key, appended to out. */
int cl_wit_vkey(const struct cl_wit *w, struct cl_buf *out);
const struct cl_cosig_key *cl_wit_key(const struct cl_wit *w);

/*
 * Add (or re-enable) a log: origin and its Ed25519 verifier key (type
 * 0x01).  A known origin keeps its stored size and root: the key may be
 * replaced (rotation), never the state.  CL_EINVAL for a bad key.
 */
int cl_wit_add_log(struct cl_wit *w, const char *origin, const char *vkey,
		   char **err);
/* Disable a log (kept, answered 404).  CL_ENOTFOUND if unknown. */
int cl_wit_disable_log(struct cl_wit *w, const char *origin, char **err);

struct cl_wit_log {
	const char *origin, *vkey;
	int enabled;
	uint64_t size;
	int64_t updated_at;   /* s, or 0 */
};
typedef int (*cl_wit_log_fn)(void *ctx, const struct cl_wit_log *lg);
int cl_wit_list(struct cl_wit *w, cl_wit_log_fn fn, void *ctx, char **err);

/* Stages a test hook is told about (cl_wit_add_checkpoint). */
#define CL_WIT_STAGE_VERIFIED 1   /* checks passed, nothing written */
#define CL_WIT_STAGE_COMMITTED 2  /* state committed, not yet answered */
typedef void (*cl_wit_hook)(void *ctx, int stage);

struct cl_wit_answer {
	int status;              /* HTTP status */
	const char *ctype;       /* Content-Type */
	struct cl_buf body;      /* response body (release it) */
	const char *reason;      /* short reason, for the log */
	char origin[256];        /* the request's origin, if parsed */
	uint64_t size;           /* the request's checkpoint size */
};

/*
 * Process one add-checkpoint request body at time `now` (s).  Always
 * fills *a (status 200, 400, 403, 404, 409, 422, or 500 when the state
 * could not be read or written; *err then says why) and returns CL_OK,
 * or CL_EIO for a 500.  A validly signed request refused for
 * consistency (422, or 409 with an old size above the stored one) is
 * kept as evidence in the state database.
 */
int cl_wit_add_checkpoint(struct cl_wit *w, const char *body, size_t len,
			  uint64_t now, cl_wit_hook hook, void *hctx,
			  struct cl_wit_answer *a, char **err);
void cl_wit_answer_release(struct cl_wit_answer *a);

/* The monitor endpoint: the latest cosigned checkpoint of the log whose
 * origin hashes to `hex` (64 lower-case hex digits): 200 or 404. */
int cl_wit_monitor(struct cl_wit *w, const char *hex, struct cl_wit_answer *a,
		   char **err);

/* ---- the HTTP server ------------------------------------------------ */

struct cl_wit_server;
/*
 * Serve POST <prefix>/add-checkpoint and GET <prefix>/<hex>/checkpoint on
 * `listen` ("ADDR:PORT", IPv4 or [IPv6]; port 0 picks one) with one
 * internal thread, so requests are decided one at a time.  `log` (may be
 * NULL) is told one line per request.  *port is the bound port.
 */
typedef void (*cl_wit_log_line)(void *ctx, const char *line);
int cl_wit_serve_start(struct cl_wit *w, const char *listen, cl_wit_hook hook,
		       void *hctx, cl_wit_log_line log, void *lctx,
		       struct cl_wit_server **out, unsigned *port, char **err);
void cl_wit_serve_stop(struct cl_wit_server *s);

#endif
