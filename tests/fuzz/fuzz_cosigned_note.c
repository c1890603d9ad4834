/*
 * fuzz_cosigned_note.c - fuzz target for the cosigned-note parser and the
 * cosignature/v1 checks (archiver/witness/cosig.c), and the witness
 * verifier-key and tlog-policy parsers.
 *
 * Each input is parsed as a note with any number of signature lines; every
 * line found must lie inside the input and end in "\n", and is checked as
 * a cosignature by a fixed witness key (which must fail or verify, never
 * crash).  The input is also tried as a vkey and as a policy.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/witness/cosig.h"
#include "archiver/witness/wverify.h"
#include "common/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cl_cosig_key k;
	static int init;
	struct cl_cnote *cn = malloc(sizeof(*cn));
	struct cl_wpolicy *p = NULL;
	const char *s = (const char *)data;
	char *err = NULL, *z;
	size_t i;

	if (!init) {
		unsigned char sk[64];

		if (sodium_init() < 0)
			abort();
		memcpy(k.name, "witness.example/w1", 19);
		crypto_sign_keypair(k.pk, sk);
		k.id = 0x01020304;
		init = 1;
	}
	if (cn == NULL)
		return 0;
	if (cl_cnote_parse(s, size, cn, &err) == CL_OK) {
		if (err != NULL || cn->nsigs == 0 || cn->text_len >= size)
			abort();
		for (i = 0; i < cn->nsigs; i++) {
			const struct cl_cnote_sig *g = &cn->sigs[i];
			uint64_t t;

			if (g->line < s || g->line + g->line_len > s + size ||
			    g->line[g->line_len - 1] != '\n' || g->blob_len < 5)
				abort();
			if (cl_cosig_verify(&k, g, s, cn->text_len, &t) == CL_OK)
				abort(); /* nobody has this key's secret */
		}
	} else if (err == NULL) {
		abort();
	}
	free(err);
	free(cn);
	z = malloc(size + 1);
	if (z == NULL)
		return 0;
	memcpy(z, data, size);
	z[size] = 0;
	{
		struct cl_cosig_key v;

		err = NULL;
		(void)cl_cosig_vkey_parse(z, &v, &err);
		free(err);
	}
	err = NULL;
	if (cl_wpolicy_parse(z, size, &p, &err) == CL_OK)
		cl_wpolicy_free(p);
	free(err);
	free(z);
	return 0;
}
