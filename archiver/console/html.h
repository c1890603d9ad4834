/*
 * html.h - the console's HTML emitter: escaping per context (element text,
 * attribute values, URL query parts) onto a capped buffer (common/buf.h).
 *
 * Message text is attacker input.  cl_html_text() escapes every byte that
 * HTML gives a meaning to, replaces invalid UTF-8 with U+FFFD, and turns
 * the invisible direction controls (U+202A-U+202E, U+2066-U+2069,
 * U+200E/U+200F, U+061C) and other C0/C1 controls into a visible
 * "[U+XXXX]" marker, so a right-to-left override can neither reorder the
 * page nor hide.  Nothing it emits can open a tag, an attribute, an entity
 * or a script context.
 */
#ifndef CL_CONSOLE_HTML_H
#define CL_CONSOLE_HTML_H

#include <stddef.h>

#include "common/buf.h"

/* Element text (also safe inside a double-quoted attribute). */
int cl_html_text(struct cl_buf *b, const char *s, size_t n);
/* A NUL-terminated string as cl_html_text (NULL emits nothing). */
int cl_html_str(struct cl_buf *b, const char *s);
/* Percent-encode for a URL query value: everything but A-Z a-z 0-9 -._~ */
int cl_html_url(struct cl_buf *b, const char *s);
/* Literal markup from the program (never from input). */
int cl_html_raw(struct cl_buf *b, const char *s);

#endif
