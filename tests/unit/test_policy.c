/*
 * test_policy.c - the retention policy engine (policy/): the
 * shipped profiles parse, bad files fail with "file:line: reason",
 * calendar arithmetic, and scenario tests with a fake clock for every
 * built-in profile (issue 3, acceptance 1).
 *
 * Runs with the repository root as the working directory.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "policy/policy.h"
#include "tests/unit/tap.h"

#define PDIR "config/policies/"

/* ---- helpers -------------------------------------------------------- */

/* An RFC 3339 time in ms; aborts on a typo in the test. */
static int64_t ts(const char *s)
{
	int64_t ms = 0;

	if (cl_time_parse(s, strlen(s), &ms) != CL_OK) {
		fprintf(stderr, "bad test time %s\n", s);
		abort();
	}
	return ms;
}

/* A fake record: attributes as "type=value" strings. */
struct frec {
	const char *attrs[8];
};

static int fake_has(void *ctx, const char *type, const char *value)
{
	const struct frec *f = ctx;
	size_t i, tl = strlen(type);

	for (i = 0; i < 8 && f->attrs[i] != NULL; i++) {
		const char *a = f->attrs[i];

		if (strncmp(a, type, tl) == 0 && a[tl] == '=' &&
		    strcmp(a + tl + 1, value) == 0)
			return 1;
	}
	return 0;
}

static struct cl_policy_record rec(struct frec *f, const char *kind,
				   int64_t sent)
{
	struct cl_policy_record r;

	memset(&r, 0, sizeof(r));
	r.index = 1;
	r.kind = kind;
	r.sent_at = sent;
	r.has_attr = fake_has;
	r.ctx = f;
	return r;
}

static struct cl_policy_decision D;

static int decide(const struct cl_policy *p, const struct cl_policy_record *r,
		  const struct cl_policy_event *ev, size_t n_ev,
		  const struct cl_policy_hold *h, size_t n_h, const char *now)
{
	return cl_policy_decide(p, r, ev, n_ev, h, n_h, ts(now), &D);
}

#define EXPECT(act, why, name)                                               \
	do {                                                                 \
		TAP_OK(D.action == (act) && D.reason != NULL &&              \
			       strcmp(D.reason, (why)) == 0,                 \
		       "%s: %s/%s (got %s/%s)", name,                        \
		       (act) == CL_POLICY_ERASE ? "erase" : "keep", why,      \
		       D.action == CL_POLICY_ERASE ? "erase" : "keep",        \
		       D.reason ? D.reason : "(null)");                      \
	} while (0)

static struct cl_policy *load(const char *path)
{
	struct cl_policy *p = NULL;
	char *err = NULL;
	int rc = cl_policy_load(path, &p, &err);

	TAP_OK(rc == CL_OK && p != NULL && err == NULL, "load %s%s%s", path,
	       err ? ": " : "", err ? err : "");
	free(err);
	return p;
}

static struct cl_policy *parse(const char *text)
{
	struct cl_policy *p = NULL;
	char *err = NULL;

	if (cl_policy_parse_string(text, "t.policy", &p, &err) != CL_OK) {
		printf("# unexpected parse error: %s\n", err ? err : "?");
		p = NULL;
	}
	free(err);
	return p;
}

/* Parse must fail with CL_EINVAL and exactly `want`. */
static void bad(const char *text, const char *want, const char *name)
{
	struct cl_policy *p = (struct cl_policy *)1;
	char *err = NULL;
	int rc = cl_policy_parse_string(text, "t.policy", &p, &err);

	TAP_OK(rc == CL_EINVAL && p == NULL, "%s: rejected (rc %d)", name, rc);
	TAP_EQ_STR(err, want, name);
	free(err);
}

static size_t find_rule(const struct cl_policy *p, const char *name)
{
	size_t i;

	for (i = 0; i < cl_policy_rule_count(p); i++)
		if (strcmp(cl_policy_rule_name(p, i), name) == 0)
			return i;
	return SIZE_MAX;
}

static int contains(const char *hay, const char *needle)
{
	return hay != NULL && strstr(hay, needle) != NULL;
}

/* ---- the shipped profiles parse ------------------------------------- */

