/*
 * cmd_policy.c - chatledger policy event|explain|check.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archiver/ledger/ledger.h"
#include "archiver/retention/retention.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/util.h"
#include "policy/policy.h"
#include "common/banned.h"

static int policy_event(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "archive", required_argument, NULL, 'a' },
		{ "subject", required_argument, NULL, 's' },
		{ "event", required_argument, NULL, 'e' },
		{ "at", required_argument, NULL, 't' },
		{ "note", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *archive = NULL, *subject = NULL, *event = NULL, *note = NULL;
	int64_t at = CL_TIME_NONE;
	struct cl_ledger *l = NULL;
	uint64_t idx = 0;
	char *err = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': archive = optarg; break;
		case 's': subject = optarg; break;
		case 'e': event = optarg; break;
		case 't':
			if (cli_time(optarg, &at))
				return cli_fail("policy", "--at must be a date or RFC 3339 time");
			break;
		case 'n': note = optarg; break;
		case 'h': cli_usage("policy", stdout); return EXIT_OK;
		default: cli_usage("policy", stderr); return EXIT_ERROR;
		}
	}
	archive = cli_archive(archive);
	if (archive == NULL || subject == NULL || event == NULL || at == CL_TIME_NONE ||
	    optind != argc) {
		cli_usage("policy", stderr);
		return EXIT_ERROR;
	}
	if ((rc = cl_ledger_open(archive, CL_OPEN_WRITE, &l, &err)))
		return cli_fail_rc("policy", rc, err);
	rc = cl_retention_event_record(l, subject, event, at, note, &idx, &err);
	cl_ledger_close(l);
	if (rc)
		return cli_fail_rc("policy", rc, err);
	printf("event '%s' recorded (entry %llu)\n", event, (unsigned long long)idx);
	return EXIT_OK;
}

static int policy_explain(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "archive", required_argument, NULL, 'a' },
		{ "index", required_argument, NULL, 'i' },
		{ "policy", required_argument, NULL, 'p' },
		{ "now", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *archive = NULL, *pfile = NULL;
	unsigned long long index = 0;
	int64_t now = cl_time_now_ms();
	struct cl_policy *p = NULL;
	struct cl_ledger *l = NULL;
	json_t *j = NULL;
	char *err = NULL;
	int c, rc, code, have = 0, json = 0;

	while ((c = getopt_long(argc, argv, "a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': archive = optarg; break;
		case 'i':
			if (cli_u64(optarg, &index))
				return cli_fail("policy", "--index must be an entry index");
			have = 1;
			break;
		case 'p': pfile = optarg; break;
		case 't':
			if (cli_time(optarg, &now))
				return cli_fail("policy", "--now must be a date or RFC 3339 time");
			break;
		case 'j': json = 1; break;
		case 'h': cli_usage("policy", stdout); return EXIT_OK;
		default: cli_usage("policy", stderr); return EXIT_ERROR;
		}
	}
	archive = cli_archive(archive);
	if (archive == NULL || !have || optind != argc) {
		cli_usage("policy", stderr);
		return EXIT_ERROR;
	}
	if ((code = cli_load_policy("policy", archive, pfile, &p)) != EXIT_OK)
		return code;
	/* Matching needs the tag key, which only writers load. */
	if ((rc = cl_ledger_open(archive, CL_OPEN_WRITE, &l, &err)) == CL_OK)
		rc = cl_retention_explain(l, p, index, now, &j, &err);
	cl_ledger_close(l);
	if (rc) {
		cl_policy_free(p);
		return cli_fail_rc("policy", rc, err);
	}
	if (json) {
		json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
	} else {
		json_t *r, *h;
		size_t i;

		printf("entry %llu (%s, %s), sent %s\n", index,
		       json_string_value(json_object_get(j, "type")),
		       json_string_value(json_object_get(j, "kind")),
		       json_string_value(json_object_get(j, "sent_at")) ?
		       json_string_value(json_object_get(j, "sent_at")) : "-");
		printf("decision: %s", json_string_value(json_object_get(j, "decision")));
		if (json_object_get(j, "reason"))
			printf(" (%s)", json_string_value(json_object_get(j, "reason")));
		printf("\nretain until: %s\nerase after:  %s\n",
		       json_string_value(json_object_get(j, "retain_until")) ?
		       json_string_value(json_object_get(j, "retain_until")) : "-",
		       json_string_value(json_object_get(j, "erase_after")) ?
		       json_string_value(json_object_get(j, "erase_after")) : "-");
		json_array_foreach(json_object_get(j, "rules"), i, r) {
			printf("rule %s: clock %s from %s, minimum %s until %s, maximum %s -> %s [%s]\n  basis: %s\n",
			       json_string_value(json_object_get(r, "rule")),
			       json_string_value(json_object_get(r, "clock")),
			       json_string_value(json_object_get(r, "start")) ?
			       json_string_value(json_object_get(r, "start")) : "(event not recorded)",
			       json_string_value(json_object_get(r, "minimum")),
			       json_string_value(json_object_get(r, "retain_until")) ?
			       json_string_value(json_object_get(r, "retain_until")) : "-",
			       json_string_value(json_object_get(r, "maximum")) ?
			       json_string_value(json_object_get(r, "maximum")) : "none",
			       json_string_value(json_object_get(r, "erase_after")) ?
			       json_string_value(json_object_get(r, "erase_after")) : "-",
			       json_string_value(json_object_get(r, "confidence")),
			       json_string_value(json_object_get(r, "basis")));
		}
		json_array_foreach(json_object_get(j, "holds"), i, h)
			printf("held by case %s\n", json_string_value(json_object_get(h, "case")));
	}
	json_decref(j);
	cl_policy_free(p);
	return EXIT_OK;
}

