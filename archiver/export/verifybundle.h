/*
 * verifybundle.h - offline verification of an export bundle
 * (docs/BUNDLE.md §6): the BagIt manifests and Payload-Oxum, the CMS,
 * minisign and RFC 3161 signatures over the tag manifest, the witnesses'
 * cosignatures and the RFC 3161 token of the checkpoint, each record's
 * salted hash -> leaf -> inclusion proof -> signed checkpoint, each
 * conversation's chain (completeness; erased records named by
 * tombstones), and the RSMF files against the proven records.
 */
#ifndef CL_VERIFYBUNDLE_H
#define CL_VERIFYBUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct cl_wpolicy;

struct cl_vb_opts {
	const char *vkey;      /* the log's verifier key; NULL: the bundle's own (unpinned) */
	const char *ca_path;   /* PEM root for the CMS signature; NULL: certs/signer.pem (unpinned) */
	const char *tsa_ca_path; /* PEM root for the timestamps; NULL: certs/tsa-ca.pem if present
	                            (tag manifest), imprint only (checkpoint token) */
	/* C2SP tlog-policy (wverify.h) the checkpoint's cosignatures must meet;
	 * NULL: cosignature lines are reported, not checked. */
	const struct cl_wpolicy *policy;
};

/*
 * Verify the bundle file at `path`.  *report (caller json_decref's) gets
 * {"ok":bool, "problems":[...], "warnings":[...], counts and signature
 * results}.  Returns CL_OK when the bundle verifies, CL_ECORRUPT when
 * damage or tampering was found (listed in problems), another status
 * (with *err) when the file cannot be read at all or the options are bad.
 */
int cl_verifybundle(const char *path, const struct cl_vb_opts *o, json_t **report,
		    char **err);

#endif