static void test_profiles(void)
{
	static const char *const files[] = {
		PDIR "hk-sfc-intermediary.policy", PDIR "hk-amlo.policy",
		PDIR "hk-money-lender.policy", PDIR "hk-pdpo-default.policy",
	};
	struct cl_policy *p;
	size_t i, r;

	for (i = 0; i < 4; i++) {
		p = load(files[i]);
		for (r = 0; r < cl_policy_rule_count(p); r++) {
			const char *b = cl_policy_rule_basis(p, r);

			TAP_OK(b != NULL && strlen(b) > 40 &&
				       strstr(b, "Cap.") != NULL,
			       "%s rule %s cites a chapter", files[i],
			       cl_policy_rule_name(p, r));
		}
		cl_policy_free(p);
	}

	p = load(PDIR "hk-sfc-intermediary.policy");
	TAP_EQ_STR(cl_policy_name(p), "hk-sfc-intermediary", "sfc: name");
	TAP_EQ_STR(cl_policy_default(p), "keep", "sfc: default keep");
	TAP_EQ_INT(cl_policy_rule_count(p), 3, "sfc: 3 rules");
	r = find_rule(p, "client-orders-im");
	TAP_EQ_STR(cl_policy_rule_minimum(p, r), "2y", "sfc orders: 2y");
	TAP_EQ_STR(cl_policy_rule_maximum(p, r), "5y", "sfc orders: max 5y");
	TAP_EQ_STR(cl_policy_rule_clock(p, r), "message", "sfc orders: clock");
	TAP_EQ_STR(cl_policy_rule_confidence(p, r), "verified",
		   "sfc orders: verified");
	TAP_OK(contains(cl_policy_rule_basis(p, r), "ss.3(1), 10(b), Sch. "
						    "s.1(d)") &&
		       contains(cl_policy_rule_basis(p, r), "18EC30") &&
		       contains(cl_policy_rule_basis(p, r), "4 May 2018") &&
		       contains(cl_policy_rule_basis(p, r), ">= 2 years"),
	       "sfc orders: basis cites 571O and 18EC30 (joined lines)");
	r = find_rule(p, "client-money-records");
	TAP_EQ_STR(cl_policy_rule_minimum(p, r), "7y", "sfc money: 7y");
	TAP_OK(contains(cl_policy_rule_basis(p, r), "Cap. 571O s.10"),
	       "sfc money: basis s.10");
	cl_policy_free(p);

	p = load(PDIR "hk-amlo.policy");
	r = find_rule(p, "cdd-records");
	TAP_EQ_STR(cl_policy_rule_clock(p, r), "event:relationship-ended",
		   "amlo cdd: event clock");
	TAP_EQ_STR(cl_policy_rule_event(p, r), "relationship-ended",
		   "amlo cdd: event name");
	TAP_EQ_STR(cl_policy_rule_minimum(p, r), "5y", "amlo cdd: 5y");
	TAP_OK(contains(cl_policy_rule_basis(p, r), "Sch. 2 s.20(3)") &&
		       contains(cl_policy_rule_basis(p, r), "s.20(4)"),
	       "amlo cdd: basis s.20(3), s.20(4)");
	r = find_rule(p, "transaction-records");
	TAP_EQ_STR(cl_policy_rule_clock(p, r), "event:transaction-completed",
		   "amlo tx: event clock");
	TAP_OK(contains(cl_policy_rule_basis(p, r), "Sch. 2 s.20(2)"),
	       "amlo tx: basis s.20(2)");
	cl_policy_free(p);

	p = load(PDIR "hk-money-lender.policy");
	r = find_rule(p, "loan-documents");
	TAP_EQ_INT(cl_policy_rule_assumed(p, r), 1, "money lender: assumed");
	TAP_EQ_STR(cl_policy_rule_clock(p, r), "event:loan-repaid",
		   "money lender: loan-repaid clock");
	TAP_OK(contains(cl_policy_rule_basis(p, r), "Cap. 163 ss.18-19") &&
		       contains(cl_policy_rule_basis(p, r), "(Mar 2025) ch. 8"),
	       "money lender: basis");
	TAP_OK(cl_policy_rule_maximum(p, r) == NULL, "money lender: no max");
	cl_policy_free(p);

	p = load(PDIR "hk-pdpo-default.policy");
	r = find_rule(p, "enquiries");
	TAP_EQ_STR(cl_policy_rule_minimum(p, r), "0", "pdpo: minimum 0");
	TAP_EQ_STR(cl_policy_rule_maximum(p, r), "24m", "pdpo: max 24m");
	TAP_OK(contains(cl_policy_rule_basis(p, r), "Cap. 486 DPP2(2)") &&
		       contains(cl_policy_rule_basis(p, r), "s.26"),
	       "pdpo: basis");
	TAP_EQ_STR(cl_policy_default(p), "keep", "pdpo: default keep");
	TAP_EQ_INT(cl_policy_rule_assumed(p, r), 0, "pdpo: verified");
	TAP_OK(cl_policy_rule_name(p, 99) == NULL &&
		       cl_policy_rule_assumed(p, 99) == -1,
	       "accessors: index out of range");
	cl_policy_free(p);
}

/* ---- parse errors --------------------------------------------------- */

#define R "[rule a]\n"
#define OKRULE "minimum = 2y\nbasis = x\nconfidence = verified\n"

