/*
 * client.c - the linked-device protocol engine (client.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/wa/client.h"
#include "archiver/wa/frame.h"
#include "archiver/wa/noise.h"
#include "archiver/wa/pair.h"
#include "archiver/wa/paircode.h"
#include "archiver/wa/qr.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define SERVER_JID "s.whatsapp.net"
#define MAX_PENDING 16
#define MAX_REFS 16

enum phase { P_NEW, P_HELLO_SENT, P_OPEN, P_ENDED };
enum iq_purpose { IQ_PING = 1, IQ_COUNT, IQ_UPLOAD, IQ_ACTIVE, IQ_CODE_HELLO,
		  IQ_CODE_FINISH, IQ_USYNC, IQ_MEDIA_CONN };

struct pending {
	char id[32];
	enum iq_purpose purpose;
	int64_t sent_at;
	size_t first, n;       /* IQ_UPLOAD: which pre-keys */
};

struct cl_wa_client {
	const struct cl_wa_client_cfg *cfg;
	struct cl_wa_creds *creds;
	const struct cl_wa_client_ops *ops;
	void *ctx;
	enum phase phase;
	int registering;       /* connected without an account yet */
	int logged_in;
	int64_t now;           /* time of the current call */
	int64_t started_at;
	struct cl_wa_frame_writer fw;
	struct cl_wa_frame_reader fr;
	struct cl_wa_noise_hs *hs;
	struct cl_wa_noise_transport *tr;
	struct cl_wa_end end;
	char id_prefix[16];
	unsigned long id_counter;
	struct pending pend[MAX_PENDING];
	/* pairing */
	char *refs[MAX_REFS];
	size_t nrefs, ref_next;
	int64_t ref_expires;
	int64_t refs_end;      /* when the last ref expires */
	struct cl_wa_paircode *pc; /* pairing by code */
	/* an answer the server owes us: login (<success>/<failure>),
	 * <pair-device>, or the 515 after pairing; 0 when none */
	int64_t answer_due;
	/* keepalive */
	int64_t next_ping_at;
	int64_t ping_failing_since;   /* 0 when the last ping was answered */
};

static const struct {
	enum cl_wa_end_kind kind;
	const char *name;
} end_names[] = {
	{ CL_WA_END_NONE, "none" },
	{ CL_WA_END_RECONNECT, "disconnected" },
	{ CL_WA_END_RESTART, "restart-required" },
	{ CL_WA_END_LOGGED_OUT, "logged-out" },
	{ CL_WA_END_TEMP_BAN, "temporary-ban" },
	{ CL_WA_END_OUTDATED, "client-outdated" },
	{ CL_WA_END_BAD_CLIENT, "client-refused" },
	{ CL_WA_END_CONFLICT, "conflict" },
	{ CL_WA_END_SERVER_REFUSED, "server-refused" },
	{ CL_WA_END_PAIR_REFUSED, "pairing-refused" },
	{ CL_WA_END_QR_EXHAUSTED, "qr-refs-exhausted" },
	{ CL_WA_END_PROTOCOL, "protocol-error" },
};

const char *cl_wa_end_name(enum cl_wa_end_kind kind)
{
	size_t i;

	for (i = 0; i < sizeof(end_names) / sizeof(end_names[0]); i++)
		if (end_names[i].kind == kind)
			return end_names[i].name;
	return "unknown";
}

void cl_wa_client_cfg_defaults(struct cl_wa_client_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->platform_id = '1';
	cfg->ping_min_ms = 20000;
	cfg->ping_max_ms = 30000;
	cfg->ping_timeout_ms = 10000;
	cfg->ping_giveup_ms = 180000;
	cfg->handshake_timeout_ms = 20000;
	cfg->qr_first_ms = 60000;
	cfg->qr_next_ms = 20000;
	cfg->platform_display = "Chrome (Linux)";
}

/* A decimal attribute value, or 0 when absent or not a number. */
static long num(const char *s)
{
	char *end = NULL;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return 0;
	v = strtol(s, &end, 10);
	return *end ? 0 : v;
}

/* Set the end (the first one wins) and return a non-zero status. */
static int set_end(struct cl_wa_client *c, enum cl_wa_end_kind kind,
		   int code, const char *fmt, ...) CL_PRINTF_LIKE(4, 5);
static int set_end(struct cl_wa_client *c, enum cl_wa_end_kind kind,
		   int code, const char *fmt, ...)
{
	if (c->end.kind == CL_WA_END_NONE) {
		va_list ap;

		c->end.kind = kind;
		c->end.code = code;
		va_start(ap, fmt);
		/* a reason too long for end.reason is cut */
		(void)cl_vfmt(c->end.reason, sizeof(c->end.reason), fmt, ap);
		va_end(ap);
	}
	c->phase = P_ENDED;
	return CL_EIO;
}

static int emit(struct cl_wa_client *c, const struct cl_wa_event *ev)
{
	if (c->ops->event && c->ops->event(c->ctx, ev) != 0)
		return set_end(c, CL_WA_END_PROTOCOL, 0,
			       "stopped by the collector");
	return CL_OK;
}

static int emit_simple(struct cl_wa_client *c, enum cl_wa_event_type type,
		       const char *text, int64_t ms, uint64_t count,
		       const struct cl_wa_node *node)
{
	struct cl_wa_event ev;

	ev.type = type;
	ev.text = text;
	ev.ms = ms;
	ev.count = count;
	ev.node = node;
	return emit(c, &ev);
}

