/*
 * policy_int.h - what the parts of the policy engine share: the parsed
 * policy, its rules and durations.  parse.c reads policy files,
 * duration.c does calendar arithmetic, decide.c makes per-record
 * decisions and the `policy check` findings.  Not an API.
 */
#ifndef CL_POLICY_INT_H
#define CL_POLICY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

#define MS_PER_DAY INT64_C(86400000)
#define NAME_MAX_LEN 64

/* The match keys, the attribute type each asks has_attr about (NULL for
 * kind, which is a field), and whether a record has one value of it. */
enum { M_ACCOUNT, M_CONVERSATION, M_LABEL, M_PARTICIPANT, M_SOURCE, M_KIND,
       M_COUNT };
extern const char *const cl_policy_match_key[M_COUNT];
extern const char *const cl_policy_match_attr[M_COUNT];
extern const int cl_policy_match_single[M_COUNT];

/* A duration: n units of 'y', 'm' or 'd'; n == 0 is the zero duration. */
struct pdur {
	int64_t n;
	char unit;
	char text[24]; /* canonical: "2y", "24m", "90d", "0" */
};

struct pstrs {
	char **v;
	size_t n;
};

struct prule {
	char *name;
	int line;                    /* of the [rule NAME] header */
	struct pstrs match[M_COUNT];
	int min_line, max_line, clock_line, conf_line; /* 0 = not given */
	struct pdur min, max;
	char *event;                 /* NULL: message clock */
	char *clock;                 /* "message" or "event:NAME" */
	char *basis;
	int assumed;
};

struct cl_policy {
	char *name;
	int default_erase;           /* 0: keep; 1: erase-after default_dur */
	struct pdur default_dur;
	char *default_text;
	struct prule rules[CL_POLICY_MAX_RULES];
	size_t n_rules;
};

/* Parse "0" or DIGITS followed by y, m or d into *d (duration.c).  0 on
 * success, -1 on anything else, including amounts over 1000 years. */
int cl_policy_dur_parse(const char *s, struct pdur *d);
/* t + d in calendar arithmetic on the UTC date (duration.c). */
int64_t cl_policy_dur_add(int64_t t, const struct pdur *d);

#endif
