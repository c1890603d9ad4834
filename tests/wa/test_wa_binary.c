/*
 * test_wa_binary.c - the WhatsApp binary node codec (archiver/wa/binary.c)
 * and its token tables (archiver/wa/tokens.c).
 *
 * Known answers come from tests/wa/vectors/binary.json, recorded from npm
 * baileys@7.0.0-rc14's own encodeBinaryNode/decodeBinaryNode by
 * tests/peer/gen-wa-vectors.js (see tests/wa/README).  Run from the
 * repository root (or set CL_ROOT).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zlib.h>

#include "archiver/wa/binary.h"
#include "archiver/wa/frame.h"
#include "archiver/wa/tokens.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "../unit/tap.h"
#include "common/banned.h"

#define VECTORS "tests/wa/vectors/binary.json"
#define BIG (64u << 20)

/* ---- helpers ------------------------------------------------------------ */

static void fill_pattern(unsigned char *p, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)((i * 31 + seed) & 255);
}

/* Hex to a new buffer; *len set.  NULL on bad hex. */
static unsigned char *unhex(const char *h, size_t *len)
{
	size_t n = strlen(h) / 2;
	unsigned char *p = malloc(n + 1);

	if (p == NULL || cl_hex_decode(h, p, n) != CL_OK) {
		free(p);
		return NULL;
	}
	*len = n;
	return p;
}

static char *tohex(const unsigned char *p, size_t n)
{
	struct cl_buf b;

	cl_buf_init(&b, BIG);
	if (cl_hex_add(&b, p, n) != CL_OK) {
		cl_buf_release(&b);
		return NULL;
	}
	return (char *)cl_buf_detach(&b, NULL);
}

/* Build a node from the vector JSON form; NULL on a malformed vector. */
static struct cl_wa_node *from_json(const json_t *j)
{
	struct cl_wa_node *n = NULL;
	const json_t *attrs = json_object_get(j, "attrs");
	const json_t *c = json_object_get(j, "content");
	const char *tag = json_string_value(json_object_get(j, "tag"));
	size_t i;

	if (tag == NULL || cl_wa_node_new_s(&n, tag) != CL_OK)
		return NULL;
	for (i = 0; i < json_array_size(attrs); i++) {
		const json_t *kv = json_array_get(attrs, i);
		const json_t *k = json_array_get(kv, 0), *v = json_array_get(kv, 1);

		if (!json_is_string(k) || !json_is_string(v) ||
		    cl_wa_node_add_attr(n, json_string_value(k), json_string_length(k),
					json_string_value(v),
					json_string_length(v)) != CL_OK)
			goto bad;
	}
	if (c == NULL)
		return n;
	if (json_is_array(c)) {
		if (cl_wa_node_set_list(n) != CL_OK)
			goto bad;
		for (i = 0; i < json_array_size(c); i++) {
			struct cl_wa_node *ch = from_json(json_array_get(c, i));

			if (ch == NULL || cl_wa_node_add_child(n, ch) != CL_OK) {
				cl_wa_node_free(ch);
				goto bad;
			}
		}
		return n;
	}
	if (json_object_get(c, "text")) {
		const json_t *t = json_object_get(c, "text");

		if (cl_wa_node_set_text(n, json_string_value(t),
					json_string_length(t)) != CL_OK)
			goto bad;
		return n;
	}
	if (json_object_get(c, "bytes")) {
		size_t len = 0;
		unsigned char *p = unhex(json_string_value(json_object_get(c, "bytes")),
					 &len);
		int rc = p ? cl_wa_node_set_bytes(n, p, len) : CL_EINVAL;

		free(p);
		if (rc)
			goto bad;
		return n;
	}
	if (json_object_get(c, "pattern")) {
		const json_t *pt = json_object_get(c, "pattern");
		size_t len = (size_t)json_integer_value(json_object_get(pt, "len"));
		unsigned seed = (unsigned)json_integer_value(json_object_get(pt, "seed"));
		unsigned char *p = malloc(len + 1);
		int rc = CL_ENOMEM;

		if (p) {
			fill_pattern(p, len, seed);
			rc = cl_wa_node_set_bytes(n, p, len);
		}
		free(p);
		if (rc)
			goto bad;
		return n;
	}
bad:
	cl_wa_node_free(n);
	return NULL;
}

static void show(const char *what, const struct cl_wa_node *n)
{
	struct cl_buf b;

	cl_buf_init(&b, 1 << 20);
	if (n && cl_wa_node_format(n, &b, 16) == CL_OK)
		printf("# %s: %.600s\n", what, (const char *)b.data);
	cl_buf_release(&b);
}

