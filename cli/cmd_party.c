/*
 * cmd_party.c - chatledger party link|unlink|show|list: the identities a
 * customer (or a member of staff) is known by across sources.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/ledger/leaf.h"
#include "archiver/ledger/ledger.h"
#include "archiver/ledger/vault.h"
#include "archiver/parties/ident.h"
#include "archiver/parties/parties.h"
#include "archiver/retention/retention.h"
#include "cli/cli.h"
#include "cli/readpath.h"
#include "archiver/officers/officers.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

static int party_link_cmd(int argc, char **argv, struct cli_ctx *ctx, int unlink)
{
	static const struct option opts[] = {
		{ "note", required_argument, NULL, 'n' },
		{ "by", required_argument, NULL, 'b' },
		{ "allow-empty", no_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 }
	};
	const char *note = NULL, *by = NULL, *sel[2];
	char ca[CL_IDENT_MAX], cb[CL_IDENT_MAX];
	struct cl_cover cov[2];
	uint64_t idx = 0;
	char *err = NULL;
	int c, rc, allow_empty = 0;
	size_t i;

	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		switch (c) {
		case 'n': note = optarg; break;
		case 'b': by = optarg; break;
		case 'E': allow_empty = 1; break;
		}
	}
	if (!cli_ready(ctx, c, argc - optind == 2, CLI_SETUP_ALL))
		return ctx->code;
	if ((rc = cli_officer_auth(ctx, CL_ACT_CHANGE)) != EXIT_OK)
		return rc;
	sel[0] = argv[optind];
	sel[1] = argv[optind + 1];
	if (cl_ident_canon(sel[0], NULL, ca) || cl_ident_canon(sel[1], NULL, cb))
		return cli_fail("party", "an identifier is empty or longer than %u bytes",
				CL_IDENT_MAX - 32);
	for (i = 0; i < 2 && !unlink; i++) {
		if ((rc = cl_retention_cover(ctx->ledger, &sel[i], 1, NULL, 0, &cov[i], &err)))
			return cli_fail_rc("party", rc, err);
	}
	if (!unlink && !allow_empty && cov[0].records == 0 && cov[1].records == 0)
		return cli_fail("party", "neither '%s' nor '%s' appears in any record; "
				"check the spelling, or give --allow-empty to link parties "
				"not seen yet", sel[0], sel[1]);
	if (ctx->off)
		by = ctx->off->name;
	rc = cl_party_link(ctx->ledger, sel[0], sel[1], unlink, "officer", by, note, &idx, &err);
	if (rc)
		return cli_fail_rc("party", rc, err);
	printf("%s %s and %s (entry %llu)\n", unlink ? "unlinked" : "linked", ca, cb,
	       (unsigned long long)idx);
	if (!unlink)
		printf("  %s: %" PRIu64 " record%s in %" PRIu64 " conversation%s\n"
		       "  %s: %" PRIu64 " record%s in %" PRIu64 " conversation%s\n",
		       ca, cov[0].records, CL_S(cov[0].records), cov[0].conversations,
		       CL_S(cov[0].conversations), cb, cov[1].records, CL_S(cov[1].records),
		       cov[1].conversations, CL_S(cov[1].conversations));
	return EXIT_OK;
}

static int party_link(int argc, char **argv, struct cli_ctx *ctx)
{
	return party_link_cmd(argc, argv, ctx, 0);
}

static int party_unlink(int argc, char **argv, struct cli_ctx *ctx)
{
	return party_link_cmd(argc, argv, ctx, 1);
}

/* ---- show ------------------------------------------------------------------ */

struct show_ctx {
	struct cl_ledger *l;
	struct cl_convset *set;
	const unsigned char *sk;   /* NULL: no passphrase, counts only */
	json_t *convs;             /* "account\nconversation.id" -> info */
	json_t *idents;            /* raw identifier -> canonical */
	json_t *sources;           /* source -> records */
	uint64_t records;
	int64_t first, last;
	struct cl_buf pt;
	char **err;
};

static void add_ident(struct show_ctx *s, const char *raw)
{
	char c[CL_IDENT_MAX];

	if (raw && raw[0] && cl_ident_canon(raw, NULL, c) == CL_OK)
		json_object_set_new(s->idents, raw, json_string(c));
}

