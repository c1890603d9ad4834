/*
 * receive.c - a <message> stanza to a committed entry (receive.h).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "archiver/ingest/ingest.h"
#include "archiver/ingest/record.h"
#include "archiver/ledger/ledger.h"
#include "archiver/parties/parties.h"
#include "archiver/wa/creds.h"
#include "archiver/wa/history.h"
#include "archiver/wa/mediaretry.h"
#include "archiver/wa/message.h"
#include "archiver/wa/msgsecret.h"
#include "archiver/wa/receive.h"
#include "archiver/wa/signal.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define JID_MAX 200
#define COV_SOURCE "whatsapp-linked-device"
#define STMT_MAX 32

struct cl_wa_recv {
	struct cl_ledger *l;
	sqlite3 *db;
	const struct cl_wa_creds *creds;
	struct cl_wa_signal *sig;
	unsigned char *hkey;            /* keyed hash of (chat, sender, id) */
	unsigned char *skey;            /* seals wa_hist rows */
	char account[JID_MAX];          /* our bare phone JID */
	char own_user[JID_MAX], own_lid_user[JID_MAX];
	char own_lid[JID_MAX];
	int in_batch;                   /* a ledger batch is open */
	size_t n_pending;               /* stanzas in it */
	int appended;                   /* this stanza appended an entry */
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} stmt[STMT_MAX];               /* the per-stanza statements, prepared
	                                   once (stmt()), finalized by free */
	size_t n_stmt;
};

/* ---- JIDs -------------------------------------------------------------- */

struct jid {
	char user[JID_MAX];
	char server[64];
	int device;
	int ok;
};

/* "user[.agent][:device]@server" */
static void jid_parse(const char *s, struct jid *j)
{
	const char *at, *colon, *dot;
	size_t ulen;

	memset(j, 0, sizeof(*j));
	if (s == NULL || (at = strchr(s, '@')) == NULL)
		return;
	colon = memchr(s, ':', (size_t)(at - s));
	ulen = (size_t)((colon ? colon : at) - s);
	dot = memchr(s, '.', ulen);
	if (dot)
		ulen = (size_t)(dot - s);
	if (ulen == 0 || ulen >= sizeof(j->user) ||
	    strlen(at + 1) >= sizeof(j->server))
		return;
	memcpy(j->user, s, ulen);
	j->user[ulen] = 0;
	memcpy(j->server, at + 1, strlen(at + 1) + 1);
	if (colon)
		j->device = (int)strtol(colon + 1, NULL, 10);
	j->ok = 1;
}

static void jid_bare(const struct jid *j, char *out, size_t cap)
{
	(void)cl_fmt(out, cap, "%s@%s", j->user, j->server);
}

/* ---- setup ----------------------------------------------------------- */

int cl_wa_recv_new(struct cl_wa_recv **out, struct cl_ledger *l,
		   const struct cl_wa_creds *creds,
		   const unsigned char creds_key[32], char **err)
{
	static const char ctxt[] = "chatledger-wa-seen";
	static const char sctxt[] = "chatledger-wa-hist-store";
	struct cl_wa_recv *r;
	struct jid j;
	int rc;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL || (r->hkey = sodium_malloc(32)) == NULL ||
	    (r->skey = sodium_malloc(32)) == NULL) {
		if (r)
			sodium_free(r->hkey);
		free(r);
		return CL_ENOMEM;
	}
	crypto_generichash(r->skey, 32, (const unsigned char *)sctxt,
			   sizeof(sctxt) - 1, creds_key, 32);
	r->l = l;
	r->db = cl_ledger_sqlite(l);
	r->creds = creds;
	crypto_generichash(r->hkey, 32, (const unsigned char *)ctxt,
			   sizeof(ctxt) - 1, creds_key, 32);
	jid_parse(creds->jid, &j);
	memcpy(r->own_user, j.user, sizeof(j.user));
	(void)cl_fmt(r->account, sizeof(r->account), "%s@%s", j.user,
		     j.ok ? j.server : "s.whatsapp.net");
	jid_parse(creds->lid, &j);
	if (j.ok) {
		memcpy(r->own_lid_user, j.user, sizeof(j.user));
		jid_bare(&j, r->own_lid, sizeof(r->own_lid));
	}
	if (sqlite3_exec(r->db,
			 "CREATE TABLE IF NOT EXISTS wa_msg(h BLOB PRIMARY KEY, idx INTEGER NOT NULL) WITHOUT ROWID;"
			 "CREATE TABLE IF NOT EXISTS wa_retry(h BLOB PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;"
			 "CREATE TABLE IF NOT EXISTS wa_hist(h BLOB PRIMARY KEY, note BLOB NOT NULL, tries INTEGER NOT NULL, next_at INTEGER NOT NULL) WITHOUT ROWID;"
			 "CREATE TABLE IF NOT EXISTS wa_media(h BLOB PRIMARY KEY, job BLOB NOT NULL, tries INTEGER NOT NULL, next_at INTEGER NOT NULL) WITHOUT ROWID;"
			 "CREATE TABLE IF NOT EXISTS wa_media_rmr(mid BLOB PRIMARY KEY, h BLOB NOT NULL, asked_at INTEGER NOT NULL) WITHOUT ROWID;"
			 "CREATE TABLE IF NOT EXISTS wa_secret(h BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;",
			 NULL, NULL, NULL) != SQLITE_OK) {
		rc = cl_error(err, CL_EIO, "cannot create the collector's tables: %s",
			      sqlite3_errmsg(r->db));
		cl_wa_recv_free(r);
		return rc;
	}
	rc = cl_wa_signal_new(&r->sig, r->db, creds, creds_key, err);
	if (rc) {
		cl_wa_recv_free(r);
		return rc;
	}
	*out = r;
	return CL_OK;
}

void cl_wa_recv_free(struct cl_wa_recv *r)
{
	size_t i;

	if (r == NULL)
		return;
	cl_wa_recv_rollback(r);
	for (i = 0; i < r->n_stmt; i++)
		sqlite3_finalize(r->stmt[i].st);
	cl_wa_signal_free(r->sig);
	sodium_free(r->hkey);
	sodium_free(r->skey);
	free(r);
}

/* ---- side tables ----------------------------------------------------- */

static void seen_hash(const struct cl_wa_recv *r, const char *chat,
		      const char *sender, const char *id, unsigned char h[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, r->hkey, 32, 32);
	crypto_generichash_update(&st, (const unsigned char *)chat,
				  strlen(chat) + 1);
	crypto_generichash_update(&st, (const unsigned char *)sender,
				  strlen(sender) + 1);
	crypto_generichash_update(&st, (const unsigned char *)id, strlen(id));
	crypto_generichash_final(&st, h, 32);
}

/* The statement for sql (the same text each call, e.g. a literal):
 * prepared on its first use and kept in r (up to STMT_MAX of them), so a
 * stanza does not parse its SQL again.  Hand it back with stmt_done().
 * NULL if it cannot be prepared. */
static sqlite3_stmt *stmt(struct cl_wa_recv *r, const char *sql)
{
	sqlite3_stmt *st = NULL;
	size_t i;

	for (i = 0; i < r->n_stmt; i++)
		if (strcmp(r->stmt[i].sql, sql) == 0)
			return r->stmt[i].st;
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return NULL;
	}
	if (r->n_stmt < STMT_MAX) {
		r->stmt[r->n_stmt].sql = sql;
		r->stmt[r->n_stmt++].st = st;
	}
	return st;
}

/* After stmt(): reset a kept statement (its bindings cleared), finalize
 * one that did not fit. */