/* decode -> encode -> decode gives an equal tree and the same bytes. */
static int stable(const unsigned char *p, size_t len)
{
	struct cl_wa_node *a = NULL, *b = NULL;
	struct cl_buf e1, e2;
	char *err = NULL;
	int ok = 0;

	cl_buf_init(&e1, BIG);
	cl_buf_init(&e2, BIG);
	if (cl_wa_node_decode(p, len, &a, &err) == CL_OK &&
	    cl_wa_node_encode(a, &e1, &err) == CL_OK &&
	    cl_wa_node_decode(e1.data, e1.len, &b, &err) == CL_OK &&
	    cl_wa_node_equal(a, b) && cl_wa_node_encode(b, &e2, &err) == CL_OK &&
	    e1.len == e2.len && memcmp(e1.data, e2.data, e1.len) == 0)
		ok = 1;
	if (!ok && err)
		printf("# stable: %s\n", err);
	cl_wa_node_free(a);
	cl_wa_node_free(b);
	cl_buf_release(&e1);
	cl_buf_release(&e2);
	free(err);
	return ok;
}

/*
 * Every proper prefix of a valid encoding is refused.  Above 4 KiB the
 * prefixes are sampled (about 500, plus the last 64) to keep ASan runs
 * short.
 */
static int truncations_rejected(const unsigned char *p, size_t len,
				size_t *tried)
{
	size_t k, step = len > 4096 ? len / 509 + 1 : 1;

	*tried = 0;
	for (k = 0; k < len; k++) {
		struct cl_wa_node *n = NULL;
		char *err = NULL;
		int rc;

		if (k % step && k + 64 < len)
			continue;
		rc = cl_wa_node_decode(p, k, &n, &err);

		(*tried)++;
		free(err);
		cl_wa_node_free(n);
		if (rc != CL_EINVAL || n != NULL) {
			printf("# prefix of %zu bytes gave %d\n", k, rc);
			return 0;
		}
	}
	return 1;
}

static int decode_fails(const unsigned char *p, size_t len, const char *name)
{
	struct cl_wa_node *n = NULL;
	char *err = NULL;
	int rc = cl_wa_node_decode(p, len, &n, &err);
	int ok = rc == CL_EINVAL && n == NULL && err != NULL;

	if (!ok)
		show(name, n);
	else
		printf("# %s: %s\n", name, err);
	cl_wa_node_free(n);
	free(err);
	return ok;
}

static int decode_fails_hex(const char *h, const char *name)
{
	size_t len = 0;
	unsigned char *p = unhex(h, &len);
	int ok = p && decode_fails(p, len, name);

	free(p);
	return ok;
}

/* Decode hex and return the tree (NULL on failure, message shown). */
static struct cl_wa_node *decode_hex(const char *h)
{
	struct cl_wa_node *n = NULL;
	size_t len = 0;
	unsigned char *p = unhex(h, &len);
	char *err = NULL;

	if (p && cl_wa_node_decode(p, len, &n, &err) != CL_OK)
		printf("# decode %s: %s\n", h, err ? err : "?");
	free(p);
	free(err);
	return n;
}

/* Encode a node and compare with hex. */
static int encodes_to(const struct cl_wa_node *n, const char *want)
{
	struct cl_buf b;
	char *err = NULL, *got = NULL;
	int ok;

	cl_buf_init(&b, BIG);
	ok = cl_wa_node_encode(n, &b, &err) == CL_OK &&
	     (got = tohex(b.data, b.len)) != NULL && strcmp(got, want) == 0;
	if (!ok)
		printf("# encoded %s\n#    want %s (%s)\n", got ? got : "-", want,
		       err ? err : "");
	free(got);
	free(err);
	cl_buf_release(&b);
	return ok;
}

/* ---- token tables ------------------------------------------------------- */

