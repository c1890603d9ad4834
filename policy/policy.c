/*
 * policy.c - the retention policy engine (see policy.h): the policy file
 * parser on top of libinih, durations and calendar arithmetic, per-record
 * decisions, and the `policy check` findings.
 *
 * Parsing.  libinih splits "key = value" lines and strips comments; a
 * reader function of ours feeds it one line at a time so that we know the
 * line number of every key, handle section headers ourselves (inih calls
 * no handler for them, and truncates long names), and reject what inih
 * would accept silently: over-long lines (inih would split them), control
 * characters, and indented lines (inih would glue them to the previous
 * value as a "continuation").  Every error is recorded with its line; the
 * one with the smallest line number is reported, and any error rejects the
 * whole file.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "policy/policy.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define MS_PER_DAY INT64_C(86400000)
#define NAME_MAX_LEN 64

/* The match keys, the attribute type each asks has_attr about (NULL for
 * kind, which is a field), and whether a record has one value of it. */
enum { M_ACCOUNT, M_CONVERSATION, M_LABEL, M_PARTICIPANT, M_SOURCE, M_KIND,
       M_COUNT };
static const char *const match_key[M_COUNT] = {
	"match.account", "match.conversation", "match.label",
	"match.participant", "match.source", "match.kind",
};
static const char *const match_attr[M_COUNT] = {
	"account", "conversation", "label", "participant", "source", NULL,
};
static const int match_single[M_COUNT] = { 1, 1, 0, 0, 1, 1 };

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

/* ==== durations and calendar arithmetic ============================== */

/*
 * Parse "0" or DIGITS followed by y, m or d into *d.  0 on success, -1 on
 * anything else, including amounts over 1000 years (12000 months, 366000
 * days) so that no sum can overflow.
 */
static int dur_parse(const char *s, struct pdur *d)
{
	int64_t n = 0, limit;
	size_t i = 0;

	if (strcmp(s, "0") == 0) {
		d->n = 0;
		d->unit = 0;
		snprintf(d->text, sizeof(d->text), "0");
		return 0;
	}
	while (s[i] >= '0' && s[i] <= '9') {
		if (i >= 7)
			return -1;
		n = n * 10 + (s[i] - '0');
		i++;
	}
	if (i == 0 || s[i] == '\0' || s[i + 1] != '\0')
		return -1;
	switch (s[i]) {
	case 'y': limit = 1000; break;
	case 'm': limit = 12000; break;
	case 'd': limit = 366000; break;
	default: return -1;
	}
	if (n > limit)
		return -1;
	d->n = n;
	d->unit = s[i];
	snprintf(d->text, sizeof(d->text), "%lld%c", (long long)n, s[i]);
	return 0;
}

/* Floor division and modulo for a positive divisor. */
static int64_t floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && a < 0) ? q - 1 : q;
}


static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30,
					    31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : mdays[m - 1];
}

/*
 * t + d, with calendar years and months on the UTC date (time of day kept,
 * day clamped to the month's end) and days of 86,400 s.  Saturates at
 * INT64_MAX; t must not be CL_TIME_NONE.
 */
static int64_t dur_add(int64_t t, const struct pdur *d)
{
	int64_t days, rem, y, months, total, res;
	unsigned m, day;

	if (d->n == 0)
		return t;
	if (d->unit == 'd') {
		if (__builtin_add_overflow(t, d->n * MS_PER_DAY, &res))
			return INT64_MAX;
		return res;
	}
	months = d->unit == 'y' ? d->n * 12 : d->n;
	days = floordiv(t, MS_PER_DAY);
	rem = t - days * MS_PER_DAY;
	cl_civil_from_days(days, &y, &m, &day);
	total = y * 12 + (int64_t)(m - 1) + months;
	y = floordiv(total, 12);
	m = (unsigned)(total - y * 12) + 1;
	if (day > days_in_month(y, m))
		day = days_in_month(y, m);
	days = cl_days_from_civil(y, m, day);
	if (__builtin_mul_overflow(days, MS_PER_DAY, &res) ||
	    __builtin_add_overflow(res, rem, &res))
		return INT64_MAX;
	return res;
}