static void stmt_done(struct cl_wa_recv *r, sqlite3_stmt *st)
{
	size_t i;

	for (i = 0; i < r->n_stmt; i++)
		if (r->stmt[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return;
		}
	sqlite3_finalize(st);
}

/* The integer column of table's row h, or -1 when absent (-2: error). */
static long long row_int(struct cl_wa_recv *r, const char *sql,
			 const unsigned char h[32])
{
	sqlite3_stmt *st = stmt(r, sql);
	long long v = -2;
	int rc;

	if (st == NULL)
		return -2;
	sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		v = -1;
	stmt_done(r, st);
	return v;
}

static int row_set(struct cl_wa_recv *r, const char *sql,
		   const unsigned char h[32], long long v)
{
	sqlite3_stmt *st = stmt(r, sql);
	int rc;

	if (st == NULL)
		return CL_EIO;
	sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	rc = sqlite3_step(st);
	stmt_done(r, st);
	return rc == SQLITE_DONE ? CL_OK : CL_EIO;
}

/* ---- entries ------------------------------------------------------------- */

static int cov_append(struct cl_wa_recv *r, const char *kind, json_t *body,
		      char **err)
{
	struct cl_entry_in in;
	enum cl_append_outcome dup;
	uint64_t idx;
	char *txt;
	int rc;

	json_object_set_new(body, "source", json_string(COV_SOURCE));
	txt = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(body);
	if (txt == NULL)
		return CL_ENOMEM;
	memset(&in, 0, sizeof(in));
	in.type = CL_ENTRY_COVERAGE;
	in.kind = kind;
	in.sent_at = CL_TIME_NONE;
	in.received_at = cl_time_now_ms();
	in.body = txt;
	in.body_len = strlen(txt);
	r->appended = 1;
	rc = cl_ledger_append(r->l, &in, &idx, &dup, err);
	free(txt);
	return rc;
}

/* Validate and append the record; link its identifiers as one party. */
struct rec_keys {
	struct cl_buf key, conv;   /* the record's key and conversation material */
};

static int record_append(struct cl_wa_recv *r, json_t *rec, uint64_t *idx,
			 char *kind, enum cl_append_outcome *dupout,
			 struct rec_keys *keys, char **err)
{
	struct cl_record cr;
	struct cl_entry_in in;
	enum cl_append_outcome dup = CL_APPEND_NEW;
	char *why = NULL;
	int rc;

	rc = cl_record_from_json(rec, NULL, &cr, &why);
	if (rc) {
		rc = cl_error(err, rc, "message record rejected: %s",
			      why ? why : cl_strerror(rc));
		free(why);
		cl_record_release(&cr);
		return rc;
	}
	(void)cl_fmt(kind, 33, "%s", cr.kind);
	if (keys && ((rc = cl_buf_add(&keys->key, cr.key, cr.key_len)) ||
		     (rc = cl_buf_add(&keys->conv, cr.conv, cr.conv_len)))) {
		cl_record_release(&cr);
		return rc;
	}
	cl_ingest_entry_from_record(&in, &cr);
	r->appended = 1;
	rc = cl_ledger_append(r->l, &in, idx, &dup, err);
	if (rc == CL_OK && cr.idents && cr.n_idents >= 2) {
		const char *first = cr.idents, *p = first + strlen(first) + 1;
		size_t i;
		int added;

		for (i = 1; i < cr.n_idents && rc == CL_OK;
		     i++, p += strlen(p) + 1)
			rc = cl_party_link_in_batch(r->l, first, p,
						    "source:whatsapp-md",
						    &added, err);
	}
	if (cr.canonical)
		sodium_memzero(cr.canonical, cr.canonical_len);
	cl_record_release(&cr);
	if (dupout)
		*dupout = dup;
	return rc;
}

/* ---- replies ---------------------------------------------------------- */

static int add(struct cl_wa_node *n, const char *k, const char *v)
{
	return v ? cl_wa_node_add_attr_s(n, k, v) : CL_OK;
}

static int receipt(const struct cl_wa_node *msg, const char *type,
		   int with_recipient, struct cl_wa_node **out)
{
	struct cl_wa_node *n = NULL;
	int rc;

	*out = NULL;
	if ((rc = cl_wa_node_new_s(&n, "receipt")) ||
	    (rc = add(n, "id", cl_wa_node_attr_str(msg, "id"))) ||
	    (rc = add(n, "to", cl_wa_node_attr_str(msg, "from"))) ||
	    (rc = add(n, "participant",
		      cl_wa_node_attr_str(msg, "participant"))) ||
	    (with_recipient &&
	     (rc = add(n, "recipient", cl_wa_node_attr_str(msg, "recipient")))) ||
	    (rc = add(n, "type", type))) {
		cl_wa_node_free(n);
		return rc;
	}
	*out = n;
	return CL_OK;
}

static int retry_receipt(const struct cl_wa_recv *r,
			 const struct cl_wa_node *msg, int count,
			 struct cl_wa_node **out)
{
	struct cl_wa_node *n = NULL, *ry = NULL, *reg = NULL;
	unsigned char be[4];
	char cnt[16];
	int rc;

	(void)cl_fmt(cnt, sizeof(cnt), "%d", count);
	be[0] = (unsigned char)(r->creds->reg_id >> 24);
	be[1] = (unsigned char)(r->creds->reg_id >> 16);
	be[2] = (unsigned char)(r->creds->reg_id >> 8);
	be[3] = (unsigned char)r->creds->reg_id;
	if ((rc = receipt(msg, "retry", 0, &n)) ||
	    (rc = cl_wa_node_new_s(&ry, "retry")) ||
	    (rc = add(ry, "count", cnt)) ||
	    (rc = add(ry, "id", cl_wa_node_attr_str(msg, "id"))) ||
	    (rc = add(ry, "t", cl_wa_node_attr_str(msg, "t"))) ||
	    (rc = add(ry, "v", "1")) ||
	    (rc = cl_wa_node_add_child(n, ry)))
		goto fail;
	ry = NULL;
	if ((rc = cl_wa_node_new_s(&reg, "registration")) ||
	    (rc = cl_wa_node_set_bytes(reg, be, sizeof(be))) ||
	    (rc = cl_wa_node_add_child(n, reg)))
		goto fail;
	*out = n;
	return CL_OK;
fail:
	cl_wa_node_free(reg);
	cl_wa_node_free(ry);
	cl_wa_node_free(n);
	return rc;
}

/* ---- the stanza ----------------------------------------------------------- */

struct stanza {
	const char *id, *from, *participant, *recipient, *t, *category;
	char chat[JID_MAX];
	char sender[JID_MAX];        /* bare JID of the sender's address */
	char pn[JID_MAX], lid[JID_MAX];
	char device[JID_MAX];        /* "user:device" */
	struct jid sj;               /* the sender's JID */
	int is_group, from_me;
};

static int attr_is(const struct cl_wa_node *n, const char *k, const char *v)
{
	const char *a = cl_wa_node_attr_str(n, k);

	return a && strcmp(a, v) == 0;
}

static int read_stanza(const struct cl_wa_recv *r, const struct cl_wa_node *m,
		       struct stanza *s, char **err)
{
	const char *sfull, *alt_pn, *alt_lid;
	struct jid fj, alt;

	memset(s, 0, sizeof(*s));
	s->id = cl_wa_node_attr_str(m, "id");
	s->from = cl_wa_node_attr_str(m, "from");
	s->participant = cl_wa_node_attr_str(m, "participant");
	s->recipient = cl_wa_node_attr_str(m, "recipient");
	s->t = cl_wa_node_attr_str(m, "t");
	s->category = cl_wa_node_attr_str(m, "category");
	jid_parse(s->from, &fj);
	if (s->id == NULL || *s->id == 0 || !fj.ok)
		return cl_error(err, CL_EINVAL,
				"message stanza without a usable id or from");
	s->is_group = strcmp(fj.server, "g.us") == 0 ||
		strcmp(fj.server, "broadcast") == 0;
	if (s->is_group) {
		jid_bare(&fj, s->chat, sizeof(s->chat));
		sfull = s->participant;
		alt_pn = cl_wa_node_attr_str(m, "participant_pn");
		alt_lid = cl_wa_node_attr_str(m, "participant_lid");
	} else {
		sfull = s->from;
		alt_pn = cl_wa_node_attr_str(m, "sender_pn");
		alt_lid = cl_wa_node_attr_str(m, "sender_lid");
	}
	jid_parse(sfull, &s->sj);
	if (!s->sj.ok)
		return cl_error(err, CL_EINVAL,
				"message stanza without a usable sender");
	jid_bare(&s->sj, s->sender, sizeof(s->sender));
	(void)cl_fmt(s->device, sizeof(s->device), "%s:%d", s->sj.user,
		     s->sj.device);
	if (strcmp(s->sj.server, "lid") == 0) {
		memcpy(s->lid, s->sender, sizeof(s->sender));
		jid_parse(alt_pn, &alt);
		if (alt.ok)
			jid_bare(&alt, s->pn, sizeof(s->pn));
		s->from_me = r->own_lid_user[0] &&
			strcmp(s->sj.user, r->own_lid_user) == 0;
	} else {
		memcpy(s->pn, s->sender, sizeof(s->sender));
		jid_parse(alt_lid, &alt);
		if (alt.ok)
			jid_bare(&alt, s->lid, sizeof(s->lid));
		s->from_me = strcmp(s->sj.user, r->own_user) == 0;
	}
	if (s->from_me) {
		if (!s->pn[0])
			memcpy(s->pn, r->account, sizeof(r->account));
		if (!s->lid[0] && r->own_lid[0])
			memcpy(s->lid, r->own_lid, sizeof(r->own_lid));
	}
	if (!s->is_group) {
		struct jid cj;

		jid_parse(s->from_me && s->recipient ? s->recipient : s->from,
			  &cj);
		jid_bare(&cj, s->chat, sizeof(s->chat));
	}
	return CL_OK;
}

static json_t *wa_meta(const struct cl_wa_node *m, const char *enc_type)
{
	json_t *o = json_object(), *a = json_object();
	size_t i;

	for (i = 0; i < m->nattrs; i++)
		json_object_set_new(a, m->attrs[i].key,
				    json_stringn(m->attrs[i].value,
						 m->attrs[i].value_len));
	json_object_set_new(o, "stanza", a);
	if (enc_type)
		json_object_set_new(o, "enc", json_string(enc_type));
	return o;
}

/* Decrypt one <enc>; plaintext (unpadded) into *pt. */
static enum cl_wa_sig_err decrypt_enc(struct cl_wa_recv *r,
				      const struct stanza *s,
				      const struct cl_wa_node *enc,
				      struct cl_buf *pt)
{
	const char *type = cl_wa_node_attr_str(enc, "type");
	enum cl_wa_sig_err e;

	if (type == NULL || (enc->kind != CL_WA_BYTES &&
			     enc->kind != CL_WA_TEXT))
		return CL_WA_SIG_BAD_MESSAGE;
	if (strcmp(type, "pkmsg") == 0 || strcmp(type, "msg") == 0)
		e = cl_wa_signal_decrypt(r->sig, s->sender, s->sj.device,
					 type[0] == 'p', enc->data, enc->len,
					 pt);
	else if (strcmp(type, "skmsg") == 0)
		e = cl_wa_signal_group_decrypt(r->sig, s->chat, s->sender,
					       s->sj.device, enc->data,
					       enc->len, pt);
	else
		return CL_WA_SIG_BAD_MESSAGE;
	if (e)
		return e;
	if (!attr_is(enc, "v", "3")) {
		size_t n = cl_wa_unpad(pt->data, pt->len);

		if (n == (size_t)-1)
			return CL_WA_SIG_BAD_MESSAGE;
		sodium_memzero(pt->data + n, pt->len - n);
		pt->len = n;
	}
	return CL_WA_SIG_OK;
}

/* ---- history sync jobs -------------------------------------------------- */

#define HIST_AD "chatledger-wa-hist-v1"

static void hist_ad(const unsigned char h[32], unsigned char ad[sizeof(HIST_AD) - 1 + 32])
{
	memcpy(ad, HIST_AD, sizeof(HIST_AD) - 1);
	memcpy(ad + sizeof(HIST_AD) - 1, h, 32);
}

/* Queue the history sync notification `mp` carries, if any (sealed:
 * lp(stanza id) || notification protobuf). */
static int hist_queue(struct cl_wa_recv *r, const struct cl_wa_msg_parsed *mp,
		      const char *id, int64_t now_ms, struct cl_wa_recv_out *out)
{
	unsigned char h[32], ad[sizeof(HIST_AD) - 1 + 32];
	struct cl_buf note, pt, ct;
	unsigned long long clen = 0;
	sqlite3_stmt *st = NULL;
	int rc = CL_OK, has;

	cl_buf_init(&note, 16u << 20);
	cl_buf_init(&pt, 16u << 20);
	cl_buf_init(&ct, 17u << 20);
	has = cl_wa_msg_history_notification(mp, &note);
	if (has <= 0) {
		rc = has < 0 ? CL_ENOMEM : CL_OK;
		goto out;
	}
	crypto_generichash(h, 32, (const unsigned char *)id, strlen(id),
			   r->hkey, 32);
	hist_ad(h, ad);
	if ((rc = cl_buf_add_be32(&pt, (uint32_t)strlen(id))) ||
	    (rc = cl_buf_addstr(&pt, id)) ||
	    (rc = cl_buf_add(&pt, note.data, note.len)) ||
	    (rc = cl_buf_reserve(&ct, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
				 pt.len + crypto_aead_xchacha20poly1305_ietf_ABYTES)))
		goto out;
	randombytes_buf(ct.data, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		ct.data + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &clen,
		pt.data, pt.len, ad, sizeof(ad), NULL, ct.data, r->skey);
	ct.len = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + (size_t)clen;
	if (sqlite3_prepare_v2(r->db, "INSERT OR IGNORE INTO wa_hist(h, note, tries, next_at) VALUES (?1, ?2, 0, ?3)",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = CL_EIO;
		goto out;
	}
	sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, ct.data, (int)ct.len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_ms);
	rc = sqlite3_step(st) == SQLITE_DONE ? CL_OK : CL_EIO;
	sqlite3_finalize(st);
	out->history_queued = rc == CL_OK;
out:
	if (note.data)
		sodium_memzero(note.data, note.alloc);
	if (pt.data)
		sodium_memzero(pt.data, pt.alloc);
	cl_buf_release(&note);
	cl_buf_release(&pt);
	cl_buf_release(&ct);
	return rc;
}

/* ---- media jobs ---------------------------------------------------------- */

#define MEDIA_AD "chatledger-wa-media-v1"

static int media_next_at(struct cl_wa_recv *r, const unsigned char h[32],
			 int tries, int64_t next_at)
{
	sqlite3_stmt *st = stmt(r, "UPDATE wa_media SET tries = ?2, next_at = ?3 WHERE h = ?1");
	int rc;

	if (st == NULL)
		return CL_EIO;
	sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, tries);
	sqlite3_bind_int64(st, 3, next_at);
	rc = sqlite3_step(st) == SQLITE_DONE ? CL_OK : CL_EIO;
	stmt_done(r, st);
	return rc;
}

