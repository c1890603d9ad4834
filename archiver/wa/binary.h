/*
 * binary.h - WhatsApp's binary XML ("WABinary") node codec, token
 * dictionary version 3, and the flag byte of a decrypted frame.
 *
 * A node is a tag, an ordered list of key/value attributes and optional
 * content: raw bytes, a string, or a list of child nodes.  On the wire a
 * node is a list header (LIST_8/LIST_16) counting 1 (tag) + 2 per
 * attribute + 1 if there is content, then the tag, the pairs and the
 * content.  Strings are written as the first form that fits: a single-byte
 * token, a double-byte token (DICTIONARY_0..3 + index), a NIBBLE_8 or
 * HEX_8 packed string (at most 127 characters), a JID (JID_PAIR, AD_JID,
 * FB_JID, INTEROP_JID) when the string contains '@' and is one of the
 * canonical JID texts below, else raw BINARY_8/20/32 bytes.  The encoder
 * reproduces the WhatsApp Web client's bytes as npm baileys@7.0.0-rc14
 * writes them; tests/wa/vectors/binary.json holds its known answers.
 *
 * JID texts (canonical: decoding what the encoder writes gives back the
 * same string; anything else is written as raw bytes):
 *   user@server            JID_PAIR  (user may be empty: "@s.whatsapp.net";
 *                                     user has no ':' and no '_')
 *   user:D@s.whatsapp.net  AD_JID domain 0,   device D in 1..255
 *   user:D@lid             AD_JID domain 1
 *   user:D@hosted          AD_JID domain 128
 *   user:D@hosted.lid      AD_JID domain 129
 *   user_A:D@s.whatsapp.net AD_JID with another domain/agent byte A
 *                          (2..255 but 128, 129) and device D in 0..255
 *   user:D@msgr            FB_JID, device 0..65535
 *   I-user:D@interop       INTEROP_JID, integrator I and device 0..65535
 * Device 0 is never shown for the four known AD domains, so the decoder
 * turns AD_JID(0, 0, "123") into "123@s.whatsapp.net" (as Baileys does).
 *
 * Divergences from Baileys, all on inputs WhatsApp does not produce: the
 * decoder rejects trailing bytes, nested JIDs, empty JID servers, packed
 * strings whose padding nibble is not 15 or not last, and an FB/INTEROP
 * JID whose server is not msgr/interop (as whatsmeow does); it renders an
 * AD_JID with an unknown domain byte as user_A:D@s.whatsapp.net instead of
 * dropping A; it keeps raw bytes as they are (no UTF-8 replacement) and
 * attributes in wire order, duplicates included.  The encoder writes
 * strings that Baileys would mangle (user:D@g.us, user_x@..., "toString")
 * as raw bytes, and FB/INTEROP JIDs in whatsmeow's layout.
 *
 * Ownership: every node, string and array is heap memory owned by its
 * parent; cl_wa_node_free() frees a node and everything under it.
 */
#ifndef CL_WA_BINARY_H
#define CL_WA_BINARY_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Wire tags. */
#define CL_WA_TAG_LIST_EMPTY 0
#define CL_WA_TAG_DICTIONARY_0 236
#define CL_WA_TAG_DICTIONARY_3 239
#define CL_WA_TAG_INTEROP_JID 245
#define CL_WA_TAG_FB_JID 246
#define CL_WA_TAG_AD_JID 247
#define CL_WA_TAG_LIST_8 248
#define CL_WA_TAG_LIST_16 249
#define CL_WA_TAG_JID_PAIR 250
#define CL_WA_TAG_HEX_8 251
#define CL_WA_TAG_BINARY_8 252
#define CL_WA_TAG_BINARY_20 253
#define CL_WA_TAG_BINARY_32 254
#define CL_WA_TAG_NIBBLE_8 255
#define CL_WA_PACKED_MAX 127

/* Limits enforced by the decoder (and, for depth, the encoder). */
#define CL_WA_MAX_DEPTH 64             /* nesting of child lists */
#define CL_WA_DECODE_MAX_MEM (64u << 20) /* bytes of decoded tree */

/* Flag byte of a decrypted frame: the rest is zlib-compressed. */
#define CL_WA_FLAG_ZLIB 0x02

enum cl_wa_content {
	CL_WA_NONE = 0, /* no content */
	CL_WA_BYTES,    /* raw bytes (BINARY_8/20/32) */
	CL_WA_TEXT,     /* a string written with the string rules */
	CL_WA_LIST      /* child nodes, possibly none (LIST_EMPTY) */
};

/*
 * Strings are counted (raw wire strings may hold any byte, NUL included)
 * and also NUL-terminated, so plain ones can be used as C strings.
 */
struct cl_wa_attr {
	char *key;
	size_t key_len;
	char *value;
	size_t value_len;
};

struct cl_wa_node {
	char *tag;                     /* never empty */
	size_t tag_len;
	struct cl_wa_attr *attrs;      /* in wire order */
	size_t nattrs;
	size_t attrs_alloc;
	enum cl_wa_content kind;
	unsigned char *data;           /* BYTES/TEXT: len bytes + NUL */
	size_t len;
	struct cl_wa_node **children;  /* LIST */
	size_t nchildren;
	size_t children_alloc;
};

/* ---- building and reading nodes -------------------------------------- */

