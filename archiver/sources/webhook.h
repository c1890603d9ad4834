/*
 * webhook.h - the WhatsApp Business Platform (Cloud API) webhook receiver.
 *
 * A real HTTP server (libmicrohttpd, event-driven, a pool of one thread
 * per CPU) with one endpoint at every path:
 *
 *   GET  ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C
 *        the verification handshake: 200 with body C when T matches the
 *        verify token (compared in constant time), 403 otherwise, 400 when
 *        C is not 1..CL_WEBHOOK_MAX_CHALLENGE printable ASCII characters.
 *   POST a webhook body.  The HMAC-SHA256 of the exact received bytes under
 *        the app secret must equal the `X-Hub-Signature-256: sha256=<hex>`
 *        header (constant-time comparison), else 401 and nothing is
 *        stored.  The body is imported (import_cloudapi.h): 400 if it is
 *        not a WhatsApp Business Account body (nothing stored); bad items
 *        inside a good body are quarantined.  200 is sent only after the
 *        body's entries are committed and fsynced; 500 if that failed.
 *
 * Any other method gets 405; a body longer than max_body gets 413 (as
 * soon as Content-Length announces it, or when the upload passes it);
 * requests arriving while the server stops get 503.
 *
 * Hostile clients.  A connection must deliver a request's headers within
 * header_timeout_s of connecting (or of its previous answer) and its body
 * within CL_WEBHOOK_UPLOAD_DEADLINE of its headers, however slowly it
 * trickles bytes: a reaper thread shuts down connections past their
 * deadline.  At most max_connections are open at a time, and
 * max_per_address from one IP address (more are closed at once).  No
 * memory is set aside for an announced Content-Length: a body is kept as
 * it arrives (at most max_body), its HMAC computed on the way, and not
 * kept at all when the signature header is missing or malformed (the
 * answer is then 401 once it has arrived).  A large body's records are
 * held compactly (canonical bytes only) until the committer stores them,
 * and the body itself is freed once parsed.
 *
 * Durability with throughput: request handlers never touch the ledger.
 * They check, parse and validate their body, suspend the connection and
 * hand the body to the single committer thread, which appends every body
 * pending at that moment in one batch, commits once (one fsync, one
 * signed checkpoint) and resumes all their connections ("group commit").  If a batch fails, its bodies are
 * retried one per batch so that one bad body cannot fail the others.
 *
 * Media (when an access token is given): each new record carrying Cloud
 * API media (its "media" object has an "id") gets a row in the side table
 * media_pending of ledger.db, inserted in the batch that stores the
 * record.  A downloader thread fetches due rows, one at a time, outside
 * the committer: GET {media_url}/{id} with "Authorization: Bearer TOKEN"
 * gives {"url": ...}; GET that URL (same header, no redirects, at most
 * CL_WEBHOOK_MEDIA_MAX bytes, CL_WEBHOOK_MEDIA_TIMEOUT seconds) gives the
 * bytes.  The committer then, in one batch, appends them sealed as an
 * "attachment" record in the parent's conversation chain (key
 * "chatledger/media/v1/" + id, public body {"attachment_of":N}) and
 * deletes the row; or, on failure, appends a coverage entry
 * "media-download-failed" {"entry":N,"attempt":n,"status":HTTP or 0} and
 * reschedules the row retry_base * 2^n seconds later (at most 6 hours);
 * after CL_WEBHOOK_MEDIA_ATTEMPTS failures it appends
 * "media-download-abandoned" {"entry":N,"attempts":n} and drops the row.
 * Rows survive restarts.  Coverage bodies carry no media id and no
 * personal data.
 *
 * The library never prints: it reports each finished request, each
 * ledger error and each media outcome through callbacks.
 */
#ifndef CL_WEBHOOK_H
#define CL_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "archiver/ledger/ledger.h"

struct cl_record_opts;

#define CL_WEBHOOK_MAX_BODY_DEFAULT (1u << 20)
#define CL_WEBHOOK_MAX_CHALLENGE 256u
#define CL_WEBHOOK_TIMEOUT_DEFAULT 10u       /* idle seconds per connection */
#define CL_WEBHOOK_HEADER_TIMEOUT_DEFAULT 10u /* seconds to send the headers */
#define CL_WEBHOOK_HEADER_TIMEOUT_MAX 300u
#define CL_WEBHOOK_UPLOAD_DEADLINE 30u       /* seconds for one whole body */
#define CL_WEBHOOK_CONNECTIONS_DEFAULT 1024u
#define CL_WEBHOOK_CONNECTIONS_MAX 65536u
#define CL_WEBHOOK_PER_ADDRESS_DEFAULT 64u
#define CL_WEBHOOK_GRACE_MS 15000u           /* wait for in-flight requests */
#define CL_WEBHOOK_MEDIA_URL_DEFAULT "https://graph.facebook.com/v21.0"
/* Bytes of one media file: 100 MiB is Meta's limit, but a ledger payload
 * holds at most CL_PAYLOAD_MAX - 4096 bytes (ledger_int.h, 24 MiB): a
 * larger file is abandoned at once (coverage, status 413). */
#define CL_WEBHOOK_MEDIA_MAX ((24u << 20) - 4096u)
#define CL_WEBHOOK_MEDIA_TIMEOUT 30u         /* seconds per HTTP request */
#define CL_WEBHOOK_MEDIA_RETRY_DEFAULT 60u   /* retry base, seconds */
#define CL_WEBHOOK_MEDIA_RETRY_MAX (6u * 3600u)
#define CL_WEBHOOK_MEDIA_ATTEMPTS 10u