static void test_errors(void)
{
	struct cl_policy *p = NULL;
	char *err = NULL, path[] = "/tmp/test_policy_XXXXXX", want[128];
	int fd, rc;

	bad(R "minimum = 2y\nthis is not ini\nbasis = x\n"
	      "confidence = verified\n",
	    "t.policy:3: syntax error (want [section], key = value, or a "
	    "comment)",
	    "syntax error line");
	bad(R OKRULE "retention = 5y\n",
	    "t.policy:5: unknown key 'retention' in [rule a]", "unknown key");
	bad("[policy]\nname = x\ncolour = blue\n",
	    "t.policy:3: unknown key 'colour' in [policy]",
	    "unknown key in [policy]");
	bad(R "minimum = 2x\nbasis = x\nconfidence = verified\n",
	    "t.policy:2: bad duration '2x' for 'minimum' (want a number and "
	    "y, m or d, e.g. 2y, 24m, 90d, or 0)",
	    "bad duration");
	bad(R "minimum = 2\n", "t.policy:2: bad duration '2' for 'minimum' "
			       "(want a number and y, m or d, e.g. 2y, 24m, "
			       "90d, or 0)",
	    "duration without unit");
	bad(R OKRULE "maximum = -1y\n",
	    "t.policy:5: bad duration '-1y' for 'maximum' (want a number and "
	    "y, m or d, e.g. 2y, 24m, 90d, or 0)",
	    "negative duration");
	bad(R OKRULE "maximum = 1001y\n",
	    "t.policy:5: bad duration '1001y' for 'maximum' (want a number "
	    "and y, m or d, e.g. 2y, 24m, 90d, or 0)",
	    "duration too long");
	bad("# comment\n\n[rule a]\nminimum = 2y\nconfidence = verified\n"
	    "[rule b]\n" OKRULE,
	    "t.policy:3: rule 'a' has no basis", "missing basis: header line");
	bad(R "minimum = 2y\nbasis = x\n",
	    "t.policy:1: rule 'a' has no confidence", "missing confidence");
	bad(R "basis = x\nconfidence = assumed\n",
	    "t.policy:1: rule 'a' has no minimum", "missing minimum");
	bad(R OKRULE "minimum = 3y\n",
	    "t.policy:5: duplicate key 'minimum' (first at line 2)",
	    "duplicate key");
	bad(R OKRULE "[rule a]\n" OKRULE,
	    "t.policy:5: duplicate rule 'a' (first at line 1)",
	    "duplicate rule");
	bad("[policy]\n[policy]\n",
	    "t.policy:2: duplicate [policy] section (first at line 1)",
	    "duplicate [policy]");
	bad("[retention]\nminimum = 2y\n",
	    "t.policy:1: unknown section [retention] (want [policy] or "
	    "[rule NAME])",
	    "unknown section");
	bad("[rule a/b]\n", "t.policy:1: bad rule name 'a/b' (want 1 to 64 of "
			    "A-Z a-z 0-9 . _ -)",
	    "bad rule name");
	bad("[rule a\n", "t.policy:1: unterminated section header (no ']')",
	    "unterminated section");
	bad("minimum = 2y\n", "t.policy:1: 'minimum' outside a section (put "
			      "keys under [policy] or [rule NAME])",
	    "key outside section");
	bad(R OKRULE "clock = event\n",
	    "t.policy:5: bad clock 'event' (want message or event:NAME, NAME "
	    "of A-Z a-z 0-9 . _ -)",
	    "bad clock");
	bad(R "minimum = 2y\nbasis = x\nconfidence = sure\n",
	    "t.policy:4: bad confidence 'sure' (want verified or assumed)",
	    "bad confidence");
	bad(R OKRULE "basis =\n", "t.policy:5: empty value for 'basis'",
	    "empty value");
	bad(R OKRULE "match.label = a,,b\n",
	    "t.policy:5: empty item in 'match.label'", "empty list item");
	bad(R "minimum = 2y\n  basis = x\nconfidence = verified\n",
	    "t.policy:3: indented line (continuation lines are not "
	    "supported; start keys in column 1)",
	    "indented continuation");
	bad(R OKRULE "match.label = a\x1b[0m\n",
	    "t.policy:5: control character (byte 0x1b)", "control character");
	bad("[policy]\ndefault = erase after 7y\n",
	    "t.policy:2: bad default 'erase after 7y' (want keep or "
	    "erase-after DURATION)",
	    "bad default");
	bad("", "t.policy:1: empty policy (no [policy] section and no "
		"[rule NAME])",
	    "empty file");
	{
		/* A 250-byte line. */
		char text[400];

		snprintf(text, sizeof(text), R OKRULE "basis = %0242d\n", 0);
		bad(text, "t.policy:5: line too long (250 bytes, at most 199)",
		    "line too long");
	}
	{
		/* 33 rules. */
		struct cl_buf b;
		int i;

		cl_buf_init(&b, 1 << 16);
		for (i = 0; i < 33; i++)
			cl_buf_addf(&b, "[rule r%d]\n" OKRULE, i);
		bad((char *)b.data, "t.policy:129: too many rules (at most 32)",
		    "too many rules");
		cl_buf_release(&b);
	}
	/* Line errors first (earliest wins), then missing keys. */
	bad("[rule a]\nconfidence = verified\nminimum = 2y\n"
	    "basis Cap. 1\n",
	    "t.policy:4: syntax error (want [section], key = value, or a "
	    "comment)",
	    "broken basis line reported as itself");
	bad("[rule a]\nconfidence = verified\nminimum = 2y\n"
	    "[rule b]\n" OKRULE "[rule c]\nbasis = x\n",
	    "t.policy:1: rule 'a' has no basis", "first rule missing a key");
	bad(R "minimum = 2y\nbasis = x\nconfidence = verified\nfoo = 1\n"
	      "bar baz\n",
	    "t.policy:5: unknown key 'foo' in [rule a]",
	    "unknown key before syntax error");

	/* Accepted variants. */
	p = parse("\xef\xbb\xbf# BOM, CRLF, comments\r\n[ rule  a ] ; c\r\n"
		  "match.label = x ; inline comment\r\nminimum: 2y\r\n"
		  "basis = one\r\nbasis = two\r\n\r\n  # indented comment\r\n"
		  "confidence = assumed\r\n");
	TAP_OK(p != NULL, "BOM, CRLF, ':' and comments accepted");
	TAP_EQ_STR(cl_policy_rule_name(p, 0), "a", "section name trimmed");
	TAP_EQ_STR(cl_policy_rule_basis(p, 0), "one two", "basis lines joined");
	TAP_EQ_STR(cl_policy_rule_clock(p, 0), "message", "clock default");
	TAP_OK(cl_policy_rule_maximum(p, 0) == NULL, "no maximum");
	TAP_EQ_INT(cl_policy_rule_line(p, 0), 2, "rule line");
	cl_policy_free(p);
	p = parse("[policy]\ndefault = erase-after 0007y\n");
	TAP_EQ_STR(cl_policy_default(p), "erase-after 7y",
		   "policy without rules; canonical duration");
	cl_policy_free(p);

	/* From a file: the path is in the message; no file: ENOTFOUND. */
	fd = mkstemp(path);
	TAP_OK(fd >= 0, "temp file");
	if (fd >= 0) {
		const char *t = "[rule a]\nminimum = 2y\nbasis = x\n"
				"confidence = verified\nmaximum = soon\n";

		TAP_OK(write(fd, t, strlen(t)) == (ssize_t)strlen(t),
		       "write temp file");
		close(fd);
		p = (struct cl_policy *)1;
		rc = cl_policy_load(path, &p, &err);
		snprintf(want, sizeof(want),
			 "%s:5: bad duration 'soon' for 'maximum' (want a "
			 "number and y, m or d, e.g. 2y, 24m, 90d, or 0)",
			 path);
		TAP_OK(rc == CL_EINVAL && p == NULL, "load: bad file rejected");
		TAP_EQ_STR(err, want, "load: FILE:LINE: reason");
		free(err);
		err = NULL;
		/* A NUL byte in a file. */
		fd = open(path, O_WRONLY | O_TRUNC);
		TAP_OK(fd >= 0 && write(fd, "[rule a]\nx\0y\n", 13) == 13,
		       "write NUL file");
		if (fd >= 0)
			close(fd);
		rc = cl_policy_load(path, &p, &err);
		snprintf(want, sizeof(want),
			 "%s:2: control character (byte 0x00)", path);
		TAP_EQ_STR(err, want, "load: NUL byte");
		free(err);
		err = NULL;
		unlink(path);
	}
	rc = cl_policy_load("config/policies/no-such.policy", &p, &err);
	TAP_OK(rc == CL_ENOTFOUND && p == NULL && err != NULL,
	       "load: missing file is CL_ENOTFOUND");
	free(err);
}

