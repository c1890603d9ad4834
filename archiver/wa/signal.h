/*
 * signal.h - Signal decryption for the linked-device collector, with
 * libsignal-protocol-c, a libsodium/OpenSSL crypto provider and stores
 * kept in the archive's ledger.db (docs/FORMAT.md §4, side table
 * `wa_signal`).
 *
 * Every stored value (session records, the peers' identity keys, sender
 * keys, consumed one-time pre-key ids) is a secret: it is sealed with
 * XChaCha20-Poly1305 under a key derived from the credentials key
 * (creds.h), with the row's kind and name as associated data, so a row
 * moved to another name does not open.  Our own identity key, signed
 * pre-key and one-time pre-keys come from the credentials (creds.h).
 *
 * The stores read and write through the ledger's SQLite connection: call
 * the decrypt functions inside a ledger batch (cl_ledger_begin) and the
 * state they change commits or rolls back with the entries of that batch.
 * A message whose record was not committed therefore decrypts again when
 * WhatsApp redelivers it.
 *
 * Addresses: `name` is the sender's bare JID ("8529...@s.whatsapp.net" or
 * "123...@lid"), `device` its device number; a sender key is named by the
 * group JID and the sender's address.
 */
#ifndef CL_WA_SIGNAL_H
#define CL_WA_SIGNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct sqlite3;
struct cl_wa_creds;
struct cl_wa_signal;

/* Why a decryption failed (also the coverage entries' `error`). */
enum cl_wa_sig_err {
	CL_WA_SIG_OK = 0,
	CL_WA_SIG_BAD_MAC,        /* invalid MAC: retry */
	CL_WA_SIG_NO_SESSION,     /* no session / no sender key: retry */
	CL_WA_SIG_DUPLICATE,      /* message key already used */
	CL_WA_SIG_BAD_MESSAGE,    /* undecodable, bad version, bad key id */
	CL_WA_SIG_UNTRUSTED,      /* identity refused */
	CL_WA_SIG_INTERNAL        /* out of memory, database error */
};

/* A short stable name ("bad-mac", "no-session", ...). */
const char *cl_wa_sig_err_name(enum cl_wa_sig_err e);

/*
 * A Signal context over `db` (borrowed; the ledger's connection) and
 * `creds` (borrowed), sealing with a key derived from `creds_key` (the
 * 32-byte credentials key).  Creates the side table if needed (outside a
 * batch that is an autocommit statement).
 */
int cl_wa_signal_new(struct cl_wa_signal **out, struct sqlite3 *db,
		     const struct cl_wa_creds *creds,
		     const unsigned char creds_key[32], char **err);
void cl_wa_signal_free(struct cl_wa_signal *s);

/* pkmsg (prekey = 1) or msg: the plaintext (still padded) into *out. */
enum cl_wa_sig_err cl_wa_signal_decrypt(struct cl_wa_signal *s,
					const char *name, int device,
					int prekey, const unsigned char *ct,
					size_t len, struct cl_buf *out);

/* A sender-key distribution message for `group` from (name, device). */
enum cl_wa_sig_err cl_wa_signal_process_skdm(struct cl_wa_signal *s,
					     const char *group,
					     const char *name, int device,
					     const unsigned char *skdm,
					     size_t len);

/* skmsg in `group` from (name, device). */
enum cl_wa_sig_err cl_wa_signal_group_decrypt(struct cl_wa_signal *s,
					      const char *group,
					      const char *name, int device,
					      const unsigned char *ct,
					      size_t len, struct cl_buf *out);

/*
 * WhatsApp's v2 padding: the last byte n (1..255) repeated n times.
 * Returns the unpadded length, or (size_t)-1 when the padding is bad.
 */
size_t cl_wa_unpad(const unsigned char *p, size_t len);

#endif