int cl_policy_duration_add(int64_t ms, const char *duration, int64_t *out)
{
	struct pdur d;

	if (duration == NULL || out == NULL || ms == CL_TIME_NONE ||
	    dur_parse(duration, &d) != 0)
		return CL_EINVAL;
	*out = dur_add(ms, &d);
	return CL_OK;
}

/* ==== the policy object ============================================== */

static void strs_free(struct pstrs *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

void cl_policy_free(struct cl_policy *p)
{
	size_t i, m;

	if (p == NULL)
		return;
	for (i = 0; i < p->n_rules; i++) {
		struct prule *r = &p->rules[i];

		free(r->name);
		for (m = 0; m < M_COUNT; m++)
			strs_free(&r->match[m]);
		free(r->event);
		free(r->clock);
		free(r->basis);
	}
	free(p->name);
	free(p->default_text);
	free(p);
}

/* ==== parsing ======================================================== */

enum psec { SEC_NONE, SEC_POLICY, SEC_RULE, SEC_BAD };

struct pstate {
	struct cl_policy *p;
	const char *text;        /* input, not NUL-terminated */
	size_t len, pos;
	int lineno;              /* the line last handed to inih */
	enum psec sec;
	struct prule *rule;      /* current rule when sec == SEC_RULE */
	int policy_line;         /* line of [policy], 0 if none yet */
	int name_line, default_line;
	int nomem;
	int err_line;            /* smallest line with an error, 0 = none */
	char err_msg[320];
};

/* Record an error at `line`; the error with the smallest line wins. */
static void perr(struct pstate *s, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void perr(struct pstate *s, int line, const char *fmt, ...)
{
	va_list ap;

	if (s->err_line != 0 && s->err_line <= line)
		return;
	s->err_line = line;
	va_start(ap, fmt);
	vsnprintf(s->err_msg, sizeof(s->err_msg), fmt, ap);
	va_end(ap);
}

static char *xstrndup(struct pstate *s, const char *p, size_t n)
{
	char *r = strndup(p, n);

	if (r == NULL)
		s->nomem = 1;
	return r;
}

/* 1 if s[0..n) is 1..NAME_MAX_LEN of [A-Za-z0-9._-]. */
static int name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > NAME_MAX_LEN)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* A section header line (line[0] == '['), n bytes. */
static void section_line(struct pstate *s, const char *line, size_t n)
{
	struct cl_policy *p = s->p;
	const char *close = memchr(line, ']', n);
	const char *in, *end, *rest;
	size_t inlen;

	s->sec = SEC_BAD;
	s->rule = NULL;
	if (close == NULL) {
		perr(s, s->lineno, "unterminated section header (no ']')");
		return;
	}
	for (rest = close + 1; rest < line + n && is_blank(*rest); rest++)
		;
	if (rest < line + n && *rest != ';' && *rest != '#') {
		perr(s, s->lineno, "text after section header");
		return;
	}
	/* The name between the brackets, blanks trimmed. */
	inlen = (size_t)(close - line) - 1;
	in = line + 1;
	while (inlen > 0 && is_blank(in[0])) {
		in++;
		inlen--;
	}
	while (inlen > 0 && is_blank(in[inlen - 1]))
		inlen--;
	end = in + inlen;
	if (inlen == 6 && memcmp(in, "policy", 6) == 0) {
		if (s->policy_line) {
			perr(s, s->lineno,
			     "duplicate [policy] section (first at line %d)",
			     s->policy_line);
			return;
		}
		s->policy_line = s->lineno;
		s->sec = SEC_POLICY;
		return;
	}
	if (inlen > 5 && memcmp(in, "rule", 4) == 0 && is_blank(in[4])) {
		struct prule *r;
		size_t i;

		in += 5;
		while (in < end && is_blank(*in))
			in++;
		inlen = (size_t)(end - in);
		if (!name_ok(in, inlen)) {
			perr(s, s->lineno,
			     "bad rule name '%.*s' (want 1 to %d of A-Z a-z "
			     "0-9 . _ -)",
			     (int)inlen, in, NAME_MAX_LEN);
			return;
		}
		for (i = 0; i < p->n_rules; i++) {
			if (strlen(p->rules[i].name) == inlen &&
			    memcmp(p->rules[i].name, in, inlen) == 0) {
				perr(s, s->lineno,
				     "duplicate rule '%.*s' (first at line %d)",
				     (int)inlen, in, p->rules[i].line);
				return;
			}
		}
		if (p->n_rules >= CL_POLICY_MAX_RULES) {
			perr(s, s->lineno, "too many rules (at most %d)",
			     CL_POLICY_MAX_RULES);
			return;
		}
		r = &p->rules[p->n_rules];
		r->name = xstrndup(s, in, inlen);
		if (r->name == NULL)
			return;
		r->line = s->lineno;
		p->n_rules++;
		s->rule = r;
		s->sec = SEC_RULE;
		return;
	}
	perr(s, s->lineno,
	     "unknown section [%.*s] (want [policy] or [rule NAME])",
	     (int)inlen, in);
}

/*
 * inih's reader: hand over the next line (without its newline) in str, of
 * size num.  Lines we reject, and section headers (which we handle here),
 * reach inih as empty lines.  NULL at the end of the input.
 */
static char *reader(char *str, int num, void *stream)
{
	struct pstate *s = stream;
	const char *line, *nl;
	size_t n, i, cap = num > 1 ? (size_t)num - 1 : 0;

	if (s->pos >= s->len || num < 1)
		return NULL;
	line = s->text + s->pos;
	nl = memchr(line, '\n', s->len - s->pos);
	n = nl ? (size_t)(nl - line) : s->len - s->pos;
	s->pos += n + (nl != NULL);
	s->lineno++;
	str[0] = '\0';
	/* (n is 0 for an empty line; cppcheck thinks otherwise) */
	/* cppcheck-suppress knownConditionTrueFalse */
	if (n > 0 && line[n - 1] == '\r')
		n--;
	if (s->lineno == 1 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;
		n -= 3;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			perr(s, s->lineno, "control character (byte 0x%02x)",
			     c);
			return str;
		}
	}
	if (n > cap) {
		perr(s, s->lineno, "line too long (%zu bytes, at most %zu)", n,
		     cap);
		return str;
	}
	for (i = 0; i < n && is_blank(line[i]); i++)
		;
	if (i == n || line[i] == ';' || line[i] == '#')
		return str; /* blank or comment */
	if (i > 0) {
		perr(s, s->lineno, "indented line (continuation lines are "
				   "not supported; start keys in column 1)");
		return str;
	}
	if (line[0] == '[') {
		section_line(s, line, n);
		return str;
	}
	memcpy(str, line, n);
	str[n] = '\0';
	return str;
}