int cl_wa_client_new(struct cl_wa_client **out,
		     const struct cl_wa_client_cfg *cfg,
		     struct cl_wa_creds *creds,
		     const struct cl_wa_client_ops *ops, void *ctx)
{
	struct cl_wa_client *c;
	unsigned char rnd[4];

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return CL_ENOMEM;
	c->cfg = cfg;
	c->creds = creds;
	c->ops = ops;
	c->ctx = ctx;
	c->registering = !creds->paired;
	cl_wa_frame_writer_init(&c->fw);
	cl_wa_frame_reader_init(&c->fr, 0, 0);
	randombytes_buf(rnd, sizeof(rnd));
	(void)cl_fmt(c->id_prefix, sizeof(c->id_prefix), "%02x%02x%02x%02x",
		     rnd[0], rnd[1], rnd[2], rnd[3]);
	*out = c;
	return CL_OK;
}

void cl_wa_client_free(struct cl_wa_client *c)
{
	size_t i;

	if (c == NULL)
		return;
	cl_wa_noise_hs_free(c->hs);
	cl_wa_noise_transport_free(c->tr);
	cl_wa_paircode_free(c->pc);
	cl_wa_frame_reader_release(&c->fr);
	for (i = 0; i < c->nrefs; i++)
		free(c->refs[i]);
	free(c);
}

const struct cl_wa_end *cl_wa_client_end(const struct cl_wa_client *c)
{
	return &c->end;
}

int cl_wa_client_logged_in(const struct cl_wa_client *c)
{
	return c->logged_in;
}

void cl_wa_client_closed(struct cl_wa_client *c, const char *why)
{
	if (c->end.kind == CL_WA_END_NONE)
		(void)set_end(c, CL_WA_END_RECONNECT, 0, "%s",
			      why ? why : "connection closed");
	c->phase = P_ENDED;
}

/* ---- sending ------------------------------------------------------- */

static int send_frame(struct cl_wa_client *c, const unsigned char *p,
		      size_t len)
{
	struct cl_buf f;
	char *err = NULL;
	int rc;

	cl_buf_init(&f, (size_t)CL_WA_FRAME_MAX + 8);
	rc = cl_wa_frame_write(&c->fw, &f, p, len, &err);
	if (rc == CL_OK && c->ops->send(c->ctx, f.data, f.len) != 0)
		rc = CL_EIO;
	cl_buf_release(&f);
	if (rc)
		rc = set_end(c, CL_WA_END_RECONNECT, 0, "send failed: %s",
			     err ? err : cl_strerror(rc));
	free(err);
	return rc;
}

static int send_node(struct cl_wa_client *c, const struct cl_wa_node *n)
{
	struct cl_buf plain, ct;
	char *err = NULL;
	int rc;

	cl_buf_init(&plain, (size_t)CL_WA_FRAME_MAX);
	cl_buf_init(&ct, (size_t)CL_WA_FRAME_MAX);
	rc = cl_wa_frame_pack(n, &plain, &err);
	if (rc == CL_OK)
		rc = cl_wa_noise_encrypt(c->tr, plain.data, plain.len, &ct,
					 &err);
	sodium_memzero(plain.data, plain.len);
	if (rc == CL_OK)
		rc = send_frame(c, ct.data, ct.len);
	else
		rc = set_end(c, CL_WA_END_PROTOCOL, 0, "cannot send: %s",
			     err ? err : cl_strerror(rc));
	cl_buf_release(&plain);
	cl_buf_release(&ct);
	free(err);
	return rc;
}

int cl_wa_client_send_node(struct cl_wa_client *c, const struct cl_wa_node *n)
{
	if (c->phase != P_OPEN)
		return CL_EIO;
	return send_node(c, n);
}

static void next_id(struct cl_wa_client *c, char id[32])
{
	(void)cl_fmt(id, 32, "%s.%lu", c->id_prefix, ++c->id_counter);
}

/* 1 when a request for `purpose` is waiting for its answer. */
static int pending_has(const struct cl_wa_client *c, enum iq_purpose purpose)
{
	size_t i;

	for (i = 0; i < MAX_PENDING; i++)
		if (c->pend[i].purpose == purpose)
			return 1;
	return 0;
}

static struct pending *pending_add(struct cl_wa_client *c,
				   enum iq_purpose purpose, const char *id)
{
	size_t i;

	for (i = 0; i < MAX_PENDING; i++)
		if (c->pend[i].purpose == 0) {
			memcpy(c->pend[i].id, id, strlen(id) + 1);
			c->pend[i].purpose = purpose;
			c->pend[i].sent_at = c->now;
			return &c->pend[i];
		}
	return NULL;
}

/* An <iq id=.. xmlns=X type=T to=s.whatsapp.net> with one empty child
 * (or none when child is NULL), sent and tracked as `purpose`. */
static int send_iq(struct cl_wa_client *c, enum iq_purpose purpose,
		   const char *xmlns, const char *type, const char *child)
{
	struct cl_wa_node *iq = NULL, *ch = NULL;
	char id[32];
	int rc;

	next_id(c, id);
	if ((rc = cl_wa_node_new_s(&iq, "iq")) ||
	    (rc = cl_wa_node_add_attr_s(iq, "id", id)) ||
	    (rc = cl_wa_node_add_attr_s(iq, "xmlns", xmlns)) ||
	    (rc = cl_wa_node_add_attr_s(iq, "type", type)) ||
	    (rc = cl_wa_node_add_attr_s(iq, "to", SERVER_JID)))
		goto out;
	if (child) {
		if ((rc = cl_wa_node_new_s(&ch, child)) ||
		    (rc = cl_wa_node_add_child(iq, ch)))
			goto out;
		ch = NULL;
	}
	if (pending_add(c, purpose, id) == NULL) {
		rc = set_end(c, CL_WA_END_PROTOCOL, 0,
			     "too many unanswered requests");
		goto out;
	}
	rc = send_node(c, iq);
out:
	cl_wa_node_free(ch);
	cl_wa_node_free(iq);
	if (rc == CL_ENOMEM)
		rc = set_end(c, CL_WA_END_PROTOCOL, 0, "out of memory");
	return rc;
}

