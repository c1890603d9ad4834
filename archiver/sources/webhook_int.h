/*
 * webhook_int.h - what the three parts of the webhook receiver share: the
 * server state, jobs, requests and download tasks.  webhook.c is the HTTP
 * side (requests, signatures, jobs, start and stop), webhook_commit.c the
 * committer (the only thread that touches the ledger), webhook_media.c
 * the downloader.  Internal to archiver/sources/; not an API.
 */
#ifndef CL_WEBHOOK_INT_H
#define CL_WEBHOOK_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>

#include <microhttpd.h>
#include <sodium.h>
#include <sqlite3.h>

#include "archiver/ingest/presealer.h"
#include "archiver/ingest/record.h"
#include "archiver/sources/webhook.h"
#include "common/buf.h"


#define SIG_HEADER "X-Hub-Signature-256"
#define SIG_PREFIX "sha256="
#define LOG_PATH_MAX 192u  /* bytes of the escaped path in the log */
#define DISCARD_FACTOR 4u   /* an oversize chunked body is read (and thrown
			       away) up to this many times max_body, then
			       the connection is closed */

/* ---- jobs: one checked, parsed body on its way to the ledger -------- */

#define BODY_CHUNK (16u << 10)   /* first allocation for a body; it doubles
				    as bytes arrive, up to max_body */
#define JOB_COMPACT_BYTES (1u << 20) /* once a job holds this many bytes of
				    records, further ones keep only their
				    canonical bytes (re-parsed by the
				    committer) */
#define TRIM_AFTER_BYTES (1u << 20) /* after a body this large, hand freed
				    memory back to the system */
#define TRIM_EVERY_ITEMS 8192u   /* ... and while committing a big job */
#define REAPER_TICK_MS 200u      /* how often deadlines are checked */

struct item {
	int bad;                 /* 0: a valid record; 1: a bad item */
	int compact;             /* if !bad: only rec.canonical is set */
	uint64_t pos;            /* its position, as ingest numbers it */
	struct cl_record rec;    /* if !bad */
	unsigned char *data;     /* if bad: its bytes (malloc'd) */
	size_t len;
	char *reason;            /* if bad (malloc'd) */
	char *media_id;          /* if !bad and the record has Cloud API
				    media to download (malloc'd) */
	struct cl_prepared *prep; /* if !bad && !compact: sealed on the
				    request thread (presealer.h), or NULL */
};

struct job {
	struct item *items;
	size_t n, cap;
	uint64_t nrec;           /* records emitted so far */
	size_t held;             /* bytes of records held (roughly) */
	int done;                /* set by the committer under w->mu */
	int rc;
	int refused;             /* not queued: the server is stopping */
	int media;               /* note media ids (download enabled) */
	const struct cl_record_opts *classify; /* [labels], or NULL */
	struct cl_presealer *ps; /* seals records on the request thread, or NULL */
	int big;                 /* held > JOB_COMPACT_BYTES: committed in a
				    batch of its own, its records freed as
				    they are appended */
	uint64_t records, duplicates, quarantined;
	struct MHD_Connection *conn;  /* suspended until the job is done */
	struct job *next;
};

enum { M_GET, M_POST, M_OTHER };

/* One pending download: the task the committer hands over, and the
 * result the downloader hands back. */
struct dl {
	uint64_t idx;            /* the parent record's entry */
	char media_id[129];
	unsigned attempts;       /* failures so far */
	int ok;
	int too_big;             /* larger than CL_WEBHOOK_MEDIA_MAX: give up */
	long status;             /* HTTP status of the failing step, or 0 */
	unsigned char *data;     /* ok: the media bytes (malloc'd) */
	size_t len;
};

/* One TCP connection, from MHD's "started" to its "closed" notification
 * (its socket context), for the deadlines.  Linked in w->conns under
 * w->cmu; MHD closes the socket only after "closed", so the reaper may
 * shut it down while it is linked. */
