/*
 * fuzz_note.c - fuzz target for the signed-note, note-key and checkpoint
 * parsers (archiver/ledger/note.c).
 *
 * Each input is tried as a signed note (verified against the fixed key
 * example.com/foo of the c2sp.org/signed-note example), as a checkpoint
 * body, as a verifier key and as a signer key.  Whatever parses must
 * round-trip through the matching formatter; a mismatch aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/ledger/checkpoint.h"
#include "archiver/ledger/note.h"
#include "archiver/ledger/proof.h"
#include "common/buf.h"
#include "common/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY_NAME "example.com/foo"
#define KEY_ID 0x530d903aU

/* Public key of example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k */
static const unsigned char key_pk[32] = {
	0xe9, 0x32, 0x79, 0x1a, 0xe6, 0xe7, 0xa8, 0x40,
	0xa4, 0x61, 0x64, 0xc9, 0x04, 0x78, 0x64, 0x26,
	0xd5, 0xe7, 0x82, 0x1d, 0xd8, 0xb2, 0x9a, 0x00,
	0xd6, 0x1c, 0xae, 0x72, 0xaf, 0xdd, 0x4d, 0xa4,
};

static void try_note(const char *s, size_t size)
{
	struct cl_checkpoint cp;
	char *err = NULL;
	size_t tl = 0;

	if (cl_note_verify(s, size, KEY_NAME, KEY_ID, key_pk, &tl, &err) ==
	    CL_OK) {
		if (err != NULL || tl == 0 || tl + 2 > size || s[tl - 1] != '\n')
			abort();
		if (cl_checkpoint_parse(s, tl, &cp, NULL) == CL_OK)
			cl_checkpoint_release(&cp);
	} else if (err == NULL) {
		abort(); /* every failure explains itself */
	}
	free(err);
}

static void try_checkpoint(const char *s, size_t size)
{
	struct cl_checkpoint cp;
	struct cl_buf b;
	char *err = NULL;

	if (cl_checkpoint_parse(s, size, &cp, &err) == CL_OK) {
		/* The three mandatory lines are canonical: they re-format
		 * to a prefix of the input. */
		cl_buf_init(&b, size + 1);
		if (cl_checkpoint_format(cp.origin, cp.size, cp.root, &b) !=
			    CL_OK ||
		    b.len > size || memcmp(b.data, s, b.len) != 0)
			abort();
		cl_buf_release(&b);
		cl_checkpoint_release(&cp);
	} else if (cp.origin != NULL) {
		abort();
	}
	free(err);
}

static void try_keys(const char *s, size_t size)
{
	struct cl_buf b;
	char *z, *name = NULL, *name2 = NULL, *err = NULL;
	unsigned char key[32], key2[32];
	uint32_t id = 0, id2 = 0;

	z = malloc(size + 1);
	if (z == NULL)
		return;
	memcpy(z, s, size);
	z[size] = 0;
	cl_buf_init(&b, 4096);
	if (cl_note_vkey_parse(z, &name, &id, key, &err) == CL_OK) {
		/* Re-format and re-parse (hex case may differ). */
		if (cl_note_vkey_format(name, key, &b) != CL_OK ||
		    cl_note_vkey_parse((char *)b.data, &name2, &id2, key2,
				       NULL) != CL_OK ||
		    strcmp(name, name2) != 0 || id != id2 ||
		    memcmp(key, key2, 32) != 0)
			abort();
	}
	free(name);
	free(name2);
	free(err);
	name = name2 = err = NULL;
	cl_buf_reset(&b);
	if (cl_note_skey_parse(s, size, &name, &id, key, &err) == CL_OK) {
		if (cl_note_skey_format(name, key, &b) != CL_OK ||
		    cl_note_skey_parse((char *)b.data, b.len, &name2, &id2,
				       key2, NULL) != CL_OK ||
		    strcmp(name, name2) != 0 || id != id2 ||
		    memcmp(key, key2, 32) != 0)
			abort();
	}
	free(name);
	free(name2);
	free(err);
	cl_buf_release(&b);
	free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;

	if (sodium_init() < 0)
		abort();
	try_note(s, size);
	try_checkpoint(s, size);
	try_keys(s, size);
	return 0;
}