/* <iq to=s.whatsapp.net type=result id=ID/> */
static int send_iq_result(struct cl_wa_client *c, const char *id)
{
	struct cl_wa_node *iq = NULL;
	int rc;

	if (cl_wa_node_new_s(&iq, "iq") ||
	    cl_wa_node_add_attr_s(iq, "to", SERVER_JID) ||
	    cl_wa_node_add_attr_s(iq, "type", "result") ||
	    cl_wa_node_add_attr_s(iq, "id", id))
		rc = set_end(c, CL_WA_END_PROTOCOL, 0, "out of memory");
	else
		rc = send_node(c, iq);
	cl_wa_node_free(iq);
	return rc;
}

/* <ack class=TAG id=ID to=FROM [participant] [recipient] [type]/> for
 * notifications, receipts and calls, so the server stops redelivering
 * them (WhatsApp Web copies type and recipient whenever present). */
int cl_wa_client_ack_node(const struct cl_wa_node *n, struct cl_wa_node **out)
{
	struct cl_wa_node *ack = NULL;
	const char *id = cl_wa_node_attr_str(n, "id");
	const char *from = cl_wa_node_attr_str(n, "from");
	const char *part = cl_wa_node_attr_str(n, "participant");
	const char *recip = cl_wa_node_attr_str(n, "recipient");
	const char *type = cl_wa_node_attr_str(n, "type");

	*out = NULL;
	if (id == NULL || from == NULL)
		return CL_OK;
	if (cl_wa_node_new_s(&ack, "ack") ||
	    cl_wa_node_add_attr_s(ack, "class", n->tag) ||
	    cl_wa_node_add_attr_s(ack, "id", id) ||
	    cl_wa_node_add_attr_s(ack, "to", from) ||
	    (part && cl_wa_node_add_attr_s(ack, "participant", part)) ||
	    (recip && cl_wa_node_add_attr_s(ack, "recipient", recip)) ||
	    (type && cl_wa_node_add_attr_s(ack, "type", type))) {
		cl_wa_node_free(ack);
		return CL_ENOMEM;
	}
	*out = ack;
	return CL_OK;
}

static int send_ack(struct cl_wa_client *c, const struct cl_wa_node *n)
{
	struct cl_wa_node *ack = NULL;
	int rc;

	if (cl_wa_client_ack_node(n, &ack))
		return set_end(c, CL_WA_END_PROTOCOL, 0, "out of memory");
	rc = ack ? send_node(c, ack) : CL_OK;
	cl_wa_node_free(ack);
	return rc;
}

/* ---- pairing --------------------------------------------------------- */

static int show_qr(struct cl_wa_client *c)
{
	char *qr = NULL;
	unsigned ttl;
	int rc;

	if (c->ref_next >= c->nrefs)
		return set_end(c, CL_WA_END_QR_EXHAUSTED, 0,
			       "all %zu pairing codes expired unscanned",
			       c->nrefs);
	ttl = c->ref_next == 0 ? c->cfg->qr_first_ms : c->cfg->qr_next_ms;
	c->ref_next++;
	c->ref_expires = c->now + ttl;
	/* Pairing by code: the refs still time the registration connection
	 * (the code dies with it), but no QR is shown. */
	if (c->cfg->pairing_phone)
		return CL_OK;
	if (cl_wa_qr_string(c->refs[c->ref_next - 1], c->creds->noise_pub,
			    c->creds->ident_pub, c->creds->adv_secret,
			    c->cfg->platform_id, &qr))
		return set_end(c, CL_WA_END_PROTOCOL, 0,
			       "cannot build the QR string");
	rc = emit_simple(c, CL_WA_EV_QR, qr, ttl, c->ref_next, NULL);
	sodium_memzero(qr, strlen(qr));
	free(qr);
	return rc;
}

/* Pairing by code, step 1: the wrapped ephemeral key to the server. */
static int send_code_hello(struct cl_wa_client *c)
{
	struct cl_wa_node *iq = NULL;
	char id[32];
	char *err = NULL;
	int rc;

	rc = cl_wa_paircode_new(&c->pc, c->cfg->pairing_phone, &err);
	if (rc == CL_OK) {
		next_id(c, id);
		rc = cl_wa_paircode_hello_node(c->pc, c->creds, id,
					       c->cfg->platform_display, &iq,
					       &err);
	}
	if (rc) {
		rc = set_end(c, CL_WA_END_PAIR_REFUSED, 0,
			     "cannot request a pairing code: %s",
			     err ? err : cl_strerror(rc));
		free(err);
		return rc;
	}
	if (pending_add(c, IQ_CODE_HELLO, id) == NULL)
		rc = set_end(c, CL_WA_END_PROTOCOL, 0,
			     "too many unanswered requests");
	else
		rc = send_node(c, iq);
	cl_wa_node_free(iq);
	return rc;
}

