/*
 * test_wa_qr.c - the pairing QR code (archiver/wa/qr.c): the exact text,
 * the PNG (decoded back by zbarimg from zbar-tools) and the terminal
 * rendering (its size, and decoded by zbarimg after rasterising it as a
 * terminal would show it).
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qrencode.h>
#include <sodium.h>

#include "archiver/wa/qr.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "../unit/tap.h"
#include "scratch.h"
#include "common/banned.h"


static void fill(unsigned char *p, unsigned start)
{
	unsigned i;

	for (i = 0; i < 32; i++)
		p[i] = (unsigned char)(start + i);
}

/* zbarimg's decoding of `path` (malloc'd, trailing newline removed), or
 * NULL when it finds nothing.  QR codes only: with every symbology on,
 * zbarimg now and then also reads a linear barcode out of the QR's
 * modules (one CI run saw a stray "551553" line). */
static char *zbar(const char *path)
{
	char *cmd = NULL, line[4096];
	struct cl_buf out;
	FILE *p;
	size_t n;

	cl_buf_init(&out, 1 << 20);
	if (asprintf(&cmd, "zbarimg --raw -q -Sdisable -Sqrcode.enable '%s' 2>/dev/null", path) < 0)
		return NULL;
	p = popen(cmd, "r"); /* NOLINT(cert-env33-c): the test runs zbarimg */
	free(cmd);
	if (p == NULL)
		return NULL;
	while ((n = fread(line, 1, sizeof(line), p)) > 0)
		cl_buf_add(&out, line, n);
	if (pclose(p) != 0 || out.len == 0) {
		cl_buf_release(&out);
		return NULL;
	}
	if (out.data[out.len - 1] == '\n')
		out.data[--out.len] = 0;
	return (char *)cl_buf_detach(&out, NULL);
}

/* ---- text ------------------------------------------------------------ */

static void test_string(void)
{
	static const char want[] =
		"https://wa.me/settings/linked_devices#2@AbC+/xyz==,"
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,"
		"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=,"
		"QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=,1";
	unsigned char noise[32], ident[32], adv[32];
	char *s = NULL;

	fill(noise, 0);
	fill(ident, 32);
	fill(adv, 64);
	TAP_EQ_INT(cl_wa_qr_string("2@AbC+/xyz==", noise, ident, adv, '1', &s),
		   CL_OK, "qr string");
	TAP_EQ_STR(s, want, "exact text (standard base64 with padding)");
	free(s);
	s = NULL;
	TAP_EQ_INT(cl_wa_qr_string("r", noise, ident, adv, 'c', &s), CL_OK,
		   "platform c");
	TAP_OK(s && strlen(s) == strlen(want) - 11 && s[strlen(s) - 1] == 'c' &&
	       s[strlen(s) - 2] == ',', "platform id is the last field");
	free(s);
	s = (char *)1;
	TAP_EQ_INT(cl_wa_qr_string("", noise, ident, adv, '1', &s), CL_EINVAL,
		   "empty ref refused");
	TAP_OK(s == NULL, "*out NULL on failure");
	TAP_EQ_INT(cl_wa_qr_string("a,b", noise, ident, adv, '1', &s), CL_EINVAL,
		   "ref with a comma refused");
	TAP_EQ_INT(cl_wa_qr_string("a b", noise, ident, adv, '1', &s), CL_EINVAL,
		   "ref with a space refused");
	TAP_EQ_INT(cl_wa_qr_string("ab", noise, ident, adv, ',', &s), CL_EINVAL,
		   "platform id ',' refused");
	TAP_EQ_INT(cl_wa_qr_string("ab", noise, ident, adv, 0, &s), CL_EINVAL,
		   "platform id NUL refused");
}