/* ---- calendar arithmetic -------------------------------------------- */

static void add_eq(const char *from, const char *dur, const char *want)
{
	int64_t out = 0;
	int rc = cl_policy_duration_add(ts(from), dur, &out);

	TAP_OK(rc == CL_OK && out == ts(want), "%s + %s = %s", from, dur,
	       want);
}

static void test_calendar(void)
{
	int64_t out = 0;

	add_eq("2024-02-29T12:34:56.789Z", "1y", "2025-02-28T12:34:56.789Z");
	add_eq("2024-02-29T00:00:00Z", "4y", "2028-02-29T00:00:00Z");
	add_eq("2024-02-29T00:00:00Z", "12m", "2025-02-28T00:00:00Z");
	add_eq("2024-01-31T10:00:00Z", "1m", "2024-02-29T10:00:00Z");
	add_eq("2023-01-31T10:00:00Z", "1m", "2023-02-28T10:00:00Z");
	add_eq("2024-03-31T10:00:00Z", "1m", "2024-04-30T10:00:00Z");
	add_eq("2024-12-31T23:59:59Z", "2m", "2025-02-28T23:59:59Z");
	add_eq("2024-11-30T00:00:00Z", "3m", "2025-02-28T00:00:00Z");
	add_eq("2023-05-31T00:00:00Z", "24m", "2025-05-31T00:00:00Z");
	add_eq("2024-02-28T00:00:00Z", "2d", "2024-03-01T00:00:00Z");
	add_eq("2024-01-01T00:00:00Z", "90d", "2024-03-31T00:00:00Z");
	add_eq("2024-01-01T00:00:00Z", "0", "2024-01-01T00:00:00Z");
	add_eq("1969-12-31T23:00:00Z", "1m", "1970-01-31T23:00:00Z");
	add_eq("1900-02-28T00:00:00Z", "1d", "1900-03-01T00:00:00Z");
	add_eq("2000-02-28T00:00:00Z", "1d", "2000-02-29T00:00:00Z");
	/* A +08:00 time is a UTC date: 2024-03-01T01:00+08:00 is Feb 29. */
	add_eq("2024-03-01T01:00:00+08:00", "1y", "2025-02-28T17:00:00Z");
	TAP_OK(cl_policy_duration_add(INT64_MAX - 1000, "1y", &out) ==
			       CL_OK &&
		       out == INT64_MAX,
	       "saturates at INT64_MAX (months)");
	TAP_OK(cl_policy_duration_add(INT64_MAX - 1000, "1d", &out) ==
			       CL_OK &&
		       out == INT64_MAX,
	       "saturates at INT64_MAX (days)");
	TAP_OK(cl_policy_duration_add(0, "1w", &out) == CL_EINVAL &&
		       cl_policy_duration_add(0, "y", &out) == CL_EINVAL &&
		       cl_policy_duration_add(0, "1y ", &out) == CL_EINVAL &&
		       cl_policy_duration_add(0, "12345678d", &out) ==
			       CL_EINVAL &&
		       cl_policy_duration_add(CL_TIME_NONE, "1y", &out) ==
			       CL_EINVAL,
	       "bad durations rejected");
}

/* ---- scenarios: hk-sfc-intermediary --------------------------------- */