/* Step 2: the server accepted the hello; the code is valid now. */
static int on_code_hello_reply(struct cl_wa_client *c,
			       const struct cl_wa_node *iq)
{
	char *err = NULL;
	int rc = cl_wa_paircode_on_hello_result(c->pc, iq, &err);

	if (rc) {
		rc = set_end(c, CL_WA_END_PAIR_REFUSED, 0,
			     "pairing code refused by the server: %s",
			     err ? err : cl_strerror(rc));
		free(err);
		return rc;
	}
	return emit_simple(c, CL_WA_EV_PAIR_CODE, cl_wa_paircode_code(c->pc),
			   c->refs_end - c->now, 0, iq);
}

/* Step 3: the phone took the code: answer with our key bundle; the ADV
 * secret is now derived and pair-success follows as after a scan. */
static int on_code_notification(struct cl_wa_client *c,
				const struct cl_wa_node *n)
{
	struct cl_wa_node *fin = NULL;
	char id[32];
	char *err = NULL;
	int rc;

	if (c->pc == NULL)
		return CL_OK; /* not pairing by code: ignore */
	next_id(c, id);
	rc = cl_wa_paircode_on_notification(c->pc, c->creds, n, id, &fin,
					    &err);
	if (rc) {
		rc = set_end(c, CL_WA_END_PAIR_REFUSED, 0,
			     "pairing-code exchange failed: %s",
			     err ? err : cl_strerror(rc));
		free(err);
		return rc;
	}
	if (pending_add(c, IQ_CODE_FINISH, id) == NULL)
		rc = set_end(c, CL_WA_END_PROTOCOL, 0,
			     "too many unanswered requests");
	else
		rc = send_node(c, fin);
	cl_wa_node_free(fin);
	return rc;
}

static int on_pair_device(struct cl_wa_client *c, const struct cl_wa_node *iq,
			  const char *id)
{
	char **refs = NULL;
	size_t n = 0, i;
	char *err = NULL;
	int rc;

	if (!c->registering)
		return set_end(c, CL_WA_END_PROTOCOL, 0,
			       "pair-device on a logged-in connection");
	rc = cl_wa_pair_refs(iq, &refs, &n, &err);
	if (rc || n == 0) {
		rc = set_end(c, CL_WA_END_PROTOCOL, 0, "bad pair-device: %s",
			     err ? err : "no refs");
		free(err);
		for (i = 0; i < n; i++)
			free(refs[i]);
		free(refs);
		return rc;
	}
	for (i = 0; i < c->nrefs; i++)
		free(c->refs[i]);
	c->nrefs = 0;
	for (i = 0; i < n; i++) {
		if (c->nrefs < MAX_REFS)
			c->refs[c->nrefs++] = refs[i];
		else
			free(refs[i]);
	}
	free(refs);
	c->ref_next = 0;
	c->answer_due = 0; /* the refs' timers take over */
	c->refs_end = c->now + c->cfg->qr_first_ms +
		(int64_t)(c->nrefs - 1) * c->cfg->qr_next_ms;
	if ((rc = send_iq_result(c, id)) || (rc = show_qr(c)))
		return rc;
	if (c->cfg->pairing_phone && c->pc == NULL)
		return send_code_hello(c);
	return CL_OK;
}

static int on_pair_success(struct cl_wa_client *c,
			   const struct cl_wa_node *iq)
{
	struct cl_wa_node *reply = NULL;
	int64_t t = 0;
	char *err = NULL;
	int rc;

	rc = cl_wa_pair_success(iq, c->creds, &t, &reply, &err);
	if (rc) {
		char why[128];

		(void)cl_fmt(why, sizeof(why), "%s",
			     err ? err : cl_strerror(rc));
		free(err);
		rc = set_end(c, CL_WA_END_PAIR_REFUSED, 401,
			     "pair-success refused: %s", why);
		/* the error reply WhatsApp expects, then give up */
		if (reply) {
			(void)send_node(c, reply);
			cl_wa_node_free(reply);
		}
		if (c->ops->event) {
			struct cl_wa_event ev = { CL_WA_EV_PAIR_REFUSED, why,
						  0, 0, iq };

			(void)c->ops->event(c->ctx, &ev);
		}
		return rc;
	}
	free(err);
	c->ref_expires = 0; /* no more QR codes on this connection */
	c->answer_due = c->now + c->cfg->handshake_timeout_ms; /* the 515 */
	/* The collector persists the account before the phone is told the
	 * device is linked: a crash in between leaves an unconfirmed link,
	 * never a confirmed one without credentials. */
	rc = emit_simple(c, CL_WA_EV_PAIRED, c->creds->jid,
			 t > 0 ? t * 1000 - c->now : 0, 0, iq);
	if (rc == CL_OK)
		rc = send_node(c, reply);
	cl_wa_node_free(reply);
	return rc;
}

/* ---- login and upkeep ---------------------------------------------- */

static void schedule_ping(struct cl_wa_client *c)
{
	unsigned span = c->cfg->ping_max_ms > c->cfg->ping_min_ms ?
		c->cfg->ping_max_ms - c->cfg->ping_min_ms : 0;

	c->next_ping_at = c->now + c->cfg->ping_min_ms +
		(span ? randombytes_uniform(span + 1) : 0);
}