/*
 * Allocate an empty node with tag `tag` (len bytes; the _s form takes a
 * C string).  *out is NULL on failure.  CL_EINVAL for an empty tag,
 * CL_ENOMEM.  Free with cl_wa_node_free().
 */
int cl_wa_node_new(struct cl_wa_node **out, const char *tag, size_t len);
int cl_wa_node_new_s(struct cl_wa_node **out, const char *tag);

/* Append an attribute (duplicates are kept, in order).  Copies both. */
int cl_wa_node_add_attr(struct cl_wa_node *n, const char *key, size_t klen,
			const char *value, size_t vlen);
int cl_wa_node_add_attr_s(struct cl_wa_node *n, const char *key,
			  const char *value);

/*
 * Replace the content with a copy of `len` bytes (CL_WA_BYTES), a string
 * (CL_WA_TEXT), or an empty child list (CL_WA_LIST).  Old content is freed.
 */
int cl_wa_node_set_bytes(struct cl_wa_node *n, const void *p, size_t len);
int cl_wa_node_set_text(struct cl_wa_node *n, const char *s, size_t len);
int cl_wa_node_set_list(struct cl_wa_node *n);

/*
 * Append `child` to the child list (the content becomes a list if it was
 * none; CL_EINVAL if it holds bytes or text).  On CL_OK the node owns the
 * child; on failure the caller still does.
 */
int cl_wa_node_add_child(struct cl_wa_node *n, struct cl_wa_node *child);

/* Append a new child <tag> holding a copy of `len` bytes (as text when
 * `text`).  CL_OK, CL_EINVAL, CL_ENOMEM; nothing added on failure. */
int cl_wa_node_add_leaf(struct cl_wa_node *parent, const char *tag,
			const void *p, size_t len, int text);

/* The first attribute named `key` (a C string), or NULL. */
const struct cl_wa_attr *cl_wa_node_attr(const struct cl_wa_node *n,
					 const char *key);
/* Its value as a C string, or NULL. */
const char *cl_wa_node_attr_str(const struct cl_wa_node *n, const char *key);
/* The first child whose tag is `tag`, or NULL. */
const struct cl_wa_node *cl_wa_node_child(const struct cl_wa_node *n,
					  const char *tag);

/* 1 when the trees are equal: tags, attributes in order, content kind. */
int cl_wa_node_equal(const struct cl_wa_node *a, const struct cl_wa_node *b);

/* Free a node and all it owns; NULL is fine. */
void cl_wa_node_free(struct cl_wa_node *n);

/*
 * Append a one-line XML-like rendering for logs and test diagnostics:
 * bytes as hex, strings escaped, at most `max_bytes` shown per blob.
 */
int cl_wa_node_format(const struct cl_wa_node *n, struct cl_buf *out,
		      size_t max_bytes);

/* ---- JIDs ------------------------------------------------------------ */

enum cl_wa_jid_form {
	CL_WA_JID_PAIR = 1,
	CL_WA_JID_AD,
	CL_WA_JID_FB,
	CL_WA_JID_INTEROP
};

/* A parsed JID; user and server point into the parsed string. */
struct cl_wa_jid {
	enum cl_wa_jid_form form;
	const char *user;
	size_t user_len;
	const char *server;
	size_t server_len;
	unsigned domain;     /* AD: 0 s.whatsapp.net, 1 lid, 128 hosted, ... */
	unsigned device;     /* AD, FB, INTEROP */
	unsigned integrator; /* INTEROP */
};

/*
 * Parse `s` (len bytes) as one of the canonical JID texts listed at the
 * top of this file: CL_OK and *jid filled, or CL_EINVAL (the encoder then
 * writes the string as raw bytes).
 */
int cl_wa_jid_parse(const char *s, size_t len, struct cl_wa_jid *jid);

/* ---- the codec ------------------------------------------------------- */

/*
 * Append the binary encoding of `n` to `out` (no frame flag byte).
 * CL_EINVAL (with a message in *err) for an empty tag, more than 65535
 * list entries, a blob of 4 GiB or more, nesting deeper than
 * CL_WA_MAX_DEPTH, or `out` reaching its cap; CL_ENOMEM.  On failure `out`
 * may hold a partial encoding: reset it.
 */
int cl_wa_node_encode(const struct cl_wa_node *n, struct cl_buf *out,
		      char **err);

/*
 * Decode exactly one node from `len` bytes (no flag byte).  On CL_OK *out
 * is a new tree for the caller to free with cl_wa_node_free(); on failure
 * it is NULL and the code is CL_EINVAL (malformed, truncated, trailing
 * bytes, too deep, too big) with a message in *err, or CL_ENOMEM.
 */
int cl_wa_node_decode(const unsigned char *p, size_t len,
		      struct cl_wa_node **out, char **err);

/*
 * A decrypted frame body is a flag byte and then the node bytes, zlib-
 * compressed when the flag has CL_WA_FLAG_ZLIB (other bits are ignored,
 * as WhatsApp's clients do).  Append the node bytes to `out`, inflating
 * at most out->max bytes in total: CL_EINVAL for an empty body, a broken
 * or truncated zlib stream or data after its end; CL_ETOOBIG for output
 * over the cap.
 */
int cl_wa_frame_unpack(const unsigned char *p, size_t len,
		       struct cl_buf *out, char **err);

/* Append an uncompressed frame body: the flag byte 0, then the node. */
int cl_wa_frame_pack(const struct cl_wa_node *n, struct cl_buf *out,
		     char **err);

#endif
