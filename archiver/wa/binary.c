/*
 * binary.c - WhatsApp binary node codec (token dictionary v3) and the
 * decrypted-frame flag byte.  The wire format and the JID texts are
 * described in binary.h; the token tables are generated into tokens.c.
 *
 * The string rules are shared by encoder and decoder (string_form()), so
 * that decode -> encode -> decode is the identity on every tree the
 * decoder accepts: the decoder only produces CL_WA_TEXT content that the
 * encoder writes as a token, packed string or JID (anything else becomes
 * CL_WA_BYTES, which is what it would decode to after a round trip), and
 * it only renders JIDs that the encoder parses back to the same bytes or
 * writes raw.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "binary.h"
#include "tokens.h"
#include "common/status.h"
#include "common/banned.h"

#define LIST_MAX 65535u
#define PACKED_CHARS (2 * CL_WA_PACKED_MAX)

/* ---- small helpers ---------------------------------------------------- */

/* A copy of n bytes plus a NUL; NULL on overflow or allocation failure. */
static char *dup_bytes(const void *p, size_t n)
{
	char *s;

	if (n == SIZE_MAX)
		return NULL;
	s = malloc(n + 1);
	if (s == NULL)
		return NULL;
	if (n)
		memcpy(s, p, n);
	s[n] = 0;
	return s;
}

static int bytes_eq(const char *a, size_t an, const char *b, size_t bn)
{
	return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static int str_is(const char *a, size_t an, const char *lit)
{
	return bytes_eq(a, an, lit, strlen(lit));
}

/*
 * Parse a canonical decimal ("0" or no leading zero) of at most `max`.
 * Returns 1 on success.
 */
static int parse_dec(const char *s, size_t n, unsigned max, unsigned *out)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 10 || (n > 1 && s[0] == '0'))
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return 0;
	*out = (unsigned)v;
	return 1;
}

/* ---- tokens ----------------------------------------------------------- */