/* Append each item of the comma-separated `value` to *dst. 0 or -1. */
static int list_add(struct pstate *s, struct pstrs *dst, const char *key,
		    const char *value)
{
	const char *p = value, *e, *a, *b;
	char **v;

	for (;;) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		for (a = p; a < e && is_blank(*a); a++)
			;
		for (b = e; b > a && is_blank(b[-1]); b--)
			;
		if (a == b) {
			perr(s, s->lineno, "empty item in '%s'", key);
			return -1;
		}
		v = realloc(dst->v, (dst->n + 1) * sizeof(*v));
		if (v == NULL) {
			s->nomem = 1;
			return -1;
		}
		dst->v = v;
		dst->v[dst->n] = xstrndup(s, a, (size_t)(b - a));
		if (dst->v[dst->n] == NULL)
			return -1;
		dst->n++;
		if (*e == '\0')
			return 0;
		p = e + 1;
	}
}

/* 0 if key was not seen yet (and remember this line), else an error. */
static int once(struct pstate *s, int *seen_line, const char *key)
{
	if (*seen_line) {
		perr(s, s->lineno, "duplicate key '%s' (first at line %d)", key,
		     *seen_line);
		return -1;
	}
	*seen_line = s->lineno;
	return 0;
}

static int dur_key(struct pstate *s, const char *key, const char *value,
		   struct pdur *d)
{
	if (dur_parse(value, d) == 0)
		return 0;
	perr(s, s->lineno,
	     "bad duration '%s' for '%s' (want a number and y, m or d, "
	     "e.g. 2y, 24m, 90d, or 0)",
	     value, key);
	return -1;
}

