/*
 * ident.c - canonical party identifiers (ident.h).
 */
#include <string.h>

#include "archiver/parties/ident.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

static const char *const types[] = {
	"tel", "wa-lid", "wa-group", "wecom-external", "wecom-user",
	"wechat-openid", "wechat-unionid", "wechat-kf", "wechat-id", "name",
	"any", NULL
};

/* The typed readings of an untyped selector, besides "any" and "name". */
static const char *const guesses[] = {
	"wecom-external", "wecom-user", "wechat-openid", "wechat-unionid",
	"wechat-kf", "wechat-id", "wa-lid", NULL
};

int cl_ident_type_known(const char *type, size_t len)
{
	size_t i;

	for (i = 0; types[i]; i++)
		if (strlen(types[i]) == len && memcmp(types[i], type, len) == 0)
			return 1;
	return 0;
}

static int put(char out[CL_IDENT_MAX], const char *type, const char *v, size_t vlen)
{
	size_t tl = strlen(type);

	if (vlen == 0 || tl + 1 + vlen + 1 > CL_IDENT_MAX)
		return CL_EINVAL;
	memcpy(out, type, tl);
	out[tl] = ':';
	memcpy(out + tl + 1, v, vlen);
	out[tl + 1 + vlen] = 0;
	return CL_OK;
}

/* A phone number in any common spelling: 1 and the E.164 digits (no "+")
 * in d, else 0. */
static int phone(const char *s, size_t n, char d[16])
{
	size_t i, k = 0;
	int plus = 0, lead00;

	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n && *s == '+') {
		plus = 1;
		s++;
		n--;
	}
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9') {
			if (k == 15)
				return 0;
			d[k++] = c;
		} else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')' &&
			   (unsigned char)c != 0xc2 && (unsigned char)c != 0xa0) {
			return 0;  /* 0xc2 0xa0: a no-break space, as phones copy them */
		}
	}
	d[k] = 0;
	lead00 = !plus && k > 2 && d[0] == '0' && d[1] == '0';
	if (lead00) {
		memmove(d, d + 2, k - 1);
		k -= 2;
	}
	if (k < 7 || d[0] == '0')
		return 0;
	if (!plus && !lead00 && k == 8) {
		memmove(d + 3, d, 9);
		memcpy(d, "852", 3);
	} else if (!plus && !lead00 && k < 9) {
		return 0;
	}
	return 1;
}

/* JIDs: "user[:device]@server". */
static int jid(const char *s, char out[CL_IDENT_MAX])
{
	const char *at = strrchr(s, '@'), *colon;
	size_t ul;
	char d[16];

	if (at == NULL || at == s)
		return 0;
	colon = memchr(s, ':', (size_t)(at - s));
	ul = (size_t)((colon ? colon : at) - s);
	if (strcmp(at, "@s.whatsapp.net") == 0 || strcmp(at, "@c.us") == 0) {
		char tmp[32];

		if (ul >= sizeof(tmp) - 1)
			return 0;
		tmp[0] = '+';
		memcpy(tmp + 1, s, ul);
		tmp[ul + 1] = 0;
		if (!phone(tmp, ul + 1, d))
			return 0;
		return cl_fmt(out, CL_IDENT_MAX, "tel:+%s", d) == CL_OK;
	}
	if (strcmp(at, "@lid") == 0)
		return put(out, "wa-lid", s, ul) == CL_OK;
	if (strcmp(at, "@g.us") == 0)
		return put(out, "wa-group", s, (size_t)(at - s)) == CL_OK;
	return 0;
}

/* "TYPE:VALUE" with a known type: copied, with tel values normalised. */
static int typed(const char *s, char out[CL_IDENT_MAX], int *rc)
{
	const char *c = strchr(s, ':');
	char d[16];

	if (c == NULL || !cl_ident_type_known(s, (size_t)(c - s)))
		return 0;
	if (c - s == 3 && memcmp(s, "tel", 3) == 0) {
		if (!phone(c + 1, strlen(c + 1), d)) {
			*rc = CL_EINVAL;
			return 1;
		}
		*rc = cl_fmt(out, CL_IDENT_MAX, "tel:+%s", d);
		return 1;
	}
	if (strlen(c + 1) == 0 || strlen(s) + 1 > CL_IDENT_MAX) {
		*rc = CL_EINVAL;
		return 1;
	}
	memcpy(out, s, strlen(s) + 1);
	*rc = CL_OK;
	return 1;
}

int cl_ident_canon(const char *raw, const char *type_hint, char out[CL_IDENT_MAX])
{
	char d[16];
	int rc = CL_OK;

	if (raw == NULL || raw[0] == 0)
		return CL_EINVAL;
	if (type_hint && strcmp(type_hint, "tel") != 0)
		return put(out, type_hint, raw, strlen(raw));
	if (typed(raw, out, &rc))
		return rc;
	if (jid(raw, out))
		return CL_OK;
	if (phone(raw, strlen(raw), d))
		return cl_fmt(out, CL_IDENT_MAX, "tel:+%s", d);
	if (type_hint)
		return CL_EINVAL;   /* said to be a phone number, and is not */
	return put(out, "any", raw, strlen(raw));
}

int cl_ident_candidates(const char *sel, char out[CL_IDENT_CANDIDATES][CL_IDENT_MAX],
			size_t *n)
{
	size_t i;
	int rc;

	*n = 0;
	if ((rc = cl_ident_canon(sel, NULL, out[0])))
		return rc;
	*n = 1;
	if (strncmp(out[0], "any:", 4) != 0)
		return CL_OK;
	if (put(out[(*n)++], "name", sel, strlen(sel)))
		return CL_EINVAL;
	for (i = 0; guesses[i] && *n < CL_IDENT_CANDIDATES; i++)
		if (put(out[(*n)++], guesses[i], sel, strlen(sel)))
			return CL_EINVAL;
	return CL_OK;
}