static void test_tokens(void)
{
	unsigned char h[CL_SHA256_BYTES];
	struct cl_buf b;
	char *hx;
	size_t i, k, bad = 0;

	cl_buf_init(&b, 1 << 20);
	for (i = 0; i < CL_WA_SINGLE_TOKENS; i++)
		if (cl_buf_add(&b, cl_wa_single_tokens[i],
			       strlen(cl_wa_single_tokens[i]) + 1) != CL_OK)
			bad++;
	for (k = 0; k < CL_WA_DOUBLE_DICTS; k++)
		for (i = 0; i < CL_WA_DOUBLE_TOKENS; i++)
			if (cl_buf_add(&b, cl_wa_double_tokens[k][i],
				       strlen(cl_wa_double_tokens[k][i]) + 1) != CL_OK)
				bad++;
	cl_sha256(b.data, b.len, h);
	hx = tohex(h, sizeof(h));
	TAP_EQ_STR(hx, CL_WA_TOKENS_SHA256,
		   "token tables hash to the generator's SHA-256");
	free(hx);
	cl_buf_release(&b);
	TAP_EQ_INT(bad, 0, "token tables fit in memory");
	TAP_EQ_INT(CL_WA_DICT_VERSION, 3, "dictionary version 3");
	TAP_EQ_INT(CL_WA_SINGLE_TOKENS, 236, "236 single-byte tokens");
	TAP_EQ_STR(cl_wa_single_tokens[2], "xmlstreamend", "token 2 ends the stream");
	TAP_EQ_STR(cl_wa_single_tokens[3], "s.whatsapp.net", "token 3");
	TAP_EQ_STR(cl_wa_double_tokens[0][0], "read-self", "dictionary 0 index 0");

	/* The sorted index is sorted and points back at the tables. */
	for (i = 0; i < CL_WA_TOKEN_INDEX_LEN; i++) {
		const struct cl_wa_token_ref *t = &cl_wa_token_index[i];
		const char *s = t->dict < 0 ? cl_wa_single_tokens[t->index]
					    : cl_wa_double_tokens[t->dict][t->index];

		if (strlen(t->str) != t->len || strcmp(s, t->str) != 0)
			bad++;
		if (i && strcmp(cl_wa_token_index[i - 1].str, t->str) >= 0)
			bad++;
	}
	TAP_EQ_INT(bad, 0, "token index is sorted and consistent");
}

/* ---- known-answer vectors ---------------------------------------------- */

static int check_encoded(const json_t *v, const unsigned char *p, size_t len)
{
	const char *h = json_string_value(json_object_get(v, "encoded"));
	unsigned char d[CL_SHA256_BYTES];
	char *got;
	int ok;

	if (h) {
		got = tohex(p, len);
		ok = got && strcmp(got, h) == 0;
		if (!ok)
			printf("# encoded %.200s\n#    want %.200s\n", got ? got : "-", h);
		free(got);
		return ok;
	}
	if ((size_t)json_integer_value(json_object_get(v, "encoded_len")) != len)
		return 0;
	cl_sha256(p, len, d);
	got = tohex(d, sizeof(d));
	ok = got && strcmp(got, json_string_value(json_object_get(v,
					"encoded_sha256"))) == 0;
	free(got);
	return ok;
}

static void test_node_vectors(const json_t *root)
{
	const json_t *arr = json_object_get(root, "nodes");
	size_t i;

	TAP_OK(json_array_size(arr) >= 20, "at least 20 node vectors (%zu)",
	       json_array_size(arr));
	for (i = 0; i < json_array_size(arr); i++) {
		const json_t *v = json_array_get(arr, i);
		const char *name = json_string_value(json_object_get(v, "name"));
		const json_t *want_j = json_object_get(v, "c_decoded");
		struct cl_wa_node *in = from_json(json_object_get(v, "node"));
		struct cl_wa_node *want, *got = NULL;
		struct cl_buf b;
		char *err = NULL;
		size_t tried = 0;
		int rc;

		if (want_j == NULL)
			want_j = json_object_get(v, "decoded");
		if (want_j == NULL)
			want_j = json_object_get(v, "node");
		want = from_json(want_j);
		cl_buf_init(&b, BIG);
		rc = in ? cl_wa_node_encode(in, &b, &err) : CL_EINVAL;
		TAP_OK(rc == CL_OK && check_encoded(v, b.data, b.len),
		       "%s: encodes byte-exact as Baileys (%zu bytes)", name, b.len);
		rc = cl_wa_node_decode(b.data, b.len, &got, &err);
		TAP_OK(rc == CL_OK && want && cl_wa_node_equal(got, want),
		       "%s: decodes as %s", name,
		       json_object_get(v, "c_decoded") ? "documented (not as Baileys)"
						       : "Baileys does");
		if (rc != CL_OK || !want || !cl_wa_node_equal(got, want)) {
			printf("# %s\n", err ? err : "");
			show("got ", got);
			show("want", want);
		}
		TAP_OK(stable(b.data, b.len), "%s: decode-encode-decode is stable",
		       name);
		TAP_OK(truncations_rejected(b.data, b.len, &tried),
		       "%s: %zu truncations rejected", name, tried);
		cl_buf_release(&b);
		cl_wa_node_free(in);
		cl_wa_node_free(want);
		cl_wa_node_free(got);
		free(err);
	}
}