static int upload_prekeys(struct cl_wa_client *c, size_t want)
{
	struct cl_wa_creds *cr = c->creds;
	struct cl_wa_node *iq = NULL;
	struct pending *p;
	size_t first, have;
	char id[32];
	char *err = NULL;
	int rc;

	if (pending_has(c, IQ_UPLOAD))
		return CL_OK;
	/* Keys already generated but never confirmed are sent again first;
	 * new ones are generated and persisted before they go out. */
	first = cr->prekeys_uploaded;
	have = cr->nprekeys - first;
	if (have < want) {
		rc = cl_wa_prekeys_generate(cr, want - have, &err);
		if (rc) {
			rc = set_end(c, CL_WA_END_PROTOCOL, 0,
				     "cannot generate pre-keys: %s",
				     err ? err : cl_strerror(rc));
			free(err);
			return rc;
		}
		if ((rc = emit_simple(c, CL_WA_EV_CREDS_CHANGED, NULL, 0,
				      want - have, NULL)))
			return rc;
		/* at the cap, generating drops the oldest uploaded keys */
		first = cr->prekeys_uploaded;
		if (cr->nprekeys - first < want)
			want = cr->nprekeys - first;
	}
	next_id(c, id);
	rc = cl_wa_prekey_upload_node(cr, first, want, id, &iq, &err);
	if (rc) {
		rc = set_end(c, CL_WA_END_PROTOCOL, 0,
			     "cannot build the pre-key upload: %s",
			     err ? err : cl_strerror(rc));
		free(err);
		return rc;
	}
	p = pending_add(c, IQ_UPLOAD, id);
	if (p == NULL) {
		cl_wa_node_free(iq);
		return set_end(c, CL_WA_END_PROTOCOL, 0,
			       "too many unanswered requests");
	}
	p->first = first;
	p->n = want;
	rc = send_node(c, iq);
	cl_wa_node_free(iq);
	return rc;
}

static int on_count(struct cl_wa_client *c, const struct cl_wa_node *iq)
{
	const struct cl_wa_node *cnt = cl_wa_node_child(iq, "count");
	const char *v = cnt ? cl_wa_node_attr_str(cnt, "value") : NULL;
	char *end = NULL;
	unsigned long n;

	if (v == NULL || *v < '0' || *v > '9')
		return set_end(c, CL_WA_END_PROTOCOL, 0,
			       "pre-key count reply without a value");
	n = strtoul(v, &end, 10);
	if (*end)
		return set_end(c, CL_WA_END_PROTOCOL, 0,
			       "pre-key count '%.20s' is not a number", v);
	if (c->creds->prekeys_uploaded == 0)
		return upload_prekeys(c, CL_WA_PREKEYS_INITIAL);
	if (n < CL_WA_PREKEYS_MIN)
		return upload_prekeys(c, CL_WA_PREKEYS_TOPUP);
	return CL_OK;
}

/* Our own number's devices: <iq xmlns=usync type=get><usync ...><query>
 * <devices version=2/></query><list><user jid=OWN/></list></usync>. */
static int send_usync_own(struct cl_wa_client *c)
{
	struct cl_wa_node *iq = NULL, *u = NULL, *q = NULL, *d = NULL,
		*l = NULL, *us = NULL;
	char id[32], own[120];
	const char *at = strchr(c->creds->jid, '@');
	const char *colon = strchr(c->creds->jid, ':');
	size_t ulen;
	int rc;

	if (at == NULL)
		return CL_OK;
	ulen = (size_t)((colon && colon < at ? colon : at) - c->creds->jid);
	if (cl_fmt(own, sizeof(own), "%.*s%s", (int)ulen, c->creds->jid, at))
		return CL_OK;
	next_id(c, id);
	if ((rc = cl_wa_node_new_s(&iq, "iq")) ||
	    (rc = cl_wa_node_add_attr_s(iq, "id", id)) ||
	    (rc = cl_wa_node_add_attr_s(iq, "xmlns", "usync")) ||
	    (rc = cl_wa_node_add_attr_s(iq, "type", "get")) ||
	    (rc = cl_wa_node_add_attr_s(iq, "to", SERVER_JID)) ||
	    (rc = cl_wa_node_new_s(&u, "usync")) ||
	    (rc = cl_wa_node_add_attr_s(u, "sid", id)) ||
	    (rc = cl_wa_node_add_attr_s(u, "mode", "query")) ||
	    (rc = cl_wa_node_add_attr_s(u, "last", "true")) ||
	    (rc = cl_wa_node_add_attr_s(u, "index", "0")) ||
	    (rc = cl_wa_node_add_attr_s(u, "context", "message")) ||
	    (rc = cl_wa_node_new_s(&q, "query")) ||
	    (rc = cl_wa_node_new_s(&d, "devices")) ||
	    (rc = cl_wa_node_add_attr_s(d, "version", "2")) ||
	    (rc = cl_wa_node_add_child(q, d)))
		goto out;
	d = NULL;
	if ((rc = cl_wa_node_add_child(u, q)))
		goto out;
	q = NULL;
	if ((rc = cl_wa_node_new_s(&l, "list")) ||
	    (rc = cl_wa_node_new_s(&us, "user")) ||
	    (rc = cl_wa_node_add_attr_s(us, "jid", own)) ||
	    (rc = cl_wa_node_add_child(l, us)))
		goto out;
	us = NULL;
	if ((rc = cl_wa_node_add_child(u, l)))
		goto out;
	l = NULL;
	if ((rc = cl_wa_node_add_child(iq, u)))
		goto out;
	u = NULL;
	if (pending_add(c, IQ_USYNC, id) == NULL)
		rc = set_end(c, CL_WA_END_PROTOCOL, 0,
			     "too many unanswered requests");
	else
		rc = send_node(c, iq);
out:
	cl_wa_node_free(us);
	cl_wa_node_free(l);
	cl_wa_node_free(d);
	cl_wa_node_free(q);
	cl_wa_node_free(u);
	cl_wa_node_free(iq);
	if (rc == CL_ENOMEM)
		rc = set_end(c, CL_WA_END_PROTOCOL, 0, "out of memory");
	return rc;
}

