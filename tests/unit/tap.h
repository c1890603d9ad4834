/*
 * tap.h - a minimal test helper.  Each check prints "ok N - name" or
 * "not ok N - name"; tap_done() prints the "N passed, N failed" line and
 * returns the exit status (0 only when nothing failed).
 */
#ifndef CL_TAP_H
#define CL_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_pass, tap_fail;

#define TAP_OK(cond, ...)                                                     \
	do {                                                                  \
		int tap_c_ = (cond) ? 1 : 0;                                  \
		if (tap_c_) {                                                 \
			tap_pass++;                                           \
			printf("ok %d - ", tap_pass + tap_fail);              \
		} else {                                                      \
			tap_fail++;                                           \
			printf("not ok %d - ", tap_pass + tap_fail);          \
		}                                                             \
		printf(__VA_ARGS__);                                          \
		if (tap_c_)                                                   \
			printf("\n");                                         \
		else                                                          \
			printf("  (%s:%d)\n", __FILE__, __LINE__);            \
	} while (0)

#define TAP_EQ_INT(a, b, name)                                                \
	do {                                                                  \
		long long tap_a_ = (long long)(a), tap_b_ = (long long)(b);   \
		TAP_OK(tap_a_ == tap_b_, "%s (got %lld, want %lld)", name,    \
		       tap_a_, tap_b_);                                       \
	} while (0)

#define TAP_EQ_STR(a, b, name)                                                \
	do {                                                                  \
		const char *tap_a_ = (a), *tap_b_ = (b);                      \
		TAP_OK(tap_a_ && tap_b_ && strcmp(tap_a_, tap_b_) == 0,       \
		       "%s (got '%s', want '%s')", name,                      \
		       tap_a_ ? tap_a_ : "(null)", tap_b_ ? tap_b_ : "(null)"); \
	} while (0)

static inline int tap_done(void)
{
	printf("%d passed, %d failed\n", tap_pass, tap_fail);
	return tap_fail ? 1 : 0;
}

#endif