static void test_decode_only_vectors(const json_t *root)
{
	const json_t *arr = json_object_get(root, "decode_only");
	size_t i;

	for (i = 0; i < json_array_size(arr); i++) {
		const json_t *v = json_array_get(arr, i);
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *h = json_string_value(json_object_get(v, "encoded"));
		struct cl_wa_node *want = from_json(json_object_get(v, "decoded"));
		struct cl_wa_node *got = decode_hex(h);
		size_t len = 0;
		unsigned char *p = unhex(h, &len);

		TAP_OK(got && want && cl_wa_node_equal(got, want),
		       "%s: decodes as Baileys does", name);
		if (!(got && want && cl_wa_node_equal(got, want))) {
			show("got ", got);
			show("want", want);
		}
		if (json_is_true(json_object_get(v, "c_reencodes")))
			TAP_OK(want && encodes_to(want, h), "%s: re-encodes to the same bytes",
			       name);
		TAP_OK(p && stable(p, len), "%s: decode-encode-decode is stable", name);
		free(p);
		cl_wa_node_free(got);
		cl_wa_node_free(want);
	}
}

static void test_invalid_vectors(const json_t *root)
{
	const json_t *arr = json_object_get(root, "invalid");
	size_t i;

	for (i = 0; i < json_array_size(arr); i++) {
		const json_t *v = json_array_get(arr, i);
		const char *name = json_string_value(json_object_get(v, "name"));

		TAP_OK(decode_fails_hex(json_string_value(json_object_get(v, "encoded")),
					name),
		       "%s: rejected (as by Baileys)", name);
	}
}

static void test_frame_vectors(const json_t *root)
{
	const json_t *arr = json_object_get(root, "frames");
	size_t i;

	for (i = 0; i < json_array_size(arr); i++) {
		const json_t *v = json_array_get(arr, i);
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *nh = json_string_value(json_object_get(v, "node"));
		size_t flen = 0;
		unsigned char *f = unhex(json_string_value(json_object_get(v, "frame")),
					 &flen);
		struct cl_buf out;
		struct cl_wa_node *n = NULL;
		char *err = NULL, *got = NULL;
		int ok;

		cl_buf_init(&out, 1 << 20);
		ok = f && cl_wa_frame_unpack(f, flen, &out, &err) == CL_OK;
		if (ok && nh) {
			got = tohex(out.data, out.len);
			ok = got && strcmp(got, nh) == 0;
		} else if (ok) {
			unsigned char d[CL_SHA256_BYTES];

			cl_sha256(out.data, out.len, d);
			got = tohex(d, sizeof(d));
			ok = got && (size_t)json_integer_value(json_object_get(v,
					"node_len")) == out.len &&
			     strcmp(got, json_string_value(json_object_get(v,
					"node_sha256"))) == 0;
		}
		TAP_OK(ok, "frame %s: unpacks to Baileys' node bytes", name);
		TAP_OK(ok && cl_wa_node_decode(out.data, out.len, &n, &err) == CL_OK,
		       "frame %s: node decodes", name);
		if (err)
			printf("# %s\n", err);
		cl_wa_node_free(n);
		cl_buf_release(&out);
		free(f);
		free(got);
		free(err);
	}
}

static void test_vectors(void)
{
	const char *rootdir = getenv("CL_ROOT");
	char path[4096];
	json_error_t je;
	json_t *root;

	snprintf(path, sizeof(path), "%s/%s", rootdir ? rootdir : ".", VECTORS);
	root = json_load_file(path, 0, &je);
	TAP_OK(root != NULL, "vectors load from %s", path);
	if (root == NULL) {
		printf("# %s: %s\n", path, je.text);
		return;
	}
	TAP_OK(strstr(json_string_value(json_object_get(root, "source")),
		      "baileys@7.0.0-rc14") != NULL,
	       "vectors come from baileys@7.0.0-rc14");
	test_node_vectors(root);
	test_decode_only_vectors(root);
	test_invalid_vectors(root);
	test_frame_vectors(root);
	json_decref(root);
}

/* ---- malformed input beyond the vectors -------------------------------- */