static int on_success(struct cl_wa_client *c, const struct cl_wa_node *n)
{
	const char *t = cl_wa_node_attr_str(n, "t");
	int64_t offset = 0;
	int rc;

	if (c->registering)
		return set_end(c, CL_WA_END_PROTOCOL, 0,
			       "<success> on a registration connection");
	if (t && *t >= '0' && *t <= '9')
		offset = strtoll(t, NULL, 10) * 1000 - c->now;
	c->logged_in = 1;
	c->answer_due = 0;
	if ((rc = emit_simple(c, CL_WA_EV_LOGGED_IN, c->creds->jid, offset, 0,
			      n)))
		return rc;
	if ((rc = send_iq(c, IQ_COUNT, "encrypt", "get", "count")) ||
	    (rc = send_iq(c, IQ_ACTIVE, "passive", "set", "active")) ||
	    (rc = send_usync_own(c)) ||
	    (rc = send_iq(c, IQ_MEDIA_CONN, "w:m", "set", "media_conn")))
		return rc;
	schedule_ping(c);
	return CL_OK;
}

static int failure_end(struct cl_wa_client *c, const struct cl_wa_node *n)
{
	const char *r = cl_wa_node_attr_str(n, "reason");
	const char *exp = cl_wa_node_attr_str(n, "expire");
	const char *code = cl_wa_node_attr_str(n, "code");
	int reason = (int)num(r);

	switch (reason) {
	case 401:
	case 403:
	case 406:
		return set_end(c, CL_WA_END_LOGGED_OUT, reason,
			       "login refused with %d (%s)", reason,
			       reason == 401 ? "logged out" :
			       reason == 403 ? "account locked" : "banned");
	case 402:
		if (exp)
			c->end.expire = strtoll(exp, NULL, 10);
		return set_end(c, CL_WA_END_TEMP_BAN, reason,
			       "temporarily banned (code %s) until %s",
			       code ? code : "?", exp ? exp : "unknown");
	case 405:
		return set_end(c, CL_WA_END_OUTDATED, reason,
			       "client version %u.%u.%u refused as outdated (405)",
			       c->cfg->info.version.primary,
			       c->cfg->info.version.secondary,
			       c->cfg->info.version.tertiary);
	case 409:
		return set_end(c, CL_WA_END_BAD_CLIENT, reason,
			       "user agent refused (409)");
	default:
		return set_end(c, CL_WA_END_RECONNECT, reason,
			       "login failed with reason %.16s",
			       r ? r : "(none)");
	}
}

static int stream_error_end(struct cl_wa_client *c,
			    const struct cl_wa_node *n)
{
	const char *cs = cl_wa_node_attr_str(n, "code");
	const struct cl_wa_node *conflict = cl_wa_node_child(n, "conflict");
	const char *ctype = conflict ? cl_wa_node_attr_str(conflict, "type") :
		NULL;
	int code = (int)num(cs);

	if (ctype && strcmp(ctype, "replaced") == 0)
		return set_end(c, CL_WA_END_CONFLICT, 440,
			       "replaced: these credentials connected elsewhere");
	if ((ctype && strcmp(ctype, "device_removed") == 0) || code == 401)
		return set_end(c, CL_WA_END_LOGGED_OUT, 401,
			       "device removed (401): unlinked from the phone or by WhatsApp");
	if (code == 515)
		return set_end(c, CL_WA_END_RESTART, 515, "restart required (515)");
	return set_end(c, CL_WA_END_RECONNECT, code, "stream error %d%s%s",
		       code, ctype ? " " : "", ctype ? ctype : "");
}

static struct pending *pending_take(struct cl_wa_client *c, const char *id,
				    struct pending *copy)
{
	size_t i;

	for (i = 0; i < MAX_PENDING; i++)
		if (c->pend[i].purpose && strcmp(c->pend[i].id, id) == 0) {
			*copy = c->pend[i];
			memset(&c->pend[i], 0, sizeof(c->pend[i]));
			return copy;
		}
	return NULL;
}

static int on_iq_reply(struct cl_wa_client *c, const struct cl_wa_node *n,
		       const char *id, int error)
{
	struct pending p;
	int rc;

	if (pending_take(c, id, &p) == NULL)
		return CL_OK; /* an answer to nothing we track */
	switch (p.purpose) {
	case IQ_PING:
		c->ping_failing_since = 0;
		schedule_ping(c);
		return emit_simple(c, CL_WA_EV_PING, NULL, c->now - p.sent_at,
				   0, n);
	case IQ_COUNT:
		if (error)
			return set_end(c, CL_WA_END_PROTOCOL, 0,
				       "pre-key count refused");
		return on_count(c, n);
	case IQ_UPLOAD:
		if (error)
			return set_end(c, CL_WA_END_PROTOCOL, 0,
				       "pre-key upload refused");
		c->creds->prekeys_uploaded = (uint32_t)(p.first + p.n);
		rc = emit_simple(c, CL_WA_EV_PREKEYS, NULL, 0, p.n, n);
		return rc;
	case IQ_USYNC:
		if (error)
			return CL_OK; /* the notifications still tell */
		return emit_simple(c, CL_WA_EV_DEVICES, "usync", 0, 0, n);
	case IQ_MEDIA_CONN:
		if (error)
			return CL_OK; /* no media hosts: downloads wait */
		return emit_simple(c, CL_WA_EV_MEDIA_CONN, NULL, 0, 0, n);
	case IQ_ACTIVE:
	case IQ_CODE_FINISH:
		return CL_OK;
	case IQ_CODE_HELLO:
		return on_code_hello_reply(c, n);
	}
	return CL_OK;
}

