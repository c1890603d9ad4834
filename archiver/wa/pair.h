/*
 * pair.h - QR pairing stanzas (<pair-device>, <pair-success>) and the
 * pre-key upload.
 *
 * pair-success (whatsmeow pair.go; Baileys configureSuccessfulPairing).
 * The server's <iq type="set" id=..><pair-success> holds
 * <device-identity> (an ADVSignedDeviceIdentityHMAC), <device jid lid>,
 * <platform name> and optionally <biz name>.  Accepting it takes:
 *   1. HMAC-SHA256(key = ADV secret, [0x06 0x05 if accountType is HOSTED]
 *      || details) equal (constant time) to its hmac; else 401
 *      "hmac-mismatch";
 *   2. details parsed as ADVSignedDeviceIdentity, whose details parse as
 *      ADVDeviceIdentity; else 500 "internal-error";
 *   3. accountSignature, XEdDSA under accountSignatureKey (32 bytes), valid
 *      over 0x06 0x00 (0x06 0x05 if deviceType is HOSTED) || deviceDetails
 *      || our identity public key; else 401 "signature-mismatch";
 *   4. deviceSignature = XEdDSA(identity key, 0x06 0x01 || deviceDetails
 *      || identity public key || accountSignatureKey);
 *   5. the reply <iq to="s.whatsapp.net" type="result" id=same>
 *      <pair-device-sign><device-identity key-index="K">, carrying the
 *      ADVSignedDeviceIdentity with our deviceSignature and WITHOUT
 *      accountSignatureKey.
 * A refusal is answered with <iq to="s.whatsapp.net" type="error"
 * id=same><error code=".." text=".."/></iq>, as whatsmeow does (Baileys
 * sends nothing and closes).
 */
#ifndef CL_WA_PAIR_H
#define CL_WA_PAIR_H

#include <stddef.h>
#include <stdint.h>

#include "archiver/wa/binary.h"
#include "archiver/wa/creds.h"

#define CL_WA_SERVER_JID "s.whatsapp.net"

/*
 * The refs of <iq type="set"><pair-device><ref>..</ref>...</pair-device>:
 * *refs is a malloc'd array of *nrefs malloc'd strings, in order (free
 * each, then the array).  <ref> children whose content is empty or holds
 * anything but printable ASCII other than ',' are skipped (they could not
 * go into a QR text), as are other children.  CL_EINVAL (with a message)
 * when there is no <pair-device> or no usable ref; CL_ENOMEM.  On failure
 * *refs is NULL and *nrefs 0.
 */
int cl_wa_pair_refs(const struct cl_wa_node *iq, char ***refs,
		    size_t *nrefs, char **err);

/*
 * Handle <iq type="set" id=..><pair-success> for the credentials c (see
 * the top of this file).  On CL_OK c holds the account (paired = 1, jid,
 * lid ("" when absent), platform, biz_name (invalid UTF-8 replaced by
 * '?', cut to fit), key_index (0 when absent), account_sig_key and
 * signed_identity = the full ADVSignedDeviceIdentity with our
 * deviceSignature), *server_time is the `t` attribute (0 when absent or
 * not a number) and *reply the result iq.  On failure c is unchanged,
 * *server_time is 0, and:
 *   CL_EBADSIG  HMAC or account signature wrong: *reply is the 401 error;
 *   CL_EINVAL   malformed (no <pair-success>, <device-identity> or
 *               <device jid>, bad protobuf, a JID that is not a phone
 *               user's, an identity over 1024 bytes): *reply is the 500
 *               "internal-error" iq, or NULL when the iq has no id;
 *   CL_ENOMEM   *reply is NULL.
 * Free *reply with cl_wa_node_free().  *err gets a message without
 * secrets.
 */
int cl_wa_pair_success(const struct cl_wa_node *iq, struct cl_wa_creds *c,
		       int64_t *server_time, struct cl_wa_node **reply,
		       char **err);

/*
 * The pre-key upload <iq xmlns="encrypt" type="set" to="s.whatsapp.net"
 * id=id> with <registration> (4-byte BE reg_id), <type> (0x05),
 * <identity> (ident_pub), <list> of <key><id>(3-byte BE)</id><value>
 * (32 bytes)</value></key> for prekeys[first .. first + n), and
 * <skey><id/><value/><signature/></skey> for the signed pre-key.
 * CL_EINVAL when n is 0, the range is outside prekeys[] or id is empty;
 * CL_ENOMEM.  *out is NULL on failure; free it with cl_wa_node_free().
 */
int cl_wa_prekey_upload_node(const struct cl_wa_creds *c, size_t first,
			     size_t n, const char *id,
			     struct cl_wa_node **out, char **err);

#endif
