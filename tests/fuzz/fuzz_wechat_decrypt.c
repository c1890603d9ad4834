/*
 * fuzz_wechat_decrypt.c - the safe-mode decrypter (wechat_crypto.h) on
 * arbitrary Encrypt texts, and msg_signature over them.  A decryption
 * either fails with a reason and no message, or gives a message that
 * encrypts and decrypts back to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/sources/wechat_crypto.h"
#include "common/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cl_wx_crypto *ctx(void)
{
	static struct cl_wx_crypto *c;
	char *err = NULL;

	if (c == NULL &&
	    cl_wx_crypto_new((const unsigned char *)"QDG6eK", 6,
			     "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
			     "wx5823bf96d3bd56c7", &c, &err) != CL_OK)
		abort();
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_wx_crypto *c = ctx();
	unsigned char *m = NULL, *m2 = NULL;
	size_t n = 0, n2 = 0;
	const char *why = NULL;
	char *s = malloc(size + 1), *enc = NULL;
	int rc;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (cl_wx_verify(c, s, "1409659813", "1372623149", s) && size < 40)
		abort();   /* a 40-hex signature is never a valid Encrypt */
	rc = cl_wx_decrypt(c, s, size, &m, &n, &why);
	if (rc != CL_OK) {
		if (m != NULL || why == NULL)
			abort();
	} else {
		if (m == NULL || m[n] != 0)
			abort();
		if (cl_wx_encrypt(c, NULL, m, n, &enc) != CL_OK ||
		    cl_wx_decrypt(c, enc, strlen(enc), &m2, &n2, &why) != CL_OK ||
		    n2 != n || memcmp(m, m2, n) != 0)
			abort();
	}
	free(m);
	free(m2);
	free(enc);
	free(s);
	return 0;
}
