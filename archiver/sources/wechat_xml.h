/*
 * wechat_xml.h - the XML of WeChat and WeCom pushes, parsed safely with
 * libxml2 into a JSON tree (jansson).
 *
 * The documents are small and flat: <xml> with child elements whose
 * values are CDATA sections or bare text, a few of them nested
 * (<ScanCodeInfo>, <SendPicsInfo><PicList><item>, WeCom's
 * <MemChangeList><Item>).  The tree keeps every element, known or not:
 *
 *   leaf element                 -> its text (CDATA and text joined), a
 *                                   JSON string, never a number
 *   element with child elements  -> an object of its children
 *   a name repeated among siblings -> an array of the values, in order
 *
 * Attributes, comments and processing instructions are dropped; text
 * mixed between child elements (indentation) is ignored.
 *
 * Safety: any document type declaration is refused (so no entity can be
 * declared: no billion laughs, no external entity); libxml2 runs with
 * XML_PARSE_NONET, without XML_PARSE_NOENT / DTDLOAD / HUGE, and prints
 * nothing.  Limits: CL_WX_XML_MAX bytes, CL_WX_XML_DEPTH levels,
 * CL_WX_XML_NODES elements.
 */
#ifndef CL_WECHAT_XML_H
#define CL_WECHAT_XML_H

#include <stddef.h>

#include <jansson.h>

#define CL_WX_XML_MAX (1u << 20)
#define CL_WX_XML_DEPTH 8
#define CL_WX_XML_NODES 4096

/* Initialise libxml2 once, before threads parse (idempotent). */
void cl_wx_xml_init(void);

/*
 * Parse `len` bytes.  The root element must be <xml>.  On success *out
 * is the object of its children (caller decrefs).  On failure CL_EINVAL
 * with *why a static reason that quotes no content ("not well-formed
 * XML", "document type declarations are not allowed", "root element is
 * not <xml>", "too deep", ...), or CL_ENOMEM.
 */
int cl_wx_xml_parse(const char *xml, size_t len, json_t **out, const char **why);

/* The string member `name` of a parsed object, or NULL. */
const char *cl_wx_xml_str(const json_t *obj, const char *name);

#endif
