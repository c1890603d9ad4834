/*
 * status.c - reading DIR/wa/state.json for `chatledger status`
 * (status.h).  The keys are the ones collector.c writes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "archiver/wa/binary.h"
#include "archiver/wa/status.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

void cl_wa_status_init(struct cl_wa_status *st)
{
	memset(st, 0, sizeof(*st));
	st->paired_at = CL_TIME_NONE;
	st->connected_since = CL_TIME_NONE;
	st->last_stanza_at = CL_TIME_NONE;
	st->phone_last_seen = CL_TIME_NONE;
	st->phone_warning_at = CL_TIME_NONE;
	st->gap_open_since = CL_TIME_NONE;
	st->updated_at = CL_TIME_NONE;
}

void cl_wa_status_release(struct cl_wa_status *st)
{
	if (st == NULL)
		return;
	free(st->state);
	free(st->jid);
	free(st->lid);
	free(st->last_end_reason);
	free(st->devices);
	cl_wa_status_init(st);
}

/* A copy of the string at `key` into *out (NULL when absent or not a
 * string); CL_ENOMEM. */
static int get_str(const json_t *o, const char *key, char **out)
{
	const char *v = json_string_value(json_object_get(o, key));

	*out = NULL;
	if (v == NULL)
		return CL_OK;
	*out = strdup(v);
	return *out ? CL_OK : CL_ENOMEM;
}

/* The time at `key` (an RFC 3339 string), or CL_TIME_NONE. */
static int64_t get_time(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	int64_t ms;

	if (!json_is_string(v) ||
	    cl_time_parse(json_string_value(v), json_string_length(v),
			  &ms) != CL_OK)
		return CL_TIME_NONE;
	return ms;
}

/* The integer at `key`: 1 and *out, or 0 when absent or not an integer. */
static int get_int(const json_t *o, const char *key, int64_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return 0;
	*out = (int64_t)json_integer_value(v);
	return 1;
}

int cl_wa_status_read(const char *dir, struct cl_wa_status *st, char **err)
{
	struct cl_wa_status s;
	struct cl_wa_jid pj;
	struct stat sb;
	json_error_t je;
	json_t *o = NULL;
	char *path;
	int rc = CL_OK;

	cl_wa_status_init(st);
	cl_wa_status_init(&s);
	path = cl_strdupf("%s/wa/" CL_WA_STATE_FILE, dir);
	if (path == NULL) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	if (stat(path, &sb) != 0 && errno == ENOENT) {
		rc = cl_error(err, CL_ENOTFOUND, "no collector state: %s",
			      path);
		goto out;
	}
	o = json_load_file(path, 0, &je);
	if (o == NULL || !json_is_object(o)) {
		rc = cl_error(err, CL_ECORRUPT, "%s: %s", path,
			      o ? "not a JSON object" : je.text);
		goto out;
	}
	if ((rc = get_str(o, "state", &s.state)) ||
	    (rc = get_str(o, "jid", &s.jid)) ||
	    (rc = get_str(o, "lid", &s.lid)) ||
	    (rc = get_str(o, "last_end_reason", &s.last_end_reason))) {
		rc = cl_error(err, rc, "out of memory");
		goto out;
	}
	if (s.jid && cl_wa_jid_parse(s.jid, strlen(s.jid), &pj) == CL_OK &&
	    pj.form == CL_WA_JID_AD) {
		s.has_device = 1;
		s.device = pj.device;
	}
	s.paired_at = get_time(o, "paired_at");
	s.connected_since = get_time(o, "connected_since");
	s.last_stanza_at = get_time(o, "last_stanza_at");
	s.gap_open_since = get_time(o, "gap_open_since");
	s.updated_at = get_time(o, "updated_at");
	s.has_server_offset = get_int(o, "server_offset_ms",
				      &s.server_offset_ms);
	s.has_logged_out_code = get_int(o, "logged_out_code",
					&s.logged_out_code);
	s.has_messages = get_int(o, "messages_archived", &s.messages_archived);
	s.phone_last_seen = get_time(o, "phone_last_seen");
	s.phone_warning_at = get_time(o, "phone_warning_at");
	if (json_is_array(json_object_get(o, "devices")) &&
	    (s.devices = json_dumps(json_object_get(o, "devices"),
				    JSON_COMPACT)) == NULL) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	*st = s;
	cl_wa_status_init(&s);
out:
	cl_wa_status_release(&s);
	json_decref(o);
	free(path);
	return rc;
}