static int on_iq(struct cl_wa_client *c, const struct cl_wa_node *n)
{
	const char *id = cl_wa_node_attr_str(n, "id");
	const char *type = cl_wa_node_attr_str(n, "type");
	const char *xmlns = cl_wa_node_attr_str(n, "xmlns");

	if (id == NULL || type == NULL)
		return CL_OK;
	if (strcmp(type, "result") == 0 || strcmp(type, "error") == 0)
		return on_iq_reply(c, n, id, type[0] == 'e');
	if (strcmp(type, "set") == 0) {
		if (cl_wa_node_child(n, "pair-device"))
			return on_pair_device(c, n, id);
		if (cl_wa_node_child(n, "pair-success"))
			return on_pair_success(c, n);
	}
	if (strcmp(type, "get") == 0 && xmlns &&
	    strcmp(xmlns, "urn:xmpp:ping") == 0)
		return send_iq_result(c, id);
	return CL_OK;
}

static int on_node(struct cl_wa_client *c, const struct cl_wa_node *n)
{
	int rc;

	if ((rc = emit_simple(c, CL_WA_EV_STANZA, n->tag, 0, 0, n)))
		return rc;
	if (strcmp(n->tag, "iq") == 0)
		return on_iq(c, n);
	if (strcmp(n->tag, "success") == 0)
		return on_success(c, n);
	if (strcmp(n->tag, "failure") == 0)
		return failure_end(c, n);
	if (strcmp(n->tag, "stream:error") == 0)
		return stream_error_end(c, n);
	if (strcmp(n->tag, "xmlstreamend") == 0)
		return set_end(c, CL_WA_END_RECONNECT, 0,
			       "stream ended by the server");
	if (strcmp(n->tag, "message") == 0)
		return emit_simple(c, CL_WA_EV_MESSAGE, NULL, 0, 0, n);
	if (strcmp(n->tag, "ib") == 0) {
		const struct cl_wa_node *off = cl_wa_node_child(n, "offline");
		const struct cl_wa_node *pre = cl_wa_node_child(n, "offline_preview");
		const char *cnt = off ? cl_wa_node_attr_str(off, "count") :
			NULL;

		if (pre) {
			const char *m = cl_wa_node_attr_str(pre, "message");

			return emit_simple(c, CL_WA_EV_OFFLINE_PREVIEW, NULL, 0,
					   m ? strtoull(m, NULL, 10) : 0, n);
		}
		if (off)
			return emit_simple(c, CL_WA_EV_OFFLINE, NULL, 0,
					   cnt ? strtoull(cnt, NULL, 10) : 0,
					   n);
		return CL_OK;
	}
	if (strcmp(n->tag, "notification") == 0) {
		const char *type = cl_wa_node_attr_str(n, "type");
		const struct cl_wa_node *cnt = cl_wa_node_child(n, "count");

		/* group changes are archived before they are acknowledged */
		if (c->logged_in && type && strcmp(type, "w:gp2") == 0)
			return emit_simple(c, CL_WA_EV_GROUP, NULL, 0, 0, n);
		/* so are the phone's answers to media retry requests */
		if (c->logged_in && type && strcmp(type, "mediaretry") == 0)
			return emit_simple(c, CL_WA_EV_MEDIA_RETRY, NULL, 0, 0,
					   n);
		if ((rc = send_ack(c, n)))
			return rc;
		if (type && strcmp(type, "link_code_companion_reg") == 0)
			return on_code_notification(c, n);
		if (c->logged_in && type && strcmp(type, "devices") == 0)
			return emit_simple(c, CL_WA_EV_DEVICES, "notification",
					   0, 0, n);
		if (c->logged_in && type && strcmp(type, "encrypt") == 0 &&
		    cnt) {
			const char *v = cl_wa_node_attr_str(cnt, "value");

			if (v && strtoul(v, NULL, 10) < CL_WA_PREKEYS_MIN)
				return upload_prekeys(c, CL_WA_PREKEYS_TOPUP);
		}
		return CL_OK;
	}
	if (strcmp(n->tag, "receipt") == 0 || strcmp(n->tag, "call") == 0)
		return send_ack(c, n);
	return CL_OK;
}

/* ---- frames ---------------------------------------------------------- */

static int on_server_hello(struct cl_wa_client *c, const unsigned char *p,
			   size_t len)
{
	struct cl_buf payload, fin;
	char *err = NULL;
	int rc;

	cl_buf_init(&payload, 1u << 16);
	cl_buf_init(&fin, 1u << 16);
	rc = c->registering ?
		cl_wa_payload_register(c->creds, &c->cfg->info, &payload, &err) :
		cl_wa_payload_login(c->creds, &c->cfg->info, &payload, &err);
	if (rc) {
		rc = set_end(c, CL_WA_END_PROTOCOL, 0,
			     "cannot build the client payload: %s",
			     err ? err : cl_strerror(rc));
		goto out;
	}
	rc = cl_wa_noise_hs_finish(c->hs, p, len, c->cfg->root_pub,
				   (uint64_t)(c->now / 1000), payload.data,
				   payload.len, &fin, &c->tr, NULL, &err);
	if (rc) {
		rc = set_end(c, rc == CL_EBADSIG ? CL_WA_END_SERVER_REFUSED :
			     CL_WA_END_PROTOCOL, 0, "handshake refused: %s",
			     err ? err : cl_strerror(rc));
		goto out;
	}
	cl_wa_noise_hs_free(c->hs);
	c->hs = NULL;
	if ((rc = send_frame(c, fin.data, fin.len)))
		goto out;
	c->phase = P_OPEN;
	c->answer_due = c->now + c->cfg->handshake_timeout_ms;
	rc = emit_simple(c, CL_WA_EV_HANDSHAKE,
			 c->registering ? "register" : "login", 0, 0, NULL);
out:
	free(err);
	cl_buf_release(&payload);
	cl_buf_release(&fin);
	return rc;
}