static int policy_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "archive", required_argument, NULL, 'a' },
		{ "policy", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *archive = NULL, *pfile = NULL;
	struct cl_policy *p = NULL;
	struct cl_buf out;
	struct cl_ledger *l = NULL;
	struct cl_retention_stats st;
	size_t conflicts = 0, i, assumed = 0;
	char *err = NULL;
	int c, rc, code;

	while ((c = getopt_long(argc, argv, "a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': archive = optarg; break;
		case 'p': pfile = optarg; break;
		case 'h': cli_usage("policy", stdout); return EXIT_OK;
		default: cli_usage("policy", stderr); return EXIT_ERROR;
		}
	}
	archive = cli_archive(archive);
	if (archive == NULL || optind != argc) {
		cli_usage("policy", stderr);
		return EXIT_ERROR;
	}
	if ((code = cli_load_policy("policy", archive, pfile, &p)) != EXIT_OK)
		return code;
	cl_buf_init(&out, 1 << 20);
	rc = cl_policy_check(p, &out, &conflicts);
	if (rc == CL_OK && out.len)
		fwrite(out.data, 1, out.len, stdout);
	for (i = 0; i < cl_policy_rule_count(p); i++)
		assumed += cl_policy_rule_assumed(p, i) == 1;
	/* Records that no rule matches: a dry run at the current time. */
	if (rc == CL_OK && (rc = cl_ledger_open(archive, CL_OPEN_WRITE, &l, &err)) == CL_OK)
		rc = cl_retention_run(l, p, cl_time_now_ms(), 1, 1000, &st, &err);
	cl_ledger_close(l);
	if (rc == CL_OK)
		printf("policy: %zu rules, %zu conflicts, %zu assumed; %llu records examined,"
		       " %llu matched by no rule\n",
		       cl_policy_rule_count(p), conflicts, assumed,
		       (unsigned long long)st.examined, (unsigned long long)st.norule);
	cl_buf_release(&out);
	cl_policy_free(p);
	if (rc)
		return cli_fail_rc("policy", rc, err);
	return conflicts ? EXIT_TAMPERED : EXIT_OK;
}

int cmd_policy(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "event") == 0)
		return policy_event(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "explain") == 0)
		return policy_explain(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return policy_check(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		cli_usage("policy", stdout);
		return EXIT_OK;
	}
	cli_usage("policy", stderr);
	return EXIT_ERROR;
}
