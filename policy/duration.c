/*
 * duration.c - policy durations ("2y", "24m", "90d", "0") and calendar
 * arithmetic in UTC (see policy.h, cl_policy_duration_add).
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

/* ==== durations and calendar arithmetic ============================== */

/*
 * Parse "0" or DIGITS followed by y, m or d into *d.  0 on success, -1 on
 * anything else, including amounts over 1000 years (12000 months, 366000
 * days) so that no sum can overflow.
 */
int cl_policy_dur_parse(const char *s, struct pdur *d)
{
	int64_t n = 0, limit;
	size_t i = 0;

	if (strcmp(s, "0") == 0) {
		d->n = 0;
		d->unit = 0;
		(void)cl_fmt(d->text, sizeof(d->text), "0");
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
	(void)cl_fmt(d->text, sizeof(d->text), "%lld%c", (long long)n, s[i]);
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
int64_t cl_policy_dur_add(int64_t t, const struct pdur *d)
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
	    cl_policy_dur_parse(duration, &d) != 0)
		return CL_EINVAL;
	*out = cl_policy_dur_add(ms, &d);
	return CL_OK;
}

