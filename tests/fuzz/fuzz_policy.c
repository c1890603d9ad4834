/*
 * fuzz_policy.c - fuzz target for the policy parser (policy/parse.c).
 *
 * Each input is parsed as a policy text (up to its first NUL byte).  A
 * failure must explain itself ("<fuzz>:LINE: ..."); a policy that parses
 * is run through every accessor, `policy check`, and decisions for a few
 * fake records whose attributes are derived from the input, and the
 * decisions must keep the engine's invariants; a violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A record "carries" type=value when a hash of both, salted, is odd. */
static int fake_has(void *ctx, const char *type, const char *value)
{
	uint32_t h = *(const uint32_t *)ctx;
	const char *s;

	for (s = type; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	for (s = value; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return (int)(h >> 7) & 1;
}

static void decide_some(const struct cl_policy *p, uint32_t salt)
{
	static const char *const parts[] = { "alice", "bob" };
	struct cl_policy_event ev[3] = {
		{ "alice", "relationship-ended", INT64_C(1719705600000) },
		{ "c1", "loan-repaid", INT64_C(1719705600000) },
		{ "bob", "transaction-completed", INT64_C(1750000000000) },
	};
	struct cl_policy_hold h = { "case", parts, 2, NULL, 0,
				    CL_TIME_NONE, CL_TIME_NONE,
				    INT64_C(1900000000000), CL_TIME_NONE };
	struct cl_policy_decision d;
	struct cl_policy_record r;
	int64_t nows[3] = { INT64_C(1700000000000), INT64_C(2000000000000),
			    INT64_C(4000000000000) };
	size_t i, k;

	for (i = 0; i < 4; i++) {
		uint32_t s = salt + (uint32_t)i * 2654435761u;

		memset(&r, 0, sizeof(r));
		r.kind = i & 1 ? "text" : "image";
		r.sent_at = INT64_C(1704067200000);
		r.has_attr = fake_has;
		r.ctx = &s;
		for (k = 0; k < 3; k++) {
			if (cl_policy_decide(p, &r, ev, 3, &h, i & 2 ? 1 : 0,
					     nows[k], &d) != CL_OK)
				abort();
			if (d.n_clocks > cl_policy_rule_count(p) ||
			    d.reason == NULL)
				abort();
			if (d.action == CL_POLICY_ERASE &&
			    (d.erase_after == CL_TIME_NONE ||
			     nows[k] < d.erase_after || d.n_holds != 0 ||
			     (d.retain_until != CL_TIME_NONE &&
			      nows[k] < d.retain_until)))
				abort();
			if (d.retain_until != CL_TIME_NONE &&
			    d.erase_after != CL_TIME_NONE &&
			    d.erase_after < d.retain_until)
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_policy *p = NULL;
	struct cl_buf b;
	char *text, *err = NULL;
	size_t i, n;
	uint32_t salt = 2166136261u;

	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (i = 0; i < size; i++)
		salt = (salt ^ data[i]) * 16777619u;
	if (cl_policy_parse_string(text, "<fuzz>", &p, &err) != CL_OK) {
		if (p != NULL || err == NULL || strncmp(err, "<fuzz>:", 7) != 0)
			abort();
		goto out;
	}
	if (err != NULL || p == NULL || cl_policy_default(p) == NULL)
		abort();
	n = cl_policy_rule_count(p);
	if (n > CL_POLICY_MAX_RULES)
		abort();
	for (i = 0; i < n; i++) {
		if (cl_policy_rule_name(p, i) == NULL ||
		    cl_policy_rule_basis(p, i) == NULL ||
		    cl_policy_rule_confidence(p, i) == NULL ||
		    cl_policy_rule_clock(p, i) == NULL ||
		    cl_policy_rule_minimum(p, i) == NULL ||
		    cl_policy_rule_assumed(p, i) < 0 ||
		    cl_policy_rule_line(p, i) < 1)
			abort();
		(void)cl_policy_rule_maximum(p, i);
		(void)cl_policy_rule_event(p, i);
	}
	cl_buf_init(&b, 1 << 20);
	if (cl_policy_check(p, &b, &n) != CL_OK)
		abort();
	cl_buf_release(&b);
	decide_some(p, salt);
out:
	cl_policy_free(p);
	free(err);
	free(text);
	return 0;
}