static int policy_key(struct pstate *s, const char *key, const char *value)
{
	struct cl_policy *p = s->p;

	if (strcmp(key, "name") == 0) {
		if (once(s, &s->name_line, key))
			return -1;
		p->name = xstrndup(s, value, strlen(value));
		return p->name ? 0 : -1;
	}
	if (strcmp(key, "default") == 0) {
		const char *d;

		if (once(s, &s->default_line, key))
			return -1;
		if (strcmp(value, "keep") == 0) {
			p->default_erase = 0;
		} else if (strncmp(value, "erase-after", 11) == 0 &&
			   is_blank(value[11])) {
			for (d = value + 11; is_blank(*d); d++)
				;
			if (dur_parse(d, &p->default_dur) != 0) {
				perr(s, s->lineno,
				     "bad duration '%s' for 'default' (want a "
				     "number and y, m or d, e.g. 7y)",
				     d);
				return -1;
			}
			p->default_erase = 1;
		} else {
			perr(s, s->lineno,
			     "bad default '%s' (want keep or erase-after "
			     "DURATION)",
			     value);
			return -1;
		}
		free(p->default_text);
		p->default_text = NULL;
		if (p->default_erase &&
		    asprintf(&p->default_text, "erase-after %s",
			     p->default_dur.text) < 0) {
			p->default_text = NULL;
			s->nomem = 1;
			return -1;
		}
		return 0;
	}
	perr(s, s->lineno, "unknown key '%s' in [policy]", key);
	return -1;
}

static int rule_key(struct pstate *s, const char *key, const char *value)
{
	struct prule *r = s->rule;
	size_t m;

	for (m = 0; m < M_COUNT; m++)
		if (strcmp(key, match_key[m]) == 0)
			return list_add(s, &r->match[m], key, value);
	if (strcmp(key, "minimum") == 0)
		return once(s, &r->min_line, key) ? -1
						  : dur_key(s, key, value,
							    &r->min);
	if (strcmp(key, "maximum") == 0)
		return once(s, &r->max_line, key) ? -1
						  : dur_key(s, key, value,
							    &r->max);
	if (strcmp(key, "clock") == 0) {
		if (once(s, &r->clock_line, key))
			return -1;
		if (strcmp(value, "message") != 0) {
			if (strncmp(value, "event:", 6) != 0 ||
			    !name_ok(value + 6, strlen(value + 6))) {
				perr(s, s->lineno,
				     "bad clock '%s' (want message or "
				     "event:NAME, NAME of A-Z a-z 0-9 . _ -)",
				     value);
				return -1;
			}
			r->event = xstrndup(s, value + 6, strlen(value + 6));
			if (r->event == NULL)
				return -1;
		}
		r->clock = xstrndup(s, value, strlen(value));
		return r->clock ? 0 : -1;
	}
	if (strcmp(key, "basis") == 0) {
		/* May repeat: a long citation spans several lines. */
		char *b = NULL;

		if (r->basis == NULL)
			b = strdup(value);
		else if (asprintf(&b, "%s %s", r->basis, value) < 0)
			b = NULL;
		if (b == NULL) {
			s->nomem = 1;
			return -1;
		}
		free(r->basis);
		r->basis = b;
		return 0;
	}
	if (strcmp(key, "confidence") == 0) {
		if (once(s, &r->conf_line, key))
			return -1;
		if (strcmp(value, "verified") == 0) {
			r->assumed = 0;
		} else if (strcmp(value, "assumed") == 0) {
			r->assumed = 1;
		} else {
			perr(s, s->lineno,
			     "bad confidence '%s' (want verified or assumed)",
			     value);
			return -1;
		}
		return 0;
	}
	perr(s, s->lineno, "unknown key '%s' in [rule %s]", key, r->name);
	return -1;
}

/* inih's handler: one key = value line.  1 to go on, 0 on error. */
static int handler(void *user, const char *section, const char *key,
		   const char *value)
{
	struct pstate *s = user;

	(void)section; /* ours, from the reader, is authoritative */
	if (s->nomem)
		return 0;
	switch (s->sec) {
	case SEC_BAD:
		return 1; /* the header's error is reported already */
	case SEC_NONE:
		perr(s, s->lineno,
		     "'%s' outside a section (put keys under [policy] or "
		     "[rule NAME])",
		     key);
		return 0;
	case SEC_POLICY:
	case SEC_RULE:
		break;
	}
	if (*value == '\0') {
		perr(s, s->lineno, "empty value for '%s'", key);
		return 0;
	}
	if (s->sec == SEC_POLICY)
		return policy_key(s, key, value) == 0;
	return rule_key(s, key, value) == 0;
}