/* A failed attempt's delay: 1 min, 4, 16, ... */
static int64_t media_delay(int tries)
{
	return (int64_t)60000 << (2 * (tries - 1));
}

static int lp_add(struct cl_buf *b, const void *p, size_t n)
{
	int rc = cl_buf_add_be32(b, (uint32_t)n);

	return rc ? rc : cl_buf_add(b, p, n);
}

/* nonce || XChaCha20-Poly1305(skey, AD = adp || h, pt) into *ct. */
static int seal_row(const struct cl_wa_recv *r, const char *adp,
		    const unsigned char h[32], const struct cl_buf *pt,
		    struct cl_buf *ct)
{
	unsigned char ad[64];
	unsigned long long clen = 0;
	size_t alen = strlen(adp);
	int rc;

	memcpy(ad, adp, alen);
	memcpy(ad + alen, h, 32);
	if ((rc = cl_buf_reserve(ct, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
				 pt->len + crypto_aead_xchacha20poly1305_ietf_ABYTES)))
		return rc;
	randombytes_buf(ct->data, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		ct->data + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &clen,
		pt->data, pt->len, ad, alen + 32, NULL, ct->data, r->skey);
	ct->len = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + (size_t)clen;
	return CL_OK;
}

static int open_row(const struct cl_wa_recv *r, const char *adp,
		    const unsigned char h[32], const unsigned char *ct,
		    size_t clen, struct cl_buf *pt)
{
	unsigned char ad[64];
	unsigned long long plen = 0;
	size_t alen = strlen(adp);

	memcpy(ad, adp, alen);
	memcpy(ad + alen, h, 32);
	pt->len = 0;
	if (ct == NULL || clen < crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
	    crypto_aead_xchacha20poly1305_ietf_ABYTES ||
	    cl_buf_reserve(pt, clen) != CL_OK ||
	    crypto_aead_xchacha20poly1305_ietf_decrypt(
		    pt->data, &plen, NULL,
		    ct + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
		    clen - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, ad,
		    alen + 32, ct, r->skey) != 0)
		return CL_ECORRUPT;
	pt->len = (size_t)plen;
	return CL_OK;
}

/* A media job sealed into `ct`: type, direct path, the record's key and
 * conversation material, media key, hashes, sent_at, idx; then what a
 * media retry request needs: message id, chat, group sender, from_me. */
static int media_job_seal(const struct cl_wa_recv *r, const unsigned char h[32],
			  const struct cl_wa_media_job *j, struct cl_buf *ct)
{
	struct cl_buf pt;
	int rc;

	cl_buf_init(&pt, 1u << 20);
	if ((rc = lp_add(&pt, j->type, strlen(j->type) + 1)) ||
	    (rc = lp_add(&pt, j->direct_path, strlen(j->direct_path) + 1)) ||
	    (rc = lp_add(&pt, j->keymat, j->keymat_len)) ||
	    (rc = lp_add(&pt, j->convmat, j->convmat_len)) ||
	    (rc = cl_buf_add(&pt, j->media_key, 32)) ||
	    (rc = cl_buf_add(&pt, j->enc_sha256, 32)) ||
	    (rc = cl_buf_add(&pt, j->sha256, 32)) ||
	    (rc = cl_buf_add_be64(&pt, (uint64_t)j->sent_ms)) ||
	    (rc = cl_buf_add_be64(&pt, j->idx)))
		goto out;
	if (j->msg_id &&
	    ((rc = lp_add(&pt, j->msg_id, strlen(j->msg_id) + 1)) ||
	     (rc = lp_add(&pt, j->chat, strlen(j->chat) + 1)) ||
	     (rc = lp_add(&pt, j->participant, strlen(j->participant) + 1)) ||
	     (rc = cl_buf_add(&pt, j->from_me ? "\1" : "\0", 1))))
		goto out;
	rc = seal_row(r, MEDIA_AD, h, &pt, ct);
out:
	if (pt.data)
		sodium_memzero(pt.data, pt.alloc);
	cl_buf_release(&pt);
	return rc;
}

/* Queue the download of the media `mp` carries, if any, for the record
 * at `idx` of the message `s` (media_job_seal()). */
static int media_queue(struct cl_wa_recv *r, const struct cl_wa_msg_parsed *mp,
		       const struct stanza *s, const struct rec_keys *keys,
		       uint64_t idx, int64_t sent_ms, int64_t now_ms,
		       struct cl_wa_recv_out *out)
{
	struct cl_wa_media_ref ref;
	struct cl_wa_media_job j;
	unsigned char h[32];
	crypto_generichash_state st;
	struct cl_buf ct;
	sqlite3_stmt *q = NULL;
	int rc;

	if (!cl_wa_msg_media(mp, &ref))
		return CL_OK;
	crypto_generichash_init(&st, r->hkey, 32, 32);
	crypto_generichash_update(&st, (const unsigned char *)"media", 6);
	crypto_generichash_update(&st, keys->key.data, keys->key.len);
	crypto_generichash_final(&st, h, 32);
	memset(&j, 0, sizeof(j));
	j.type = ref.type;
	j.direct_path = ref.direct_path;
	j.keymat = keys->key.data;
	j.keymat_len = keys->key.len;
	j.convmat = keys->conv.data;
	j.convmat_len = keys->conv.len;
	j.media_key = ref.media_key;
	j.enc_sha256 = ref.enc_sha256;
	j.sha256 = ref.sha256;
	j.sent_ms = sent_ms;
	j.idx = idx;
	j.msg_id = s->id;
	j.chat = s->chat;
	j.participant = s->is_group ? s->sender : "";
	j.from_me = s->from_me;
	cl_buf_init(&ct, 2u << 20);
	if ((rc = media_job_seal(r, h, &j, &ct)))
		goto out;
	if (sqlite3_prepare_v2(r->db, "INSERT OR IGNORE INTO wa_media(h, job, tries, next_at) VALUES (?1, ?2, 0, ?3)",
			       -1, &q, NULL) != SQLITE_OK) {
		rc = CL_EIO;
		goto out;
	}
	sqlite3_bind_blob(q, 1, h, 32, SQLITE_STATIC);
	sqlite3_bind_blob(q, 2, ct.data, (int)ct.len, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, now_ms);
	rc = sqlite3_step(q) == SQLITE_DONE ? CL_OK : CL_EIO;
	sqlite3_finalize(q);
	out->media_queued = rc == CL_OK;
out:
	cl_buf_release(&ct);
	return rc;
}

void cl_wa_media_job_init(struct cl_wa_media_job *j)
{
	memset(j, 0, sizeof(*j));
	cl_buf_init(&j->pt, 2u << 20);
}

void cl_wa_media_job_release(struct cl_wa_media_job *j)
{
	if (j->pt.data)
		sodium_memzero(j->pt.data, j->pt.alloc);
	cl_buf_release(&j->pt);
	cl_wa_media_job_init(j);
}

/* The next length-prefixed field of the job at *off. */
static const unsigned char *lp_take(const struct cl_buf *b, size_t *off,
				    size_t *len)
{
	size_t n;

	if (b->len - *off < 4)
		return NULL;
	n = cl_load_be32(b->data + *off);
	if (n > b->len - *off - 4)
		return NULL;
	*len = n;
	*off += 4 + n;
	return b->data + *off - n;
}

/* The next length-prefixed C string (NUL included in the length). */
static const char *lp_str(const struct cl_buf *b, size_t *off)
{
	const unsigned char *p;
	size_t n;

	if ((p = lp_take(b, off, &n)) == NULL || n == 0 || p[n - 1] ||
	    memchr(p, 0, n - 1))
		return NULL;
	return (const char *)p;
}

/* The fields of an opened job: 1, or 0 when malformed. */
static int media_job_parse(struct cl_wa_media_job *j)
{
	size_t off = 0;

	if ((j->type = lp_str(&j->pt, &off)) == NULL ||
	    (j->direct_path = lp_str(&j->pt, &off)) == NULL)
		return 0;
	if ((j->keymat = lp_take(&j->pt, &off, &j->keymat_len)) == NULL ||
	    (j->convmat = lp_take(&j->pt, &off, &j->convmat_len)) == NULL ||
	    j->pt.len - off < 3 * 32 + 16)
		return 0;
	j->media_key = j->pt.data + off;
	j->enc_sha256 = j->pt.data + off + 32;
	j->sha256 = j->pt.data + off + 64;
	j->sent_ms = (int64_t)cl_load_be64(j->pt.data + off + 96);
	j->idx = cl_load_be64(j->pt.data + off + 104);
	off += 3 * 32 + 16;
	j->msg_id = j->chat = j->participant = NULL;
	j->from_me = 0;
	if (off == j->pt.len)   /* queued before media retry requests */
		return 1;
	if ((j->msg_id = lp_str(&j->pt, &off)) == NULL ||
	    (j->chat = lp_str(&j->pt, &off)) == NULL ||
	    (j->participant = lp_str(&j->pt, &off)) == NULL ||
	    j->pt.len - off != 1 || j->pt.data[off] > 1)
		return 0;
	j->from_me = j->pt.data[off];
	return 1;
}

