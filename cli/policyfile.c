/*
 * policyfile.c - find and load the retention policy for a command:
 * --policy FILE, else [retention] policy in chatledger.conf (relative to
 * the archive directory).
 */
#include <stdio.h>
#include <stdlib.h>

#include "archiver/config/config.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/util.h"
#include "policy/policy.h"
#include <string.h>
#include "common/banned.h"

int cli_load_policy(const char *cmd, const char *archive, const char *opt,
		    struct cl_policy **out)
{
	struct cl_config conf;
	char *path = NULL, *err = NULL;
	int rc;

	*out = NULL;
	if (opt == NULL) {
		if ((rc = cl_config_load(archive, &conf, &err)))
			return cli_fail_rc(cmd, rc, err);
		if (conf.policy[0] == 0)
			return cli_fail(cmd, "no retention policy: give --policy FILE or set"
					" [retention] policy in %s/chatledger.conf", archive);
		if (conf.policy[0] == '/')
			path = strdup(conf.policy);
		else if (asprintf(&path, "%s/%s", archive, conf.policy) < 0)
			path = NULL;
		if (path == NULL)
			return cli_fail(cmd, "out of memory");
	}
	rc = cl_policy_load(opt ? opt : path, out, &err);
	free(path);
	if (rc)
		return cli_fail(cmd, "%s; nothing was changed", err ? err : "cannot load the policy"),
		       free(err), EXIT_ERROR;
	return EXIT_OK;
}

int cli_time(const char *s, int64_t *ms)
{
	char buf[40];

	if (cl_time_parse(s, strlen(s), ms) == CL_OK)
		return 0;
	/* A bare date means midnight UTC of that day. */
	if (strlen(s) == 10 && snprintf(buf, sizeof(buf), "%sT00:00:00Z", s) > 0 &&
	    cl_time_parse(buf, strlen(buf), ms) == CL_OK)
		return 0;
	return -1;
}