static int show_one(void *ctx, uint64_t index, const unsigned char *leaf, size_t n,
		    const unsigned char *attrs, size_t alen, int has_payload)
{
	struct show_ctx *s = ctx;
	struct cl_leaf lf;
	json_t *r, *conv, *snd, *ids, *x, *info;
	const char *acc, *cid, *src;
	char *key, *e = NULL;
	size_t i;
	int rc;

	(void)attrs;
	(void)alen;
	if (cl_leaf_decode(leaf, n, &lf, &e) != CL_OK) {
		free(e);
		return cl_error(s->err, CL_ECORRUPT, "entry %llu is corrupt; run verify",
				(unsigned long long)index);
	}
	if (!cl_convset_has(s->set, lf.conv_tag) || strcmp(lf.kind, "attachment") == 0)
		return CL_OK;
	if (!has_payload)
		return CL_OK;
	s->records++;
	if (lf.sent_at != CL_TIME_NONE) {
		if (s->first == CL_TIME_NONE || lf.sent_at < s->first)
			s->first = lf.sent_at;
		if (s->last == CL_TIME_NONE || lf.sent_at > s->last)
			s->last = lf.sent_at;
	}
	if (s->sk == NULL)
		return CL_OK;
	cl_buf_reset(&s->pt);
	if ((rc = cl_ledger_open_payload(s->l, index, s->sk, &s->pt, s->err)))
		return rc;
	r = json_loadb((const char *)s->pt.data, s->pt.len, 0, NULL);
	sodium_memzero(s->pt.data, s->pt.len);
	if (r == NULL)
		return CL_OK;
	conv = json_object_get(r, "conversation");
	snd = json_object_get(r, "sender");
	acc = json_string_value(json_object_get(r, "account"));
	cid = json_string_value(json_object_get(conv, "id"));
	src = json_string_value(json_object_get(r, "source"));
	key = cl_strdupf("%s | %s", acc ? acc : "", cid ? cid : "");
	if (key == NULL) {
		json_decref(r);
		return CL_ENOMEM;
	}
	info = json_object_get(s->convs, key);
	if (info == NULL) {
		info = json_pack("{s:s, s:s, s:s, s:o, s:I}", "account", acc ? acc : "",
				 "conversation", cid ? cid : "", "source", src ? src : "",
				 "name", json_incref(json_object_get(conv, "name")) ?
				 json_object_get(conv, "name") : json_null(), "records", (json_int_t)0);
		json_object_set_new(s->convs, key, info);
	}
	free(key);
	if (info)
		json_object_set_new(info, "records", json_integer(
			json_integer_value(json_object_get(info, "records")) + 1));
	if (src)
		json_object_set_new(s->sources, src, json_integer(
			json_integer_value(json_object_get(s->sources, src)) + 1));
	add_ident(s, json_string_value(json_object_get(snd, "id")));
	add_ident(s, json_string_value(json_object_get(conv, "id")));
	ids = json_object_get(r, "identifiers");
	json_array_foreach(ids, i, x)
		add_ident(s, json_string_value(x));
	if ((x = json_object_get(snd, "name")) && json_is_string(x)) {
		char nm[CL_IDENT_MAX];

		if (cl_ident_canon(json_string_value(x), "name", nm) == CL_OK)
			json_object_set_new(s->idents, nm, json_string(nm));
	}
	json_decref(r);
	return CL_OK;
}

