/*
 * fuzz_wa_cert.c - the server's handshake message and certificate chain
 * on arbitrary bytes.  Each input is run through:
 *   1. cl_wa_cert_verify() as a CertChain, at three clocks;
 *   2. cl_wa_noise_hs_finish() as the server's HandshakeMessage, with a
 *      client whose keys are fixed, so seeds made by test_wa_noise's
 *      responder (tests/wa/test_wa_noise --write-corpus DIR) decrypt and
 *      reach the certificate checks and, for a good chain, the transport;
 *   3. cl_wa_cert_verify() on the ServerHello's payload field, if any.
 * Nothing may crash or leak, a success must come with its outputs and a
 * failure with a message.  The fixed keys are test_wa_noise.c's seeds
 * 1 (root), 3 (server static), 5 and 6 (client static and ephemeral).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wa.pb-c.h"

#include "archiver/wa/cert.h"
#include "archiver/wa/noise.h"
#include "archiver/wa/xeddsa.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000u

static unsigned char root_pub[32], srv_pub[32];
static unsigned char cli_s_priv[32], cli_s_pub[32], cli_e_priv[32];

static void fixed_key(unsigned char k[32], unsigned seed)
{
	unsigned i;

	for (i = 0; i < 32; i++)
		k[i] = (unsigned char)(seed * 37u + i * 11u + 1u);
}

static void init_keys(void)
{
	static int done;
	unsigned char k[32];

	if (done)
		return;
	fixed_key(k, 1);
	if (cl_wa_x25519_pub(root_pub, k) != CL_OK)
		abort();
	fixed_key(k, 3);
	if (cl_wa_x25519_pub(srv_pub, k) != CL_OK)
		abort();
	fixed_key(cli_s_priv, 5);
	if (cl_wa_x25519_pub(cli_s_pub, cli_s_priv) != CL_OK)
		abort();
	fixed_key(cli_e_priv, 6);
	done = 1;
}

/* A verdict must be a known code, with a message exactly when refused
 * (out of memory may come without one). */
static void check_verdict(int rc, const char *err)
{
	if (rc != CL_OK && rc != CL_EBADSIG && rc != CL_EINVAL && rc != CL_ENOMEM)
		abort();
	if ((rc == CL_OK) != (err == NULL) && rc != CL_ENOMEM)
		abort();
}

static void as_chain(const uint8_t *p, size_t len)
{
	static const uint64_t clocks[] = { 0, NOW, UINT64_MAX };
	size_t i;

	for (i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
		char *err = NULL;
		int rc = cl_wa_cert_verify(p, len, root_pub, srv_pub, clocks[i],
					   &err);

		check_verdict(rc, err);
		free(err);
	}
}

static void as_server_hello(const uint8_t *p, size_t len)
{
	struct cl_wa_noise_hs *hs = NULL;
	struct cl_wa_noise_transport *tr = NULL;
	struct cl_buf hello, fin, c, q;
	unsigned char rs[32];
	char *err = NULL;
	int rc;

	cl_buf_init(&hello, 1u << 20);
	cl_buf_init(&fin, 1u << 20);
	cl_buf_init(&c, 1u << 20);
	cl_buf_init(&q, 1u << 20);
	if (cl_wa_noise_hs_new(&hs, cli_s_priv, cli_s_pub, cli_e_priv, &err) ||
	    cl_wa_noise_hs_client_hello(hs, &hello, &err))
		abort();
	rc = cl_wa_noise_hs_finish(hs, p, len, root_pub, NOW,
				   (const unsigned char *)"payload", 7, &fin,
				   &tr, rs, &err);
	check_verdict(rc, err);
	if ((rc == CL_OK) != (tr != NULL) || (rc == CL_OK) != (fin.len > 0))
		abort();
	if (rc == CL_OK) {
		if (memcmp(rs, srv_pub, 32) != 0)
			abort();
		if (cl_wa_noise_encrypt(tr, p, len < 64 ? len : 64, &c, NULL) != CL_OK)
			abort();
		/* Our own frame, read back with our read key: must fail. */
		if (cl_wa_noise_decrypt(tr, c.data, c.len, &q, NULL) == CL_OK)
			abort();
	}
	free(err);
	cl_wa_noise_transport_free(tr);
	cl_wa_noise_hs_free(hs);
	cl_buf_release(&hello);
	cl_buf_release(&fin);
	cl_buf_release(&c);
	cl_buf_release(&q);
}

static void payload_as_chain(const uint8_t *p, size_t len)
{
	Wa__HandshakeMessage *m = wa__handshake_message__unpack(NULL, len, p);

	if (m == NULL)
		return;
	if (m->serverhello && m->serverhello->has_payload)
		as_chain(m->serverhello->payload.data, m->serverhello->payload.len);
	wa__handshake_message__free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_keys();
	as_chain(data, size);
	as_server_hello(data, size);
	payload_as_chain(data, size);
	return 0;
}
