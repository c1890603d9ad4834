/*
 * wverify.h - checking what witnessing stored, for `verify`: every stored
 * cosignature and RFC 3161 token, and a C2SP tlog-policy
 * (c2sp.org/tlog-policy) quorum on the latest checkpoint, plus the
 * witnesses' own view when the policy gives their URLs.
 */
#ifndef CL_WVERIFY_H
#define CL_WVERIFY_H

#include <stddef.h>
#include <stdint.h>

struct cl_ledger;
struct cl_wpolicy;

/*
 * Parse a tlog-policy text: "log <vkey> [url]", "witness <name> <vkey>
 * [url]" (vkey of type 0x04), "group <name> all|any|<k> <name>...",
 * exactly one "quorum <name>|none"; "#" comments and blank lines.  Names
 * must be defined before use.  CL_EINVAL with "line N: reason".
 */
int cl_wpolicy_parse(const char *text, size_t len, struct cl_wpolicy **out,
		     char **err);
void cl_wpolicy_free(struct cl_wpolicy *p);

struct cl_wverify_report {
	uint64_t cosigs;          /* stored cosignatures checked */
	uint64_t tokens;          /* stored timestamp tokens checked */
	uint64_t latest;          /* the latest checkpoint's size */
	size_t latest_by;         /* policy witnesses cosigning it */
	size_t monitored;         /* witnesses whose own view was fetched */
	size_t unreachable;       /* policy witnesses with a URL not reached */
	int policy;               /* a policy was checked */
	char *problem;            /* the first problem (malloc'd) or NULL */
};

/*
 * Check the witnessing data of the archive opened as `l`: with `p` (may
 * be NULL) also the quorum and the witnesses' views.  `tsa_ca` (may be
 * NULL) is the CA file that tokens must chain to.  CL_OK; CL_ECORRUPT
 * with r->problem; another code if the check could not run.
 */
int cl_witness_verify(struct cl_ledger *l, const struct cl_wpolicy *p,
		      const char *tsa_ca, struct cl_wverify_report *r, char **err)
	__attribute__((warn_unused_result));
void cl_wverify_report_release(struct cl_wverify_report *r);

/*
 * Check a cosigned checkpoint note (`len` bytes: the log's signature and
 * any witness lines, as in an export bundle) against the policy: signed
 * by one of its log keys (if it names any), every line by a policy
 * witness verifies as its cosignature (lines by other keys are ignored,
 * as signed-note verifiers do), and the quorum is met.  r->latest is the
 * checkpoint size, r->cosigs the verified lines, r->latest_by the policy
 * witnesses on it.  CL_OK; CL_ECORRUPT with r->problem; CL_ENOMEM.
 */
int cl_wpolicy_check_note(const struct cl_wpolicy *p, const char *note, size_t len,
			  struct cl_wverify_report *r)
	__attribute__((warn_unused_result));

#endif
