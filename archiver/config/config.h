/*
 * config.h - DIR/chatledger.conf, the archive's configuration (INI, parsed
 * with libinih).  Every key is documented in config/README.  Unknown
 * sections or keys and bad values are errors reported as "file:line:
 * reason": a typo must never silently change behaviour.
 */
#ifndef CL_CONFIG_H
#define CL_CONFIG_H

#include <stddef.h>

#define CL_WA_DEFAULT_URL "wss://web.whatsapp.com/ws/chat"
#define CL_WA_DEFAULT_ORIGIN "https://web.whatsapp.com"
#define CL_WA_DEFAULT_VERSION_0 2
#define CL_WA_DEFAULT_VERSION_1 3000
#define CL_WA_DEFAULT_VERSION_2 1045649367

#define CL_CONFIG_MAX_LABEL_ACCOUNTS 64
#define CL_CONFIG_MAX_ACCOUNT_LABELS 8

/* [labels]: "ACCOUNT = label, label" ("*" = every account). */
struct cl_config_labels {
	char account[256];
	char label[CL_CONFIG_MAX_ACCOUNT_LABELS][129];
	size_t n;
};

struct cl_config {
	char origin[256];      /* [archive] origin (informational; the ledger's copy rules) */
	int format;            /* [archive] format */
	size_t batch_size;     /* [ingest] batch_size: records per durable commit */
	char policy[1024];     /* [retention] policy: policy file (relative to
	                          the archive directory), "" = none */
	struct cl_config_wa {  /* [whatsapp]: the linked-device collector */
		char url[512];           /* url */
		char ws_origin[256];     /* ws_origin: Origin header */
		char ca_file[1024];      /* ca_file: extra trusted CAs, "" none */
		unsigned char root_key[32]; /* root_key (hex): Noise cert root */
		unsigned version[3];     /* version = 2.3000.N */
		char device_name[64];    /* device_name: shown on the phone */
		int platform_type;       /* platform_type: DeviceProps 0..7 */
		int full_history;        /* full_history: ask the phone for the
		                            whole history at pairing (default 1) */
		char credentials_key_file[1024]; /* "" = DIR/wa/creds.key */
		unsigned keepalive_min_ms, keepalive_max_ms; /* keepalive */
		unsigned keepalive_timeout_ms;
		unsigned keepalive_giveup_ms;  /* failing this long: reconnect */
		unsigned reconnect_base_ms, reconnect_max_ms;
		unsigned qr_first_ms, qr_next_ms;
		unsigned pair_rounds;    /* QR rounds before `pair` gives up */
	} wa;
	struct cl_config_labels labels[CL_CONFIG_MAX_LABEL_ACCOUNTS];
	size_t n_labels;
};

/* Load DIR/chatledger.conf; defaults for absent keys.  CL_EINVAL with
 * "path:line: reason" on a syntax error, unknown key or bad value. */
int cl_config_load(const char *dir, struct cl_config *c, char **err);

/*
 * The labels configured for `account` ([labels]: those of "*" and of the
 * account, each once; a key also matches an account that ends in ":KEY",
 * such as the Cloud API's "wa-business:PHONE_NUMBER_ID"), as a
 * cl_record_opts.account_labels callback: ctx
 * is the struct cl_config; out[] borrows its strings.  Thread-safe.
 */
size_t cl_config_account_labels(void *ctx, const char *account, const char **out,
				size_t cap);

#endif