static void test_sfc(void)
{
	struct cl_policy *p = load(PDIR "hk-sfc-intermediary.policy");
	struct frec orders = { { "label=orders", "participant=alice",
				 "conversation=c1", "account=equities" } };
	struct frec both = { { "label=orders", "label=client-money",
			       "participant=alice" } };
	struct frec other = { { "participant=alice" } };
	struct cl_policy_record r = rec(&orders, "text",
					ts("2024-03-01T10:00:00Z"));
	size_t ro = find_rule(p, "client-orders-im");
	const char *const alice[] = { "alice" };
	const char *const c9[] = { "c9" };
	struct cl_policy_hold lit = { "HCA-123/2026", alice, 1, NULL, 0,
				      CL_TIME_NONE, CL_TIME_NONE, CL_TIME_NONE,
				      CL_TIME_NONE };

	TAP_EQ_INT(decide(p, &r, NULL, 0, NULL, 0, "2025-03-01T10:00:00Z"),
		   CL_OK, "sfc: decide");
	EXPECT(CL_POLICY_KEEP, "minimum-pending", "sfc orders after 1y");
	TAP_EQ_INT(D.n_clocks, 1, "sfc orders: one rule applies");
	TAP_EQ_INT(D.clocks[0].rule, ro, "sfc orders: client-orders-im");
	TAP_EQ_INT(D.clocks[0].start, ts("2024-03-01T10:00:00Z"),
		   "sfc orders: clock starts at the message");
	TAP_EQ_INT(D.retain_until, ts("2026-03-01T10:00:00Z"),
		   "sfc orders: retain until +2y");
	TAP_EQ_INT(D.erase_after, ts("2031-03-01T10:00:00Z"),
		   "sfc orders: erase after +2y +5y");
	TAP_EQ_INT(D.erase_rule, ro, "sfc orders: erase rule");
	decide(p, &r, NULL, 0, NULL, 0, "2026-03-01T09:59:59.999Z");
	EXPECT(CL_POLICY_KEEP, "minimum-pending", "sfc orders 1 ms before 2y");
	decide(p, &r, NULL, 0, NULL, 0, "2026-03-01T10:00:00Z");
	EXPECT(CL_POLICY_KEEP, "maximum-pending", "sfc orders at 2y");
	decide(p, &r, NULL, 0, NULL, 0, "2031-03-01T09:59:59.999Z");
	EXPECT(CL_POLICY_KEEP, "maximum-pending", "sfc orders just before max");
	decide(p, &r, NULL, 0, NULL, 0, "2031-03-01T10:00:00Z");
	EXPECT(CL_POLICY_ERASE, "maximum-reached", "sfc orders at max");
	TAP_EQ_INT(D.erase_rule, ro, "sfc orders: erased by client-orders-im");
	TAP_EQ_INT(D.erase_after, ts("2031-03-01T10:00:00Z"),
		   "sfc orders: erase_after when erasing");

	/* Litigation hold: survives its due date, erased after release. */
	decide(p, &r, NULL, 0, &lit, 1, "2032-01-01T00:00:00Z");
	EXPECT(CL_POLICY_KEEP, "held", "sfc held past due date");
	TAP_OK(D.n_holds == 1 && D.holds[0] == 0, "sfc: hold listed");
	TAP_EQ_INT(D.erase_after, ts("2031-03-01T10:00:00Z"),
		   "sfc held: erase_after unchanged");
	lit.released_at = ts("2032-06-01T00:00:00Z");
	decide(p, &r, NULL, 0, &lit, 1, "2032-05-31T23:59:59Z");
	EXPECT(CL_POLICY_KEEP, "held", "sfc: held until release");
	decide(p, &r, NULL, 0, &lit, 1, "2032-06-01T00:00:00Z");
	EXPECT(CL_POLICY_ERASE, "maximum-reached", "sfc: erased after release");
	TAP_EQ_INT(D.n_holds, 0, "sfc: released hold no longer covers");
	/* Holds that do not cover the record. */
	lit.released_at = CL_TIME_NONE;
	lit.from = ts("2024-06-01T00:00:00Z");
	decide(p, &r, NULL, 0, &lit, 1, "2032-01-01T00:00:00Z");
	EXPECT(CL_POLICY_ERASE, "maximum-reached",
	       "sfc: hold --from after the message does not cover");
	lit.from = CL_TIME_NONE;
	lit.to = ts("2024-02-01T00:00:00Z");
	decide(p, &r, NULL, 0, &lit, 1, "2032-01-01T00:00:00Z");
	EXPECT(CL_POLICY_ERASE, "maximum-reached",
	       "sfc: hold --to before the message does not cover");
	lit.to = ts("2024-03-01T10:00:00Z");
	decide(p, &r, NULL, 0, &lit, 1, "2032-01-01T00:00:00Z");
	EXPECT(CL_POLICY_KEEP, "held", "sfc: hold range is inclusive");
	lit.to = CL_TIME_NONE;
	lit.participants = NULL;
	lit.n_participants = 0;
	lit.conversations = c9;
	lit.n_conversations = 1;
	decide(p, &r, NULL, 0, &lit, 1, "2032-01-01T00:00:00Z");
	EXPECT(CL_POLICY_ERASE, "maximum-reached",
	       "sfc: hold on another conversation does not cover");
	lit.n_conversations = 0;
	decide(p, &r, NULL, 0, &lit, 1, "2032-01-01T00:00:00Z");
	EXPECT(CL_POLICY_KEEP, "held", "sfc: hold without parties covers all");
	lit.n_conversations = 1; /* with conversations == c9 */
	lit.participants = NULL;
	lit.n_participants = 2;
	TAP_EQ_INT(decide(p, &r, NULL, 0, &lit, 1, "2032-01-01T00:00:00Z"),
		   CL_EINVAL, "sfc: malformed hold is CL_EINVAL");
	EXPECT(CL_POLICY_KEEP, "invalid-input", "sfc: ... and keeps");

	/* Orders (2y + 5y) and client money (7y): one erase point.  (That
	 * a minimum beats an earlier maximum is checked with the test
	 * policies below.) */
	r = rec(&both, "text", ts("2024-03-01T10:00:00Z"));
	decide(p, &r, NULL, 0, NULL, 0, "2031-03-01T09:59:59.999Z");
	EXPECT(CL_POLICY_KEEP, "minimum-pending",
	       "sfc both labels: kept until the 7-year minimum");
	TAP_EQ_INT(D.n_clocks, 2, "sfc both labels: two rules apply");
	TAP_EQ_INT(D.retain_until, ts("2031-03-01T10:00:00Z"),
		   "sfc both labels: retain until 7y");
	TAP_EQ_INT(D.erase_after, ts("2031-03-01T10:00:00Z"),
		   "sfc both: erase_after = max(minimums, earliest max)");
	decide(p, &r, NULL, 0, NULL, 0, "2031-03-01T10:00:00Z");
	EXPECT(CL_POLICY_ERASE, "maximum-reached", "sfc both labels at 7y");
	TAP_EQ_INT(D.erase_rule, ro, "sfc both: the earliest maximum's rule");

	r = rec(&other, "text", ts("2024-03-01T10:00:00Z"));
	decide(p, &r, NULL, 0, NULL, 0, "2099-01-01T00:00:00Z");
	EXPECT(CL_POLICY_KEEP, "no-rule", "sfc unlabelled: no rule, keep");
	TAP_OK(D.n_clocks == 0 && D.retain_until == CL_TIME_NONE &&
		       D.erase_after == CL_TIME_NONE &&
		       D.erase_rule == SIZE_MAX,
	       "sfc unlabelled: no clocks");
	cl_policy_free(p);
}

/* ---- scenarios: hk-amlo --------------------------------------------- */