static void test_malformed(void)
{
	struct cl_wa_node *n;
	unsigned char *p;
	size_t i, len;

	/* Bad list sizes. */
	TAP_OK(decode_fails_hex("f8051911", "list counts more items than exist"),
	       "list size larger than its items");
	TAP_OK(decode_fails_hex("f8ff19", "255 entries in 3 bytes"),
	       "attribute count larger than the input");
	TAP_OK(decode_fails_hex("f80219f9ffff", "65535 children in 6 bytes"),
	       "child count larger than the input");
	TAP_OK(decode_fails_hex("f90000", "LIST_16 of 0"), "LIST_16 node of size 0");
	TAP_OK(decode_fails_hex("f80219f80100", "child of size 0"),
	       "empty child node");
	TAP_OK(decode_fails_hex("f8011919", "trailing"), "one byte after the node");
	TAP_OK(decode_fails_hex("f8011900", "trailing zero"),
	       "a zero byte after the node");

	/* Strictness beyond Baileys. */
	TAP_OK(decode_fails_hex("f8031911fafa1103", "nested JID"),
	       "JID inside a JID");
	TAP_OK(decode_fails_hex("f8031911f70000fa1103", "JID as AD user"),
	       "JID as an AD_JID user");
	TAP_OK(decode_fails_hex("f8031911ff8112", "odd nibble pad 2"),
	       "packed padding other than 15");
	TAP_OK(decode_fails_hex("f8031911ff80", "odd empty packed"),
	       "odd-length packed string of no bytes");
	TAP_OK(decode_fails_hex("f8031911ff02f123", "pad in the middle"),
	       "padding nibble inside a nibble string");
	TAP_OK(decode_fails_hex("f8031911fb81a1", "hex pad 1"),
	       "hex padding other than 15");
	TAP_OK(decode_fails_hex("f8031911f6fc0161000103", "fb server"),
	       "FB_JID server other than msgr");
	TAP_OK(decode_fails_hex("f8031911f5fc016100010002cc", "interop server"),
	       "INTEROP_JID server other than interop");
	TAP_OK(decode_fails_hex("f8031911f5fc01610001000203", "interop truncated"),
	       "INTEROP_JID without its integrator");

	/* The one test that decodes: text content that is a token. */
	n = decode_hex("f8021911");
	TAP_OK(n && n->kind == CL_WA_TEXT && n->len == 2 &&
	       memcmp(n->data, "to", 2) == 0, "token content is text \"to\"");
	cl_wa_node_free(n);

	/* Unknown AD_JID domain: kept as user_A:D. */
	n = decode_hex("f8031911f70503ff82123f");
	TAP_EQ_STR(n ? cl_wa_node_attr_str(n, "to") : NULL,
		   "123_5:3@s.whatsapp.net", "AD_JID domain 5 keeps its byte");
	TAP_OK(n && encodes_to(n, "f8031911f70503ff82123f"),
	       "...and re-encodes to the same AD_JID");
	cl_wa_node_free(n);
	n = decode_hex("f8031911f78000ff82123f");
	TAP_EQ_STR(n ? cl_wa_node_attr_str(n, "to") : NULL, "123@hosted",
		   "AD_JID hosted device 0");
	cl_wa_node_free(n);
	n = decode_hex("f8031911f78100ff82123f");
	TAP_EQ_STR(n ? cl_wa_node_attr_str(n, "to") : NULL, "123@hosted.lid",
		   "AD_JID hosted.lid device 0");
	cl_wa_node_free(n);

	/* Long packed text (over 127 characters) decodes as bytes, stably. */
	len = 5 + 100;
	p = malloc(len);
	memcpy(p, "\xf8\x02\x19\xff", 4);
	p[4] = 100;
	for (i = 0; i < 100; i++)
		p[5 + i] = 0x12;
	n = NULL;
	{
		char *err = NULL;

		TAP_OK(cl_wa_node_decode(p, 5 + 100, &n, &err) == CL_OK && n &&
		       n->kind == CL_WA_BYTES && n->len == 200,
		       "200-digit nibble content decodes as bytes");
		free(err);
	}
	TAP_OK(stable(p, 5 + 100), "...and is stable");
	cl_wa_node_free(n);
	free(p);

	/* Depth: 64 levels decode, 65 do not, a 100000-level bomb neither. */
	for (i = 64; i <= 65; i++) {
		size_t lvl;

		len = 5 * (i - 1) + 3;
		p = malloc(len);
		for (lvl = 0; lvl + 1 < i; lvl++)
			memcpy(p + 5 * lvl, "\xf8\x02\x19\xf8\x01", 5);
		memcpy(p + 5 * (i - 1), "\xf8\x01\x19", 3);
		n = NULL;
		{
			char *err = NULL;
			int rc = cl_wa_node_decode(p, len, &n, &err);

			if (i == 64)
				TAP_OK(rc == CL_OK && stable(p, len),
				       "64 nested levels decode");
			else
				TAP_OK(rc == CL_EINVAL && err && strstr(err, "deep"),
				       "65 nested levels are refused (%s)",
				       err ? err : "-");
			free(err);
		}
		cl_wa_node_free(n);
		free(p);
	}
	len = 5 * 100000;
	p = malloc(len);
	for (i = 0; i < 100000; i++)
		memcpy(p + 5 * i, "\xf8\x02\x19\xf8\x01", 5);
	TAP_OK(decode_fails(p, len, "depth bomb"), "100000-level depth bomb refused");
	free(p);

	/* Memory bomb: 65535 children of 15 long double-byte-token attributes
	 * each would need well over CL_WA_DECODE_MAX_MEM. */
	{
		size_t child = 3 + 30 * 2, off = 6, c, a;
		char *err = NULL;
		int rc;

		len = off + 65535 * child;
		p = malloc(len);
		memcpy(p, "\xf8\x02\x19\xf9\xff\xff", 6);
		for (c = 0; c < 65535; c++) {
			unsigned char *q = p + off + c * child;

			q[0] = CL_WA_TAG_LIST_8;
			q[1] = 31;
			q[2] = 0x19;
			for (a = 0; a < 30; a++) {
				/* dictionary 1, index 184: a 38-byte token */
				q[3 + 2 * a] = CL_WA_TAG_DICTIONARY_0 + 1;
				q[4 + 2 * a] = 184;
			}
		}
		n = NULL;
		rc = cl_wa_node_decode(p, len, &n, &err);
		TAP_OK(rc == CL_EINVAL && n == NULL && err && strstr(err, "exceeds"),
		       "expansion bomb refused (%s)", err ? err : "-");
		free(err);
		free(p);
	}
}