/* Checks that need the whole file (run once every line has parsed):
 * required keys, defaults. */
static void finish(struct pstate *s)
{
	struct cl_policy *p = s->p;
	size_t i;

	if (p->n_rules == 0 && s->policy_line == 0)
		perr(s, 1, "empty policy (no [policy] section and no "
			   "[rule NAME])");
	for (i = 0; i < p->n_rules; i++) {
		struct prule *r = &p->rules[i];

		if (r->basis == NULL)
			perr(s, r->line, "rule '%s' has no basis", r->name);
		else if (r->conf_line == 0)
			perr(s, r->line, "rule '%s' has no confidence",
			     r->name);
		else if (r->min_line == 0)
			perr(s, r->line, "rule '%s' has no minimum", r->name);
		if (r->clock == NULL) {
			r->clock = strdup("message");
			if (r->clock == NULL)
				s->nomem = 1;
		}
	}
	if (p->default_text == NULL) {
		p->default_text = strdup("keep");
		if (p->default_text == NULL)
			s->nomem = 1;
	}
}

/* Parse text[0..len) (NUL bytes are errors). */
static int parse_text(const char *text, size_t len, const char *name,
		      struct cl_policy **out, char **err)
{
	struct pstate *s = NULL;
	int rc = CL_OK, ret;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	s->p = calloc(1, sizeof(*s->p));
	if (s->p == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	s->text = text;
	s->len = len;
	ret = ini_parse_stream(reader, s, handler, s);
	if (ret < 0 || s->nomem) {
		rc = CL_ENOMEM;
		goto out;
	}
	/* inih returns the first line it failed on: a syntax error, or a
	 * line our handler refused (and recorded in s->err_line). */
	if (ret > 0 && (s->err_line == 0 || ret < s->err_line)) {
		rc = cl_error(err, CL_EINVAL,
			      "%s:%d: syntax error (want [section], "
			      "key = value, or a comment)",
			      name, ret);
		goto out;
	}
	/* Missing keys only when every line parsed: a broken basis line
	 * should be reported as itself, not as "no basis". */
	if (s->err_line == 0)
		finish(s);
	if (s->nomem) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (s->err_line != 0) {
		rc = cl_error(err, CL_EINVAL, "%s:%d: %s", name, s->err_line,
			      s->err_msg);
		goto out;
	}
	*out = s->p;
	s->p = NULL;
out:
	if (s != NULL)
		cl_policy_free(s->p);
	free(s);
	return rc;
}

int cl_policy_parse_string(const char *text, const char *name_for_errors,
			   struct cl_policy **out, char **err)
{
	if (out == NULL)
		return CL_EINVAL;
	*out = NULL;
	if (text == NULL)
		return cl_error(err, CL_EINVAL, "no policy text");
	return parse_text(text, strlen(text),
			  name_for_errors ? name_for_errors : "<string>", out,
			  err);
}

int cl_policy_load(const char *path, struct cl_policy **out, char **err)
{
	struct cl_buf b;
	int rc;

	if (out == NULL)
		return CL_EINVAL;
	*out = NULL;
	if (path == NULL)
		return cl_error(err, CL_EINVAL, "no policy file");
	cl_buf_init(&b, CL_POLICY_MAX_FILE);
	rc = cl_file_read(path, &b, CL_POLICY_MAX_FILE, err);
	if (rc)
		goto out;
	rc = parse_text(b.len ? (const char *)b.data : "", b.len, path, out,
			err);
out:
	cl_buf_release(&b);
	return rc;
}

/* ==== accessors ====================================================== */

static const struct prule *rule_at(const struct cl_policy *p, size_t i)
{
	return p != NULL && i < p->n_rules ? &p->rules[i] : NULL;
}

const char *cl_policy_name(const struct cl_policy *p)
{
	return p ? p->name : NULL;
}

const char *cl_policy_default(const struct cl_policy *p)
{
	return p ? p->default_text : NULL;
}

size_t cl_policy_rule_count(const struct cl_policy *p)
{
	return p ? p->n_rules : 0;
}

const char *cl_policy_rule_name(const struct cl_policy *p, size_t i)
{
	const struct prule *r = rule_at(p, i);

	return r ? r->name : NULL;
}

const char *cl_policy_rule_basis(const struct cl_policy *p, size_t i)
{
	const struct prule *r = rule_at(p, i);

	return r ? r->basis : NULL;
}

const char *cl_policy_rule_confidence(const struct cl_policy *p, size_t i)
{
	const struct prule *r = rule_at(p, i);

	return r ? (r->assumed ? "assumed" : "verified") : NULL;
}

const char *cl_policy_rule_clock(const struct cl_policy *p, size_t i)
{
	const struct prule *r = rule_at(p, i);

	return r ? r->clock : NULL;
}

const char *cl_policy_rule_event(const struct cl_policy *p, size_t i)
{
	const struct prule *r = rule_at(p, i);

	return r ? r->event : NULL;
}

const char *cl_policy_rule_minimum(const struct cl_policy *p, size_t i)
{
	const struct prule *r = rule_at(p, i);

	return r ? r->min.text : NULL;
}

const char *cl_policy_rule_maximum(const struct cl_policy *p, size_t i)
{
	const struct prule *r = rule_at(p, i);

	return r && r->max_line ? r->max.text : NULL;
}

int cl_policy_rule_assumed(const struct cl_policy *p, size_t i)
{
	const struct prule *r = rule_at(p, i);

	return r ? r->assumed : -1;
}

int cl_policy_rule_line(const struct cl_policy *p, size_t i)
{
	const struct prule *r = rule_at(p, i);

	return r ? r->line : -1;
}

/* ==== decisions ====================================================== */

static int has(const struct cl_policy_record *r, const char *type,
	       const char *value)
{
	return r->has_attr != NULL && value != NULL &&
	       r->has_attr(r->ctx, type, value) != 0;
}

/* Match keys: values within a key are OR, keys are AND. */
static int rule_matches(const struct prule *rule,
			const struct cl_policy_record *r)
{
	size_t m, i;

	for (m = 0; m < M_COUNT; m++) {
		const struct pstrs *l = &rule->match[m];
		int hit = 0;

		for (i = 0; i < l->n && !hit; i++) {
			if (match_attr[m] == NULL)
				hit = r->kind != NULL &&
				      strcmp(r->kind, l->v[i]) == 0;
			else
				hit = has(r, match_attr[m], l->v[i]);
		}
		if (l->n > 0 && !hit)
			return 0;
	}
	return 1;
}

static int carries_subject(const struct cl_policy_record *r, const char *s)
{
	return has(r, "participant", s) || has(r, "conversation", s) ||
	       has(r, "account", s);
}

/* 1 if hold h covers record r at time now; -1 on a malformed hold. */
static int hold_covers(const struct cl_policy_hold *h,
		       const struct cl_policy_record *r, int64_t now)
{
	size_t i;
	int hit;

	if ((h->participants == NULL && h->n_participants) ||
	    (h->conversations == NULL && h->n_conversations))
		return -1;
	if (h->until != CL_TIME_NONE && now >= h->until)
		return 0;
	if (h->released_at != CL_TIME_NONE && now >= h->released_at)
		return 0;
	if (h->from != CL_TIME_NONE && r->sent_at < h->from)
		return 0;
	if (h->to != CL_TIME_NONE && r->sent_at > h->to)
		return 0;
	hit = h->n_participants == 0 && h->n_conversations == 0;
	for (i = 0; i < h->n_participants && !hit; i++)
		hit = has(r, "participant", h->participants[i]);
	for (i = 0; i < h->n_conversations && !hit; i++)
		hit = has(r, "conversation", h->conversations[i]);
	return hit;
}

static void decision_init(struct cl_policy_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->action = CL_POLICY_KEEP;
	d->reason = "no-rule";
	d->erase_rule = SIZE_MAX;
	d->retain_until = CL_TIME_NONE;
	d->erase_after = CL_TIME_NONE;
}

/* Fill each event clock's start with the latest matching event. */
static void event_clocks(const struct cl_policy *p,
			 const struct cl_policy_record *r,
			 const struct cl_policy_event *ev, size_t n_ev,
			 struct cl_policy_decision *d)
{
	size_t j, k;