static int party_show(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct show_ctx s;
	unsigned char *sk = NULL;
	const char *sel;
	char *err = NULL, f[32] = "-", t[32] = "-";
	json_t *out = NULL, *members = NULL, *seen, *v;
	const char *k;
	int c, rc, json = 0, code = EXIT_OK;

	while ((c = cli_getopt(ctx, argc, argv, opts)) == 'j')
		json = 1;
	if (!cli_ready(ctx, c, argc - optind == 1, 0))
		return ctx->code;
	sel = argv[optind];
	/* with named officers: --officer NAME --reason TEXT (readpath.h) */
	if ((ctx->pass_file || ctx->officer) && (code = cli_unlock(ctx, &sk)) != EXIT_OK)
		return code;
	memset(&s, 0, sizeof(s));
	s.first = s.last = CL_TIME_NONE;
	s.convs = json_object();
	s.idents = json_object();
	s.sources = json_object();
	s.sk = sk;
	s.err = &err;
	cl_buf_init(&s.pt, 64u << 20);
	if ((code = cli_setup(ctx, CLI_NEEDS_READER | CLI_NEEDS_WRITER)) != EXIT_OK)
		goto out;
	s.l = ctx->ledger;
	if ((rc = cl_parties_select(ctx->ledger, &sel, 1, &s.set, &err)) ||
	    (rc = cl_ledger_each(ctx->ledger, CL_ENTRY_RECORD, show_one, &s, &err))) {
		code = cli_fail_rc("party", rc, err);
		goto out;
	}
	/* Only the identifiers that are the party's own (not the other
	 * people in its group chats). */
	members = json_array();
	seen = json_object();
	json_object_foreach(s.idents, k, v) {
		const char *cid = json_string_value(v);
		int yes = 0;

		if (json_object_get(seen, cid))
			continue;   /* "85291234567" and "…@s.whatsapp.net": one tel */
		if (cl_parties_is_member(ctx->ledger, &sel, 1,
					 strncmp(cid, "name:", 5) == 0 ? cid : k, &yes, &err) == CL_OK &&
		    yes) {
			json_array_append_new(members, json_string(cid));
			json_object_set_new(seen, cid, json_true());
		}
		free(err);
		err = NULL;
	}
	json_decref(seen);
	if (s.first != CL_TIME_NONE)
		cl_time_format(s.first, f);
	if (s.last != CL_TIME_NONE)
		cl_time_format(s.last, t);
	out = json_pack("{s:s, s:I, s:I, s:s, s:s}", "selector", sel,
			"records", (json_int_t)s.records,
			"conversations", (json_int_t)cl_convset_count(s.set), "first", f, "last", t);
	if (sk) {
		json_t *list = json_array();

		json_object_foreach(s.convs, k, v)
			json_array_append(list, v);
		json_object_set_new(out, "conversation_list", list);
		json_object_set(out, "identifiers", members);
		json_object_set(out, "sources", s.sources);
	}
	if (json) {
		json_dumpf(out, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
	} else {
		size_t i;

		printf("party %s: %" PRIu64 " record%s in %zu conversation%s, %s to %s\n", sel,
		       s.records, CL_S(s.records), cl_convset_count(s.set),
		       CL_S(cl_convset_count(s.set)), f, t);
		if (sk == NULL) {
			printf("  (give --passphrase-file to list its identifiers and conversations)\n");
		} else {
			json_array_foreach(members, i, v)
				printf("  identifier   %s\n", json_string_value(v));
			json_object_foreach(s.convs, k, v)
				printf("  conversation %s / %s (%s): %lld record%s\n",
				       json_string_value(json_object_get(v, "account")),
				       json_string_value(json_object_get(v, "conversation")),
				       json_string_value(json_object_get(v, "source")),
				       (long long)json_integer_value(json_object_get(v, "records")),
				       CL_S(json_integer_value(json_object_get(v, "records"))));
		}
	}
out:
	json_decref(out);
	json_decref(members);
	json_decref(s.convs);
	json_decref(s.idents);
	json_decref(s.sources);
	cl_convset_free(s.set);
	if (s.pt.data)
		sodium_memzero(s.pt.data, s.pt.alloc);
	cl_buf_release(&s.pt);
	sodium_free(sk);
	return code;
}

/* ---- list ------------------------------------------------------------------ */

struct list_ctx {
	struct cl_ledger *l;
	const unsigned char *sk;
	json_t *rows;
	struct cl_buf pt;
	char **err;
};

static int list_one(void *ctx, uint64_t index, const unsigned char *leaf, size_t n,
		    const unsigned char *attrs, size_t alen, int has_payload)
{
	struct list_ctx *s = ctx;
	struct cl_leaf lf;
	json_t *b, *row;
	char *e = NULL, when[32];

	(void)attrs;
	(void)alen;
	if (cl_leaf_decode(leaf, n, &lf, &e) != CL_OK) {
		free(e);
		return cl_error(s->err, CL_ECORRUPT, "entry %llu is corrupt; run verify",
				(unsigned long long)index);
	}
	if (strcmp(lf.kind, "party-link") != 0 && strcmp(lf.kind, "party-unlink") != 0)
		return CL_OK;
	b = json_loadb((const char *)lf.body, lf.body_len, 0, NULL);
	cl_time_format(lf.logged_at, when);
	row = json_pack("{s:I, s:s, s:s, s:o, s:o}", "index", (json_int_t)index,
			"op", strcmp(lf.kind, "party-link") == 0 ? "link" : "unlink",
			"at", when, "link", json_incref(json_object_get(b, "link")),
			"origin", json_incref(json_object_get(b, "origin")));
	json_decref(b);
	if (row && s->sk && has_payload) {
		json_t *p;

		cl_buf_reset(&s->pt);
		if (cl_ledger_open_payload(s->l, index, s->sk, &s->pt, s->err) == CL_OK &&
		    (p = json_loadb((const char *)s->pt.data, s->pt.len, 0, NULL)) != NULL) {
			json_object_set(row, "a", json_object_get(p, "a_canonical"));
			json_object_set(row, "b", json_object_get(p, "b_canonical"));
			json_object_set(row, "by", json_object_get(p, "by"));
			if (json_object_get(p, "note"))
				json_object_set(row, "note", json_object_get(p, "note"));
			json_decref(p);
		}
		if (s->pt.data)
			sodium_memzero(s->pt.data, s->pt.len);
	}
	if (row)
		json_array_append_new(s->rows, row);
	return CL_OK;
}

static int party_list(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct list_ctx s;
	unsigned char *sk = NULL;
	char *err = NULL;
	int c, rc, json = 0, code;
	size_t i;
	json_t *r;

	while ((c = cli_getopt(ctx, argc, argv, opts)) == 'j')
		json = 1;
	if (!cli_ready(ctx, c, 1, 0))
		return ctx->code;
	/* with named officers: --officer NAME --reason TEXT (readpath.h) */
	if ((ctx->pass_file || ctx->officer) && (code = cli_unlock(ctx, &sk)) != EXIT_OK)
		return code;
	memset(&s, 0, sizeof(s));
	s.rows = json_array();
	s.sk = sk;
	s.err = &err;
	cl_buf_init(&s.pt, 1u << 20);
	if ((code = cli_setup(ctx, CLI_NEEDS_READER | CLI_NEEDS_WRITER)) != EXIT_OK)
		goto out;
	s.l = ctx->ledger;
	if ((rc = cl_ledger_each(ctx->ledger, CL_ENTRY_CONTROL, list_one, &s, &err))) {
		code = cli_fail_rc("party", rc, err);
		goto out;
	}
	if (json) {
		json_dumpf(s.rows, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
	} else {
		json_array_foreach(s.rows, i, r)
			printf("%-8lld %-6s %s %s %s%s%s%s%s\n",
			       (long long)json_integer_value(json_object_get(r, "index")),
			       json_string_value(json_object_get(r, "op")),
			       json_string_value(json_object_get(r, "at")),
			       json_string_value(json_object_get(r, "origin")),
			       json_string_value(json_object_get(r, "link")),
			       json_object_get(r, "a") ? " " : "",
			       json_object_get(r, "a") ? json_string_value(json_object_get(r, "a")) : "",
			       json_object_get(r, "b") ? " <-> " : "",
			       json_object_get(r, "b") ? json_string_value(json_object_get(r, "b")) : "");
		if (json_array_size(s.rows) == 0)
			printf("no party links\n");
	}
out:
	json_decref(s.rows);
	if (s.pt.data)
		sodium_memzero(s.pt.data, s.pt.alloc);
	cl_buf_release(&s.pt);
	sodium_free(sk);
	return code;
}

int cmd_party(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct cli_sub subs[] = {
		{ "link", party_link, CLI_NEEDS_WRITER | CLI_TAKES_OPERANDS },
		{ "unlink", party_unlink, CLI_NEEDS_WRITER | CLI_TAKES_OPERANDS },
		{ "show", party_show, CLI_NEEDS_WRITER | CLI_NEEDS_PASSPHRASE | CLI_TAKES_OPERANDS },
		{ "list", party_list, CLI_NEEDS_READER | CLI_NEEDS_PASSPHRASE },
		{ NULL, NULL, 0 }
	};

	return cli_subcommand(ctx, argc, argv, subs);
}