/* A realistic QR text: a ~90-character ref and random keys. */
static char *realistic(void)
{
	unsigned char noise[32], ident[32], adv[32];
	char ref[96], *s = NULL;
	size_t i;

	randombytes_buf(noise, 32);
	randombytes_buf(ident, 32);
	randombytes_buf(adv, 32);
	memcpy(ref, "2@", 2);
	for (i = 2; i < 90; i++)
		ref[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
			[randombytes_uniform(64)];
	ref[90] = 0;
	if (cl_wa_qr_string(ref, noise, ident, adv, '1', &s) != CL_OK)
		abort();
	return s;
}

/* ---- PNG --------------------------------------------------------------- */

static void test_png(void)
{
	char *text = realistic(), *path = NULL, *got, *err = NULL;
	unsigned char hdr[24];
	struct stat st;
	FILE *f;
	QRcode *q = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);

	if (asprintf(&path, "%s/qr.png", tmpdir) < 0 || q == NULL)
		abort();
	TAP_EQ_INT(cl_wa_qr_write_png(text, path, &err), CL_OK, "write PNG");
	TAP_OK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
	       "PNG is 0600");
	f = fopen(path, "rb");
	TAP_OK(f && fread(hdr, 1, 24, f) == 24 &&
	       !memcmp(hdr, "\x89PNG\r\n\x1a\n", 8) &&
	       cl_load_be32(hdr + 16) == (uint32_t)(q->width + 8) * 8 &&
	       cl_load_be32(hdr + 20) == (uint32_t)(q->width + 8) * 8,
	       "PNG signature; (width + 2 x 4) x 8 pixels square");
	if (f)
		fclose(f);
	got = zbar(path);
	TAP_EQ_STR(got, text, "zbarimg reads the PNG back exactly");
	free(got);
	/* replacing an existing file */
	free(text);
	text = realistic();
	TAP_EQ_INT(cl_wa_qr_write_png(text, path, &err), CL_OK, "write over it");
	got = zbar(path);
	TAP_EQ_STR(got, text, "zbarimg reads the new code");
	free(got);
	{
		char *tmp = NULL;

		if (asprintf(&tmp, "%s.tmp", path) < 0)
			abort();
		TAP_OK(access(tmp, F_OK) != 0, "no temp file left");
		free(tmp);
	}
	{
		char *big = malloc(8000);

		memset(big, 'x', 7999);
		big[7999] = 0;
		TAP_EQ_INT(cl_wa_qr_write_png(big, path, &err), CL_EINVAL,
			   "too long for a QR code");
		free(err);
		err = NULL;
		free(big);
	}
	TAP_OK(cl_wa_qr_write_png(text, "/nonexistent/dir/qr.png", &err) == CL_EIO &&
	       err != NULL, "unwritable path: CL_EIO with a message");
	QRcode_free(q);
	free(err);
	free(text);
	free(path);
}

/* ---- terminal ---------------------------------------------------------- */

/*
 * Rasterise a rendering as a terminal shows it: drawn halves in the text
 * colour, the rest (and everything around) in the background colour.
 * `fg_light`: light text on a dark background.  Writes a PGM at 4 px per
 * module with a 6-module border of background.  Returns the module grid
 * size found (columns; *rows gets rows) or -1 on unexpected characters.
 */
static int rasterise(const char *r, int fg_light, const char *path, int *rows)
{
	enum { PX = 4, BORDER = 6 };
	int cols = -1, line = 0, x = 0, w, h, i, j;
	unsigned char *grid, *img;
	const char *p;
	FILE *f;

	grid = calloc(400 * 400, 1); /* 1 = drawn */
	if (grid == NULL)
		abort();
	for (p = r; *p;) {
		int top, bot;

		if (*p == '\n') {
			if (cols >= 0 && x != cols) {
				free(grid);
				return -1;
			}
			cols = x;
			x = 0;
			line++;
			p++;
			continue;
		}
		if (*p == ' ') {
			top = bot = 0;
			p++;
		} else if (!strncmp(p, "\xe2\x96\x80", 3)) {
			top = 1;
			bot = 0;
			p += 3;
		} else if (!strncmp(p, "\xe2\x96\x84", 3)) {
			top = 0;
			bot = 1;
			p += 3;
		} else if (!strncmp(p, "\xe2\x96\x88", 3)) {
			top = bot = 1;
			p += 3;
		} else {
			free(grid);
			return -1;
		}
		if (x < 400 && line * 2 + 1 < 400) {
			grid[(line * 2) * 400 + x] = (unsigned char)top;
			grid[(line * 2 + 1) * 400 + x] = (unsigned char)bot;
		}
		x++;
	}
	*rows = line * 2;
	w = (cols + 2 * BORDER) * PX;
	h = (*rows + 2 * BORDER) * PX;
	img = malloc((size_t)w * (size_t)h);
	if (img == NULL)
		abort();
	for (j = 0; j < h; j++)
		for (i = 0; i < w; i++) {
			int mx = i / PX - BORDER, my = j / PX - BORDER;
			int drawn = mx >= 0 && my >= 0 && mx < cols && my < *rows &&
				    grid[my * 400 + mx];

			img[j * w + i] = (unsigned char)(drawn == fg_light ? 255 : 0);
		}
	f = fopen(path, "wb");
	if (f == NULL)
		abort();
	fprintf(f, "P5\n%d %d\n255\n", w, h);
	fwrite(img, 1, (size_t)w * (size_t)h, f);
	fclose(f);
	free(img);
	free(grid);
	return cols;
}