	for (j = 0; j < n_ev; j++) {
		const struct cl_policy_event *e = &ev[j];
		int subj = -1;

		if (e->subject == NULL || e->event == NULL ||
		    e->at == CL_TIME_NONE || e->at < r->sent_at)
			continue;
		for (k = 0; k < d->n_clocks; k++) {
			struct cl_policy_clock *c = &d->clocks[k];
			const char *want = p->rules[c->rule].event;

			if (want == NULL || strcmp(want, e->event) != 0)
				continue;
			if (subj < 0)
				subj = carries_subject(r, e->subject);
			if (!subj)
				break;
			if (c->start == CL_TIME_NONE || e->at > c->start)
				c->start = e->at;
		}
	}
}

int cl_policy_decide(const struct cl_policy *p,
		     const struct cl_policy_record *r,
		     const struct cl_policy_event *ev, size_t n_ev,
		     const struct cl_policy_hold *holds, size_t n_holds,
		     int64_t now, struct cl_policy_decision *d)
{
	int rc = CL_OK, waiting = 0, by_default = 0, held = 0, cov;
	int64_t due = CL_TIME_NONE;
	size_t i;

	if (d == NULL)
		return CL_EINVAL;
	decision_init(d);
	if (p == NULL || r == NULL || (ev == NULL && n_ev) ||
	    (holds == NULL && n_holds) || r->sent_at == CL_TIME_NONE) {
		rc = CL_EINVAL;
		goto out;
	}
	/* The applicable rules and their clocks. */
	for (i = 0; i < p->n_rules; i++) {
		struct cl_policy_clock *c;

		if (!rule_matches(&p->rules[i], r))
			continue;
		c = &d->clocks[d->n_clocks++];
		c->rule = i;
		c->start = p->rules[i].event ? CL_TIME_NONE : r->sent_at;
		c->retain_until = CL_TIME_NONE;
		c->erase_after = CL_TIME_NONE;
	}
	event_clocks(p, r, ev, n_ev, d);
	for (i = 0; i < d->n_clocks; i++) {
		struct cl_policy_clock *c = &d->clocks[i];
		const struct prule *rule = &p->rules[c->rule];

		if (c->start == CL_TIME_NONE) {
			waiting = 1;
			continue;
		}
		c->retain_until = dur_add(c->start, &rule->min);
		if (rule->max_line)
			c->erase_after = dur_add(c->retain_until, &rule->max);
		if (d->retain_until == CL_TIME_NONE ||
		    c->retain_until > d->retain_until)
			d->retain_until = c->retain_until;
		if (c->erase_after != CL_TIME_NONE &&
		    (due == CL_TIME_NONE || c->erase_after < due)) {
			due = c->erase_after;
			d->erase_rule = c->rule;
		}
	}
	/* Holds covering the record now. */
	for (i = 0; i < n_holds; i++) {
		cov = hold_covers(&holds[i], r, now);
		if (cov < 0) {
			rc = CL_EINVAL;
			goto out;
		}
		if (!cov)
			continue;
		held = 1;
		if (d->n_holds < CL_POLICY_MAX_HOLDS)
			d->holds[d->n_holds++] = i;
	}
	if (waiting) {
		d->retain_until = CL_TIME_NONE;
		d->erase_rule = SIZE_MAX;
		d->reason = "awaiting-event";
		goto out;
	}
	if (due == CL_TIME_NONE && p->default_erase) {
		due = dur_add(r->sent_at, &p->default_dur);
		by_default = 1;
	}
	if (due != CL_TIME_NONE)
		d->erase_after = d->retain_until != CL_TIME_NONE &&
					 d->retain_until > due
				 ? d->retain_until
				 : due;
	if (d->retain_until != CL_TIME_NONE && now < d->retain_until)
		d->reason = "minimum-pending";
	else if (d->erase_after == CL_TIME_NONE)
		d->reason = d->n_clocks ? "no-maximum" : "no-rule";
	else if (now < d->erase_after)
		d->reason = "maximum-pending";
	else if (held)
		d->reason = "held";
	else {
		d->action = CL_POLICY_ERASE;
		d->reason = by_default ? "default-policy" : "maximum-reached";
	}
out:
	if (rc) {
		decision_init(d);
		d->reason = "invalid-input";
	}
	return rc;
}

/* ==== policy check =================================================== */

/* Could some record match both rules? (See cl_policy_check.) */
static int overlap(const struct prule *a, const struct prule *b)
{
	size_t m, i, j;

	for (m = 0; m < M_COUNT; m++) {
		int common = 0;

		if (!match_single[m] || a->match[m].n == 0 ||
		    b->match[m].n == 0)
			continue;
		for (i = 0; i < a->match[m].n && !common; i++)
			for (j = 0; j < b->match[m].n && !common; j++)
				common = strcmp(a->match[m].v[i],
						b->match[m].v[j]) == 0;
		if (!common)
			return 0;
	}
	return 1;
}

/*
 * 1 if start + first + then can come before start + min for some start:
 * tried from reference dates that exercise month ends and Feb 29.
 */
static int shorter(const struct pdur *first, const struct pdur *then,
		   const struct pdur *min)
{
	static const unsigned ref[][3] = {
		{ 2023, 1, 31 }, { 2023, 3, 31 }, { 2023, 8, 31 },
		{ 2024, 2, 29 }, { 2024, 1, 31 }, { 2024, 12, 31 },
		{ 2025, 6, 15 },
	};
	size_t i;

	for (i = 0; i < sizeof(ref) / sizeof(ref[0]); i++) {
		int64_t t = cl_days_from_civil(ref[i][0], ref[i][1],
					       ref[i][2]) *
			    MS_PER_DAY;
		int64_t e = dur_add(t, first);

		if (then != NULL)
			e = dur_add(e, then);
		if (e < dur_add(t, min))
			return 1;
	}
	return 0;
}

int cl_policy_check(const struct cl_policy *p, struct cl_buf *out,
		    size_t *n_conflicts)
{
	int rc = CL_OK;
	size_t i, j, n = 0;

	if (p == NULL || out == NULL || n_conflicts == NULL)
		return CL_EINVAL;
	*n_conflicts = 0;
	for (i = 0; i < p->n_rules; i++) {
		const struct prule *a = &p->rules[i];

		if (!a->max_line)
			continue;
		for (j = 0; j < p->n_rules; j++) {
			const struct prule *b = &p->rules[j];
			int early;

			if (j == i || !overlap(a, b))
				continue;
			/* An event comes at or after the message (earlier
			 * events do not count), arbitrarily later: a
			 * maximum from the message can always come before a
			 * minimum from an event.  Two clocks on events are
			 * compared as if the events were simultaneous. */
			if (b->event != NULL && a->event == NULL)
				early = 1;
			else
				early = shorter(&a->min, &a->max, &b->min);
			if (!early)
				continue;
			rc = cl_buf_addf(
				out,
				"conflict: rule '%s' (line %d) can erase at "
				"%s + %s + %s, before rule '%s' (line %d) "
				"minimum %s from %s has run, for records both "
				"match; the minimum wins\n",
				a->name, a->line, a->clock, a->min.text,
				a->max.text, b->name, b->line, b->min.text,
				b->clock);
			if (rc)
				goto out;
			n++;
		}
	}
	if (p->default_erase) {
		for (j = 0; j < p->n_rules; j++) {
			const struct prule *b = &p->rules[j];

			if (b->max_line ||
			    (b->event == NULL &&
			     !shorter(&p->default_dur, NULL, &b->min)))
				continue;
			rc = cl_buf_addf(
				out,
				"conflict: the default (%s from the message) "
				"can come before rule '%s' (line %d) minimum "
				"%s from %s has run; the minimum wins\n",
				p->default_text, b->name, b->line, b->min.text,
				b->clock);
			if (rc)
				goto out;
			n++;
		}
	}
	for (i = 0; i < p->n_rules; i++) {
		const struct prule *a = &p->rules[i];

		if (!a->assumed)
			continue;
		rc = cl_buf_addf(out,
				 "assumed: rule '%s' (line %d) rests on an "
				 "unverified basis: %s\n",
				 a->name, a->line, a->basis);
		if (rc)
			goto out;
	}
	*n_conflicts = n;
out:
	return rc;
}