static void test_amlo(void)
{
	struct cl_policy *p = load(PDIR "hk-amlo.policy");
	struct frec cust = { { "label=customer", "participant=alice",
			       "participant=staff1", "conversation=c1" } };
	struct frec tx = { { "label=transaction", "conversation=tx42" } };
	struct cl_policy_record r = rec(&cust, "text",
					ts("2024-01-10T03:00:00Z"));
	struct cl_policy_event ev[4] = {
		{ "bob", "relationship-ended", ts("2024-06-30T00:00:00Z") },
		{ "alice", "account-closed", ts("2024-06-30T00:00:00Z") },
		{ "alice", "relationship-ended", ts("2025-06-30T00:00:00Z") },
		{ "alice", "relationship-ended", ts("2026-01-15T00:00:00Z") },
	};
	const char *const alice[] = { "alice" };
	struct cl_policy_hold notice = { "SFC-NOTICE-7", alice, 1, NULL, 0,
					 CL_TIME_NONE, CL_TIME_NONE,
					 ts("2033-01-01T00:00:00Z"),
					 CL_TIME_NONE };

	/* Never erased before the event is recorded. */
	decide(p, &r, NULL, 0, NULL, 0, "2099-01-01T00:00:00Z");
	EXPECT(CL_POLICY_KEEP, "awaiting-event", "amlo: no event, 2099");
	TAP_OK(D.n_clocks == 1 && D.clocks[0].start == CL_TIME_NONE &&
		       D.clocks[0].retain_until == CL_TIME_NONE &&
		       D.retain_until == CL_TIME_NONE &&
		       D.erase_after == CL_TIME_NONE,
	       "amlo: waiting clock has no times");
	decide(p, &r, ev, 2, NULL, 0, "2099-01-01T00:00:00Z");
	EXPECT(CL_POLICY_KEEP, "awaiting-event",
	       "amlo: another subject's event, another event name");

	/* relationship-ended + 5y. */
	decide(p, &r, ev, 3, NULL, 0, "2030-06-29T23:59:59Z");
	EXPECT(CL_POLICY_KEEP, "minimum-pending", "amlo: before event + 5y");
	TAP_EQ_INT(D.clocks[0].start, ts("2025-06-30T00:00:00Z"),
		   "amlo: clock starts at the event");
	TAP_EQ_INT(D.retain_until, ts("2030-06-30T00:00:00Z"),
		   "amlo: retain until event + 5y");
	decide(p, &r, ev, 3, NULL, 0, "2030-06-30T00:00:00Z");
	EXPECT(CL_POLICY_ERASE, "maximum-reached", "amlo: at event + 5y");

	/* The latest occurrence of the event counts. */
	decide(p, &r, ev, 4, NULL, 0, "2030-06-30T00:00:00Z");
	EXPECT(CL_POLICY_KEEP, "minimum-pending", "amlo: later event counts");
	TAP_EQ_INT(D.retain_until, ts("2031-01-15T00:00:00Z"),
		   "amlo: retain until latest event + 5y");

	/* An event before the message does not start its clock. */
	r.sent_at = ts("2026-02-01T00:00:00Z");
	decide(p, &r, ev, 4, NULL, 0, "2099-01-01T00:00:00Z");
	EXPECT(CL_POLICY_KEEP, "awaiting-event",
	       "amlo: message after the last event waits");
	r.sent_at = ts("2024-01-10T03:00:00Z");

	/* Regulator notice (s.20(4)): a hold with an end date. */
	decide(p, &r, ev, 3, &notice, 1, "2031-01-01T00:00:00Z");
	EXPECT(CL_POLICY_KEEP, "held", "amlo: regulator notice holds");
	decide(p, &r, ev, 3, &notice, 1, "2032-12-31T23:59:59Z");
	EXPECT(CL_POLICY_KEEP, "held", "amlo: notice holds until its end");
	decide(p, &r, ev, 3, &notice, 1, "2033-01-01T00:00:00Z");
	EXPECT(CL_POLICY_ERASE, "maximum-reached",
	       "amlo: notice ends by itself");
	TAP_EQ_INT(D.n_holds, 0, "amlo: expired notice no longer listed");

	/* Transaction records: event on the conversation. */
	{
		struct cl_policy_event done = {
			"tx42", "transaction-completed",
			ts("2024-02-01T00:00:00Z")
		};

		r = rec(&tx, "text", ts("2024-01-20T00:00:00Z"));
		decide(p, &r, NULL, 0, NULL, 0, "2035-01-01T00:00:00Z");
		EXPECT(CL_POLICY_KEEP, "awaiting-event", "amlo tx: waiting");
		decide(p, &r, &done, 1, NULL, 0, "2029-01-31T00:00:00Z");
		EXPECT(CL_POLICY_KEEP, "minimum-pending", "amlo tx: < 5y");
		decide(p, &r, &done, 1, NULL, 0, "2029-02-01T00:00:00Z");
		EXPECT(CL_POLICY_ERASE, "maximum-reached", "amlo tx: at 5y");
	}
	cl_policy_free(p);
}

/* ---- scenarios: hk-money-lender ------------------------------------- */

static void test_money_lender(void)
{
	struct cl_policy *p = load(PDIR "hk-money-lender.policy");
	struct frec loan = { { "label=loan", "participant=borrower1",
			       "account=lending" } };
	struct cl_policy_record r = rec(&loan, "image",
					ts("2023-05-05T05:05:05Z"));
	struct cl_policy_event repaid = { "borrower1", "loan-repaid",
					  ts("2025-05-05T00:00:00Z") };

	decide(p, &r, NULL, 0, NULL, 0, "2040-01-01T00:00:00Z");
	EXPECT(CL_POLICY_KEEP, "awaiting-event",
	       "money lender: kept for the life of the loan");
	decide(p, &r, &repaid, 1, NULL, 0, "2030-05-04T23:59:59Z");
	EXPECT(CL_POLICY_KEEP, "minimum-pending", "money lender: < repaid+5y");
	TAP_EQ_INT(D.retain_until, ts("2030-05-05T00:00:00Z"),
		   "money lender: retain until repaid + 5y");
	decide(p, &r, &repaid, 1, NULL, 0, "2040-01-01T00:00:00Z");
	EXPECT(CL_POLICY_KEEP, "no-maximum",
	       "money lender: assumed basis, never erased automatically");
	TAP_EQ_INT(D.erase_after, CL_TIME_NONE, "money lender: no erase time");
	cl_policy_free(p);
}

/* ---- scenarios: hk-pdpo-default ------------------------------------- */