static int on_frame(void *ctx, const unsigned char *p, size_t len)
{
	struct cl_wa_client *c = ctx;
	struct cl_buf plain, body;
	struct cl_wa_node *n = NULL;
	char *err = NULL;
	int rc;

	if (c->phase == P_HELLO_SENT)
		return on_server_hello(c, p, len);
	if (c->phase != P_OPEN)
		return CL_EIO;
	cl_buf_init(&plain, (size_t)CL_WA_FRAME_MAX);
	cl_buf_init(&body, 64u << 20);
	rc = cl_wa_noise_decrypt(c->tr, p, len, &plain, &err);
	if (rc) {
		rc = set_end(c, CL_WA_END_PROTOCOL, 0,
			     "cannot decrypt a frame: %s",
			     err ? err : cl_strerror(rc));
		goto out;
	}
	rc = cl_wa_frame_unpack(plain.data, plain.len, &body, &err);
	if (rc == CL_OK)
		rc = cl_wa_node_decode(body.data, body.len, &n, &err);
	if (rc) {
		rc = set_end(c, CL_WA_END_PROTOCOL, 0,
			     "undecodable stanza: %s",
			     err ? err : cl_strerror(rc));
		goto out;
	}
	rc = on_node(c, n);
out:
	sodium_memzero(plain.data, plain.len);
	sodium_memzero(body.data, body.len);
	cl_wa_node_free(n);
	cl_buf_release(&plain);
	cl_buf_release(&body);
	free(err);
	return rc;
}

int cl_wa_client_start(struct cl_wa_client *c, int64_t now_ms)
{
	struct cl_buf hello;
	char *err = NULL;
	int rc;

	c->now = now_ms;
	c->started_at = now_ms;
	if (c->phase != P_NEW)
		return CL_EINVAL;
	rc = cl_wa_noise_hs_new(&c->hs, c->creds->noise_priv,
				c->creds->noise_pub, NULL, &err);
	cl_buf_init(&hello, 1024);
	if (rc == CL_OK)
		rc = cl_wa_noise_hs_client_hello(c->hs, &hello, &err);
	if (rc) {
		rc = set_end(c, CL_WA_END_PROTOCOL, 0, "handshake: %s",
			     err ? err : cl_strerror(rc));
	} else {
		c->phase = P_HELLO_SENT;
		rc = send_frame(c, hello.data, hello.len);
	}
	cl_buf_release(&hello);
	free(err);
	return rc;
}

int cl_wa_client_feed(struct cl_wa_client *c, const unsigned char *p,
		      size_t len, int64_t now_ms)
{
	char *err = NULL;
	int rc;

	c->now = now_ms;
	if (c->phase == P_ENDED)
		return CL_EIO;
	if (c->phase == P_NEW)
		return set_end(c, CL_WA_END_PROTOCOL, 0,
			       "data before the handshake started");
	rc = cl_wa_frame_reader_feed(&c->fr, p, len, on_frame, c, &err);
	if (rc && c->end.kind == CL_WA_END_NONE)
		rc = set_end(c, CL_WA_END_PROTOCOL, 0, "bad frame: %s",
			     err ? err : cl_strerror(rc));
	free(err);
	return rc;
}

int cl_wa_client_tick(struct cl_wa_client *c, int64_t now_ms)
{
	size_t i;
	int rc;

	c->now = now_ms;
	if (c->phase == P_ENDED)
		return CL_EIO;
	if (c->phase != P_OPEN) {
		if (now_ms - c->started_at > (int64_t)c->cfg->handshake_timeout_ms)
			return set_end(c, CL_WA_END_RECONNECT, 0,
				       "handshake timed out after %u ms",
				       c->cfg->handshake_timeout_ms);
		return CL_OK;
	}
	if (c->answer_due && now_ms > c->answer_due)
		return set_end(c, CL_WA_END_RECONNECT, 0,
			       "the server did not answer within %u ms after the handshake",
			       c->cfg->handshake_timeout_ms);
	if (c->ref_expires && now_ms >= c->ref_expires &&
	    (rc = show_qr(c)))
		return rc;
	if (!c->logged_in)
		return CL_OK;
	/* keepalive: an unanswered ping counts as a failure */
	for (i = 0; i < MAX_PENDING; i++) {
		struct pending *p = &c->pend[i];

		if (p->purpose == IQ_PING &&
		    now_ms - p->sent_at > (int64_t)c->cfg->ping_timeout_ms) {
			if (c->ping_failing_since == 0)
				c->ping_failing_since = p->sent_at;
			memset(p, 0, sizeof(*p));
			c->next_ping_at = now_ms;
		}
	}
	if (c->ping_failing_since &&
	    now_ms - c->ping_failing_since > (int64_t)c->cfg->ping_giveup_ms)
		return set_end(c, CL_WA_END_RECONNECT, 0,
			       "keepalive unanswered for %lld s",
			       (long long)((now_ms - c->ping_failing_since) /
					   1000));
	if (now_ms >= c->next_ping_at) {
		if (!pending_has(c, IQ_PING) &&
		    (rc = send_iq(c, IQ_PING, "w:p", "get", "ping")))
			return rc;
		schedule_ping(c);
	}
	return CL_OK;
}
