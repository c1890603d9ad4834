/*
 * cmd_verify_bundle.c - chatledger verify-bundle: check an export bundle
 * offline (docs/BUNDLE.md §6).  Exit 0 verified, 1 damage or tampering,
 * 2 usage or unreadable file.
 */
#include <getopt.h>
#include <stdio.h>

#include <jansson.h>

#include "archiver/export/verifybundle.h"
#include "cli/cli.h"
#include "common/status.h"

#include "common/banned.h"

int cmd_verify_bundle(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "vkey", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'c' },
		{ "tsa-ca", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct cl_vb_opts o = { NULL, NULL, NULL };
	json_t *rep = NULL;
	char *err = NULL;
	int c, json = 0, rc;

	while ((c = cli_getopt(ctx, argc, argv, opts)) >= 0) {
		switch (c) {
		case 'k': o.vkey = optarg; break;
		case 'c': o.ca_path = optarg; break;
		case 't': o.tsa_ca_path = optarg; break;
		case 'j': json = 1; break;
		default: return cli_usage_error(ctx);
		}
	}
	if (!cli_ready(ctx, c, optind == argc - 1, 0))
		return ctx->code;
	rc = cl_verifybundle(argv[optind], &o, &rep, &err);
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
