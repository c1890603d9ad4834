/*
 * payload.h - the ClientPayload (protobuf) sent in the Noise handshake's
 * clientFinish: registration before pairing, login after.
 *
 * Both carry what WhatsApp Web sends (whatsmeow store/clientpayload.go,
 * Baileys src/Utils/validate-connection.ts):
 *   userAgent {platform WEB, appVersion = the version triple, mcc "000",
 *              mnc "000", osVersion "0.1", manufacturer "", device
 *              "Desktop", osBuildNumber "0.1", releaseChannel RELEASE,
 *              localeLanguageIso6391 "en", localeCountryIso31661Alpha2 "US"}
 *   webInfo {webSubPlatform WEB_BROWSER}, connectType WIFI_UNKNOWN,
 *   connectReason USER_ACTIVATED, pushName when given.
 * Registration adds passive=false, pull=false and devicePairingData:
 *   eRegid (4-byte BE registration id), eKeytype 0x05, eIdent (identity
 *   public key), eSkeyId (3-byte BE), eSkeyVal, eSkeySig, buildHash =
 *   MD5 of "P.S.T" (the version triple in decimal) and deviceProps =
 *   DeviceProps {os, version {0, 1, 0} (as whatsmeow), platformType,
 *   requireFullSync false, historySyncConfig {storageQuotaMb 10240,
 *   inlineInitialPayloadInE2EeMsg true} (as whatsmeow)}.
 * Login adds username (the JID's user as a number), device, passive=true,
 * pull=true and lidDbMigrated=false.
 */
#ifndef CL_WA_PAYLOAD_H
#define CL_WA_PAYLOAD_H

#include <stdint.h>

#include "archiver/wa/creds.h"
#include "common/buf.h"

/* The WhatsApp Web version, e.g. 2.3000.1027934701.  It goes stale (the
 * server then answers 405), so it is a configuration value. */
struct cl_wa_version {
	uint32_t primary, secondary, tertiary;
};

struct cl_wa_client_info {
	struct cl_wa_version version;
	const char *os_name;   /* DeviceProps.os: the name the phone shows */
	int platform_type;     /* DeviceProps.PlatformType: 1 CHROME, ... */
	const char *push_name; /* may be NULL */
	int full_history;      /* DeviceProps.requireFullSync: ask the phone
	                          for the whole history, not the recent part */
};

/*
 * Append the packed registration payload to `out`.  CL_EINVAL when
 * os_name is NULL or empty or platform_type is negative; CL_ETOOBIG when
 * the buffer cap is reached; CL_ENOMEM.  Strings are sent as given (UTF-8 expected).
 */
int cl_wa_payload_register(const struct cl_wa_creds *c,
			   const struct cl_wa_client_info *ci,
			   struct cl_buf *out, char **err);

/*
 * Append the packed login payload to `out`.  CL_EINVAL when c is not
 * paired or its JID's user is not a number; otherwise as above.
 */
int cl_wa_payload_login(const struct cl_wa_creds *c,
			const struct cl_wa_client_info *ci,
			struct cl_buf *out, char **err);

#endif
