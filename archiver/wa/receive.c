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
#include "archiver/wa/message.h"
#include "archiver/wa/receive.h"
#include "archiver/wa/signal.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define JID_MAX 200
#define COV_SOURCE "whatsapp-linked-device"

struct cl_wa_recv {
	struct cl_ledger *l;
	sqlite3 *db;
	const struct cl_wa_creds *creds;
	struct cl_wa_signal *sig;
	unsigned char *hkey;            /* keyed hash of (chat, sender, id) */
	char account[JID_MAX];          /* our bare phone JID */
	char own_user[JID_MAX], own_lid_user[JID_MAX];
	char own_lid[JID_MAX];
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
	struct cl_wa_recv *r;
	struct jid j;
	int rc;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL || (r->hkey = sodium_malloc(32)) == NULL) {
		free(r);
		return CL_ENOMEM;
	}
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
			 "CREATE TABLE IF NOT EXISTS wa_retry(h BLOB PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;",
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
	if (r == NULL)
		return;
	cl_wa_signal_free(r->sig);
	sodium_free(r->hkey);
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

/* The integer column of table's row h, or -1 when absent (-2: error). */
static long long row_int(struct cl_wa_recv *r, const char *sql,
			 const unsigned char h[32])
{
	sqlite3_stmt *st = NULL;
	long long v = -2;
	int rc;

	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -2;
	sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		v = -1;
	sqlite3_finalize(st);
	return v;
}

static int row_set(struct cl_wa_recv *r, const char *sql,
		   const unsigned char h[32], long long v)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return CL_EIO;
	sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
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
	rc = cl_ledger_append(r->l, &in, &idx, &dup, err);
	free(txt);
	return rc;
}

/* Validate and append the record; link its identifiers as one party. */
static int record_append(struct cl_wa_recv *r, json_t *rec, uint64_t *idx,
			 char *kind, char **err)
{
	struct cl_record cr;
	struct cl_entry_in in;
	enum cl_append_outcome dup;
	char *txt = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	char *why = NULL;
	int rc;

	if (txt == NULL)
		return CL_ENOMEM;
	rc = cl_record_parse(txt, strlen(txt), &cr, &why);
	sodium_memzero(txt, strlen(txt));
	free(txt);
	if (rc) {
		rc = cl_error(err, rc, "message record rejected: %s",
			      why ? why : cl_strerror(rc));
		free(why);
		cl_record_release(&cr);
		return rc;
	}
	(void)cl_fmt(kind, 33, "%s", cr.kind);
	cl_ingest_entry_from_record(&in, &cr);
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
		if (rc == CL_OK && rec) {
			rc = record_append(r, rec, &idx, out->kind, err);
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
	if ((rc = cl_ledger_begin(r->l, err)))
		return rc;
	rc = in_batch(r, msg, &s, now_ms, reply, out, err);
	if (rc == CL_OK && out->outcome == CL_WA_RECV_DUPLICATE) {
		cl_ledger_rollback(r->l); /* nothing was written */
		return CL_OK;
	}
	if (rc == CL_OK)
		rc = cl_ledger_commit(r->l, err);
	else
		cl_ledger_rollback(r->l);
	if (rc) {
		cl_wa_node_free(*reply);
		*reply = NULL;
	}
	return rc;
}
