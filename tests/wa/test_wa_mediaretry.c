/*
 * test_wa_mediaretry.c - media retry requests and answers (mediaretry.h):
 *   1. known answers recorded from npm baileys (tests/wa/vectors/
 *      mediaretry.json, tests/peer/gen-mediaretry-vectors.js): the phone's
 *      answers as binary nodes, parsed and opened with the media key;
 *      answers sealed under another key or message id, for another
 *      message, or without a usable path are refused;
 *   2. the request the collector sends: its attributes, and an enc_p
 *      that opens (under the key Baileys derives) to a ServerErrorReceipt
 *      naming the message; the request Baileys built opens the same way;
 *   3. malformed notifications are refused with a message naming them.
 *
 * Run from the repository root (or set CL_ROOT).  `--seeds DIR` writes
 * the vector nodes as the seed corpus of fuzz_wa_mediaretry.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "wa.pb-c.h"

#include "archiver/wa/binary.h"
#include "archiver/wa/media.h"
#include "archiver/wa/mediaretry.h"
#include "archiver/wa/noise.h"
#include "common/buf.h"
#include "common/status.h"
#include "../unit/tap.h"
#include "common/banned.h"

static size_t unhex(unsigned char *out, size_t cap, const char *h)
{
	size_t n = 0;

	if (h == NULL ||
	    sodium_hex2bin(out, cap, h, strlen(h), NULL, &n, NULL) != 0)
		return (size_t)-1;
	return n;
}

static json_t *load(void)
{
	const char *root = getenv("CL_ROOT");
	char path[4096];
	json_error_t je;
	json_t *v;

	snprintf(path, sizeof(path), "%s/tests/wa/vectors/mediaretry.json",
		 root ? root : ".");
	v = json_load_file(path, 0, &je);
	if (v == NULL)
		fprintf(stderr, "cannot read %s: %s\n", path, je.text);
	return v;
}

/* The node a case's hex decodes to, or NULL. */
static struct cl_wa_node *case_node(json_t *c, unsigned char *buf,
				    size_t cap)
{
	struct cl_wa_node *n = NULL;
	char *err = NULL;
	size_t len = unhex(buf, cap, json_string_value(json_object_get(c, "node")));

	if (len == (size_t)-1 || cl_wa_node_decode(buf, len, &n, &err) != CL_OK)
		n = NULL;
	free(err);
	return n;
}

static void test_answers(json_t *v, const unsigned char key[32])
{
	json_t *cases = json_object_get(v, "answers"), *c;
	static unsigned char buf[65536];
	size_t i;

	TAP_OK(json_array_size(cases) >= 10, "vectors: %zu answers",
	       json_array_size(cases));
	json_array_foreach(cases, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *want = json_string_value(json_object_get(c, "rc"));
		const char *wpath = json_string_value(json_object_get(c, "path"));
		const char *wpart = json_string_value(json_object_get(c, "participant"));
		struct cl_wa_node *n = case_node(c, buf, sizeof(buf));
		struct cl_wa_rmr_answer a;
		char *err = NULL, *path = NULL;
		int rc, result = -1;

		TAP_OK(n != NULL, "%s: the node decodes", name);
		if (n == NULL)
			continue;
		rc = cl_wa_rmr_parse(n, &a, &err);
		TAP_OK(rc == CL_OK && a.id &&
		       strcmp(a.id, json_string_value(json_object_get(c, "id"))) == 0 &&
		       a.chat && !a.from_me &&
		       (wpart ? a.participant && strcmp(a.participant, wpart) == 0
			: a.participant == NULL),
		       "%s: parsed (id, chat, from_me, participant)", name);
		free(err);
		err = NULL;
		rc = cl_wa_rmr_open(&a, key, &result, &path, &err);
		if (strcmp(want, "ok") == 0) {
			TAP_OK(rc == CL_OK &&
			       result == json_integer_value(json_object_get(c, "result")),
			       "%s: opens, result %s", name,
			       cl_wa_rmr_result_name(result));
			TAP_OK(wpath ? path && strcmp(path, wpath) == 0 : path == NULL,
			       "%s: direct path %s", name, path ? path : "(none)");
			if (json_object_get(c, "error_code"))
				TAP_EQ_INT(a.error_code,
					   json_integer_value(json_object_get(c, "error_code")),
					   "the phone's error code");
		} else {
			int wrc = strcmp(want, "badsig") == 0 ? CL_EBADSIG : CL_EINVAL;

			TAP_OK(rc == wrc && path == NULL && err && *err,
			       "%s: refused (%s)", name, err ? err : "no message");
		}
		free(path);
		free(err);
		cl_wa_node_free(n);
	}
}

