/*
 * cmd_verify_bundle.c - chatledger verify-bundle: check an export bundle
 * offline (docs/BUNDLE.md §6).  Exit 0 verified, 1 damage or tampering,
 * 2 usage or unreadable file.
 */
#include <getopt.h>
#include <stdio.h>

#include <jansson.h>

#include "archiver/export/verifybundle.h"
#include "archiver/witness/wverify.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

int cmd_verify_bundle(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "vkey", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'c' },
		{ "tsa-ca", required_argument, NULL, 't' },
		{ "witness-policy", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct cl_vb_opts o = { NULL, NULL, NULL, NULL };
	struct cl_wpolicy *policy = NULL;
	json_t *rep = NULL;
	char *err = NULL;
	const char *policy_path = NULL;
	int c, json = 0, rc;

	while ((c = cli_getopt(ctx, argc, argv, opts)) >= 0) {
		switch (c) {
		case 'k': o.vkey = optarg; break;
		case 'c': o.ca_path = optarg; break;
		case 't': o.tsa_ca_path = optarg; break;
		case 'w': policy_path = optarg; break;
		case 'j': json = 1; break;
		default: return cli_usage_error(ctx);
		}
	}
	if (!cli_ready(ctx, c, optind == argc - 1, 0))
		return ctx->code;
	if (policy_path) {
		struct cl_buf b;

		cl_buf_init(&b, 1 << 20);
		rc = cl_file_read(policy_path, &b, 1 << 20, &err);
		if (rc == CL_OK)
			rc = cl_wpolicy_parse((const char *)b.data, b.len, &policy, &err);
		cl_buf_release(&b);
		if (rc) {
			int code = cli_fail("verify-bundle", "--witness-policy %s: %s", policy_path,
					err ? err : cl_strerror(rc));
			free(err);
			return code;
		}
		o.policy = policy;
	}
	rc = cl_verifybundle(argv[optind], &o, &rep, &err);
	cl_wpolicy_free(policy);
	if (rep == NULL)
		return cli_fail_rc("verify-bundle", rc, err);
	if (json) {
		char *t = json_dumps(rep, JSON_COMPACT | JSON_SORT_KEYS);

		if (t)
			puts(t);
		free(t);
	} else {
		json_t *p = json_object_get(rep, "problems"), *w = json_object_get(rep, "warnings");
		size_t i;

		for (i = 0; i < json_array_size(p); i++)
			printf("FAILED: %s\n", json_string_value(json_array_get(p, i)));
		for (i = 0; i < json_array_size(w); i++)
			printf("warning: %s\n", json_string_value(json_array_get(w, i)));
		json_t *wi = json_object_get(rep, "witness");

		if (json_integer_value(json_object_get(wi, "cosignature_lines")) > 0 ||
		    json_object_get(wi, "timestamp") || policy_path)
			printf("checkpoint: %lld witness cosignature lines, witness policy %s%s%s\n",
			       (long long)json_integer_value(json_object_get(wi, "cosignature_lines")),
			       json_string_value(json_object_get(wi, "policy")) ?
			       json_string_value(json_object_get(wi, "policy")) : "not checked",
			       json_object_get(wi, "timestamp") ? "; timestamp token " : "",
			       json_object_get(wi, "timestamp") ?
			       json_string_value(json_object_get(wi, "timestamp")) : "");
		if (json_integer_value(json_object_get(rep, "redacted")) > 0)
			printf("redacted (content withheld): %lld (leaf and inclusion proof checked;"
			       " their text is a masked rendering, not proven)\n",
			       (long long)json_integer_value(json_object_get(rep, "redacted")));
		printf("%s: %s: %lld files, %lld records and %lld natives proved against checkpoint %lld,"
		       " %lld conversations complete, %lld RSMF files\n", argv[optind],
		       rc == CL_OK ? "verified" : "VERIFICATION FAILED",
		       (long long)json_integer_value(json_object_get(rep, "files")),
		       (long long)json_integer_value(json_object_get(rep, "records")),
		       (long long)json_integer_value(json_object_get(rep, "natives")),
		       (long long)json_integer_value(json_object_get(rep, "checkpoint_size")),
		       (long long)json_integer_value(json_object_get(rep, "conversations")),
		       (long long)json_integer_value(json_object_get(rep, "rsmf")));
	}
	json_decref(rep);
	free(err);
	return cli_finish_stdout(rc == CL_OK ? EXIT_OK : EXIT_TAMPERED);
}
