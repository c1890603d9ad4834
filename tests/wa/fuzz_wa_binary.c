/*
 * fuzz_wa_binary.c - the WhatsApp binary node decoder on arbitrary bytes,
 * read both as node bytes and as a decrypted frame body (flag byte, zlib).
 * A node that decodes must encode, and decode again to an equal tree whose
 * encoding is the same bytes.  The input is also used as a string (an
 * attribute, text content, a JID) that must come back unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/wa/binary.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP (64u << 20)

static void check_node(const unsigned char *p, size_t len)
{
	struct cl_wa_node *a = NULL, *b = NULL;
	struct cl_buf e1, e2;
	char *err = NULL;

	if (cl_wa_node_decode(p, len, &a, &err) != CL_OK) {
		if (a != NULL || err == NULL)
			abort();
		free(err);
		return;
	}
	cl_buf_init(&e1, CAP);
	cl_buf_init(&e2, CAP);
	if (cl_wa_node_encode(a, &e1, &err) != CL_OK ||
	    cl_wa_node_decode(e1.data, e1.len, &b, &err) != CL_OK ||
	    !cl_wa_node_equal(a, b) || cl_wa_node_encode(b, &e2, &err) != CL_OK ||
	    e1.len != e2.len || memcmp(e1.data, e2.data, e1.len) != 0)
		abort();
	cl_wa_node_free(a);
	cl_wa_node_free(b);
	cl_buf_release(&e1);
	cl_buf_release(&e2);
	free(err);
}

/* The input as an attribute value and as text content of <iq>. */
static void check_string(const unsigned char *p, size_t len)
{
	struct cl_wa_node *n = NULL, *back = NULL;
	const struct cl_wa_attr *a;
	struct cl_wa_jid jid;
	struct cl_buf e;
	char *err = NULL;

	if (cl_wa_node_new_s(&n, "iq") != CL_OK ||
	    cl_wa_node_add_attr(n, "to", 2, (const char *)p, len) != CL_OK ||
	    cl_wa_node_set_text(n, (const char *)p, len) != CL_OK)
		abort();
	cl_buf_init(&e, CAP);
	if (cl_wa_node_encode(n, &e, &err) != CL_OK ||
	    cl_wa_node_decode(e.data, e.len, &back, &err) != CL_OK)
		abort();
	a = cl_wa_node_attr(back, "to");
	if (a == NULL || a->value_len != len ||
	    (len && memcmp(a->value, p, len) != 0) || back->len != len ||
	    (back->kind != CL_WA_TEXT && back->kind != CL_WA_BYTES) ||
	    (len && memcmp(back->data, p, len) != 0))
		abort();
	/* A string that parses as a JID is written as one. */
	if (cl_wa_jid_parse((const char *)p, len, &jid) == CL_OK &&
	    back->kind != CL_WA_TEXT)
		abort();
	cl_wa_node_free(n);
	cl_wa_node_free(back);
	cl_buf_release(&e);
	free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_buf body;
	char *err = NULL;

	check_node(data, size);
	cl_buf_init(&body, 1u << 20);
	if (cl_wa_frame_unpack(data, size, &body, &err) == CL_OK)
		check_node(body.data, body.len);
	cl_buf_release(&body);
	free(err);
	check_string(data, size);
	return 0;
}