/* enc_p of a request opened with the retry key: its stanza id, or NULL. */
static char *open_request(const unsigned char rkey[32], const char *id,
			  const unsigned char *ct, size_t ct_len,
			  const unsigned char *iv)
{
	unsigned char pt[1024];
	Wa__ServerErrorReceipt *m;
	char *s = NULL;

	if (ct_len < 16 || ct_len - 16 > sizeof(pt) ||
	    cl_wa_aes_gcm(0, rkey, iv, (const unsigned char *)id, strlen(id), ct,
			  ct_len, pt) != CL_OK)
		return NULL;
	m = wa__server_error_receipt__unpack(NULL, ct_len - 16, pt);
	if (m && m->stanzaid)
		s = strdup(m->stanzaid);
	if (m)
		wa__server_error_receipt__free_unpacked(m, NULL);
	return s;
}

static const struct cl_wa_node *kid(const struct cl_wa_node *n, const char *a,
				    const char *b)
{
	const struct cl_wa_node *c = n ? cl_wa_node_child(n, a) : NULL;

	return c && b ? cl_wa_node_child(c, b) : c;
}

static void test_request(json_t *v, const unsigned char key[32])
{
	json_t *rq = json_object_get(v, "request");
	unsigned char rkey[32], wkey[32], ct[256], iv[16];
	struct cl_wa_rmr_target t = { "3EB0RMRTEST", "85291234567@s.whatsapp.net",
				      "120363000000000009@g.us",
				      "85290000009@s.whatsapp.net", 0 };
	struct cl_wa_node *n = NULL;
	const struct cl_wa_node *p, *i, *r;
	size_t ctl, ivl;
	char *id;

	TAP_OK(cl_wa_media_hkdf(key, CL_WA_RMR_INFO, rkey, 32) == CL_OK &&
	       unhex(wkey, sizeof(wkey), json_string_value(json_object_get(v, "retry_key"))) == 32 &&
	       sodium_memcmp(rkey, wkey, 32) == 0,
	       "the retry key is the one Baileys derives");
	ctl = unhex(ct, sizeof(ct), json_string_value(json_object_get(rq, "enc_p")));
	ivl = unhex(iv, sizeof(iv), json_string_value(json_object_get(rq, "enc_iv")));
	id = ivl == 12 && ctl != (size_t)-1 ?
		open_request(rkey, "RMRREQ1", ct, ctl, iv) : NULL;
	TAP_OK(id && strcmp(id, "RMRREQ1") == 0,
	       "Baileys' request opens to a ServerErrorReceipt naming its message");
	free(id);

	TAP_OK(cl_wa_rmr_request(&t, key, &n) == CL_OK && n, "request built");
	if (n == NULL)
		return;
	TAP_OK(strcmp(n->tag, "receipt") == 0 &&
	       strcmp(cl_wa_node_attr_str(n, "id"), t.id) == 0 &&
	       strcmp(cl_wa_node_attr_str(n, "to"), t.own_jid) == 0 &&
	       strcmp(cl_wa_node_attr_str(n, "type"), "server-error") == 0,
	       "<receipt id to=own number type=server-error>");
	r = kid(n, "rmr", NULL);
	TAP_OK(r && strcmp(cl_wa_node_attr_str(r, "jid"), t.chat) == 0 &&
	       strcmp(cl_wa_node_attr_str(r, "from_me"), "false") == 0 &&
	       strcmp(cl_wa_node_attr_str(r, "participant"), t.participant) == 0,
	       "<rmr jid from_me participant>");
	p = kid(n, "encrypt", "enc_p");
	i = kid(n, "encrypt", "enc_iv");
	TAP_OK(p && i && p->kind == CL_WA_BYTES && i->kind == CL_WA_BYTES &&
	       i->len == 12, "<encrypt><enc_p/><enc_iv/> (12-byte IV)");
	id = p && i && i->len == 12 ?
		open_request(rkey, t.id, p->data, p->len, i->data) : NULL;
	TAP_OK(id && strcmp(id, t.id) == 0,
	       "enc_p opens with the message id as additional data");
	free(id);
	cl_wa_node_free(n);

	t.participant = NULL;
	t.from_me = 1;
	n = NULL;
	TAP_OK(cl_wa_rmr_request(&t, key, &n) == CL_OK && n &&
	       (r = kid(n, "rmr", NULL)) &&
	       cl_wa_node_attr_str(r, "participant") == NULL &&
	       strcmp(cl_wa_node_attr_str(r, "from_me"), "true") == 0,
	       "a 1:1 message of ours: from_me=true, no participant");
	cl_wa_node_free(n);
	t.chat = NULL;
	n = NULL;
	TAP_OK(cl_wa_rmr_request(&t, key, &n) == CL_EINVAL && n == NULL,
	       "no chat: refused");
}