static const struct cl_wa_token_ref *token_find(const char *s, size_t n)
{
	size_t lo = 0, hi = CL_WA_TOKEN_INDEX_LEN;

	if (n == 0 || n > CL_WA_TOKEN_MAXLEN)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct cl_wa_token_ref *t = &cl_wa_token_index[mid];
		size_t m = t->len < n ? t->len : n;
		int c = memcmp(t->str, s, m);

		if (c == 0)
			c = (t->len > n) - (t->len < n);
		if (c == 0)
			return t;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- JIDs ------------------------------------------------------------- */

/* The AD_JID domain byte of a known user server, or -1. */
static int ad_domain(const char *s, size_t n)
{
	if (str_is(s, n, "s.whatsapp.net"))
		return 0;
	if (str_is(s, n, "lid"))
		return 1;
	if (str_is(s, n, "hosted"))
		return 128;
	if (str_is(s, n, "hosted.lid"))
		return 129;
	return -1;
}

static const char *ad_server(unsigned domain)
{
	switch (domain) {
	case 1: return "lid";
	case 128: return "hosted";
	case 129: return "hosted.lid";
	default: return "s.whatsapp.net";
	}
}

int cl_wa_jid_parse(const char *s, size_t len, struct cl_wa_jid *jid)
{
	const char *at, *colon, *sep, *srv, *d;
	size_t ulen, slen, dlen, ualen;
	unsigned dev, v;
	int dom;

	memset(jid, 0, sizeof(*jid));
	at = len ? memchr(s, '@', len) : NULL;
	if (at == NULL)
		return CL_EINVAL;
	ulen = (size_t)(at - s);
	srv = at + 1;
	slen = len - ulen - 1;
	if (slen == 0 || memchr(srv, '@', slen) != NULL)
		return CL_EINVAL;
	jid->server = srv;
	jid->server_len = slen;
	colon = ulen ? memchr(s, ':', ulen) : NULL;
	if (colon == NULL) {
		/* Baileys would cut the user at '_' (an agent), so refuse. */
		if (ulen && memchr(s, '_', ulen) != NULL)
			return CL_EINVAL;
		jid->form = CL_WA_JID_PAIR;
		jid->user = s;
		jid->user_len = ulen;
		return CL_OK;
	}
	ualen = (size_t)(colon - s);
	d = colon + 1;
	dlen = ulen - ualen - 1;
	if (str_is(srv, slen, "interop")) {
		sep = ualen ? memchr(s, '-', ualen) : NULL;
		if (sep == NULL ||
		    !parse_dec(s, (size_t)(sep - s), 65535, &jid->integrator) ||
		    !parse_dec(d, dlen, 65535, &jid->device))
			return CL_EINVAL;
		jid->form = CL_WA_JID_INTEROP;
		jid->user = sep + 1;
		jid->user_len = (size_t)(colon - sep - 1);
		return CL_OK;
	}
	if (str_is(srv, slen, "msgr")) {
		if (!parse_dec(d, dlen, 65535, &jid->device))
			return CL_EINVAL;
		jid->form = CL_WA_JID_FB;
		jid->user = s;
		jid->user_len = ualen;
		return CL_OK;
	}
	dom = ad_domain(srv, slen);
	if (dom < 0 || !parse_dec(d, dlen, 255, &dev))
		return CL_EINVAL;
	jid->form = CL_WA_JID_AD;
	jid->device = dev;
	jid->user = s;
	sep = ualen ? memchr(s, '_', ualen) : NULL;
	if (sep == NULL) {
		if (dev == 0) /* rendered without ":0" */
			return CL_EINVAL;
		jid->domain = (unsigned)dom;
		jid->user_len = ualen;
		return CL_OK;
	}
	/* user_A:D@s.whatsapp.net: an agent/domain byte the server names. */
	if (dom != 0 || !parse_dec(sep + 1, (size_t)(colon - sep - 1), 255, &v) ||
	    v == 0 || v == 1 || v == 128 || v == 129)
		return CL_EINVAL;
	jid->domain = v;
	jid->user_len = (size_t)(sep - s);
	return CL_OK;
}

/* ---- string classification (shared by encoder and decoder) ------------ */

enum sform { SF_EMPTY, SF_TOKEN, SF_NIBBLE, SF_HEX, SF_JID, SF_RAW };

static int is_nibble(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > CL_WA_PACKED_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
			return 0;
	return 1;
}

static int is_hex(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > CL_WA_PACKED_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

/* How the encoder writes `s`; *tok / *jid are filled for those forms. */
static enum sform string_form(const char *s, size_t n,
			      const struct cl_wa_token_ref **tok,
			      struct cl_wa_jid *jid)
{
	if (n == 0)
		return SF_EMPTY;
	*tok = token_find(s, n);
	if (*tok)
		return SF_TOKEN;
	if (is_nibble(s, n))
		return SF_NIBBLE;
	if (is_hex(s, n))
		return SF_HEX;
	if (memchr(s, '@', n) != NULL && cl_wa_jid_parse(s, n, jid) == CL_OK)
		return SF_JID;
	return SF_RAW;
}

/* ---- node building ---------------------------------------------------- */

static void content_clear(struct cl_wa_node *n)
{
	size_t i;

	free(n->data);
	n->data = NULL;
	n->len = 0;
	for (i = 0; i < n->nchildren; i++)
		cl_wa_node_free(n->children[i]);
	free(n->children);
	n->children = NULL;
	n->nchildren = 0;
	n->children_alloc = 0;
	n->kind = CL_WA_NONE;
}

void cl_wa_node_free(struct cl_wa_node *n)
{
	size_t i;

	if (n == NULL)
		return;
	free(n->tag);
	for (i = 0; i < n->nattrs; i++) {
		free(n->attrs[i].key);
		free(n->attrs[i].value);
	}
	free(n->attrs);
	content_clear(n);
	free(n);
}

int cl_wa_node_new(struct cl_wa_node **out, const char *tag, size_t len)
{
	struct cl_wa_node *n;

	*out = NULL;
	if (len == 0)
		return CL_EINVAL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return CL_ENOMEM;
	n->tag = dup_bytes(tag, len);
	if (n->tag == NULL) {
		free(n);
		return CL_ENOMEM;
	}
	n->tag_len = len;
	*out = n;
	return CL_OK;
}

int cl_wa_node_new_s(struct cl_wa_node **out, const char *tag)
{
	return cl_wa_node_new(out, tag, strlen(tag));
}

int cl_wa_node_add_attr(struct cl_wa_node *n, const char *key, size_t klen,
			const char *value, size_t vlen)
{
	struct cl_wa_attr *a;
	char *k, *v;

	if (n->nattrs == n->attrs_alloc) {
		size_t na = n->attrs_alloc ? n->attrs_alloc * 2 : 4;

		if (na > SIZE_MAX / sizeof(*a))
			return CL_ENOMEM;
		a = realloc(n->attrs, na * sizeof(*a));
		if (a == NULL)
			return CL_ENOMEM;
		n->attrs = a;
		n->attrs_alloc = na;
	}
	k = dup_bytes(key, klen);
	v = dup_bytes(value, vlen);
	if (k == NULL || v == NULL) {
		free(k);
		free(v);
		return CL_ENOMEM;
	}
	a = &n->attrs[n->nattrs++];
	a->key = k;
	a->key_len = klen;
	a->value = v;
	a->value_len = vlen;
	return CL_OK;
}

int cl_wa_node_add_attr_s(struct cl_wa_node *n, const char *key,
			  const char *value)
{
	return cl_wa_node_add_attr(n, key, strlen(key), value, strlen(value));
}

static int set_blob(struct cl_wa_node *n, enum cl_wa_content kind,
		    const void *p, size_t len)
{
	char *d = dup_bytes(p, len);

	if (d == NULL)
		return CL_ENOMEM;
	content_clear(n);
	n->data = (unsigned char *)d;
	n->len = len;
	n->kind = kind;
	return CL_OK;
}

int cl_wa_node_set_bytes(struct cl_wa_node *n, const void *p, size_t len)
{
	return set_blob(n, CL_WA_BYTES, p, len);
}

int cl_wa_node_set_text(struct cl_wa_node *n, const char *s, size_t len)
{
	return set_blob(n, CL_WA_TEXT, s, len);
}

int cl_wa_node_set_list(struct cl_wa_node *n)
{
	content_clear(n);
	n->kind = CL_WA_LIST;
	return CL_OK;
}

int cl_wa_node_add_child(struct cl_wa_node *n, struct cl_wa_node *child)
{
	if (n->kind != CL_WA_NONE && n->kind != CL_WA_LIST)
		return CL_EINVAL;
	if (n->nchildren == n->children_alloc) {
		size_t na = n->children_alloc ? n->children_alloc * 2 : 4;
		struct cl_wa_node **c;

		if (na > SIZE_MAX / sizeof(struct cl_wa_node *))
			return CL_ENOMEM;
		c = realloc(n->children, na * sizeof(struct cl_wa_node *));
		if (c == NULL)
			return CL_ENOMEM;
		n->children = c;
		n->children_alloc = na;
	}
	n->kind = CL_WA_LIST;
	n->children[n->nchildren++] = child;
	return CL_OK;
}

int cl_wa_node_add_leaf(struct cl_wa_node *parent, const char *tag,
			const void *p, size_t len, int text)
{
	struct cl_wa_node *n = NULL;
	int rc = cl_wa_node_new_s(&n, tag);

	if (rc == CL_OK)
		rc = text ? cl_wa_node_set_text(n, p, len) :
			    cl_wa_node_set_bytes(n, p, len);
	if (rc == CL_OK)
		rc = cl_wa_node_add_child(parent, n);
	if (rc)
		cl_wa_node_free(n);
	return rc;
}

const struct cl_wa_attr *cl_wa_node_attr(const struct cl_wa_node *n,
					 const char *key)
{
	size_t i, kl = strlen(key);

	for (i = 0; i < n->nattrs; i++)
		if (bytes_eq(n->attrs[i].key, n->attrs[i].key_len, key, kl))
			return &n->attrs[i];
	return NULL;
}

const char *cl_wa_node_attr_str(const struct cl_wa_node *n, const char *key)
{
	const struct cl_wa_attr *a = cl_wa_node_attr(n, key);

	return a ? a->value : NULL;
}

const struct cl_wa_node *cl_wa_node_child(const struct cl_wa_node *n,
					  const char *tag)
{
	size_t i, tl = strlen(tag);

	if (n->kind != CL_WA_LIST)
		return NULL;
	for (i = 0; i < n->nchildren; i++)
		if (bytes_eq(n->children[i]->tag, n->children[i]->tag_len, tag, tl))
			return n->children[i];
	return NULL;
}

int cl_wa_node_equal(const struct cl_wa_node *a, const struct cl_wa_node *b)
{
	size_t i;

	if (!bytes_eq(a->tag, a->tag_len, b->tag, b->tag_len) ||
	    a->nattrs != b->nattrs || a->kind != b->kind)
		return 0;
	for (i = 0; i < a->nattrs; i++)
		if (!bytes_eq(a->attrs[i].key, a->attrs[i].key_len,
			      b->attrs[i].key, b->attrs[i].key_len) ||
		    !bytes_eq(a->attrs[i].value, a->attrs[i].value_len,
			      b->attrs[i].value, b->attrs[i].value_len))
			return 0;
	switch (a->kind) {
	case CL_WA_BYTES:
	case CL_WA_TEXT:
		return bytes_eq((const char *)a->data, a->len,
				(const char *)b->data, b->len);
	case CL_WA_LIST:
		if (a->nchildren != b->nchildren)
			return 0;
		for (i = 0; i < a->nchildren; i++)
			if (!cl_wa_node_equal(a->children[i], b->children[i]))
				return 0;
		return 1;
	case CL_WA_NONE:
	default:
		return 1;
	}
}

/* ---- formatting -------------------------------------------------------- */

static int fmt_str(struct cl_buf *out, const char *s, size_t n)
{
	size_t i;
	int rc = CL_OK;

	for (i = 0; i < n && rc == CL_OK; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			rc = cl_buf_addf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			rc = cl_buf_addf(out, "\\x%02x", c);
		else
			rc = cl_buf_add_u8(out, c);
	}
	return rc;
}

int cl_wa_node_format(const struct cl_wa_node *n, struct cl_buf *out,
		      size_t max_bytes)
{
	size_t i;
	int rc;

	rc = cl_buf_add_u8(out, '<');
	if (rc == CL_OK)
		rc = fmt_str(out, n->tag, n->tag_len);
	for (i = 0; i < n->nattrs && rc == CL_OK; i++) {
		rc = cl_buf_add_u8(out, ' ');
		if (rc == CL_OK)
			rc = fmt_str(out, n->attrs[i].key, n->attrs[i].key_len);
		if (rc == CL_OK)
			rc = cl_buf_addstr(out, "=\"");
		if (rc == CL_OK)
			rc = fmt_str(out, n->attrs[i].value, n->attrs[i].value_len);
		if (rc == CL_OK)
			rc = cl_buf_add_u8(out, '"');
	}
	if (rc)
		return rc;
	if (n->kind == CL_WA_NONE)
		return cl_buf_addstr(out, "/>");
	rc = cl_buf_add_u8(out, '>');
	if (n->kind == CL_WA_TEXT && rc == CL_OK) {
		rc = fmt_str(out, (const char *)n->data, n->len);
	} else if (n->kind == CL_WA_BYTES && rc == CL_OK) {
		size_t show = n->len < max_bytes ? n->len : max_bytes;

		rc = cl_buf_addstr(out, "0x");
		for (i = 0; i < show && rc == CL_OK; i++)
			rc = cl_buf_addf(out, "%02x", n->data[i]);
		if (rc == CL_OK && show < n->len)
			rc = cl_buf_addf(out, "...(%zu bytes)", n->len);
	} else {
		for (i = 0; i < n->nchildren && rc == CL_OK; i++)
			rc = cl_wa_node_format(n->children[i], out, max_bytes);
	}
	if (rc == CL_OK)
		rc = cl_buf_addstr(out, "</");
	if (rc == CL_OK)
		rc = fmt_str(out, n->tag, n->tag_len);
	if (rc == CL_OK)
		rc = cl_buf_add_u8(out, '>');
	return rc;
}

/* ---- encoder ----------------------------------------------------------- */

struct enc {
	struct cl_buf *out;
	char **err;
};

static int put(struct enc *e, const void *p, size_t n)
{
	int rc = cl_buf_add(e->out, p, n);

	if (rc == CL_ETOOBIG)
		return cl_error(e->err, rc,
				"wa encode: output exceeds %zu bytes", e->out->max);
	return rc;
}

static int put_u8(struct enc *e, unsigned v)
{
	unsigned char b = (unsigned char)v;

	return put(e, &b, 1);
}

/* n bytes of v, big-endian. */
static int put_be(struct enc *e, uint32_t v, unsigned n)
{
	unsigned char b[4];
	unsigned i;

	for (i = 0; i < n; i++)
		b[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
	return put(e, b, n);
}

static int put_list_start(struct enc *e, size_t n)
{
	int rc;

	if (n == 0)
		return put_u8(e, CL_WA_TAG_LIST_EMPTY);
	if (n < 256) {
		rc = put_u8(e, CL_WA_TAG_LIST_8);
		return rc ? rc : put_u8(e, (unsigned)n);
	}
	if (n > LIST_MAX)
		return cl_error(e->err, CL_EINVAL,
				"wa encode: list of %zu entries (max %u)", n, LIST_MAX);
	rc = put_u8(e, CL_WA_TAG_LIST_16);
	return rc ? rc : put_be(e, (uint32_t)n, 2);
}

static int put_byte_length(struct enc *e, size_t n)
{
	int rc;

	if (n < 256) {
		rc = put_u8(e, CL_WA_TAG_BINARY_8);
		return rc ? rc : put_u8(e, (unsigned)n);
	}
	if (n < ((size_t)1 << 20)) {
		rc = put_u8(e, CL_WA_TAG_BINARY_20);
		return rc ? rc : put_be(e, (uint32_t)n, 3);
	}
	if (n > UINT32_MAX)
		return cl_error(e->err, CL_EINVAL,
				"wa encode: blob of %zu bytes is too large", n);
	rc = put_u8(e, CL_WA_TAG_BINARY_32);
	return rc ? rc : put_be(e, (uint32_t)n, 4);
}

static unsigned pack_nibble(char c)
{
	switch (c) {
	case '-': return 10;
	case '.': return 11;
	case 0: return 15;
	default: return (unsigned)(c - '0');
	}
}

static unsigned pack_hex(char c)
{
	if (c == 0)
		return 15;
	if (c >= 'A')
		return (unsigned)(c - 'A' + 10);
	return (unsigned)(c - '0');
}

static int put_packed(struct enc *e, unsigned tag, const char *s, size_t n)
{
	unsigned char b[2 + (CL_WA_PACKED_MAX + 1) / 2];
	unsigned (*pack)(char) = tag == CL_WA_TAG_NIBBLE_8 ? pack_nibble : pack_hex;
	size_t i, k = 2;

	b[0] = (unsigned char)tag;
	b[1] = (unsigned char)((n + 1) / 2 | (n % 2 ? 0x80 : 0));
	for (i = 0; i + 1 < n; i += 2)
		b[k++] = (unsigned char)(pack(s[i]) << 4 | pack(s[i + 1]));
	if (n % 2)
		b[k++] = (unsigned char)(pack(s[n - 1]) << 4 | pack(0));
	return put(e, b, k);
}

static int put_string(struct enc *e, const char *s, size_t n);

static int put_jid(struct enc *e, const struct cl_wa_jid *j)
{
	int rc;

	switch (j->form) {
	case CL_WA_JID_AD:
		rc = put_u8(e, CL_WA_TAG_AD_JID);
		if (rc == CL_OK)
			rc = put_u8(e, j->domain);
		if (rc == CL_OK)
			rc = put_u8(e, j->device);
		return rc ? rc : put_string(e, j->user, j->user_len);
	case CL_WA_JID_FB:
	case CL_WA_JID_INTEROP:
		rc = put_u8(e, j->form == CL_WA_JID_FB ? CL_WA_TAG_FB_JID
						       : CL_WA_TAG_INTEROP_JID);
		if (rc == CL_OK)
			rc = put_string(e, j->user, j->user_len);
		if (rc == CL_OK)
			rc = put_be(e, j->device, 2);
		if (rc == CL_OK && j->form == CL_WA_JID_INTEROP)
			rc = put_be(e, j->integrator, 2);
		return rc ? rc : put_string(e, j->server, j->server_len);
	case CL_WA_JID_PAIR:
	default:
		rc = put_u8(e, CL_WA_TAG_JID_PAIR);
		if (rc == CL_OK)
			rc = j->user_len ? put_string(e, j->user, j->user_len)
					 : put_u8(e, CL_WA_TAG_LIST_EMPTY);
		return rc ? rc : put_string(e, j->server, j->server_len);
	}
}

/* JID components never contain '@', so this recurses at most once. */
static int put_string(struct enc *e, const char *s, size_t n)
{
	const struct cl_wa_token_ref *tok = NULL;
	struct cl_wa_jid jid;
	int rc;

	switch (string_form(s, n, &tok, &jid)) {
	case SF_TOKEN:
		if (tok->dict >= 0) {
			rc = put_u8(e, CL_WA_TAG_DICTIONARY_0 + (unsigned)tok->dict);
			if (rc)
				return rc;
		}
		return put_u8(e, tok->index);
	case SF_NIBBLE:
		return put_packed(e, CL_WA_TAG_NIBBLE_8, s, n);
	case SF_HEX:
		return put_packed(e, CL_WA_TAG_HEX_8, s, n);
	case SF_JID:
		return put_jid(e, &jid);
	case SF_EMPTY:
	case SF_RAW:
	default:
		rc = put_byte_length(e, n);
		return rc ? rc : put(e, s, n);
	}
}

static int encode_node(struct enc *e, const struct cl_wa_node *n, int depth)
{
	size_t i, size;
	int rc;

	if (depth > CL_WA_MAX_DEPTH)
		return cl_error(e->err, CL_EINVAL,
				"wa encode: nodes nested deeper than %d",
				CL_WA_MAX_DEPTH);
	if (n->tag == NULL || n->tag_len == 0)
		return cl_error(e->err, CL_EINVAL, "wa encode: empty tag");
	if (n->nattrs > (LIST_MAX - 1) / 2)
		return cl_error(e->err, CL_EINVAL,
				"wa encode: <%s> has %zu attributes", n->tag, n->nattrs);
	size = 1 + 2 * n->nattrs + (n->kind != CL_WA_NONE ? 1u : 0u);
	rc = put_list_start(e, size);
	if (rc == CL_OK)
		rc = put_string(e, n->tag, n->tag_len);
	for (i = 0; i < n->nattrs && rc == CL_OK; i++) {
		rc = put_string(e, n->attrs[i].key, n->attrs[i].key_len);
		if (rc == CL_OK)
			rc = put_string(e, n->attrs[i].value,
					n->attrs[i].value_len);
	}
	if (rc)
		return rc;
	switch (n->kind) {
	case CL_WA_BYTES:
		rc = put_byte_length(e, n->len);
		return rc ? rc : put(e, n->data, n->len);
	case CL_WA_TEXT:
		return put_string(e, (const char *)n->data, n->len);
	case CL_WA_LIST:
		rc = put_list_start(e, n->nchildren);
		for (i = 0; i < n->nchildren && rc == CL_OK; i++)
			rc = encode_node(e, n->children[i], depth + 1);
		return rc;
	case CL_WA_NONE:
	default:
		return CL_OK;
	}
}

int cl_wa_node_encode(const struct cl_wa_node *n, struct cl_buf *out,
		      char **err)
{
	struct enc e;

	e.out = out;
	e.err = err;
	return encode_node(&e, n, 1);
}

int cl_wa_frame_pack(const struct cl_wa_node *n, struct cl_buf *out,
		     char **err)
{
	int rc = cl_buf_add_u8(out, 0);

	if (rc == CL_ETOOBIG)
		return cl_error(err, rc, "wa encode: output exceeds %zu bytes",
				out->max);
	return rc ? rc : cl_wa_node_encode(n, out, err);
}

/* ---- decoder ----------------------------------------------------------- */

struct dec {
	const unsigned char *p;
	size_t len;
	size_t pos;
	size_t mem;          /* bytes of tree allocated so far */
	struct cl_buf jid;   /* rendering of the last JID read */
	char **err;
};

/* A string read from the wire: points into the input, a token table,
 * a caller's scratch array or d->jid; valid until the next read. */
struct view {
	const char *p;
	size_t n;
};

static int dec_fail(struct dec *d, const char *what)
{
	return cl_error(d->err, CL_EINVAL, "wa decode: %s at offset %zu",
			what, d->pos);
}

static int need(struct dec *d, size_t n)
{
	if (n > d->len - d->pos)
		return dec_fail(d, "truncated input");
	return CL_OK;
}

static int rd_u8(struct dec *d, unsigned *v)
{
	int rc = need(d, 1);

	if (rc)
		return rc;
	*v = d->p[d->pos++];
	return CL_OK;
}

static int rd_be(struct dec *d, unsigned nbytes, uint32_t *v)
{
	unsigned i;
	int rc = need(d, nbytes);

	if (rc)
		return rc;
	*v = 0;
	for (i = 0; i < nbytes; i++)
		*v = *v << 8 | d->p[d->pos++];
	return CL_OK;
}

/* Count `n` more bytes of decoded tree against CL_WA_DECODE_MAX_MEM. */
static int charge(struct dec *d, size_t n)
{
	if (n > CL_WA_DECODE_MAX_MEM - d->mem)
		return cl_error(d->err, CL_EINVAL,
				"wa decode: decoded tree exceeds %u bytes",
				CL_WA_DECODE_MAX_MEM);
	d->mem += n;
	return CL_OK;
}

static int unpack_nibble(unsigned v)
{
	if (v < 10)
		return '0' + (int)v;
	if (v == 10)
		return '-';
	if (v == 11)
		return '.';
	return -1;
}

static int unpack_hex(unsigned v)
{
	return v < 10 ? '0' + (int)v : 'A' + (int)v - 10;
}

/* NIBBLE_8 / HEX_8 into tmp (at most 254 characters). */
static int read_packed(struct dec *d, unsigned tag, char *tmp, struct view *v)
{
	unsigned start, nb, odd, k, total;
	size_t out = 0;
	int rc = rd_u8(d, &start);

	if (rc)
		return rc;
	nb = start & 0x7f;
	odd = start >> 7;
	if ((rc = need(d, nb)) != CL_OK)
		return rc;
	if (odd && nb == 0)
		return dec_fail(d, "odd-length packed string of no bytes");
	total = 2 * nb;
	for (k = 0; k < total; k++) {
		unsigned char byte = d->p[d->pos + k / 2];
		unsigned nib = k % 2 ? byte & 0x0fu : (unsigned)byte >> 4;
		int c;

		if (odd && k == total - 1) {
			if (nib != 15)
				return dec_fail(d, "packed string padding is not 15");
			continue;
		}
		c = tag == CL_WA_TAG_NIBBLE_8 ? unpack_nibble(nib) : unpack_hex(nib);
		if (c < 0)
			return dec_fail(d, "invalid nibble in packed string");
		tmp[out++] = (char)c;
	}
	d->pos += nb;
	v->p = tmp;
	v->n = out;
	return CL_OK;
}

/* Length of a BINARY_8/20/32 blob whose tag was read; checks the input. */
static int read_blob_len(struct dec *d, unsigned tag, size_t *len)
{
	uint32_t v = 0;
	int rc;

	if (tag == CL_WA_TAG_BINARY_8)
		rc = rd_be(d, 1, &v);
	else if (tag == CL_WA_TAG_BINARY_20)
		rc = rd_be(d, 3, &v);
	else
		rc = rd_be(d, 4, &v);
	if (rc)
		return rc;
	if (tag == CL_WA_TAG_BINARY_20)
		v &= 0xfffff; /* the top 4 bits are ignored, as in both clients */
	if ((rc = need(d, v)) != CL_OK)
		return rc;
	*len = v;
	return CL_OK;
}

static int is_jid_tag(unsigned tag)
{
	return tag == CL_WA_TAG_JID_PAIR || tag == CL_WA_TAG_AD_JID ||
	       tag == CL_WA_TAG_FB_JID || tag == CL_WA_TAG_INTEROP_JID;
}

/* Any string but a JID, its tag already read.  tmp: PACKED_CHARS bytes. */
static int read_plain(struct dec *d, unsigned tag, char *tmp, struct view *v)
{
	unsigned idx;
	size_t len;
	int rc;

	v->p = "";
	v->n = 0;
	if (tag == CL_WA_TAG_LIST_EMPTY)
		return CL_OK;
	if (tag < CL_WA_SINGLE_TOKENS) {
		v->p = cl_wa_single_tokens[tag];
		v->n = strlen(v->p);
		return CL_OK;
	}
	if (tag >= CL_WA_TAG_DICTIONARY_0 && tag <= CL_WA_TAG_DICTIONARY_3) {
		if ((rc = rd_u8(d, &idx)) != CL_OK)
			return rc;
		v->p = cl_wa_double_tokens[tag - CL_WA_TAG_DICTIONARY_0][idx];
		v->n = strlen(v->p);
		return CL_OK;
	}
	switch (tag) {
	case CL_WA_TAG_BINARY_8:
	case CL_WA_TAG_BINARY_20:
	case CL_WA_TAG_BINARY_32:
		if ((rc = read_blob_len(d, tag, &len)) != CL_OK)
			return rc;
		v->p = (const char *)d->p + d->pos;
		v->n = len;
		d->pos += len;
		return CL_OK;
	case CL_WA_TAG_NIBBLE_8:
	case CL_WA_TAG_HEX_8:
		return read_packed(d, tag, tmp, v);
	case CL_WA_TAG_LIST_8:
	case CL_WA_TAG_LIST_16:
		return dec_fail(d, "list where a string belongs");
	default:
		if (is_jid_tag(tag))
			return dec_fail(d, "JID inside a JID");
		return dec_fail(d, "invalid string tag");
	}
}

static int read_plain_next(struct dec *d, char *tmp, struct view *v)
{
	unsigned tag;
	int rc = rd_u8(d, &tag);

	return rc ? rc : read_plain(d, tag, tmp, v);
}

/* A JID whose tag was read, rendered as text into d->jid. */
static int read_jid(struct dec *d, unsigned tag, struct view *v)
{
	char tu[PACKED_CHARS], ts[PACKED_CHARS];
	struct view user, server;
	unsigned domain = 0, device = 0;
	uint32_t dev16 = 0, integ = 0;
	struct cl_buf *b = &d->jid;
	int rc;

	cl_buf_reset(b);
	if (tag == CL_WA_TAG_JID_PAIR) {
		if ((rc = read_plain_next(d, tu, &user)) != CL_OK ||
		    (rc = read_plain_next(d, ts, &server)) != CL_OK)
			return rc;
		if (server.n == 0)
			return dec_fail(d, "JID with an empty server");
		rc = cl_buf_add(b, user.p, user.n);
		if (rc == CL_OK)
			rc = cl_buf_add_u8(b, '@');
		if (rc == CL_OK)
			rc = cl_buf_add(b, server.p, server.n);
	} else if (tag == CL_WA_TAG_AD_JID) {
		if ((rc = rd_u8(d, &domain)) != CL_OK ||
		    (rc = rd_u8(d, &device)) != CL_OK ||
		    (rc = read_plain_next(d, tu, &user)) != CL_OK)
			return rc;
		rc = cl_buf_add(b, user.p, user.n);
		if (domain == 0 || domain == 1 || domain == 128 || domain == 129) {
			if (rc == CL_OK && device)
				rc = cl_buf_addf(b, ":%u", device);
		} else if (rc == CL_OK) {
			rc = cl_buf_addf(b, "_%u:%u", domain, device);
		}
		if (rc == CL_OK)
			rc = cl_buf_addf(b, "@%s", ad_server(domain));
	} else {
		if ((rc = read_plain_next(d, tu, &user)) != CL_OK ||
		    (rc = rd_be(d, 2, &dev16)) != CL_OK)
			return rc;
		if (tag == CL_WA_TAG_INTEROP_JID &&
		    (rc = rd_be(d, 2, &integ)) != CL_OK)
			return rc;
		if ((rc = read_plain_next(d, ts, &server)) != CL_OK)
			return rc;
		if (!str_is(server.p, server.n,
			    tag == CL_WA_TAG_FB_JID ? "msgr" : "interop"))
			return dec_fail(d, tag == CL_WA_TAG_FB_JID
					   ? "FB_JID server is not msgr"
					   : "INTEROP_JID server is not interop");
		rc = CL_OK;
		if (tag == CL_WA_TAG_INTEROP_JID)
			rc = cl_buf_addf(b, "%u-", (unsigned)integ);
		if (rc == CL_OK)
			rc = cl_buf_add(b, user.p, user.n);
		if (rc == CL_OK)
			rc = cl_buf_addf(b, ":%u@", (unsigned)dev16);
		if (rc == CL_OK)
			rc = cl_buf_add(b, server.p, server.n);
	}
	if (rc)
		return rc == CL_ENOMEM ? rc : dec_fail(d, "JID too long");
	v->p = (const char *)b->data;
	v->n = b->len;
	return CL_OK;
}

/* Any string, its tag already read.  tmp: PACKED_CHARS bytes. */
static int read_string_tag(struct dec *d, unsigned tag, char *tmp,
			   struct view *v)
{
	if (is_jid_tag(tag))
		return read_jid(d, tag, v);
	return read_plain(d, tag, tmp, v);
}

/* Read a string and store a counted, NUL-terminated copy. */
static int read_string_dup(struct dec *d, char **s, size_t *n)
{
	char tmp[PACKED_CHARS];
	struct view v = { "", 0 };
	unsigned tag;
	int rc;

	if ((rc = rd_u8(d, &tag)) != CL_OK ||
	    (rc = read_string_tag(d, tag, tmp, &v)) != CL_OK)
		return rc;
	if (v.n == SIZE_MAX || (rc = charge(d, v.n + 1)) != CL_OK)
		return rc ? rc : dec_fail(d, "string too long");
	*s = dup_bytes(v.p, v.n);
	if (*s == NULL)
		return CL_ENOMEM;
	*n = v.n;
	return CL_OK;
}

static int read_list_size(struct dec *d, unsigned tag, size_t *n)
{
	uint32_t v = 0;
	int rc;

	*n = 0;
	switch (tag) {
	case CL_WA_TAG_LIST_EMPTY:
		return CL_OK;
	case CL_WA_TAG_LIST_8:
		rc = rd_be(d, 1, &v);
		break;
	case CL_WA_TAG_LIST_16:
		rc = rd_be(d, 2, &v);
		break;
	default:
		return dec_fail(d, "node does not start with a list");
	}
	*n = v;
	return rc;
}

static int read_node(struct dec *d, int depth, struct cl_wa_node **out);

static int read_children(struct dec *d, unsigned tag, struct cl_wa_node *n,
			 int depth)
{
	size_t count, i;
	int rc = read_list_size(d, tag, &count);

	if (rc)
		return rc;
	n->kind = CL_WA_LIST;
	if (count == 0)
		return CL_OK;
	if (count > (d->len - d->pos) / 2)
		return dec_fail(d, "child count exceeds the input");
	if ((rc = charge(d, count * sizeof(struct cl_wa_node *))) != CL_OK)
		return rc;
	n->children = calloc(count, sizeof(struct cl_wa_node *));
	if (n->children == NULL)
		return CL_ENOMEM;
	n->children_alloc = count;
	for (i = 0; i < count; i++) {
		rc = read_node(d, depth + 1, &n->children[i]);
		if (rc)
			return rc;
		n->nchildren++;
	}
	return CL_OK;
}

static int set_content(struct dec *d, struct cl_wa_node *n,
		       const struct view *v, enum cl_wa_content kind)
{
	int rc = charge(d, v->n + 1);

	if (rc)
		return rc;
	n->data = (unsigned char *)dup_bytes(v->p, v->n);
	if (n->data == NULL)
		return CL_ENOMEM;
	n->len = v->n;
	n->kind = kind;
	return CL_OK;
}

static int read_content(struct dec *d, struct cl_wa_node *n, int depth)
{
	const struct cl_wa_token_ref *tok;
	char tmp[PACKED_CHARS];
	struct cl_wa_jid jid;
	struct view v = { "", 0 };
	unsigned tag;
	size_t len = 0;
	enum sform f;
	int rc;

	if ((rc = rd_u8(d, &tag)) != CL_OK)
		return rc;
	if (tag == CL_WA_TAG_LIST_EMPTY || tag == CL_WA_TAG_LIST_8 ||
	    tag == CL_WA_TAG_LIST_16)
		return read_children(d, tag, n, depth);
	if (tag == CL_WA_TAG_BINARY_8 || tag == CL_WA_TAG_BINARY_20 ||
	    tag == CL_WA_TAG_BINARY_32) {
		if ((rc = read_blob_len(d, tag, &len)) != CL_OK)
			return rc;
		v.p = (const char *)d->p + d->pos;
		v.n = len;
		d->pos += len;
		return set_content(d, n, &v, CL_WA_BYTES);
	}
	if ((rc = read_string_tag(d, tag, tmp, &v)) != CL_OK)
		return rc;
	/* Text the encoder would write raw decodes as bytes after a round
	 * trip, so it is bytes now. */
	f = string_form(v.p, v.n, &tok, &jid);
	return set_content(d, n, &v, f == SF_RAW || f == SF_EMPTY ? CL_WA_BYTES
								 : CL_WA_TEXT);
}

static int read_node(struct dec *d, int depth, struct cl_wa_node **out)
{
	struct cl_wa_node *n = NULL;
	size_t size, nattrs, i;
	unsigned tag;
	int rc;

	*out = NULL;
	if (depth > CL_WA_MAX_DEPTH)
		return dec_fail(d, "nodes nested too deep");
	if ((rc = rd_u8(d, &tag)) != CL_OK ||
	    (rc = read_list_size(d, tag, &size)) != CL_OK)
		return rc;
	if (size == 0)
		return dec_fail(d, "empty node");
	if ((rc = charge(d, sizeof(*n))) != CL_OK)
		return rc;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return CL_ENOMEM;
	if ((rc = read_string_dup(d, &n->tag, &n->tag_len)) != CL_OK)
		goto out;
	if (n->tag_len == 0) {
		rc = dec_fail(d, "empty tag");
		goto out;
	}
	nattrs = (size - 1) / 2;
	if (nattrs) {
		if (nattrs > (d->len - d->pos) / 2) {
			rc = dec_fail(d, "attribute count exceeds the input");
			goto out;
		}
		if ((rc = charge(d, nattrs * sizeof(*n->attrs))) != CL_OK)
			goto out;
		n->attrs = calloc(nattrs, sizeof(*n->attrs));
		if (n->attrs == NULL) {
			rc = CL_ENOMEM;
			goto out;
		}
		n->attrs_alloc = nattrs;
	}
	for (i = 0; i < nattrs; i++) {
		struct cl_wa_attr *a = &n->attrs[i];

		rc = read_string_dup(d, &a->key, &a->key_len);
		if (rc == CL_OK)
			rc = read_string_dup(d, &a->value, &a->value_len);
		if (rc) {
			free(a->key);
			a->key = NULL;
			goto out;
		}
		n->nattrs++;
	}
	if (size % 2 == 0)
		rc = read_content(d, n, depth);
out:
	if (rc) {
		cl_wa_node_free(n);
		return rc;
	}
	*out = n;
	return CL_OK;
}

int cl_wa_node_decode(const unsigned char *p, size_t len,
		      struct cl_wa_node **out, char **err)
{
	struct dec d;
	int rc;

	*out = NULL;
	memset(&d, 0, sizeof(d));
	d.p = p;
	d.len = len;
	d.err = err;
	/* A JID renders at most two packed or token components plus
	 * punctuation: about twice its wire size, or a few hundred bytes. */
	cl_buf_init(&d.jid, len > SIZE_MAX / 4 ? SIZE_MAX / 2 : 2 * len + 1024);
	rc = read_node(&d, 1, out);
	if (rc == CL_OK && d.pos != d.len) {
		rc = cl_error(err, CL_EINVAL,
			      "wa decode: %zu trailing bytes after the node",
			      d.len - d.pos);
		cl_wa_node_free(*out);
		*out = NULL;
	}
	cl_buf_release(&d.jid);
	return rc;
}

/* ---- frame body --------------------------------------------------------- */

int cl_wa_frame_unpack(const unsigned char *p, size_t len,
		       struct cl_buf *out, char **err)
{
	unsigned char chunk[16384];
	z_stream z;
	int rc = CL_OK;
	size_t in_left;

	if (len == 0)
		return cl_error(err, CL_EINVAL, "wa frame: empty body");
	if (!(p[0] & CL_WA_FLAG_ZLIB)) {
		rc = cl_buf_add(out, p + 1, len - 1);
		if (rc == CL_ETOOBIG)
			return cl_error(err, rc, "wa frame: body exceeds %zu bytes",
					out->max);
		return rc;
	}
	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK)
		return CL_ENOMEM;
	p++;
	in_left = len - 1;
	for (;;) {
		int zrc;

		/* zlib counts input in uInt; feed big bodies in slices. */
		if (z.avail_in == 0 && in_left) {
			uInt take = in_left > 0x40000000u ? 0x40000000u
							  : (uInt)in_left;

			z.next_in = (Bytef *)(uintptr_t)p;
			z.avail_in = take;
			p += take;
			in_left -= take;
		}
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zrc = inflate(&z, Z_NO_FLUSH);
		if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR) {
			rc = zrc == Z_MEM_ERROR ? CL_ENOMEM
			     : cl_error(err, CL_EINVAL,
					"wa frame: bad zlib stream (%s)",
					z.msg ? z.msg : "error");
			break;
		}
		rc = cl_buf_add(out, chunk, sizeof(chunk) - z.avail_out);
		if (rc) {
			if (rc == CL_ETOOBIG)
				rc = cl_error(err, rc,
					      "wa frame: inflated body exceeds %zu bytes",
					      out->max);
			break;
		}
		if (zrc == Z_STREAM_END) {
			if (z.avail_in || in_left)
				rc = cl_error(err, CL_EINVAL,
					      "wa frame: data after the zlib stream");
			break;
		}
		if (zrc == Z_BUF_ERROR && z.avail_in == 0 && in_left == 0) {
			rc = cl_error(err, CL_EINVAL,
				      "wa frame: truncated zlib stream");
			break;
		}
	}
	inflateEnd(&z);
	return rc;
}
