/*
 * wechat_xml.c - safe XML to JSON for WeChat pushes (wechat_xml.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "archiver/sources/wechat_xml.h"
#include "common/status.h"
#include "common/banned.h"

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init_once(void)
{
	xmlInitParser();
}

void cl_wx_xml_init(void)
{
	(void)pthread_once(&xml_once, xml_init_once);
}

/* SAX hooks: any DOCTYPE or entity declaration stops the parse. */
static void refuse_subset(void *ctx, const xmlChar *name, const xmlChar *ext,
			  const xmlChar *sys)
{
	xmlParserCtxtPtr p = ctx;

	(void)name; (void)ext; (void)sys;
	if (p->_private)
		*(int *)p->_private = 1;
	xmlStopParser(p);
}

static void refuse_entity(void *ctx, const xmlChar *name, int type,
			  const xmlChar *pub, const xmlChar *sys, xmlChar *content)
{
	(void)name; (void)type; (void)pub; (void)sys; (void)content;
	refuse_subset(ctx, NULL, NULL, NULL);
}

struct walk {
	int nodes;
	const char *why;
};

static json_t *value_of(xmlNodePtr n, int depth, struct walk *w);

/* Add `v` under `name` in `obj`, turning repeats into an array. */
static int put(json_t *obj, const char *name, json_t *v)
{
	json_t *old = json_object_get(obj, name);

	if (old == NULL)
		return json_object_set_new(obj, name, v);
	if (json_is_array(old))
		return json_array_append_new(old, v);
	{
		json_t *a = json_array();

		if (a == NULL || json_array_append(a, old) != 0 ||
		    json_array_append_new(a, v) != 0) {
			json_decref(a);
			return -1;
		}
		return json_object_set_new(obj, name, a);
	}
}

static json_t *value_of(xmlNodePtr n, int depth, struct walk *w)
{
	xmlNodePtr c;
	int has_elem = 0;
	json_t *v;

	if (depth > CL_WX_XML_DEPTH) {
		w->why = "XML nested too deep";
		return NULL;
	}
	for (c = n->children; c; c = c->next) {
		if (c->type == XML_ELEMENT_NODE)
			has_elem = 1;
		else if (c->type == XML_ENTITY_REF_NODE || c->type == XML_ENTITY_NODE ||
			 c->type == XML_DTD_NODE) {
			w->why = "entity references are not allowed";
			return NULL;
		}
	}
	if (!has_elem) {
		xmlChar *t = xmlNodeGetContent(n);

		v = json_string(t ? (const char *)t : "");
		xmlFree(t);
		if (v == NULL)
			w->why = "XML text is not valid UTF-8";
		return v;
	}
	v = json_object();
	if (v == NULL)
		return NULL;
	for (c = n->children; c; c = c->next) {
		json_t *cv;

		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (++w->nodes > CL_WX_XML_NODES) {
			w->why = "too many XML elements";
			json_decref(v);
			return NULL;
		}
		cv = value_of(c, depth + 1, w);
		if (cv == NULL || put(v, (const char *)c->name, cv) != 0) {
			if (w->why == NULL)
				w->why = "out of memory";
			json_decref(v);
			return NULL;
		}
	}
	return v;
}

int cl_wx_xml_parse(const char *xml, size_t len, json_t **out, const char **why)
{
	xmlParserCtxtPtr p = NULL;
	xmlDocPtr doc = NULL;
	xmlNodePtr root;
	struct walk w = { 0, NULL };
	json_t *v = NULL;
	int refused = 0, rc = CL_EINVAL;

	*out = NULL;
	*why = "not well-formed XML";
	if (len == 0 || len > CL_WX_XML_MAX) {
		*why = len ? "XML too large" : "empty body";
		return CL_EINVAL;
	}
	cl_wx_xml_init();
	p = xmlNewParserCtxt();
	if (p == NULL) {
		*why = "out of memory";
		return CL_ENOMEM;
	}
	p->sax->internalSubset = refuse_subset;
	p->sax->externalSubset = refuse_subset;
	p->sax->entityDecl = refuse_entity;
	p->_private = &refused;
	doc = xmlCtxtReadMemory(p, xml, (int)len, NULL, "UTF-8",
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
				XML_PARSE_NOCDATA | XML_PARSE_NOBLANKS);
	if (refused || (doc && (doc->intSubset || doc->extSubset))) {
		*why = "document type declarations are not allowed";
		goto out;
	}
	if (doc == NULL || !p->wellFormed)
		goto out;
	root = xmlDocGetRootElement(doc);
	if (root == NULL || strcmp((const char *)root->name, "xml") != 0) {
		*why = "root element is not <xml>";
		goto out;
	}
	v = value_of(root, 1, &w);
	if (v == NULL) {
		*why = w.why ? w.why : "out of memory";
		goto out;
	}
	if (!json_is_object(v)) {   /* <xml>text</xml> */
		*why = "<xml> has no elements";
		json_decref(v);
		goto out;
	}
	*out = v;
	*why = NULL;
	rc = CL_OK;
out:
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(p);
	return rc;
}

const char *cl_wx_xml_str(const json_t *obj, const char *name)
{
	return json_string_value(json_object_get(obj, name));
}