static void test_pdpo(void)
{
	struct cl_policy *p = load(PDIR "hk-pdpo-default.policy");
	struct frec enq = { { "label=enquiry", "participant=walkin" } };
	struct frec cust = { { "label=customer", "participant=walkin" } };
	struct cl_policy_record r = rec(&enq, "text",
					ts("2024-01-15T08:00:00Z"));

	decide(p, &r, NULL, 0, NULL, 0, "2025-12-01T00:00:00Z");
	EXPECT(CL_POLICY_KEEP, "maximum-pending", "pdpo enquiry at 22 months");
	TAP_EQ_INT(D.retain_until, ts("2024-01-15T08:00:00Z"),
		   "pdpo: minimum 0 has run at once");
	TAP_EQ_INT(D.erase_after, ts("2026-01-15T08:00:00Z"),
		   "pdpo: erase after 24 months");
	decide(p, &r, NULL, 0, NULL, 0, "2026-01-15T08:00:00Z");
	EXPECT(CL_POLICY_ERASE, "maximum-reached", "pdpo enquiry at 24 months");
	r = rec(&cust, "text", ts("2024-01-15T08:00:00Z"));
	decide(p, &r, NULL, 0, NULL, 0, "2040-01-01T00:00:00Z");
	EXPECT(CL_POLICY_KEEP, "no-rule", "pdpo: non-enquiry kept (default)");
	cl_policy_free(p);
}

/* ---- rules combined; default; matching ------------------------------ */

static void test_combined(void)
{
	struct cl_policy *p;
	struct frec fx = { { "label=x", "label=y", "account=desk1" } };
	struct frec fz = { { "label=z" } };
	struct frec fw = { { "label=w", "account=desk2" } };
	struct cl_policy_record r;

	/* Minimum beats maximum across two rules; the default erase-after
	 * covers what no maximum does. */
	p = parse("[policy]\nname = combo\ndefault = erase-after 3y\n"
		  "[rule short]\nmatch.label = x\nminimum = 0\n"
		  "maximum = 30d\nbasis = PDPO\nconfidence = verified\n"
		  "[rule long]\nmatch.label = y\nminimum = 1y\n"
		  "basis = law\nconfidence = verified\n"
		  "[rule five]\nmatch.label = w\nmatch.account = desk2, "
		  "desk3\nmatch.kind = text\nminimum = 5y\n"
		  "basis = law\nconfidence = verified\n");
	TAP_OK(p != NULL, "combo parses");
	r = rec(&fx, "text", ts("2024-01-01T00:00:00Z"));
	decide(p, &r, NULL, 0, NULL, 0, "2024-03-01T00:00:00Z");
	EXPECT(CL_POLICY_KEEP, "minimum-pending",
	       "combo: 1y minimum beats the 30d maximum");
	decide(p, &r, NULL, 0, NULL, 0, "2025-01-01T00:00:00Z");
	EXPECT(CL_POLICY_ERASE, "maximum-reached", "combo: erased at 1y");
	TAP_EQ_INT(D.erase_after, ts("2025-01-01T00:00:00Z"),
		   "combo: erase_after = max(retain_until, max)");
	TAP_EQ_INT(D.erase_rule, 0, "combo: erase rule is 'short'");

	r = rec(&fz, "text", ts("2024-01-01T00:00:00Z"));
	decide(p, &r, NULL, 0, NULL, 0, "2026-12-31T23:59:59Z");
	EXPECT(CL_POLICY_KEEP, "maximum-pending", "combo: default not yet");
	decide(p, &r, NULL, 0, NULL, 0, "2027-01-01T00:00:00Z");
	EXPECT(CL_POLICY_ERASE, "default-policy", "combo: default erase");
	TAP_EQ_INT(D.erase_rule, SIZE_MAX, "combo: default has no rule");

	r = rec(&fw, "text", ts("2024-01-01T00:00:00Z"));
	decide(p, &r, NULL, 0, NULL, 0, "2027-06-01T00:00:00Z");
	EXPECT(CL_POLICY_KEEP, "minimum-pending",
	       "combo: 5y minimum beats the 3y default");
	decide(p, &r, NULL, 0, NULL, 0, "2029-01-01T00:00:00Z");
	EXPECT(CL_POLICY_ERASE, "default-policy", "combo: default at 5y");
	r = rec(&fw, "image", ts("2024-01-01T00:00:00Z"));
	decide(p, &r, NULL, 0, NULL, 0, "2027-06-01T00:00:00Z");
	EXPECT(CL_POLICY_ERASE, "default-policy",
	       "combo: match.kind must match too (AND)");
	fw.attrs[1] = "account=desk3";
	r = rec(&fw, "text", ts("2024-01-01T00:00:00Z"));
	decide(p, &r, NULL, 0, NULL, 0, "2027-06-01T00:00:00Z");
	EXPECT(CL_POLICY_KEEP, "minimum-pending",
	       "combo: values of a key are alternatives (OR)");
	r.has_attr = NULL;
	decide(p, &r, NULL, 0, NULL, 0, "2027-06-01T00:00:00Z");
	EXPECT(CL_POLICY_ERASE, "default-policy", "combo: no attributes");
	r.sent_at = CL_TIME_NONE;
	TAP_EQ_INT(decide(p, &r, NULL, 0, NULL, 0, "2027-06-01T00:00:00Z"),
		   CL_EINVAL, "combo: sent_at NONE is CL_EINVAL");
	EXPECT(CL_POLICY_KEEP, "invalid-input", "combo: ... and keeps");
	cl_policy_free(p);

	/* A rule without match keys applies to every record; a rule without
	 * maximum under default keep: "no-maximum". */
	p = parse("[rule all]\nminimum = 90d\nbasis = b\n"
		  "confidence = verified\n"
		  "[rule feb]\nmatch.label = z\nminimum = 1y\nmaximum = 1m\n"
		  "basis = b\nconfidence = verified\n");
	r = rec(&fz, NULL, ts("2024-02-29T12:00:00Z"));
	decide(p, &r, NULL, 0, NULL, 0, "2024-05-29T12:00:00Z");
	EXPECT(CL_POLICY_KEEP, "minimum-pending", "all: within 90d");
	TAP_EQ_INT(D.n_clocks, 2, "all: both rules apply");
	TAP_EQ_INT(D.clocks[1].retain_until, ts("2025-02-28T12:00:00Z"),
		   "feb 29 + 1y = feb 28 in a rule");
	TAP_EQ_INT(D.clocks[1].erase_after, ts("2025-03-28T12:00:00Z"),
		   "feb 28 + 1m = mar 28 in a rule");
	r = rec(&fx, NULL, ts("2024-02-29T12:00:00Z"));
	decide(p, &r, NULL, 0, NULL, 0, "2030-01-01T00:00:00Z");
	EXPECT(CL_POLICY_KEEP, "no-maximum", "all: minimum run, no maximum");
	TAP_EQ_INT(D.retain_until, ts("2024-05-29T12:00:00Z"),
		   "all: 90 days");
	cl_policy_free(p);
}

