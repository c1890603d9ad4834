/*
 * qr.h - the pairing QR code: its text, a terminal rendering and a PNG.
 *
 * The text a phone scans under Settings > Linked devices is
 *
 *   https://wa.me/settings/linked_devices#REF,NOISE,IDENT,ADV,P
 *
 * REF being one <ref> of the server's <pair-device>, NOISE, IDENT and ADV
 * the standard base64 (with padding) of the Noise public key, the identity
 * public key and the ADV secret, and P one platform character ('1' Chrome,
 * '9' other web client, ...; whatsmeow pair-code.go).  The text holds the
 * ADV secret: wipe it (sodium_memzero) before freeing it, and keep the PNG
 * private.
 *
 * The symbols are made by libqrencode (8-bit mode, error correction level
 * L for the terminal, M for the PNG) and the PNG by libpng.
 */
#ifndef CL_WA_QR_H
#define CL_WA_QR_H

#include "common/buf.h"

#define CL_WA_QR_PREFIX "https://wa.me/settings/linked_devices#"
#define CL_WA_QR_TERM_QUIET 2 /* quiet zone of the terminal rendering */
#define CL_WA_QR_PNG_SCALE 8  /* pixels per module */
#define CL_WA_QR_PNG_QUIET 4  /* quiet zone of the PNG, in modules */

/*
 * The QR text for `ref` in a new string (*out; free() it after wiping).
 * CL_EINVAL when ref is empty or holds anything but printable ASCII other
 * than ',', or platform_id is not a letter or digit; CL_ENOMEM.
 */
int cl_wa_qr_string(const char *ref, const unsigned char noise_pub[32],
		    const unsigned char ident_pub[32],
		    const unsigned char adv_secret[32], char platform_id,
		    char **out);

/*
 * Append a terminal rendering of `text` to `out`: two module rows per
 * line drawn with U+2580/U+2584/U+2588 half and full blocks, inside a
 * quiet zone of CL_WA_QR_TERM_QUIET modules, each line ending in '\n'.
 * Light modules are drawn with blocks in the text colour, so the code
 * reads dark-on-light on the usual light-on-dark terminal; the _ex form
 * with light_terminal = 1 draws the dark modules instead, for terminals
 * with dark text on a light background.  A symbol of width W gives
 * ceil((W + 4) / 2) lines of W + 4 characters.  CL_EINVAL when the text
 * does not fit a QR code, CL_ETOOBIG when out reaches its cap, CL_ENOMEM;
 * on failure out is unchanged.
 */
int cl_wa_qr_render_utf8(const char *text, struct cl_buf *out);
int cl_wa_qr_render_utf8_ex(const char *text, int light_terminal,
			    struct cl_buf *out);

/*
 * Write `text` as a greyscale PNG to `path`, CL_WA_QR_PNG_SCALE pixels a
 * module with a CL_WA_QR_PNG_QUIET-module white margin, through a 0600
 * temporary file that is fsynced and renamed over `path` (then the
 * directory is fsynced).  CL_EINVAL when the text does not fit, CL_EIO,
 * CL_ENOMEM.
 */
int cl_wa_qr_write_png(const char *text, const char *path, char **err);

#endif