int cl_wa_recv_media_next(struct cl_wa_recv *r, int64_t now_ms,
			  struct cl_wa_media_job *j, int64_t *next_at,
			  char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_ENOTFOUND, s;

	if (next_at)
		*next_at = 0;
	if (sqlite3_prepare_v2(r->db, "SELECT h, job, tries, next_at FROM wa_media ORDER BY next_at LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return cl_error(err, CL_EIO, "cannot read wa_media: %s",
				sqlite3_errmsg(r->db));
	s = sqlite3_step(st);
	if (s == SQLITE_DONE)
		goto out;
	if (s != SQLITE_ROW || sqlite3_column_bytes(st, 0) != 32) {
		rc = cl_error(err, CL_EIO, "cannot read wa_media");
		goto out;
	}
	if (sqlite3_column_int64(st, 3) > now_ms) {
		if (next_at)
			*next_at = sqlite3_column_int64(st, 3);
		goto out;
	}
	memcpy(j->h, sqlite3_column_blob(st, 0), 32);
	j->tries = sqlite3_column_int(st, 2);
	if (open_row(r, MEDIA_AD, j->h, sqlite3_column_blob(st, 1),
		     (size_t)sqlite3_column_bytes(st, 1), &j->pt)) {
		rc = cl_error(err, CL_ECORRUPT,
			      "a queued media download does not open with this credentials key");
		goto out;
	}
	rc = media_job_parse(j) ? CL_OK :
		cl_error(err, CL_ECORRUPT, "a queued media download is malformed");
out:
	sqlite3_finalize(st);
	return rc;
}

int cl_wa_recv_media_done(struct cl_wa_recv *r, const struct cl_wa_media_job *j,
			  const unsigned char *p, size_t len, int64_t now_ms,
			  char **err)
{
	struct cl_entry_in in;
	enum cl_append_outcome dup;
	struct cl_buf key;
	unsigned char d[32];
	char hex[65], body[64];
	uint64_t idx;
	int rc;

	if (r->in_batch)
		return cl_error(err, CL_EIO, "media inside a message batch");
	crypto_hash_sha256(d, p, len);
	sodium_bin2hex(hex, sizeof(hex), d, sizeof(d));
	cl_buf_init(&key, 64u << 10);
	if ((rc = cl_buf_add(&key, j->keymat, j->keymat_len)) ||
	    (rc = cl_buf_addf(&key, "/attachment/%s", hex))) {
		cl_buf_release(&key);
		return rc;
	}
	(void)cl_fmt(body, sizeof(body), "{\"attachment_of\":%llu}",
		     (unsigned long long)j->idx);
	memset(&in, 0, sizeof(in));
	in.type = CL_ENTRY_RECORD;
	in.kind = "attachment";
	in.sent_at = j->sent_ms;
	in.received_at = now_ms;
	in.key = key.data;
	in.key_len = key.len;
	in.conv = j->convmat;
	in.conv_len = j->convmat_len;
	in.plaintext = p;
	in.plaintext_len = len;
	in.body = body;
	in.body_len = strlen(body);
	if ((rc = cl_ledger_begin(r->l, err)) == CL_OK) {
		rc = cl_ledger_append(r->l, &in, &idx, &dup, err);
		if (rc == CL_OK)
			rc = row_set(r, "DELETE FROM wa_media WHERE h = ?1 AND ?2 >= 0",
				     j->h, 0);
		if (rc == CL_OK)
			rc = row_set(r, "DELETE FROM wa_media_rmr WHERE h = ?1 AND ?2 >= 0",
				     j->h, 0);
		if (rc == CL_OK)
			rc = cl_ledger_commit(r->l, err);
		else
			cl_ledger_rollback(r->l);
	}
	cl_buf_release(&key);
	return rc;
}

static json_t *ms_json(int64_t ms);

int cl_wa_recv_media_failed(struct cl_wa_recv *r, const struct cl_wa_media_job *j,
			    const char *error, int final, int64_t now_ms,
			    int *abandoned, char **err)
{
	int tries = j->tries + 1, rc;

	*abandoned = final || tries >= CL_WA_MEDIA_TRIES;
	if (r->in_batch)
		return cl_error(err, CL_EIO, "media inside a message batch");
	if ((rc = cl_ledger_begin(r->l, err)))
		return rc;
	if (*abandoned) {
		rc = cov_append(r, "wa-media-abandoned", json_pack(
			"{s:I, s:s, s:s, s:i, s:b}", "record",
			(json_int_t)j->idx, "type", j->type, "error", error,
			"attempts", tries, "alert", 1), err);
		if (rc == CL_OK)
			rc = row_set(r, "DELETE FROM wa_media WHERE h = ?1 AND ?2 >= 0",
				     j->h, 0);
		if (rc == CL_OK)
			rc = row_set(r, "DELETE FROM wa_media_rmr WHERE h = ?1 AND ?2 >= 0",
				     j->h, 0);
	} else {
		int64_t delay = media_delay(tries);

		rc = cov_append(r, "wa-media-failed", json_pack(
			"{s:I, s:s, s:s, s:i, s:o}", "record", (json_int_t)j->idx,
			"type", j->type, "error", error, "attempt", tries,
			"next_attempt", ms_json(now_ms + delay)), err);
		if (rc == CL_OK)
			rc = media_next_at(r, j->h, tries, now_ms + delay);
	}
	if (rc == CL_OK)
		rc = cl_ledger_commit(r->l, err);
	else
		cl_ledger_rollback(r->l);
	return rc;
}

void cl_wa_hist_job_init(struct cl_wa_hist_job *j)
{
	memset(j, 0, sizeof(*j));
	cl_buf_init(&j->note, 16u << 20);
}

void cl_wa_hist_job_release(struct cl_wa_hist_job *j)
{
	if (j->note.data)
		sodium_memzero(j->note.data, j->note.alloc);
	cl_buf_release(&j->note);
	memset(j, 0, sizeof(*j));
	cl_buf_init(&j->note, 16u << 20);
}

int cl_wa_recv_hist_next(struct cl_wa_recv *r, int64_t now_ms,
			 struct cl_wa_hist_job *j, int64_t *next_at,
			 char **err)
{
	unsigned char ad[sizeof(HIST_AD) - 1 + 32];
	sqlite3_stmt *st = NULL;
	const unsigned char *ct;
	unsigned long long plen = 0;
	size_t clen, idlen;
	int rc = CL_ENOTFOUND, s;

	if (next_at)
		*next_at = 0;
	if (sqlite3_prepare_v2(r->db, "SELECT h, note, tries, next_at FROM wa_hist ORDER BY next_at LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return cl_error(err, CL_EIO, "cannot read wa_hist: %s",
				sqlite3_errmsg(r->db));
	s = sqlite3_step(st);
	if (s == SQLITE_DONE)
		goto out;
	if (s != SQLITE_ROW || sqlite3_column_bytes(st, 0) != 32) {
		rc = cl_error(err, CL_EIO, "cannot read wa_hist");
		goto out;
	}
	if (sqlite3_column_int64(st, 3) > now_ms) {
		if (next_at)
			*next_at = sqlite3_column_int64(st, 3);
		goto out;
	}
	memcpy(j->h, sqlite3_column_blob(st, 0), 32);
	j->tries = sqlite3_column_int(st, 2);
	ct = sqlite3_column_blob(st, 1);
	clen = (size_t)sqlite3_column_bytes(st, 1);
	hist_ad(j->h, ad);
	j->note.len = 0;
	if (ct == NULL || clen < crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
	    crypto_aead_xchacha20poly1305_ietf_ABYTES + 4 ||
	    cl_buf_reserve(&j->note, clen) != CL_OK ||
	    crypto_aead_xchacha20poly1305_ietf_decrypt(
		    j->note.data, &plen, NULL,
		    ct + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
		    clen - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, ad,
		    sizeof(ad), ct, r->skey) != 0 || plen < 4) {
		rc = cl_error(err, CL_ECORRUPT,
			      "a queued history sync notification does not open with this credentials key");
		goto out;
	}
	idlen = cl_load_be32(j->note.data);
	if (idlen >= sizeof(j->stanza_id) || idlen + 4 > plen) {
		rc = cl_error(err, CL_ECORRUPT, "a queued history sync notification is malformed");
		goto out;
	}
	memcpy(j->stanza_id, j->note.data + 4, idlen);
	j->stanza_id[idlen] = 0;
	memmove(j->note.data, j->note.data + 4 + idlen, (size_t)plen - 4 - idlen);
	j->note.len = (size_t)plen - 4 - idlen;
	rc = CL_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

struct hist_walk {
	struct cl_wa_recv *r;
	size_t n_new, n_dup;
	const char *stanza_id;
	char **err;
};

static int hist_on_record(void *ctx, json_t *rec, uint64_t *index)
{
	struct hist_walk *w = ctx;
	enum cl_append_outcome dup = CL_APPEND_NEW;
	char kind[33];
	int rc = record_append(w->r, rec, index, kind, &dup, NULL, w->err);

	if (rc == CL_EINVAL) {   /* refused by the record rules: skipped */
		free(*w->err);
		*w->err = NULL;
		return CL_OK;
	}
	if (rc == CL_OK && dup == CL_APPEND_NEW)
		w->n_new++;
	else if (rc == CL_OK)
		w->n_dup++;
	return rc;
}

static json_t *ms_json(int64_t ms)
{
	char b[32];

	if (ms <= 0)
		return json_null();
	cl_time_format(ms, b);
	return json_string(b);
}

static int hist_on_chat(void *ctx, const struct cl_wa_hist_chat *ch)
{
	static const char *const ends[] = { "complete-more-on-phone",
					    "complete-nothing-more",
					    "on-demand-more-on-phone" };
	struct hist_walk *w = ctx;
	json_t *b = json_pack("{s:s, s:I, s:I, s:o, s:o, s:b}",
			      "notification", w->stanza_id,
			      "messages", (json_int_t)ch->n_messages,
			      "skipped", (json_int_t)ch->n_skipped,
			      "oldest", ms_json(ch->oldest_ms),
			      "newest", ms_json(ch->newest_ms),
			      "end_of_history", ch->end_of_history);

	if (b == NULL)
		return CL_ENOMEM;
	if (ch->has_first)
		json_object_set_new(b, "conversation_entry",
				    json_integer((json_int_t)ch->first_index));
	if (ch->end_type >= 0)
		json_object_set_new(b, "end_type", json_string(
			(size_t)ch->end_type < sizeof(ends) / sizeof(ends[0]) ?
			ends[ch->end_type] : "unknown"));
	return cov_append(w->r, "wa-history-chat", b, w->err);
}

int cl_wa_recv_history(struct cl_wa_recv *r, const struct cl_wa_hist_job *j,
		       const unsigned char *z, size_t len, int64_t now_ms,
		       size_t *n_new, size_t *n_dup, char **err)
{
	static const struct cl_wa_hist_ops ops = { hist_on_record,
						   hist_on_chat };
	struct cl_wa_hist_meta meta;
	struct cl_wa_hist_info info;
	struct hist_walk w;
	struct cl_buf plain;
	int rc;

	*n_new = *n_dup = 0;
	if (r->in_batch)
		return cl_error(err, CL_EIO, "history sync inside a message batch");
	cl_buf_init(&plain, CL_WA_HIST_MAX);
	if ((rc = cl_wa_hist_inflate(z, len, &plain, err)))
		goto out;
	if ((rc = cl_ledger_begin(r->l, err)))
		goto out;
	memset(&meta, 0, sizeof(meta));
	meta.account = r->account;
	meta.own_lid = r->own_lid[0] ? r->own_lid : NULL;
	meta.notification = j->stanza_id;
	meta.received_ms = now_ms;
	memset(&w, 0, sizeof(w));
	w.r = r;
	w.stanza_id = j->stanza_id;
	w.err = err;
	rc = cl_wa_hist_walk(plain.data, plain.len, &meta, &ops, &w, &info, err);
	if (rc == CL_OK)
		rc = cov_append(r, "wa-history-sync", json_pack(
			"{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
			"notification", j->stanza_id, "sync_type",
			cl_wa_hist_sync_type_name(info.sync_type),
			"chunk_order", (json_int_t)info.chunk_order,
			"progress", (json_int_t)info.progress,
			"conversations", (json_int_t)info.n_conversations,
			"new", (json_int_t)w.n_new,
			"duplicates", (json_int_t)w.n_dup,
			"skipped", (json_int_t)info.n_skipped), err);
	if (rc == CL_OK)
		rc = row_set(r, "DELETE FROM wa_hist WHERE h = ?1 AND ?2 >= 0",
			     j->h, 0);
	if (rc == CL_OK)
		rc = cl_ledger_commit(r->l, err);
	else
		cl_ledger_rollback(r->l);
	if (rc == CL_OK) {
		*n_new = w.n_new;
		*n_dup = w.n_dup;
	}
out:
	if (plain.data)
		sodium_memzero(plain.data, plain.alloc);
	cl_buf_release(&plain);
	return rc;
}

int cl_wa_recv_hist_failed(struct cl_wa_recv *r, const struct cl_wa_hist_job *j,
			   const char *error, int64_t now_ms, int *abandoned,
			   char **err)
{
	int tries = j->tries + 1, rc;
	sqlite3_stmt *st = NULL;

	*abandoned = tries >= CL_WA_HIST_TRIES;
	if (r->in_batch)
		return cl_error(err, CL_EIO, "history sync inside a message batch");
	if ((rc = cl_ledger_begin(r->l, err)))
		return rc;
	if (*abandoned) {
		rc = cov_append(r, "wa-history-abandoned", json_pack(
			"{s:s, s:s, s:i, s:b}", "notification", j->stanza_id,
			"error", error, "attempts", tries, "alert", 1), err);
		if (rc == CL_OK)
			rc = row_set(r, "DELETE FROM wa_hist WHERE h = ?1 AND ?2 >= 0",
				     j->h, 0);
	} else {
		/* 1 min, 4, 16, 64 */
		int64_t delay = (int64_t)60000 << (2 * (tries - 1));

		rc = cov_append(r, "wa-history-failed", json_pack(
			"{s:s, s:s, s:i, s:o}", "notification", j->stanza_id,
			"error", error, "attempt", tries, "next_attempt",
			ms_json(now_ms + delay)), err);
		if (rc == CL_OK &&
		    sqlite3_prepare_v2(r->db, "UPDATE wa_hist SET tries = ?2, next_at = ?3 WHERE h = ?1",
				       -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_blob(st, 1, j->h, 32, SQLITE_STATIC);
			sqlite3_bind_int(st, 2, tries);
			sqlite3_bind_int64(st, 3, now_ms + delay);
			rc = sqlite3_step(st) == SQLITE_DONE ? CL_OK : CL_EIO;
			sqlite3_finalize(st);
		} else if (rc == CL_OK) {
			rc = CL_EIO;
		}
	}
	if (rc == CL_OK)
		rc = cl_ledger_commit(r->l, err);
	else
		cl_ledger_rollback(r->l);
	return rc;
}

/* ---- message secrets ------------------------------------------------------ */

#define SECRET_AD "chatledger-wa-secret-v1"

static void secret_h(const struct cl_wa_recv *r, const char *chat,
		     const char *sender, const char *id, unsigned char h[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, r->hkey, 32, 32);
	crypto_generichash_update(&st, (const unsigned char *)"secret", 7);
	crypto_generichash_update(&st, (const unsigned char *)chat,
				  strlen(chat) + 1);
	crypto_generichash_update(&st, (const unsigned char *)sender,
				  strlen(sender) + 1);
	crypto_generichash_update(&st, (const unsigned char *)id, strlen(id));
	crypto_generichash_final(&st, h, 32);
}

#define POLL_MAX_OPTIONS 64

/* Keep the messageSecret of an archived message (sealed: lp(sender) ||
 * secret || lp(option name)* for a poll), for edits and votes encrypted
 * under it. */
static int secret_keep(struct cl_wa_recv *r, const struct cl_wa_msg_parsed *mp,
		       const struct stanza *s)
{
	const unsigned char *sec;
	const char *opts[POLL_MAX_OPTIONS];
	unsigned char h[32];
	struct cl_buf pt, ct;
	sqlite3_stmt *q = NULL;
	size_t i, n;
	int rc;

	if (!cl_wa_msg_secret(mp, &sec))
		return CL_OK;
	secret_h(r, s->chat, s->sender, s->id, h);
	cl_buf_init(&pt, 1u << 20);
	cl_buf_init(&ct, 1u << 20);
	n = cl_wa_msg_poll_options(mp, opts, POLL_MAX_OPTIONS);
	if ((rc = lp_add(&pt, s->sender, strlen(s->sender))) ||
	    (rc = cl_buf_add(&pt, sec, 32)))
		goto out;
	for (i = 0; i < n && i < POLL_MAX_OPTIONS && rc == CL_OK; i++)
		rc = lp_add(&pt, opts[i], strlen(opts[i]));
	if (rc || (rc = seal_row(r, SECRET_AD, h, &pt, &ct)))
		goto out;
	if (sqlite3_prepare_v2(r->db, "INSERT OR IGNORE INTO wa_secret(h, v) VALUES (?1, ?2)",
			       -1, &q, NULL) != SQLITE_OK) {
		rc = CL_EIO;
		goto out;
	}
	sqlite3_bind_blob(q, 1, h, 32, SQLITE_STATIC);
	sqlite3_bind_blob(q, 2, ct.data, (int)ct.len, SQLITE_STATIC);
	rc = sqlite3_step(q) == SQLITE_DONE ? CL_OK : CL_EIO;
	sqlite3_finalize(q);
out:
	if (pt.data)
		sodium_memzero(pt.data, pt.alloc);
	cl_buf_release(&pt);
	cl_buf_release(&ct);
	return rc;
}

/* The kept secret of the message a secret-encrypted one refers to (its
 * key: id, fromMe, chat, participant; upstream resolves the original's
 * sender as whatsmeow's getOrigSenderFromKey): the opened row into *row
 * (lp(sender) || secret || lp(option name)*), the original's sender
 * (as kept) into orig, *secret and *rest point into row (the secret,
 * the poll options after it).  1 when found, 0 when unknown or
 * unreadable. */
static int secret_find(struct cl_wa_recv *r, const struct stanza *s,
		       const struct cl_wa_secret_enc *se, struct cl_buf *row,
		       char orig[JID_MAX], const unsigned char **secret,
		       size_t *rest)
{
	const char *o;
	char bare[JID_MAX];
	struct jid oj;
	unsigned char h[32];
	sqlite3_stmt *q = NULL;
	size_t n = 0;
	int found = 0;

	if (se->target_from_me)
		o = s->sender;
	else if (!s->is_group)
		o = se->target_chat;
	else
		o = se->target_participant;
	jid_parse(o, &oj);
	if (!oj.ok)
		return 0;
	jid_bare(&oj, bare, sizeof(bare));
	secret_h(r, s->chat, bare, se->target_id, h);
	if (sqlite3_prepare_v2(r->db, "SELECT v FROM wa_secret WHERE h = ?1",
			       -1, &q, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_blob(q, 1, h, 32, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW &&
	    open_row(r, SECRET_AD, h, sqlite3_column_blob(q, 0),
		     (size_t)sqlite3_column_bytes(q, 0), row) == CL_OK &&
	    row->len >= 4 + 32 && (n = cl_load_be32(row->data)) < JID_MAX &&
	    n <= row->len - 4 - 32 && memchr(row->data + 4, 0, n) == NULL) {
		memcpy(orig, row->data + 4, n);
		orig[n] = 0;
		*secret = row->data + 4 + n;
		*rest = 4 + n + 32;
		found = 1;
	}
	sqlite3_finalize(q);
	return found;
}

static void buf_wipe_release(struct cl_buf *b)
{
	if (b->data)
		sodium_memzero(b->data, b->alloc);
	cl_buf_release(b);
}

/* An edit encrypted under the original's messageSecret (EVENT_EDIT,
 * MESSAGE_EDIT; msgsecret.h): its text into rec ("decrypted": true,
 * "secret_plain": the opened bytes, base64).  Nothing changes when the
 * secret is unknown, the type not understood or the payload does not
 * open; 0 either way unless out of memory. */
static int secret_open(struct cl_wa_recv *r, const struct cl_wa_msg_parsed *mp,
		       const struct stanza *s, json_t *rec)
{
	struct cl_wa_secret_enc se;
	enum cl_wa_secret_use use;
	char orig[JID_MAX];
	const unsigned char *secret = NULL;
	struct cl_buf row, plain, b64;
	char *text = NULL;
	size_t rest = 0;
	int rc = CL_OK, e;

	if (!cl_wa_msg_secret_enc(mp, &se) || (se.type != 1 && se.type != 2))
		return CL_OK;
	use = se.type == 1 ? CL_WA_SECRET_EVENT_EDIT :
		CL_WA_SECRET_MESSAGE_EDIT;
	cl_buf_init(&row, 1u << 16);
	cl_buf_init(&plain, 1u << 20);
	cl_buf_init(&b64, 2u << 20);
	if (!secret_find(r, s, &se, &row, orig, &secret, &rest))
		goto out;
	e = cl_wa_secret_open(secret, use, se.target_id,
			      orig, s->sender, se.iv, se.payload,
			      se.payload_len, &plain);
	if (e == CL_ENOMEM) {
		rc = e;
		goto out;
	}
	if (e)
		goto out;
	(void)json_object_set_new(rec, "decrypted", json_true());
	if (cl_wa_msg_text(plain.data, plain.len, &text))
		(void)json_object_set_new(rec, "text", json_string(text));
	if (cl_b64_add(&b64, plain.data, plain.len) == CL_OK &&
	    cl_buf_add_u8(&b64, 0) == CL_OK)
		(void)json_object_set_new(rec, "secret_plain",
					  json_string((char *)b64.data));
out:
	if (text) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
	buf_wipe_release(&row);
	buf_wipe_release(&plain);
	buf_wipe_release(&b64);
	return rc;
}

/* The option of a poll (the lp(name)* after its kept secret) whose
 * SHA-256 is `hash`: its name into *name and *len, 1; or 0. */
static int poll_option(const struct cl_buf *row, size_t off,
		       const unsigned char hash[32], const char **name,
		       size_t *len)
{
	unsigned char d[32];
	const unsigned char *p;
	size_t n;

	while ((p = lp_take(row, &off, &n)) != NULL) {
		crypto_hash_sha256(d, p, n);
		if (sodium_memcmp(d, hash, 32) == 0) {
			*name = (const char *)p;
			*len = n;
			return 1;
		}
	}
	return 0;
}

/* A poll vote encrypted under the poll's messageSecret ("Poll Vote",
 * with associated data; msgsecret.h): the chosen option names into rec
 * ("decrypted": true, "votes": [names], an empty list for a retracted
 * vote; "votes_unknown": hex hashes that match no option kept).
 * Nothing changes when the poll's secret is unknown or the vote does not
 * open; 0 either way unless out of memory. */
static int poll_open(struct cl_wa_recv *r, const struct cl_wa_msg_parsed *mp,
		     const struct stanza *s, json_t *rec)
{
	struct cl_wa_secret_enc se;
	unsigned char (*hashes)[32] = NULL;
	char orig[JID_MAX], hex[65];
	const unsigned char *secret = NULL;
	struct cl_buf row, plain;
	json_t *votes = NULL, *unknown = NULL;
	size_t rest = 0, n = 0, bad = 0, i;
	int rc = CL_OK, e;

	if (!cl_wa_msg_poll_vote(mp, &se))
		return CL_OK;
	cl_buf_init(&row, 1u << 20);
	cl_buf_init(&plain, 1u << 16);
	if (!secret_find(r, s, &se, &row, orig, &secret, &rest))
		goto out;
	e = cl_wa_secret_open(secret, CL_WA_SECRET_POLL_VOTE, se.target_id,
			      orig, s->sender, se.iv, se.payload,
			      se.payload_len, &plain);
	if (e == CL_ENOMEM) {
		rc = e;
		goto out;
	}
	if (e)
		goto out;
	if ((hashes = calloc(POLL_MAX_OPTIONS, 32)) == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	e = cl_wa_poll_vote_hashes(plain.data, plain.len, hashes,
				   POLL_MAX_OPTIONS, &n, &bad);
	if (e == CL_ENOMEM) {
		rc = e;
		goto out;
	}
	if (e)
		goto out;
	votes = json_array();
	unknown = json_array();
	if (votes == NULL || unknown == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const char *name;
		size_t len;

		if (poll_option(&row, rest, hashes[i], &name, &len)) {
			(void)json_array_append_new(votes, json_stringn(name, len));
		} else {
			sodium_bin2hex(hex, sizeof(hex), hashes[i], 32);
			(void)json_array_append_new(unknown, json_string(hex));
		}
	}
	(void)json_object_set_new(rec, "decrypted", json_true());
	(void)json_object_set_new(rec, "votes", votes);
	votes = NULL;
	if (json_array_size(unknown) > 0 || bad > 0) {
		(void)json_object_set_new(rec, "votes_unknown", unknown);
		unknown = NULL;
	}
out:
	json_decref(votes);
	json_decref(unknown);
	if (hashes) {
		sodium_memzero(hashes, (size_t)POLL_MAX_OPTIONS * 32);
		free(hashes);
	}
	buf_wipe_release(&row);
	buf_wipe_release(&plain);
	return rc;
}

/* Everything inside the batch; *reply and *out filled on CL_OK. */
static int in_batch(struct cl_wa_recv *r, const struct cl_wa_node *m,
		    const struct stanza *s, int64_t now_ms,
		    struct cl_wa_node **reply, struct cl_wa_recv_out *out,
		    char **err)
{
	unsigned char h[32];
	struct cl_buf pt;
	const char *fail_type = NULL;
	enum cl_wa_sig_err fail = CL_WA_SIG_OK;
	int archived = 0, rc = CL_OK;
	long long seen, tries;
	size_t i;
	const char *rtype = s->from_me ? "sender" :
		(s->category && strcmp(s->category, "peer") == 0) ?
		"peer_msg" : "inactive";

	seen_hash(r, s->chat, s->sender, s->id, h);
	seen = row_int(r, "SELECT idx FROM wa_msg WHERE h = ?1", h);
	if (seen < -1)
		return cl_error(err, CL_EIO, "cannot read the collector's tables");
	if (seen >= 0) {
		out->outcome = CL_WA_RECV_DUPLICATE;
		return receipt(m, rtype, s->from_me, reply);
	}
	cl_buf_init(&pt, 64u << 20);
	for (i = 0; m->kind == CL_WA_LIST && i < m->nchildren && rc == CL_OK;
	     i++) {
		const struct cl_wa_node *enc = m->children[i];
		struct cl_wa_msg_parsed *mp = NULL;
		struct cl_wa_msg_meta meta;
		const char *g;
		const unsigned char *skdm;
		size_t skdm_len;
		json_t *rec = NULL, *wa;
		enum cl_wa_sig_err e;
		uint64_t idx;
		char *perr = NULL;

		if (strcmp(enc->tag, "enc") != 0)
			continue;
		e = decrypt_enc(r, s, enc, &pt);
		if (e) {
			if (fail == CL_WA_SIG_OK) {
				fail = e;
				fail_type = cl_wa_node_attr_str(enc, "type");
			}
			continue;
		}
		rc = cl_wa_msg_parse(pt.data, pt.len, &mp, &perr);
		if (rc == CL_EINVAL) {
			free(perr);
			rc = CL_OK;
			if (fail == CL_WA_SIG_OK) {
				fail = CL_WA_SIG_BAD_MESSAGE;
				fail_type = cl_wa_node_attr_str(enc, "type");
			}
			continue;
		}
		if (rc)
			break;
		if (cl_wa_msg_skdm(mp, &g, &skdm, &skdm_len))
			(void)cl_wa_signal_process_skdm(r->sig, g, s->sender,
							s->sj.device, skdm,
							skdm_len);
		memset(&meta, 0, sizeof(meta));
		meta.account = r->account;
		meta.chat = s->chat;
		meta.is_group = s->is_group;
		meta.id = s->id;
		meta.sender_pn = s->pn[0] ? s->pn : NULL;
		meta.sender_lid = s->lid[0] ? s->lid : NULL;
		meta.sender_device = s->device;
		meta.sender_name = cl_wa_node_attr_str(m, "notify");
		meta.from_me = s->from_me;
		meta.sent_ms = s->t ? strtoll(s->t, NULL, 10) * 1000 : now_ms;
		meta.received_ms = now_ms;
		wa = wa_meta(m, cl_wa_node_attr_str(enc, "type"));
		meta.wa = wa;
		if (!archived)
			rc = cl_wa_msg_record(mp, &meta, &rec, err);
		json_decref(wa);
		if (rc == CL_OK && rec)
			rc = secret_open(r, mp, s, rec);
		if (rc == CL_OK && rec)
			rc = poll_open(r, mp, s, rec);
		if (rc == CL_OK && rec) {
			struct rec_keys keys;

			cl_buf_init(&keys.key, 64u << 10);
			cl_buf_init(&keys.conv, 64u << 10);
			rc = record_append(r, rec, &idx, out->kind, NULL, &keys,
					   err);
			if (rc == CL_OK)
				rc = hist_queue(r, mp, s->id, now_ms, out);
			if (rc == CL_OK)
				rc = secret_keep(r, mp, s);
			if (rc == CL_OK)
				rc = media_queue(r, mp, s, &keys, idx,
						 meta.sent_ms, now_ms, out);
			cl_buf_release(&keys.key);
			cl_buf_release(&keys.conv);
			if (rc == CL_OK)
				rc = row_set(r, "INSERT OR REPLACE INTO wa_msg(h, idx) VALUES (?1, ?2)",
					     h, (long long)idx);
			archived = 1;
		}
		json_decref(rec);
		cl_wa_msg_free(mp);
	}
	cl_buf_release(&pt);
	if (rc)
		return rc;
	tries = row_int(r, "SELECT count FROM wa_retry WHERE h = ?1", h);
	if (tries < -1)
		return cl_error(err, CL_EIO, "cannot read the collector's tables");
	if (archived) {
		out->outcome = CL_WA_RECV_ARCHIVED;
		if (tries >= 0 &&
		    ((rc = cov_append(r, "wa-decrypt-recovered",
				      json_pack("{s:s, s:I}", "stanza_id", s->id,
						"retries", (json_int_t)tries),
				      err)) ||
		     (rc = row_set(r, "DELETE FROM wa_retry WHERE h = ?1 AND ?2 >= 0",
				   h, 0))))
			return rc;
		return receipt(m, rtype, s->from_me, reply);
	}
	if (fail == CL_WA_SIG_OK) {
		const struct cl_wa_node *un = cl_wa_node_child(m, "unavailable");

		if (un) {
			out->outcome = CL_WA_RECV_UNAVAILABLE;
			rc = cov_append(r, "wa-message-unavailable",
					json_pack("{s:s, s:s?}", "stanza_id",
						  s->id, "type",
						  cl_wa_node_attr_str(un, "type")),
					err);
		} else {
			out->outcome = CL_WA_RECV_NOTHING;
		}
		if (rc == CL_OK)
			rc = row_set(r, "INSERT OR REPLACE INTO wa_msg(h, idx) VALUES (?1, ?2)",
				     h, -1);
		return rc ? rc : receipt(m, rtype, s->from_me, reply);
	}
	/* a decryption failure */
	tries = tries < 0 ? 1 : tries + 1;
	(void)cl_fmt(out->kind, sizeof(out->kind), "%s",
		     cl_wa_sig_err_name(fail));
	out->retry = (int)tries;
	if (tries > CL_WA_RETRY_MAX) {
		out->outcome = CL_WA_RECV_ABANDONED;
		rc = cov_append(r, "wa-decrypt-abandoned",
				json_pack("{s:s, s:s?, s:s, s:I, s:b}",
					  "stanza_id", s->id, "enc", fail_type,
					  "error", cl_wa_sig_err_name(fail),
					  "retries", (json_int_t)(tries - 1),
					  "alert", 1), err);
		if (rc == CL_OK)
			rc = row_set(r, "DELETE FROM wa_retry WHERE h = ?1 AND ?2 >= 0",
				     h, 0);
		if (rc == CL_OK)
			rc = row_set(r, "INSERT OR REPLACE INTO wa_msg(h, idx) VALUES (?1, ?2)",
				     h, -1);
		if (rc)
			return rc;
		return receipt(m, rtype, s->from_me, reply);
	}
	out->outcome = CL_WA_RECV_RETRY;
	rc = cov_append(r, "wa-decrypt-failed",
			json_pack("{s:s, s:s?, s:s, s:I}", "stanza_id", s->id,
				  "enc", fail_type, "error",
				  cl_wa_sig_err_name(fail), "attempt",
				  (json_int_t)tries), err);
	if (rc == CL_OK)
		rc = row_set(r, "INSERT OR REPLACE INTO wa_retry(h, count) VALUES (?1, ?2)",
			     h, tries);
	return rc ? rc : retry_receipt(r, m, (int)tries, reply);
}

/* One statement without rows (the stanza's savepoint), kept prepared. */
static int exec(struct cl_wa_recv *r, const char *sql)
{
	sqlite3_stmt *st = stmt(r, sql);
	int rc;

	if (st == NULL)
		return CL_EIO;
	rc = sqlite3_step(st);
	stmt_done(r, st);
	return rc == SQLITE_DONE ? CL_OK : CL_EIO;
}

int cl_wa_recv_message(struct cl_wa_recv *r, const struct cl_wa_node *msg,
		       int64_t now_ms, struct cl_wa_node **reply,
		       struct cl_wa_recv_out *out, char **err)
{
	struct stanza s;
	int rc;

	*reply = NULL;
	memset(out, 0, sizeof(*out));
	if ((rc = read_stanza(r, msg, &s, err)))
		return rc;
	if (!r->in_batch) {
		if ((rc = cl_ledger_begin(r->l, err)))
			return rc == CL_EINVAL ? CL_EIO : rc;
		r->in_batch = 1;
		r->n_pending = 0;
	}
	/* The stanza's own savepoint: a refusal before any entry was
	 * appended undoes its Signal state alone and keeps the batch. */
	if (exec(r, "SAVEPOINT wa_stanza")) {
		rc = cl_error(err, CL_EIO, "cannot open a savepoint: %s",
			      sqlite3_errmsg(r->db));
		cl_wa_recv_rollback(r);
		return rc;
	}
	r->appended = 0;
	rc = in_batch(r, msg, &s, now_ms, reply, out, err);
	if (rc == CL_OK && exec(r, "RELEASE wa_stanza") == CL_OK) {
		r->n_pending++;
		return CL_OK;
	}
	cl_wa_node_free(*reply);
	*reply = NULL;
	if (rc == CL_EINVAL && !r->appended &&
	    exec(r, "ROLLBACK TO wa_stanza") == CL_OK &&
	    exec(r, "RELEASE wa_stanza") == CL_OK) {
		if (r->n_pending == 0) /* no batch left open for nothing */
			cl_wa_recv_rollback(r);
		return CL_EINVAL;
	}
	if (rc == CL_OK || rc == CL_EINVAL)
		rc = cl_error(err, CL_EIO, "a refused stanza left entries "
			      "in the batch (%s): batch rolled back",
			      sqlite3_errmsg(r->db));
	cl_wa_recv_rollback(r);
	return rc;
}

size_t cl_wa_recv_pending(const struct cl_wa_recv *r)
{
	return r->in_batch ? r->n_pending : 0;
}

int cl_wa_recv_commit(struct cl_wa_recv *r, char **err)
{
	int rc;

	if (!r->in_batch)
		return CL_OK;
	r->in_batch = 0;
	r->n_pending = 0;
	rc = cl_ledger_commit(r->l, err); /* rolls back itself on failure */
	return rc == CL_EINVAL ? CL_EIO : rc;
}

void cl_wa_recv_rollback(struct cl_wa_recv *r)
{
	if (!r->in_batch)
		return;
	cl_ledger_rollback(r->l);
	r->in_batch = 0;
	r->n_pending = 0;
}

/* ---- media retry requests ------------------------------------------------ */

/* The key of a message's outstanding request: keyed hash of its id. */
static void rmr_mid(const struct cl_wa_recv *r, const char *id,
		    unsigned char mid[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, r->hkey, 32, 32);
	crypto_generichash_update(&st, (const unsigned char *)"rmr", 4);
	crypto_generichash_update(&st, (const unsigned char *)id, strlen(id));
	crypto_generichash_final(&st, mid, 32);
}

/* The job row h an outstanding request for `mid` belongs to:
 * CL_OK, CL_ENOTFOUND or CL_EIO. */
static int rmr_lookup(struct cl_wa_recv *r, const unsigned char mid[32],
		      unsigned char h[32])
{
	sqlite3_stmt *st = stmt(r, "SELECT h FROM wa_media_rmr WHERE mid = ?1");
	int rc, s;

	if (st == NULL)
		return CL_EIO;
	sqlite3_bind_blob(st, 1, mid, 32, SQLITE_STATIC);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
		memcpy(h, sqlite3_column_blob(st, 0), 32);
		rc = CL_OK;
	} else {
		rc = s == SQLITE_DONE ? CL_ENOTFOUND : CL_EIO;
	}
	stmt_done(r, st);
	return rc;
}

int cl_wa_recv_media_gone(struct cl_wa_recv *r, const struct cl_wa_media_job *j,
			  int64_t now_ms, struct cl_wa_node **req, char **err)
{
	struct cl_wa_rmr_target t;
	unsigned char mid[32], h[32];
	sqlite3_stmt *st;
	int tries = j->tries + 1, rc;

	*req = NULL;
	if (r->in_batch)
		return cl_error(err, CL_EIO, "media inside a message batch");
	if (j->msg_id == NULL || !*j->msg_id)
		return CL_ENOTFOUND;
	rmr_mid(r, j->msg_id, mid);
	if ((rc = rmr_lookup(r, mid, h)) != CL_ENOTFOUND)
		return rc == CL_OK ? CL_ENOTFOUND : rc;
	t.id = j->msg_id;
	t.own_jid = r->account;
	t.chat = j->chat;
	t.participant = j->participant;
	t.from_me = j->from_me;
	if ((rc = cl_wa_rmr_request(&t, j->media_key, req)))
		return rc == CL_EINVAL ? CL_ENOTFOUND : rc;
	if ((rc = cl_ledger_begin(r->l, err)))
		goto out;
	rc = cov_append(r, "wa-media-retry-requested", json_pack(
		"{s:I, s:s, s:i, s:o}", "record", (json_int_t)j->idx,
		"type", j->type, "attempt", tries, "next_attempt",
		ms_json(now_ms + media_delay(tries))), err);
	if (rc == CL_OK &&
	    (st = stmt(r, "INSERT INTO wa_media_rmr(mid, h, asked_at) VALUES (?1, ?2, ?3)")) != NULL) {
		sqlite3_bind_blob(st, 1, mid, 32, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, j->h, 32, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, now_ms);
		rc = sqlite3_step(st) == SQLITE_DONE ? CL_OK : CL_EIO;
		stmt_done(r, st);
	} else if (rc == CL_OK) {
		rc = CL_EIO;
	}
	if (rc == CL_OK)
		rc = media_next_at(r, j->h, tries, now_ms + media_delay(tries));
	if (rc == CL_OK)
		rc = cl_ledger_commit(r->l, err);
	else
		cl_ledger_rollback(r->l);
out:
	if (rc) {
		cl_wa_node_free(*req);
		*req = NULL;
	}
	return rc;
}

int cl_wa_recv_media_unask(struct cl_wa_recv *r, const struct cl_wa_media_job *j,
			   char **err)
{
	int rc;

	if (r->in_batch)
		return cl_error(err, CL_EIO, "media inside a message batch");
	if ((rc = cl_ledger_begin(r->l, err)))
		return rc;
	rc = row_set(r, "DELETE FROM wa_media_rmr WHERE h = ?1 AND ?2 >= 0",
		     j->h, 0);
	if (rc == CL_OK)
		return cl_ledger_commit(r->l, err);
	cl_ledger_rollback(r->l);
	return rc;
}

/* The queued job at h, opened into *j: CL_OK, CL_ENOTFOUND, ... */
static int media_job_load(struct cl_wa_recv *r, const unsigned char h[32],
			  struct cl_wa_media_job *j, char **err)
{
	sqlite3_stmt *st = stmt(r, "SELECT job, tries FROM wa_media WHERE h = ?1");
	int rc, s;

	if (st == NULL)
		return CL_EIO;
	sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
	s = sqlite3_step(st);
	if (s != SQLITE_ROW) {
		stmt_done(r, st);
		return s == SQLITE_DONE ? CL_ENOTFOUND : CL_EIO;
	}
	memcpy(j->h, h, 32);
	j->tries = sqlite3_column_int(st, 1);
	if (open_row(r, MEDIA_AD, h, sqlite3_column_blob(st, 0),
		     (size_t)sqlite3_column_bytes(st, 0), &j->pt))
		rc = cl_error(err, CL_ECORRUPT,
			      "a queued media download does not open with this credentials key");
	else
		rc = media_job_parse(j) ? CL_OK :
			cl_error(err, CL_ECORRUPT, "a queued media download is malformed");
	stmt_done(r, st);
	return rc;
}

int cl_wa_recv_media_answer(struct cl_wa_recv *r, const struct cl_wa_node *n,
			    int64_t now_ms, int *result, int *abandoned,
			    uint64_t *idx, char **err)
{
	struct cl_wa_rmr_answer a;
	struct cl_wa_media_job j;
	unsigned char mid[32], h[32];
	char *path = NULL, *why = NULL;
	json_t *body;
	int rc;

	*result = CL_WA_RMR_GENERAL_ERROR;
	*abandoned = 0;
	*idx = 0;
	if (r->in_batch)
		return cl_error(err, CL_EIO, "media inside a message batch");
	if ((rc = cl_wa_rmr_parse(n, &a, err)))
		return rc;
	rmr_mid(r, a.id, mid);
	if ((rc = rmr_lookup(r, mid, h)))
		return rc;
	cl_wa_media_job_init(&j);
	if ((rc = media_job_load(r, h, &j, err)))
		goto out;
	*idx = j.idx;
	rc = cl_wa_rmr_open(&a, j.media_key, result, &path, &why);
	if (rc == CL_ENOMEM || rc == CL_EIO)
		goto out;
	if (rc) /* an answer that does not open: the phone's failure */
		*result = CL_WA_RMR_GENERAL_ERROR;
	if ((rc = cl_ledger_begin(r->l, err)))
		goto out;
	body = json_pack("{s:I, s:s, s:s}", "record", (json_int_t)j.idx,
			 "type", j.type, "result",
			 cl_wa_rmr_result_name(*result));
	if (body && a.error_code >= 0)
		json_object_set_new(body, "error_code",
				    json_integer(a.error_code));
	if (body && why)
		json_object_set_new(body, "error", json_string(why));
	rc = cov_append(r, "wa-media-retry", body, err);
	if (rc == CL_OK && *result == CL_WA_RMR_SUCCESS) {
		struct cl_wa_media_job nj = j;
		struct cl_buf ct;
		sqlite3_stmt *st;

		nj.direct_path = path;
		cl_buf_init(&ct, 2u << 20);
		rc = media_job_seal(r, h, &nj, &ct);
		if (rc == CL_OK &&
		    (st = stmt(r, "UPDATE wa_media SET job = ?2, next_at = ?3 WHERE h = ?1")) != NULL) {
			sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
			sqlite3_bind_blob(st, 2, ct.data, (int)ct.len, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, now_ms);
			rc = sqlite3_step(st) == SQLITE_DONE ? CL_OK : CL_EIO;
			stmt_done(r, st);
		} else if (rc == CL_OK) {
			rc = CL_EIO;
		}
		cl_buf_release(&ct);
	} else if (rc == CL_OK) {
		*abandoned = 1;
		rc = cov_append(r, "wa-media-abandoned", json_pack(
			"{s:I, s:s, s:s, s:i, s:b}", "record", (json_int_t)j.idx,
			"type", j.type, "error", *result == CL_WA_RMR_PHONE_ERROR ?
			"the phone could not upload it again" :
			"the phone's media retry answer", "attempts", j.tries,
			"alert", 1), err);
		if (rc == CL_OK)
			rc = row_set(r, "DELETE FROM wa_media WHERE h = ?1 AND ?2 >= 0",
				     h, 0);
		if (rc == CL_OK)
			rc = row_set(r, "DELETE FROM wa_media_rmr WHERE h = ?1 AND ?2 >= 0",
				     h, 0);
	}
	if (rc == CL_OK)
		rc = cl_ledger_commit(r->l, err);
	else
		cl_ledger_rollback(r->l);
	if (rc)
		*abandoned = 0;
out:
	free(path);
	free(why);
	cl_wa_media_job_release(&j);
	return rc;
}

/* ---- group changes (w:gp2) ------------------------------------------------ */

static int kind_ok(const char *t)
{
	size_t i, n = strlen(t);

	if (n == 0 || n > 24)
		return 0;
	for (i = 0; i < n; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || t[i] == '_' ||
		      (t[i] >= '0' && t[i] <= '9')))
			return 0;
	return 1;
}

/* The record for a <notification type=w:gp2>; NULL (CL_EINVAL) when it
 * names no group or no change. */
static int group_record(struct cl_wa_recv *r, const struct cl_wa_node *n,
			int64_t now_ms, json_t **out, char **err)
{
	const char *from = cl_wa_node_attr_str(n, "from");
	const char *id = cl_wa_node_attr_str(n, "id");
	const char *t = cl_wa_node_attr_str(n, "t");
	const char *actor = cl_wa_node_attr_str(n, "participant");
	const struct cl_wa_node *ch = NULL;
	struct jid g, a;
	char chat[JID_MAX], sender[JID_MAX], rid[128], kind[33], ts[32];
	json_t *rec, *grp, *parts, *attrs;
	size_t i;

	*out = NULL;
	jid_parse(from, &g);
	for (i = 0; n->kind == CL_WA_LIST && i < n->nchildren; i++)
		if (kind_ok(n->children[i]->tag)) {
			ch = n->children[i];
			break;
		}
	if (!g.ok || strcmp(g.server, "g.us") != 0 || id == NULL || !*id ||
	    strlen(id) > 100 || ch == NULL)
		return cl_error(err, CL_EINVAL,
				"group notification without a group, an id or a change");
	jid_bare(&g, chat, sizeof(chat));
	jid_parse(actor, &a);
	if (a.ok)
		jid_bare(&a, sender, sizeof(sender));
	else
		memcpy(sender, chat, sizeof(chat));
	(void)cl_fmt(rid, sizeof(rid), "gp2-%s", id);
	(void)cl_fmt(kind, sizeof(kind), "group-%s", ch->tag);
	parts = json_array();
	for (i = 0; ch->kind == CL_WA_LIST && i < ch->nchildren; i++) {
		const struct cl_wa_node *p = ch->children[i];
		const char *pj = cl_wa_node_attr_str(p, "jid");
		struct jid pjid;
		char b[JID_MAX];

		jid_parse(pj, &pjid);
		if (strcmp(p->tag, "participant") != 0 || !pjid.ok)
			continue;
		jid_bare(&pjid, b, sizeof(b));
		(void)json_array_append_new(parts, json_string(b));
	}
	grp = json_pack("{s:s, s:o}", "action", ch->tag, "participants", parts);
	attrs = json_object();
	for (i = 0; i < n->nattrs; i++)
		json_object_set_new(attrs, n->attrs[i].key,
				    json_stringn(n->attrs[i].value,
						 n->attrs[i].value_len));
	for (i = 0; i < ch->nattrs; i++)
		if (strcmp(ch->attrs[i].key, "subject") != 0)
			json_object_set_new(grp, ch->attrs[i].key,
					    json_stringn(ch->attrs[i].value,
							 ch->attrs[i].value_len));
	cl_time_format(t ? strtoll(t, NULL, 10) * 1000 : now_ms, ts);
	rec = json_pack("{s:s, s:{s:s, s:s}, s:s, s:{s:s}, s:s, s:s, s:s, s:s, s:o, s:{s:o}}",
			"account", r->account,
			"conversation", "id", chat, "type", "group",
			"id", rid,
			"sender", "id", sender,
			"direction", a.ok && (strcmp(a.user, r->own_user) == 0 ||
					      (r->own_lid_user[0] &&
					       strcmp(a.user, r->own_lid_user) == 0)) ?
			"out" : "in",
			"source", "whatsapp-md",
			"sent_at", ts,
			"kind", kind,
			"group", grp,
			"wa", "notification", attrs);
	if (rec == NULL)
		return CL_ENOMEM;
	cl_time_format(now_ms, ts);
	json_object_set_new(rec, "received_at", json_string(ts));
	{
		const char *subj = cl_wa_node_attr_str(ch, "subject");
		const struct cl_wa_node *body = cl_wa_node_child(ch, "body");

		if (subj)
			json_object_set_new(rec, "text", json_string(subj));
		else if (body && (body->kind == CL_WA_BYTES ||
				  body->kind == CL_WA_TEXT) && body->len > 0)
			json_object_set_new(rec, "text",
					    json_stringn((const char *)body->data,
							 body->len));
	}
	*out = rec;
	return CL_OK;
}

int cl_wa_recv_group(struct cl_wa_recv *r, const struct cl_wa_node *n,
		     int64_t now_ms, struct cl_wa_recv_out *out, char **err)
{
	json_t *rec = NULL;
	uint64_t idx;
	enum cl_append_outcome dup = CL_APPEND_NEW;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = group_record(r, n, now_ms, &rec, err)))
		return rc;
	if (!r->in_batch) {
		if ((rc = cl_ledger_begin(r->l, err))) {
			json_decref(rec);
			return rc == CL_EINVAL ? CL_EIO : rc;
		}
		r->in_batch = 1;
		r->n_pending = 0;
	}
	r->appended = 0;
	rc = record_append(r, rec, &idx, out->kind, &dup, NULL, err);
	json_decref(rec);
	if (rc == CL_OK) {
		out->outcome = dup == CL_APPEND_NEW ? CL_WA_RECV_ARCHIVED :
			CL_WA_RECV_DUPLICATE;
		r->n_pending++;
		return CL_OK;
	}
	if (rc == CL_EINVAL && !r->appended) {
		if (r->n_pending == 0)
			cl_wa_recv_rollback(r);
		return CL_EINVAL;
	}
	cl_wa_recv_rollback(r);
	return rc == CL_EINVAL ? CL_EIO : rc;
}
