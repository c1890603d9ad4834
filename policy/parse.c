/*
 * parse.c - the retention policy file parser (see policy.h) on top of
 * libinih, the policy object and its accessors.  Durations are in
 * duration.c; decisions and `policy check` in decide.c.
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
#include "policy/policy_int.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

const char *const cl_policy_match_key[M_COUNT] = {
	"match.account", "match.conversation", "match.label",
	"match.participant", "match.source", "match.kind",
};
const char *const cl_policy_match_attr[M_COUNT] = {
	"account", "conversation", "label", "participant", "source", NULL,
};
const int cl_policy_match_single[M_COUNT] = { 1, 1, 0, 0, 1, 1 };

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
	CL_PRINTF_LIKE(3, 4);
static void perr(struct pstate *s, int line, const char *fmt, ...)
{
	va_list ap;

	if (s->err_line != 0 && s->err_line <= line)
		return;
	s->err_line = line;
	va_start(ap, fmt);
	(void)cl_vfmt(s->err_msg, sizeof(s->err_msg), fmt, ap);
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
	if (cl_policy_dur_parse(value, d) == 0)
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
			if (cl_policy_dur_parse(d, &p->default_dur) != 0) {
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
		    (p->default_text = cl_strdupf("erase-after %s",
			     p->default_dur.text)) == NULL) {
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
		if (strcmp(key, cl_policy_match_key[m]) == 0)
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
		else if ((b = cl_strdupf("%s %s", r->basis, value)) == NULL)
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