static void test_utf8(void)
{
	char *text = realistic(), *path = NULL, *got;
	QRcode *q = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_L);
	struct cl_buf r;
	int cols, rows = 0, lines = 0, side;
	size_t i;

	if (asprintf(&path, "%s/term.pgm", tmpdir) < 0 || q == NULL)
		abort();
	side = q->width + 4;
	cl_buf_init(&r, 1 << 20);
	cl_buf_addstr(&r, "");
	TAP_EQ_INT(cl_wa_qr_render_utf8(text, &r), CL_OK, "render");
	for (i = 0; i < r.len; i++)
		lines += r.data[i] == '\n';
	TAP_EQ_INT(lines, (side + 1) / 2, "ceil((W + 4) / 2) lines");
	cols = rasterise((const char *)r.data, 1, path, &rows);
	TAP_EQ_INT(cols, side, "W + 4 characters on every line");
	TAP_OK(r.len > 0 && r.data[r.len - 1] == '\n', "ends with a newline");
	/* the quiet zone: the first line is all light (full blocks) */
	TAP_OK(!strncmp((const char *)r.data, "\xe2\x96\x88\xe2\x96\x88", 6),
	       "quiet zone drawn light");
	got = zbar(path);
	TAP_EQ_STR(got, text, "zbarimg reads it as shown on a dark terminal");
	free(got);

	cl_buf_reset(&r);
	TAP_EQ_INT(cl_wa_qr_render_utf8_ex(text, 1, &r), CL_OK,
		   "render for a light terminal");
	cols = rasterise((const char *)r.data, 0, path, &rows);
	TAP_EQ_INT(cols, side, "same size");
	got = zbar(path);
	TAP_EQ_STR(got, text, "zbarimg reads it as shown on a light terminal");
	free(got);

	/* appends; fails cleanly */
	cl_buf_reset(&r);
	cl_buf_addstr(&r, "head\n");
	TAP_OK(cl_wa_qr_render_utf8("hello", &r) == CL_OK &&
	       !strncmp((const char *)r.data, "head\n", 5) && r.len > 5,
	       "appends to the buffer");
	{
		struct cl_buf small;

		cl_buf_init(&small, 100);
		cl_buf_addstr(&small, "keep");
		TAP_OK(cl_wa_qr_render_utf8(text, &small) == CL_ETOOBIG &&
		       small.len == 4 && !strcmp((const char *)small.data, "keep"),
		       "over the buffer cap: CL_ETOOBIG, buffer unchanged");
		cl_buf_release(&small);
	}
	TAP_EQ_INT(cl_wa_qr_render_utf8("", &r), CL_EINVAL, "empty text");
	QRcode_free(q);
	cl_buf_release(&r);
	free(text);
	free(path);
}

int main(void)
{
	if (sodium_init() < 0) {
		printf("not ok 1 - sodium_init\n");
		return 1;
	}
	if (scratch_make("test_wa_qr") != 0) {
		printf("not ok 1 - mkdtemp\n");
		return 1;
	}
	TAP_OK(access("/usr/bin/zbarimg", X_OK) == 0 ||
	       access("/usr/local/bin/zbarimg", X_OK) == 0,
	       "zbarimg (zbar-tools) is installed");
	test_string();
	test_png();
	test_utf8();
	(void)scratch_remove();
	return tap_done();
}
