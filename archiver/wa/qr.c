/*
 * qr.c - the pairing QR code (qr.h): text, terminal rendering, PNG.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <qrencode.h>
#include <sodium.h>

#include "archiver/wa/qr.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define B64_32 45 /* base64 of 32 bytes with padding, plus NUL */

/* ---- text ------------------------------------------------------------ */

static int ref_ok(const char *ref)
{
	const char *p;

	if (ref == NULL || *ref == 0)
		return 0;
	for (p = ref; *p; p++)
		if (*p < 0x21 || *p > 0x7e || *p == ',')
			return 0;
	return 1;
}

static int id_ok(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

int cl_wa_qr_string(const char *ref, const unsigned char noise_pub[32],
		    const unsigned char ident_pub[32],
		    const unsigned char adv_secret[32], char platform_id,
		    char **out)
{
	char noise[B64_32], ident[B64_32], adv[B64_32];
	struct cl_buf b;
	size_t need;
	int rc;

	*out = NULL;
	if (!ref_ok(ref) || !id_ok(platform_id))
		return CL_EINVAL;
	sodium_bin2base64(noise, sizeof(noise), noise_pub, 32,
			  sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(ident, sizeof(ident), ident_pub, 32,
			  sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(adv, sizeof(adv), adv_secret, 32,
			  sodium_base64_VARIANT_ORIGINAL);
	/* One allocation, so no reallocation leaves the secret behind. */
	need = strlen(CL_WA_QR_PREFIX) + strlen(ref) + 3 * (B64_32 - 1) + 5;
	cl_buf_init(&b, need);
	if ((rc = cl_buf_reserve(&b, need)) ||
	    (rc = cl_buf_addf(&b, "%s%s,%s,%s,%s,%c", CL_WA_QR_PREFIX, ref,
			      noise, ident, adv, platform_id)))
		goto out;
	*out = (char *)cl_buf_detach(&b, NULL);
out:
	sodium_memzero(adv, sizeof(adv));
	if (b.data)
		sodium_memzero(b.data, b.alloc);
	cl_buf_release(&b);
	return rc;
}

/* ---- symbols ----------------------------------------------------------- */

static QRcode *encode(const char *text, QRecLevel level)
{
	errno = EINVAL;
	if (text == NULL || *text == 0)
		return NULL;
	errno = 0;
	return QRcode_encodeString8bit(text, 0, level);
}

/* Wipe the modules (they encode the ADV secret) and free the symbol. */
static void qr_free(QRcode *q)
{
	if (q) {
		sodium_memzero(q->data, (size_t)q->width * (size_t)q->width);
		QRcode_free(q);
	}
}

/* 1 when module (x, y) of the code with a `quiet` margin is dark. */
static int dark(const QRcode *q, int quiet, int x, int y)
{
	x -= quiet;
	y -= quiet;
	if (x < 0 || y < 0 || x >= q->width || y >= q->width)
		return 0;
	return q->data[(size_t)y * (size_t)q->width + (size_t)x] & 1;
}

/* ---- terminal ---------------------------------------------------------- */

int cl_wa_qr_render_utf8_ex(const char *text, int light_terminal,
			    struct cl_buf *out)
{
	static const char *const cell[4] = {
		" ",            /* neither half drawn */
		"\xe2\x96\x84", /* lower half U+2584 */
		"\xe2\x96\x80", /* upper half U+2580 */
		"\xe2\x96\x88"  /* full block U+2588 */
	};
	QRcode *q = encode(text, QR_ECLEVEL_L);
	size_t old = out->len;
	int lt = light_terminal != 0, size, x, y, rc = CL_OK;

	if (q == NULL)
		return errno == ENOMEM ? CL_ENOMEM : CL_EINVAL;
	size = q->width + 2 * CL_WA_QR_TERM_QUIET;
	for (y = 0; y < size && rc == CL_OK; y += 2) {
		for (x = 0; x < size && rc == CL_OK; x++) {
			/* Drawn: light modules (or dark ones on a light
			 * terminal); below the last row nothing is drawn. */
			int top = dark(q, CL_WA_QR_TERM_QUIET, x, y) == lt;
			int bot = y + 1 < size &&
				  dark(q, CL_WA_QR_TERM_QUIET, x, y + 1) == lt;

			rc = cl_buf_addstr(out, cell[top * 2 + bot]);
		}
		if (rc == CL_OK)
			rc = cl_buf_add_u8(out, '\n');
	}
	if (rc) {
		out->len = old;
		if (out->data)
			out->data[old] = 0;
	}
	qr_free(q);
	return rc;
}

int cl_wa_qr_render_utf8(const char *text, struct cl_buf *out)
{
	return cl_wa_qr_render_utf8_ex(text, 0, out);
}

/* ---- PNG ------------------------------------------------------------- */

int cl_wa_qr_write_png(const char *text, const char *path, char **err)
{
	QRcode *q = encode(text, QR_ECLEVEL_M);
	png_image img;
	png_alloc_size_t size = 0;
	unsigned char *px = NULL, *png = NULL;
	size_t side = 0, x, y;
	int rc = CL_OK;

	memset(&img, 0, sizeof(img));
	if (q == NULL)
		return cl_error(err, errno == ENOMEM ? CL_ENOMEM : CL_EINVAL,
				"the text does not fit in a QR code");
	side = ((size_t)q->width + 2 * CL_WA_QR_PNG_QUIET) * CL_WA_QR_PNG_SCALE;
	px = malloc(side * side);
	if (px == NULL) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	for (y = 0; y < side; y++)
		for (x = 0; x < side; x++)
			px[y * side + x] =
				dark(q, CL_WA_QR_PNG_QUIET,
				     (int)(x / CL_WA_QR_PNG_SCALE),
				     (int)(y / CL_WA_QR_PNG_SCALE)) ? 0 : 255;
	img.version = PNG_IMAGE_VERSION;
	img.width = (png_uint_32)side;
	img.height = (png_uint_32)side;
	img.format = PNG_FORMAT_GRAY;
	/* The first call measures, the second writes. */
	if (!png_image_write_to_memory(&img, NULL, &size, 0, px, 0, NULL) ||
	    size == 0) {
		rc = cl_error(err, CL_EINVAL, "cannot make the PNG: %s",
			      img.message);
		goto out;
	}
	png = malloc(size);
	if (png == NULL) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	if (!png_image_write_to_memory(&img, png, &size, 0, px, 0, NULL)) {
		rc = cl_error(err, CL_EINVAL, "cannot make the PNG: %s",
			      img.message);
		goto out;
	}
	rc = cl_file_replace(path, png, size, 0600, err);
out:
	png_image_free(&img);
	if (px)
		sodium_memzero(px, side * side);
	if (png)
		sodium_memzero(png, size);
	free(px);
	free(png);
	qr_free(q);
	return rc;
}