/* ---- policy check --------------------------------------------------- */

static size_t check(const struct cl_policy *p, struct cl_buf *b)
{
	size_t n = 99;

	cl_buf_reset(b);
	TAP_EQ_INT(cl_policy_check(p, b, &n), CL_OK, "check runs");
	printf("# %s", b->len ? (char *)b->data : "(nothing)\n");
	return n;
}

static void test_check(void)
{
	struct cl_buf b;
	struct cl_policy *p;

	cl_buf_init(&b, 1 << 16);
	p = parse("[rule short]\nmatch.label = x\nminimum = 0\n"
		  "maximum = 30d\nbasis = PDPO\nconfidence = verified\n"
		  "[rule long]\nmatch.label = y\nminimum = 1y\n"
		  "basis = law\nconfidence = assumed\n"
		  "[rule other-kind]\nmatch.kind = image\nminimum = 0\n"
		  "maximum = 1d\nbasis = PDPO\nconfidence = verified\n"
		  "[rule text-only]\nmatch.kind = text\nminimum = 7y\n"
		  "basis = law\nconfidence = verified\n"
		  "[rule thirteen]\nmatch.label = q\nminimum = 6m\n"
		  "maximum = 7m\nbasis = PDPO\nconfidence = verified\n"
		  "[rule one-year]\nmatch.label = q\nminimum = 12m\n"
		  "basis = law\nconfidence = verified\n");
	TAP_EQ_INT(check(p, &b), 8, "check: eight conflicts");
	TAP_OK(contains((char *)b.data,
			"conflict: rule 'short' (line 1) can erase at message "
			"+ 0 + 30d, before rule 'long' (line 7) minimum 1y "
			"from message has run"),
	       "check: short vs long reported");
	TAP_OK(contains((char *)b.data, "rule 'short' (line 1) can erase at "
					"message + 0 + 30d, before rule "
					"'text-only'"),
	       "check: short vs text-only (label and kind may overlap)");
	TAP_OK(!contains((char *)b.data, "rule 'other-kind' (line 12) can "
					 "erase at message + 0 + 1d, before "
					 "rule 'text-only'"),
	       "check: disjoint kinds do not conflict");
	TAP_OK(contains((char *)b.data, "rule 'other-kind' (line 12) can "
					"erase at message + 0 + 1d, before "
					"rule 'long'"),
	       "check: other-kind vs long");
	TAP_OK(!contains((char *)b.data, "'thirteen' (line 23) can erase at "
					 "message + 6m + 7m, before rule "
					 "'one-year'"),
	       "check: 6m + 7m is not before 12m");
	TAP_OK(contains((char *)b.data, "'thirteen' (line 23) can erase at "
					"message + 6m + 7m, before rule "
					"'text-only' (line 18) minimum 7y"),
	       "check: 6m + 7m is before 7y");
	TAP_OK(contains((char *)b.data, "assumed: rule 'long' (line 7) rests "
					"on an unverified basis: law\n"),
	       "check: assumed rule listed");
	cl_policy_free(p);

	/* Month ends: Aug 31 + 6m = Feb 29, + 6m = Aug 29 < Aug 31. */
	p = parse("[rule half]\nminimum = 6m\nmaximum = 6m\nbasis = b\n"
		  "confidence = verified\n"
		  "[rule year]\nminimum = 12m\nbasis = b\n"
		  "confidence = verified\n");
	TAP_EQ_INT(check(p, &b), 1, "check: 6m + 6m can end before 12m");
	cl_policy_free(p);

	/* Event clocks: a maximum on another clock always conflicts. */
	p = parse("[policy]\ndefault = erase-after 2y\n"
		  "[rule enq]\nminimum = 0\nmaximum = 24m\nbasis = b\n"
		  "confidence = verified\n"
		  "[rule cdd]\nclock = event:relationship-ended\n"
		  "minimum = 5y\nbasis = b\nconfidence = verified\n");
	TAP_EQ_INT(check(p, &b), 2, "check: event-clock conflicts");
	TAP_OK(contains((char *)b.data, "rule 'enq' (line 3) can erase at "
					"message + 0 + 24m, before rule "
					"'cdd' (line 8) minimum 5y from "
					"event:relationship-ended has run"),
	       "check: maximum vs event-clock minimum");
	TAP_OK(contains((char *)b.data,
			"conflict: the default (erase-after 2y from the "
			"message) can come before rule 'cdd' (line 8)"),
	       "check: default vs minimum");
	cl_policy_free(p);

	p = load(PDIR "hk-money-lender.policy");
	TAP_EQ_INT(check(p, &b), 0, "check money lender: no conflict");
	TAP_OK(contains((char *)b.data, "assumed: rule 'loan-documents'"),
	       "check money lender: assumed rule");
	cl_policy_free(p);
	p = load(PDIR "hk-pdpo-default.policy");
	TAP_EQ_INT(check(p, &b), 0, "check pdpo: clean");
	TAP_EQ_INT(b.len, 0, "check pdpo: nothing to say");
	cl_policy_free(p);
	p = load(PDIR "hk-amlo.policy");
	TAP_EQ_INT(check(p, &b), 0,
		   "check amlo: two event clocks, equal offsets: clean");
	cl_policy_free(p);
	p = load(PDIR "hk-sfc-intermediary.policy");
	TAP_EQ_INT(check(p, &b), 0,
		   "check sfc: maximums chosen so no rule erases before another's minimum");
	cl_policy_free(p);
	cl_buf_release(&b);
}

int main(void)
{
	test_profiles();
	test_errors();
	test_calendar();
	test_sfc();
	test_amlo();
	test_money_lender();
	test_pdpo();
	test_combined();
	test_check();
	return tap_done();
}