/* ---- encoder, builder and JID parser ----------------------------------- */

static void test_encoder(void)
{
	struct cl_wa_node *n = NULL, *c = NULL, *d = NULL;
	struct cl_buf b;
	char *err = NULL;
	size_t i;
	int rc;

	cl_buf_init(&b, BIG);
	TAP_EQ_INT(cl_wa_node_new(&n, "", 0), CL_EINVAL, "empty tag refused");

	/* Building and reading. */
	cl_wa_node_new_s(&n, "iq");
	cl_wa_node_add_attr_s(n, "id", "abc");
	cl_wa_node_add_attr_s(n, "type", "get");
	cl_wa_node_new_s(&c, "ping");
	TAP_EQ_INT(cl_wa_node_add_child(n, c), CL_OK, "add a child");
	TAP_EQ_STR(cl_wa_node_attr_str(n, "type"), "get", "attribute lookup");
	TAP_OK(cl_wa_node_attr_str(n, "to") == NULL, "missing attribute");
	TAP_OK(cl_wa_node_child(n, "ping") == c, "child lookup");
	cl_buf_reset(&b);
	cl_wa_node_format(n, &b, 8);
	TAP_EQ_STR((const char *)b.data, "<iq id=\"abc\" type=\"get\"><ping/></iq>",
		   "format");
	TAP_EQ_INT(cl_wa_node_set_bytes(c, "\x01\x02", 2), CL_OK, "set bytes");
	cl_wa_node_new_s(&d, "x");
	TAP_EQ_INT(cl_wa_node_add_child(c, d), CL_EINVAL,
		   "child refused under bytes");
	cl_wa_node_free(d);
	cl_buf_reset(&b);
	TAP_OK(cl_wa_frame_pack(n, &b, &err) == CL_OK && b.len > 1 &&
	       b.data[0] == 0, "frame body starts with flag 0");
	cl_wa_node_free(n);

	/* Non-canonical JIDs go raw and decode unchanged. */
	{
		static const char *const raw[] = {
			"123:0@s.whatsapp.net", "123:4@g.us", "a_b@s.whatsapp.net",
			"123:04@s.whatsapp.net", "123:256@s.whatsapp.net",
			"1_1:2@s.whatsapp.net", "1_5:2@lid", "a@b@c", "abc@",
			"x:1:2@s.whatsapp.net", "5-a:70000@interop", "a:1@interop",
			"u:65536@msgr", "123:+1@s.whatsapp.net",
		};
		static const char *const jid[] = {
			"123@s.whatsapp.net", "123:4@s.whatsapp.net", "@g.us",
			"1_5:2@s.whatsapp.net", "u:0@msgr", "u_x:65535@msgr",
			"0-:0@interop", "65535-a-b:1@interop", "x@interop", "x@msgr",
		};
		struct cl_wa_jid j;
		int bad = 0;

		for (i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
			if (cl_wa_jid_parse(raw[i], strlen(raw[i]), &j) == CL_OK) {
				printf("# parsed %s\n", raw[i]);
				bad++;
			}
			cl_wa_node_new_s(&n, "iq");
			cl_wa_node_add_attr_s(n, "to", raw[i]);
			cl_buf_reset(&b);
			d = NULL;
			if (cl_wa_node_encode(n, &b, &err) != CL_OK ||
			    b.data[4] != CL_WA_TAG_BINARY_8 ||
			    cl_wa_node_decode(b.data, b.len, &d, &err) != CL_OK ||
			    !cl_wa_node_equal(n, d))
				bad++;
			cl_wa_node_free(n);
			cl_wa_node_free(d);
		}
		TAP_EQ_INT(bad, 0, "non-canonical JIDs are written raw");
		for (i = 0; i < sizeof(jid) / sizeof(jid[0]); i++) {
			if (cl_wa_jid_parse(jid[i], strlen(jid[i]), &j) != CL_OK) {
				printf("# not parsed %s\n", jid[i]);
				bad++;
			}
			cl_wa_node_new_s(&n, "iq");
			cl_wa_node_add_attr_s(n, "to", jid[i]);
			cl_buf_reset(&b);
			d = NULL;
			if (cl_wa_node_encode(n, &b, &err) != CL_OK ||
			    b.data[4] == CL_WA_TAG_BINARY_8 ||
			    cl_wa_node_decode(b.data, b.len, &d, &err) != CL_OK ||
			    !cl_wa_node_equal(n, d)) {
				printf("# jid %s\n", jid[i]);
				bad++;
			}
			cl_wa_node_free(n);
			cl_wa_node_free(d);
		}
		TAP_EQ_INT(bad, 0, "canonical JIDs round-trip as JIDs");
		rc = cl_wa_jid_parse("15551234567:12@s.whatsapp.net", 29, &j);
		TAP_OK(rc == CL_OK && j.form == CL_WA_JID_AD && j.domain == 0 &&
		       j.device == 12 && j.user_len == 11 &&
		       memcmp(j.user, "15551234567", 11) == 0,
		       "device JID parses to user 15551234567 device 12");
		rc = cl_wa_jid_parse("7-abc:2@interop", 15, &j);
		TAP_OK(rc == CL_OK && j.form == CL_WA_JID_INTEROP &&
		       j.integrator == 7 && j.device == 2 && j.user_len == 3,
		       "interop JID parses");
	}

	/* A text that is "toString" is a plain string here (Baileys' object
	 * lookup would turn it into byte 0). */
	cl_wa_node_new_s(&n, "iq");
	cl_wa_node_set_text(n, "toString", 8);
	TAP_OK(encodes_to(n, "f80219fc08746f537472696e67"), "\"toString\" is raw");
	cl_wa_node_free(n);

	/* Attribute values with NUL bytes and invalid UTF-8 survive. */
	cl_wa_node_new_s(&n, "iq");
	cl_wa_node_add_attr(n, "k\0y", 3, "\xff\0\xfe", 3);
	cl_wa_node_set_bytes(n, "", 0);
	cl_buf_reset(&b);
	d = NULL;
	rc = cl_wa_node_encode(n, &b, &err);
	TAP_OK(rc == CL_OK && cl_wa_node_decode(b.data, b.len, &d, &err) == CL_OK &&
	       cl_wa_node_equal(n, d), "binary attribute strings round-trip");
	cl_wa_node_free(n);
	cl_wa_node_free(d);

	/* Limits. */
	cl_wa_node_new_s(&n, "iq");
	rc = CL_OK;
	for (i = 0; i < 32767 && rc == CL_OK; i++)
		rc = cl_wa_node_add_attr_s(n, "k", "v");
	cl_buf_reset(&b);
	TAP_EQ_INT(cl_wa_node_encode(n, &b, &err), CL_OK,
		   "32767 attributes encode (LIST_16 65535)");
	cl_wa_node_set_list(n);
	cl_buf_reset(&b);
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_wa_node_encode(n, &b, &err), CL_EINVAL,
		   "32767 attributes plus content refused");
	TAP_OK(err != NULL, "...with a message (%s)", err ? err : "-");
	cl_wa_node_free(n);
	free(err);
	err = NULL;

	cl_wa_node_new_s(&n, "list");
	rc = CL_OK;
	for (i = 0; i < 65536 && rc == CL_OK; i++) {
		cl_wa_node_new_s(&c, "k");
		rc = cl_wa_node_add_child(n, c);
	}
	cl_buf_reset(&b);
	TAP_EQ_INT(cl_wa_node_encode(n, &b, &err), CL_EINVAL,
		   "65536 children refused");
	cl_wa_node_free(n);
	free(err);
	err = NULL;

	cl_wa_node_new_s(&n, "root");
	d = n;
	for (i = 1; i < 64; i++) {
		cl_wa_node_new_s(&c, "n");
		cl_wa_node_add_child(d, c);
		d = c;
	}
	cl_buf_reset(&b);
	TAP_EQ_INT(cl_wa_node_encode(n, &b, &err), CL_OK, "64 levels encode");
	cl_wa_node_new_s(&c, "n");
	cl_wa_node_add_child(d, c);
	cl_buf_reset(&b);
	TAP_EQ_INT(cl_wa_node_encode(n, &b, &err), CL_EINVAL, "65 levels refused");
	cl_wa_node_free(n);
	free(err);
	err = NULL;

	{
		struct cl_buf small;

		cl_buf_init(&small, 8);
		cl_wa_node_new_s(&n, "iq");
		cl_wa_node_set_bytes(n, "0123456789", 10);
		TAP_EQ_INT(cl_wa_node_encode(n, &small, &err), CL_ETOOBIG,
			   "output cap enforced");
		cl_wa_node_free(n);
		cl_buf_release(&small);
		free(err);
		err = NULL;
	}
	cl_buf_release(&b);
}

