/*
 * wa_stanza.c - the collector's receive path per stanza, against the bare
 * AES-256-GCM decryption of the same frames, in the same process.
 *
 * Each frame is a <message> stanza as WhatsApp delivers one (id, from,
 * participant, t, type, notify, an <enc v="2" type="skmsg"> blob of 300
 * bytes), Noise-encrypted with consecutive counters.  The collector's path
 * is cl_wa_noise_decrypt + cl_wa_frame_unpack + cl_wa_node_decode (what
 * client.c does for every frame); the baseline is EVP AES-256-GCM
 * decryption of the very same ciphertexts with the same key and nonces.
 *
 *   wa_stanza [N]     prints both rates and their ratio (default 200000)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "archiver/wa/binary.h"
#include "archiver/wa/noise.h"
#include "common/buf.h"
#include "common/status.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int build_stanza(struct cl_buf *body)
{
	struct cl_wa_node *m = NULL, *enc = NULL;
	unsigned char blob[300];
	char *err = NULL;
	int rc;

	randombytes_buf(blob, sizeof(blob));
	if ((rc = cl_wa_node_new_s(&m, "message")) ||
	    (rc = cl_wa_node_add_attr_s(m, "from", "120363012345678901@g.us")) ||
	    (rc = cl_wa_node_add_attr_s(m, "type", "text")) ||
	    (rc = cl_wa_node_add_attr_s(m, "id", "3EB0C4F1A2B3C4D5E6F7")) ||
	    (rc = cl_wa_node_add_attr_s(m, "participant",
					"85291234567:3@s.whatsapp.net")) ||
	    (rc = cl_wa_node_add_attr_s(m, "notify", "Chan Tai Man")) ||
	    (rc = cl_wa_node_add_attr_s(m, "t", "1764000000")) ||
	    (rc = cl_wa_node_new_s(&enc, "enc")) ||
	    (rc = cl_wa_node_add_attr_s(enc, "v", "2")) ||
	    (rc = cl_wa_node_add_attr_s(enc, "type", "skmsg")) ||
	    (rc = cl_wa_node_set_bytes(enc, blob, sizeof(blob))) ||
	    (rc = cl_wa_node_add_child(m, enc)))
		goto out;
	enc = NULL;
	rc = cl_wa_frame_pack(m, body, &err);
out:
	free(err);
	cl_wa_node_free(enc);
	cl_wa_node_free(m);
	return rc;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000, i;
	unsigned char key[32], nonce[12], out[4096];
	struct cl_wa_noise_transport *tx = NULL, *rx = NULL;
	struct cl_buf body, ct, plain, nodeb;
	size_t flen;
	unsigned char *frames;
	double t0, t_base, t_path;
	EVP_CIPHER_CTX *ctx;
	char *err = NULL;
	int len, rc = 1;

	if (sodium_init() < 0 || n == 0)
		return 2;
	randombytes_buf(key, sizeof(key));
	cl_buf_init(&body, 1u << 16);
	cl_buf_init(&ct, 1u << 16);
	cl_buf_init(&plain, 1u << 16);
	cl_buf_init(&nodeb, 1u << 16);
	if (build_stanza(&body) ||
	    cl_wa_noise_transport_new(&tx, key, key) ||
	    cl_wa_noise_transport_new(&rx, key, key))
		return 2;
	flen = body.len + CL_WA_NOISE_TAG_BYTES;
	frames = malloc(flen * n);
	ctx = EVP_CIPHER_CTX_new();
	if (frames == NULL || ctx == NULL)
		return 2;
	for (i = 0; i < n; i++) {
		cl_buf_reset(&ct);
		if (cl_wa_noise_encrypt(tx, body.data, body.len, &ct, &err) ||
		    ct.len != flen)
			return 2;
		memcpy(frames + i * flen, ct.data, flen);
	}

	/* baseline: AES-256-GCM decryption alone */
	memset(nonce, 0, sizeof(nonce));
	t0 = now_s();
	for (i = 0; i < n; i++) {
		unsigned char *f = frames + i * flen;

		nonce[8] = (unsigned char)(i >> 24);
		nonce[9] = (unsigned char)(i >> 16);
		nonce[10] = (unsigned char)(i >> 8);
		nonce[11] = (unsigned char)i;
		if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1 ||
		    EVP_DecryptUpdate(ctx, out, &len, f,
				      (int)(flen - CL_WA_NOISE_TAG_BYTES)) != 1 ||
		    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
					CL_WA_NOISE_TAG_BYTES,
					f + flen - CL_WA_NOISE_TAG_BYTES) != 1 ||
		    EVP_DecryptFinal_ex(ctx, out + len, &len) != 1) {
			fprintf(stderr, "wa_stanza: baseline decrypt failed\n");
			goto done;
		}
	}
	t_base = now_s() - t0;

	/* the collector's path */
	t0 = now_s();
	for (i = 0; i < n; i++) {
		struct cl_wa_node *node = NULL;

		cl_buf_reset(&plain);
		cl_buf_reset(&nodeb);
		if (cl_wa_noise_decrypt(rx, frames + i * flen, flen, &plain,
					&err) ||
		    cl_wa_frame_unpack(plain.data, plain.len, &nodeb, &err) ||
		    cl_wa_node_decode(nodeb.data, nodeb.len, &node, &err)) {
			fprintf(stderr, "wa_stanza: frame %zu: %s\n", i,
				err ? err : "failed");
			goto done;
		}
		cl_wa_node_free(node);
	}
	t_path = now_s() - t0;
	printf("stanza frames           %zu x %zu bytes\n", n, flen);
	printf("AES-256-GCM only        %.0f frames/s\n", (double)n / t_base);
	printf("decrypt+unpack+decode   %.0f frames/s\n", (double)n / t_path);
	printf("ratio (path / baseline) %.3f\n", t_base / t_path);
	rc = 0;
done:
	free(err);
	free(frames);
	EVP_CIPHER_CTX_free(ctx);
	cl_wa_noise_transport_free(tx);
	cl_wa_noise_transport_free(rx);
	cl_buf_release(&body);
	cl_buf_release(&ct);
	cl_buf_release(&plain);
	cl_buf_release(&nodeb);
	return rc;
}