struct conn {
	MHD_socket fd;
	int64_t deadline;        /* monotonic ms; 0: none (the request is
				    being processed or answered) */
	int cut;                 /* shut down by the reaper */
	struct conn *prev, *next;
};

/* One HTTP request, from its first call to its completion callback. */
struct req {
	int method;
	char method_s[16];
	char path[LOG_PATH_MAX + 4];
	unsigned char *body;     /* what arrived so far (malloc'd; wiped) */
	size_t body_len, body_cap;
	size_t announced;        /* Content-Length if given (<= max_body) */
	size_t seen;             /* body bytes received (kept or not) */
	int too_big;
	int unsigned_body;       /* no usable signature header: the body is
				    counted and thrown away, answer 401 */
	crypto_auth_hmacsha256_state mac;  /* over the body, as it arrives */
	unsigned char sig[32];   /* the signature the header claims */
	struct conn *conn;       /* its connection, or NULL */
	int replied;
	unsigned status;
	const char *reason;
	uint64_t records, duplicates, quarantined;
	int64_t started;         /* monotonic ms */
	struct job *job;         /* queued, owned by the request */
};

struct cl_webhook {
	struct cl_ledger *l;
	sqlite3_stmt *st_delivered;   /* the committer's webhook_state update */
	const struct cl_record_opts *classify;   /* [labels], or NULL */
	struct MHD_Daemon *d;
	int lfd;                                 /* listening socket */
	crypto_auth_hmacsha256_state *mac;       /* keyed with the app secret */
	unsigned char *tok_key;                  /* random key for hashing tokens */
	unsigned char *tok_hash;                 /* keyed hash of the verify token */
	size_t max_body;
	int64_t header_ms;       /* header deadline */
	char addr[INET6_ADDRSTRLEN + 16];
	void (*on_request)(void *ctx, const struct cl_webhook_request *r);
	void (*on_error)(void *ctx, const char *msg);
	void *ctx;

	pthread_mutex_t mu;
	pthread_cond_t work;     /* committer: the queue is not empty, or stop */
	pthread_cond_t idle;     /* stop: in-flight count changed */
	struct job *head, *tail;
	int stopping;            /* answer 503 to new requests */
	int quit;                /* committer: drain the queue and exit */
	unsigned inflight;
	pthread_t committer;
	int have_committer;
	struct cl_presealer ps;  /* records sealed on the request threads */
	int have_ps;
	struct cl_webhook_stats st;

	/* media download (enabled iff token != NULL) */
	unsigned char *token;    /* sodium_malloc'd, read-only */
	size_t token_len;
	char *media_url;         /* without a trailing '/' */
	unsigned retry_base;     /* seconds */
	void (*on_media)(void *ctx, const char *msg);
	pthread_cond_t dl_cond;  /* downloader: a task, or dl_quit */
	pthread_t downloader;
	int have_downloader;
	int dl_busy;             /* a task is out (until its result is committed) */
	int dl_has_task;         /* the downloader has not taken it yet */
	int dl_done;             /* its result is back */
	int dl_quit;             /* downloader: cancel and exit */
	struct dl dl;            /* the task, then its result */
	int64_t next_check;      /* s: when media_pending is next worth a look */
	int curl_inited;

	/* connections and their deadlines: the reaper thread */
	pthread_mutex_t cmu;     /* guards conns, cut_off, reaper_quit */
	pthread_cond_t reap;     /* reaper: quit */
	struct conn *conns;
	uint64_t cut_off;
	int reaper_quit;
	pthread_t reaper;
	int have_reaper;
};


void *cl_webhook_committer_main(void *arg);

/* Hand the pages of freed heap memory back to the system (glibc; a no-op
 * elsewhere).  After large bodies only: it walks every arena. */
void cl_webhook_release_memory(void);

void *cl_webhook_downloader_main(void *arg);

/* A media id as sent by the Cloud API: digits in practice; we accept
 * 1..128 of [A-Za-z0-9_-] so that it is safe as one URL path segment. */
int cl_webhook_media_id_ok(const char *s);

#endif