/* One finished request, for the request log.  Carries no content, no
 * query string and no secret. */
struct cl_webhook_request {
	const char *method;     /* sanitised: printable ASCII only */
	const char *path;       /* sanitised and truncated; never the query */
	unsigned status;        /* HTTP status sent, 0 if none was sent */
	const char *reason;     /* short fixed text, e.g. "bad signature" */
	size_t body_len;        /* bytes received */
	uint64_t records;       /* new records committed */
	uint64_t duplicates;    /* records already in the archive */
	uint64_t quarantined;   /* bad items sealed as quarantine entries */
	unsigned ms;            /* from the end of the headers to completion */
};

struct cl_webhook_opts {
	const char *listen;     /* "ADDR:PORT" or "[ADDR6]:PORT"; port 0 = any */
	/* The secrets, read only by cl_webhook_start(): the server keeps
	 * just keyed states derived from them (the HMAC state of the app
	 * secret, a keyed hash of the verify token), in read-only guarded
	 * memory.  The caller may wipe and free them once it returns. */
	const unsigned char *app_secret;
	size_t app_secret_len;
	const unsigned char *verify_token;
	size_t verify_token_len;
	size_t max_body;        /* 0 = CL_WEBHOOK_MAX_BODY_DEFAULT */
	unsigned timeout_s;     /* 0 = CL_WEBHOOK_TIMEOUT_DEFAULT */
	unsigned max_connections; /* 0 = CL_WEBHOOK_CONNECTIONS_DEFAULT;
				     at most CL_WEBHOOK_CONNECTIONS_MAX */
	unsigned max_per_address; /* 0 = CL_WEBHOOK_PER_ADDRESS_DEFAULT;
				     at most max_connections */
	unsigned header_timeout_s; /* 0 = CL_WEBHOOK_HEADER_TIMEOUT_DEFAULT;
				      at most CL_WEBHOOK_HEADER_TIMEOUT_MAX */
	/* Called once per finished request, from server threads, possibly
	 * concurrently. */
	void (*on_request)(void *ctx, const struct cl_webhook_request *r);
	/* Called when bodies could not be stored (they are answered 500),
	 * once per failed batch, from the committer thread; the message
	 * names no content. */
	void (*on_error)(void *ctx, const char *msg);
	/* Media download: enabled when access_token is set (copied into
	 * guarded memory by cl_webhook_start(); the caller may wipe it).
	 * media_url NULL = CL_WEBHOOK_MEDIA_URL_DEFAULT; retry base 0 =
	 * CL_WEBHOOK_MEDIA_RETRY_DEFAULT seconds. */
	const unsigned char *access_token;
	size_t access_token_len;
	const char *media_url;
	unsigned media_retry_base;
	/* Called from the committer after each download outcome is
	 * committed: `msg` names the parent entry, the attempt and the HTTP
	 * status, never the media id, a URL or the token. */
	void (*on_media)(void *ctx, const char *msg);
	void *ctx;
	/* Classification at receipt (chatledger.conf [labels]); NULL = none.
	 * Must outlive the server; used from request threads. */
	const struct cl_record_opts *classify;
};

struct cl_webhook_stats {
	uint64_t requests;      /* requests finished (answered or dropped) */
	uint64_t accepted;      /* POSTs answered 200 */
	uint64_t rejected;      /* 4xx answers */
	uint64_t failed;        /* 5xx answers */
	uint64_t dropped;       /* closed without an answer: timeouts,
				   stalled or far too large uploads */
	uint64_t records;       /* new records committed */
	uint64_t duplicates;
	uint64_t quarantined;
	uint64_t commits;       /* durable batches */
	uint64_t cut_off;       /* connections shut down by the reaper: no
				   complete headers within the header
				   timeout, or no complete body within
				   CL_WEBHOOK_UPLOAD_DEADLINE */
	uint64_t media_stored;  /* attachments stored from downloads */
	uint64_t media_failed;  /* failed download attempts */
	uint64_t media_abandoned;
};

struct cl_webhook;

/*
 * Start serving.  `l` must be open for writing; from now until
 * cl_webhook_stop() only the server's committer thread uses it.  On
 * success *out is the running server.  CL_EINVAL for a bad listen address
 * or options, CL_EIO if the address cannot be bound.
 */
int cl_webhook_start(struct cl_ledger *l, const struct cl_webhook_opts *o,
		     struct cl_webhook **out, char **err);

/* The bound address as "ADDR:PORT" (with the real port when 0 was asked). */
const char *cl_webhook_address(const struct cl_webhook *w);

/*
 * Stop: refuse new connections, let the requests in progress finish (up
 * to CL_WEBHOOK_GRACE_MS), commit every accepted body, then free the
 * server.  The ledger stays open (the caller closes it).  Fills *st if
 * non-NULL.
 */
void cl_webhook_stop(struct cl_webhook *w, struct cl_webhook_stats *st);

/* What `status` shows of the receiver, from its side tables (no key
 * needed): have = 0 if it never ran on this archive. */
struct cl_webhook_status {
	int have;
	uint64_t records;        /* stored from deliveries, in all */
	int64_t last_ms;         /* the last commit that stored one (0: none) */
	uint64_t media_queued;   /* downloads still due (media_pending) */
};
void cl_webhook_status(struct cl_ledger *l, struct cl_webhook_status *st);

#endif
