/*
 * test_wa_status.c - reading the collector's state file (status.c):
 * every field, absent and wrongly typed values, the device number, a
 * missing file, a damaged one, and ownership (release, out-param left
 * empty on failure).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archiver/wa/status.h"
#include "common/status.h"
#include "common/util.h"
#include "tests/unit/tap.h"
#include "tests/wa/scratch.h"

/* Write DIR/wa/state.json with `text` (NULL: remove it). */
static void put_state(const char *text)
{
	char p[128];
	FILE *f;

	snprintf(p, sizeof(p), "%s/wa/" CL_WA_STATE_FILE, tmpdir);
	remove(p);
	if (text == NULL)
		return;
	f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_full(void)
{
	struct cl_wa_status st;
	char *err = NULL, b[32];
	int rc;

	put_state("{\"state\":\"connected\","
		  "\"jid\":\"85291234567:7@s.whatsapp.net\","
		  "\"lid\":\"1234:7@lid\","
		  "\"paired_at\":\"2026-01-02T03:04:05.678Z\","
		  "\"connected_since\":\"2026-01-02T03:05:00.000Z\","
		  "\"last_stanza_at\":\"2026-01-02T03:06:00.001Z\","
		  "\"gap_open_since\":null,"
		  "\"last_end_reason\":\"stream error 503\","
		  "\"server_offset_ms\":-12,"
		  "\"logged_out_code\":401,"
		  "\"updated_at\":\"2026-01-02T03:06:01.000Z\","
		  "\"pid\":42}");
	rc = cl_wa_status_read(tmpdir, &st, &err);
	TAP_EQ_INT(rc, CL_OK, "full: read");
	TAP_OK(err == NULL, "full: no message");
	TAP_EQ_STR(st.state, "connected", "full: state");
	TAP_EQ_STR(st.jid, "85291234567:7@s.whatsapp.net", "full: jid");
	TAP_OK(st.has_device && st.device == 7, "full: device 7");
	TAP_EQ_STR(st.lid, "1234:7@lid", "full: lid");
	cl_time_format(st.paired_at, b);
	TAP_EQ_STR(b, "2026-01-02T03:04:05.678Z", "full: paired_at");
	cl_time_format(st.connected_since, b);
	TAP_EQ_STR(b, "2026-01-02T03:05:00.000Z", "full: connected_since");
	cl_time_format(st.last_stanza_at, b);
	TAP_EQ_STR(b, "2026-01-02T03:06:00.001Z", "full: last_stanza_at");
	TAP_OK(st.gap_open_since == CL_TIME_NONE, "full: no open gap (null)");
	TAP_EQ_STR(st.last_end_reason, "stream error 503", "full: reason");
	TAP_OK(st.has_server_offset && st.server_offset_ms == -12,
	       "full: server offset");
	TAP_OK(st.has_logged_out_code && st.logged_out_code == 401,
	       "full: logged-out code");
	cl_time_format(st.updated_at, b);
	TAP_EQ_STR(b, "2026-01-02T03:06:01.000Z", "full: updated_at");
	cl_wa_status_release(&st);
	TAP_OK(st.state == NULL && st.jid == NULL &&
	       st.updated_at == CL_TIME_NONE, "release: back to empty");
	cl_wa_status_release(NULL);
}

static void test_sparse(void)
{
	struct cl_wa_status st;
	int rc;

	put_state("{\"state\":7,\"jid\":\"85291234567@s.whatsapp.net\","
		  "\"connected_since\":\"yesterday\","
		  "\"server_offset_ms\":\"12\",\"logged_out_code\":null}");
	rc = cl_wa_status_read(tmpdir, &st, NULL);
	TAP_EQ_INT(rc, CL_OK, "sparse: read");
	TAP_OK(st.state == NULL, "sparse: a non-string state is absent");
	TAP_EQ_STR(st.jid, "85291234567@s.whatsapp.net", "sparse: jid");
	TAP_OK(!st.has_device, "sparse: a user JID has no device");
	TAP_OK(st.lid == NULL && st.last_end_reason == NULL,
	       "sparse: absent strings are NULL");
	TAP_OK(st.connected_since == CL_TIME_NONE && st.paired_at ==
	       CL_TIME_NONE, "sparse: bad or absent times are CL_TIME_NONE");
	TAP_OK(!st.has_server_offset && !st.has_logged_out_code,
	       "sparse: non-integers are absent");
	cl_wa_status_release(&st);
}

static void test_failures(void)
{
	struct cl_wa_status st;
	char *err = NULL;
	int rc;

	put_state(NULL);
	memset(&st, 0x5a, sizeof(st));
	rc = cl_wa_status_read(tmpdir, &st, &err);
	TAP_EQ_INT(rc, CL_ENOTFOUND, "no state file: CL_ENOTFOUND");
	TAP_OK(err != NULL, "no state file: a message (%s)",
	       err ? err : "(none)");
	TAP_OK(st.state == NULL && st.jid == NULL &&
	       st.updated_at == CL_TIME_NONE, "no state file: *st empty");
	free(err);
	err = NULL;

	put_state("{\"state\": ");
	rc = cl_wa_status_read(tmpdir, &st, &err);
	TAP_EQ_INT(rc, CL_ECORRUPT, "damaged JSON: CL_ECORRUPT");
	TAP_OK(err != NULL, "damaged JSON: a message (%s)",
	       err ? err : "(none)");
	free(err);
	err = NULL;

	put_state("[\"state\"]");
	rc = cl_wa_status_read(tmpdir, &st, &err);
	TAP_EQ_INT(rc, CL_ECORRUPT, "not an object: CL_ECORRUPT");
	TAP_OK(st.state == NULL, "not an object: *st empty");
	free(err);
}

int main(void)
{
	char p[128];

	if (scratch_make("cl-wa-status") != 0) {
		TAP_OK(0, "scratch directory");
		return tap_done();
	}
	snprintf(p, sizeof(p), "%s/wa", tmpdir);
	TAP_OK(mkdir(p, 0700) == 0, "DIR/wa created");
	test_full();
	test_sparse();
	test_failures();
	put_state(NULL);
	scratch_remove();
	return tap_done();
}