/* ---- frame body: flag and zlib ------------------------------------------ */

static void test_unpack(void)
{
	static unsigned char zeros[4 << 20];
	unsigned char *z;
	uLongf zl;
	struct cl_buf out;
	char *err = NULL;
	size_t zlen;

	cl_buf_init(&out, 1 << 20);
	TAP_EQ_INT(cl_wa_frame_unpack((const unsigned char *)"", 0, &out, &err),
		   CL_EINVAL, "empty body refused");
	free(err);
	err = NULL;

	/* 4 MiB of zeros compress to a few KiB: a bomb for a 1 MiB cap. */
	zl = compressBound(sizeof(zeros));
	z = malloc(zl + 1);
	z[0] = CL_WA_FLAG_ZLIB;
	compress2(z + 1, &zl, zeros, sizeof(zeros), 9);
	zlen = zl + 1;
	cl_buf_reset(&out);
	TAP_EQ_INT(cl_wa_frame_unpack(z, zlen, &out, &err), CL_ETOOBIG,
		   "zlib bomb stops at the cap");
	TAP_OK(err && strstr(err, "exceeds"), "...saying so (%s)", err ? err : "-");
	TAP_OK(out.len <= out.max, "...having written at most the cap");
	free(err);
	err = NULL;

	zl = compressBound(1000);
	compress2(z + 1, &zl, zeros, 1000, 9);
	zlen = zl + 1;
	cl_buf_reset(&out);
	TAP_OK(cl_wa_frame_unpack(z, zlen, &out, &err) == CL_OK && out.len == 1000,
	       "small zlib body inflates");
	cl_buf_reset(&out);
	TAP_EQ_INT(cl_wa_frame_unpack(z, zlen - 1, &out, &err), CL_EINVAL,
		   "truncated zlib body refused");
	free(err);
	err = NULL;
	z[zlen] = 0x55;
	cl_buf_reset(&out);
	TAP_EQ_INT(cl_wa_frame_unpack(z, zlen + 1, &out, &err), CL_EINVAL,
		   "bytes after the zlib stream refused");
	free(err);
	err = NULL;
	z[5] ^= 0xff;
	cl_buf_reset(&out);
	TAP_EQ_INT(cl_wa_frame_unpack(z, zlen, &out, &err), CL_EINVAL,
		   "corrupt zlib body refused");
	free(err);
	err = NULL;
	free(z);

	cl_buf_release(&out);
	cl_buf_init(&out, 3);
	TAP_EQ_INT(cl_wa_frame_unpack((const unsigned char *)"\0abcd", 5, &out,
				      &err), CL_ETOOBIG, "plain body over the cap");
	free(err);
	err = NULL;
	cl_buf_reset(&out);
	TAP_OK(cl_wa_frame_unpack((const unsigned char *)"\0abc", 4, &out, &err) ==
	       CL_OK && out.len == 3 && memcmp(out.data, "abc", 3) == 0,
	       "plain body copied");
	cl_buf_release(&out);
}

int main(void)
{
	test_tokens();
	test_vectors();
	test_malformed();
	test_encoder();
	test_unpack();
	return tap_done();
}