static struct cl_wa_node *mk(const char *tag)
{
	struct cl_wa_node *n = NULL;

	if (cl_wa_node_new_s(&n, tag) != CL_OK)
		abort();
	return n;
}

static void add_child(struct cl_wa_node *n, struct cl_wa_node *c)
{
	if (cl_wa_node_add_child(n, c) != CL_OK)
		abort();
}

static void test_malformed(void)
{
	struct {
		const char *name, *type, *id, *jid, *code;
		int rmr, enc, ivlen;
		const char *want;
	} cs[] = {
		{ "another type", "devices", "X1", "a@s.whatsapp.net", NULL, 1, 1, 12, "not a media retry" },
		{ "no id", "mediaretry", NULL, "a@s.whatsapp.net", NULL, 1, 1, 12, "without a message id" },
		{ "no <rmr>", "mediaretry", "X2", NULL, NULL, 0, 1, 12, "without <rmr>" },
		{ "<rmr> without jid", "mediaretry", "X3", NULL, NULL, 1, 1, 12, "without a jid" },
		{ "<error> without code", "mediaretry", "X4", "a@s.whatsapp.net", "", 1, 0, 0, "usable code" },
		{ "<error code=-1>", "mediaretry", "X5", "a@s.whatsapp.net", "-1", 1, 0, 0, "usable code" },
		{ "<error code=99999999999>", "mediaretry", "X8", "a@s.whatsapp.net", "99999999999", 1, 0, 0, "usable code" },
		{ "<error code=2x>", "mediaretry", "X9", "a@s.whatsapp.net", "2x", 1, 0, 0, "usable code" },
		{ "neither", "mediaretry", "X6", "a@s.whatsapp.net", NULL, 1, 0, 0, "neither" },
		{ "8-byte IV", "mediaretry", "X7", "a@s.whatsapp.net", NULL, 1, 1, 8, "IV" },
	};
	size_t k;

	for (k = 0; k < sizeof(cs) / sizeof(cs[0]); k++) {
		struct cl_wa_node *n = mk("notification"), *r, *e;
		struct cl_wa_rmr_answer a;
		unsigned char zero[32] = { 0 };
		char *err = NULL;
		int rc;

		(void)cl_wa_node_add_attr_s(n, "type", cs[k].type);
		if (cs[k].id)
			(void)cl_wa_node_add_attr_s(n, "id", cs[k].id);
		if (cs[k].rmr) {
			r = mk("rmr");
			if (cs[k].jid)
				(void)cl_wa_node_add_attr_s(r, "jid", cs[k].jid);
			add_child(n, r);
		}
		if (cs[k].code) {
			e = mk("error");
			if (*cs[k].code)
				(void)cl_wa_node_add_attr_s(e, "code", cs[k].code);
			add_child(n, e);
		}
		if (cs[k].enc) {
			struct cl_wa_node *p = mk("enc_p"), *i = mk("enc_iv");

			e = mk("encrypt");
			(void)cl_wa_node_set_bytes(p, zero, 32);
			(void)cl_wa_node_set_bytes(i, zero, (size_t)cs[k].ivlen);
			add_child(e, p);
			add_child(e, i);
			add_child(n, e);
		}
		rc = cl_wa_rmr_parse(n, &a, &err);
		TAP_OK(rc == CL_EINVAL && err && strstr(err, cs[k].want),
		       "malformed (%s): refused: %s", cs[k].name,
		       err ? err : "(no message)");
		free(err);
		cl_wa_node_free(n);
	}
}

static int write_seeds(json_t *v, const char *dir)
{
	json_t *cases = json_object_get(v, "answers"), *c;
	static unsigned char buf[65536];
	size_t i, len;

	json_array_foreach(cases, i, c) {
		char path[4096];
		FILE *f;

		len = unhex(buf, sizeof(buf), json_string_value(json_object_get(c, "node")));
		snprintf(path, sizeof(path), "%s/answer-%zu", dir, i);
		if (len == (size_t)-1 || (f = fopen(path, "wb")) == NULL)
			return 1;
		if (fwrite(buf, 1, len, f) != len) {
			fclose(f);
			return 1;
		}
		if (fclose(f) != 0)
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned char key[32];
	json_t *v;
	int rc;

	if (sodium_init() < 0 || (v = load()) == NULL)
		return 1;
	if (argc == 3 && strcmp(argv[1], "--seeds") == 0) {
		rc = write_seeds(v, argv[2]);
		json_decref(v);
		return rc;
	}
	TAP_OK(unhex(key, sizeof(key), json_string_value(json_object_get(v, "media_key"))) == 32,
	       "vectors: the media key");
	test_answers(v, key);
	test_request(v, key);
	test_malformed();
	json_decref(v);
	return tap_done();
}
