/*
 * devices.c - the business number's device list (devices.h).
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "archiver/ledger/ledger.h"
#include "archiver/wa/devices.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define MAX_DEV 128

/* "user:N" of a device JID "user[:N]@server" (device 0 when absent). */
static int dev_name(const char *jid, char *out, size_t cap)
{
	const char *at, *colon;
	size_t ulen;

	if (jid == NULL || (at = strchr(jid, '@')) == NULL)
		return CL_EINVAL;
	colon = memchr(jid, ':', (size_t)(at - jid));
	ulen = (size_t)((colon ? colon : at) - jid);
	if (ulen == 0)
		return CL_EINVAL;
	return cl_fmt(out, cap, "%.*s:%ld", (int)ulen, jid,
		      colon ? strtol(colon + 1, NULL, 10) : 0L);
}

static const struct cl_wa_node *kid(const struct cl_wa_node *n,
				    const char *tag)
{
	return n ? cl_wa_node_child(n, tag) : NULL;
}

static int cov(struct cl_ledger *l, const char *kind, json_t *body,
	       char **err)
{
	struct cl_entry_in in;
	enum cl_append_outcome dup;
	uint64_t idx;
	char *txt;
	int rc;

	json_object_set_new(body, "source",
			    json_string("whatsapp-linked-device"));
	txt = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(body);
	if (txt == NULL)
		return CL_ENOMEM;
	memset(&in, 0, sizeof(in));
	in.type = CL_ENTRY_COVERAGE;
	in.kind = kind;
	in.sent_at = CL_TIME_NONE;
	in.received_at = cl_time_now_ms();
	in.body = txt;
	in.body_len = strlen(txt);
	rc = cl_ledger_append(l, &in, &idx, &dup, err);
	free(txt);
	return rc;
}

static int exec1(sqlite3 *db, const char *sql, const char *dev, int64_t a,
		 int64_t b)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return CL_EIO;
	sqlite3_bind_text(st, 1, dev, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, a);
	sqlite3_bind_int64(st, 3, b);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? CL_OK : CL_EIO;
}

/* 1 and first_seen when the device is linked now, 0 when not. */
static int linked(sqlite3 *db, const char *dev, int64_t *first)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT first_seen FROM wa_device WHERE device = ?1 AND removed_at IS NULL",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, dev, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*first = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int add_dev(struct cl_ledger *l, const char *dev, const char *jid,
		   int baseline, int own, int64_t now, json_t *alerts,
		   char **err)
{
	sqlite3 *db = cl_ledger_sqlite(l);
	int64_t first = 0;
	int k = linked(db, dev, &first), alert, rc;
	char ts[32];

	if (k < 0)
		return CL_EIO;
	if (k == 1)
		return exec1(db, "UPDATE wa_device SET last_seen = ?2 WHERE device = ?1 AND ?3 >= 0",
			     dev, now, 0);
	alert = !baseline && !own;
	cl_time_format(now, ts);
	rc = cov(l, "wa-device-added",
		 json_pack("{s:s, s:s?, s:s, s:b, s:b, s:b}", "device", dev,
			   "jid", jid, "first_seen", ts, "baseline", baseline,
			   "own", own, "alert", alert), err);
	if (rc == CL_OK)
		rc = exec1(db, "INSERT OR REPLACE INTO wa_device(device, first_seen, last_seen, removed_at) VALUES (?1, ?2, ?3, NULL)",
			   dev, now, now);
	if (rc == CL_OK && alert)
		json_array_append_new(alerts, json_pack(
			"{s:s, s:s, s:s?, s:s, s:s}", "alert",
			"wa-unknown-device", "device", dev, "jid", jid, "at",
			ts, "message",
			"a new device was linked to the business WhatsApp number"));
	return rc;
}

static int remove_dev(struct cl_ledger *l, const char *dev, int64_t now,
		      char **err)
{
	sqlite3 *db = cl_ledger_sqlite(l);
	int64_t first = 0;
	int k = linked(db, dev, &first), rc;
	char f[32], ts[32];

	if (k <= 0)
		return k < 0 ? CL_EIO : CL_OK;
	cl_time_format(first, f);
	cl_time_format(now, ts);
	rc = cov(l, "wa-device-removed",
		 json_pack("{s:s, s:s, s:s}", "device", dev, "first_seen", f,
			   "removed_seen", ts), err);
	if (rc == CL_OK)
		rc = exec1(db, "UPDATE wa_device SET removed_at = ?2, last_seen = ?3 WHERE device = ?1",
			   dev, now, now);
	return rc;
}

static int apply(struct cl_ledger *l, const char *own_dev,
		 const struct cl_wa_node *n, int full, int64_t now,
		 json_t *alerts, char **err)
{
	sqlite3 *db = cl_ledger_sqlite(l);
	sqlite3_stmt *st = NULL;
	int baseline = 0, rc = CL_OK;
	size_t i, j;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM wa_device", -1, &st,
			       NULL) != SQLITE_OK)
		return CL_EIO;
	if (sqlite3_step(st) == SQLITE_ROW)
		baseline = sqlite3_column_int64(st, 0) == 0;
	sqlite3_finalize(st);
	if (full) {
		const struct cl_wa_node *user = kid(kid(kid(n, "usync"), "list"),
						    "user");
		const struct cl_wa_node *dl = kid(kid(user, "devices"),
						  "device-list");
		const char *ujid = user ? cl_wa_node_attr_str(user, "jid") :
			NULL;
		const char *at = ujid ? strchr(ujid, '@') : NULL;
		char (*seen)[96];
		size_t nseen = 0;

		if (dl == NULL || at == NULL || dl->kind != CL_WA_LIST)
			return CL_OK; /* nothing usable: change nothing */
		seen = calloc(MAX_DEV, sizeof(*seen));
		if (seen == NULL)
			return CL_ENOMEM;
		for (i = 0; i < dl->nchildren && rc == CL_OK &&
		     nseen < MAX_DEV; i++) {
			const char *id = cl_wa_node_attr_str(dl->children[i],
							     "id");
			char jid[160];

			if (id == NULL ||
			    cl_fmt(jid, sizeof(jid), "%.*s:%s%s",
				   (int)(at - ujid), ujid, id, at) ||
			    dev_name(jid, seen[nseen], sizeof(seen[0])))
				continue;
			rc = add_dev(l, seen[nseen],
				     strcmp(id, "0") ? jid : NULL, baseline,
				     strcmp(seen[nseen], own_dev) == 0, now,
				     alerts, err);
			nseen++;
		}
		/* linked devices missing from the full list were removed */
		if (rc == CL_OK &&
		    sqlite3_prepare_v2(db, "SELECT device FROM wa_device WHERE removed_at IS NULL",
				       -1, &st, NULL) == SQLITE_OK) {
			char gone[MAX_DEV][96];
			size_t ngone = 0;

			while (sqlite3_step(st) == SQLITE_ROW && ngone < MAX_DEV) {
				const char *d = (const char *)sqlite3_column_text(st, 0);
				int found = 0;

				for (j = 0; d && j < nseen; j++)
					found |= strcmp(d, seen[j]) == 0;
				if (d && !found &&
				    cl_fmt(gone[ngone], sizeof(gone[0]), "%s", d) == CL_OK)
					ngone++;
			}
			sqlite3_finalize(st);
			for (j = 0; j < ngone && rc == CL_OK; j++)
				rc = remove_dev(l, gone[j], now, err);
		}
		free(seen);
		return rc;
	}
	for (i = 0; n->kind == CL_WA_LIST && i < n->nchildren && rc == CL_OK;
	     i++) {
		const struct cl_wa_node *ch = n->children[i];
		int add = strcmp(ch->tag, "add") == 0;

		if (!add && strcmp(ch->tag, "remove") != 0)
			continue;
		for (j = 0; ch->kind == CL_WA_LIST && j < ch->nchildren &&
		     rc == CL_OK; j++) {
			const struct cl_wa_node *d = ch->children[j];
			const char *jid = cl_wa_node_attr_str(d, "jid");
			char dev[96];

			if (strcmp(d->tag, "device") != 0 ||
			    dev_name(jid, dev, sizeof(dev)))
				continue;
			rc = add ? add_dev(l, dev, jid, 0,
					   strcmp(dev, own_dev) == 0, now,
					   alerts, err) :
				remove_dev(l, dev, now, err);
		}
	}
	return rc;
}

static json_t *device_list(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	json_t *a = json_array();

	if (sqlite3_prepare_v2(db, "SELECT device, first_seen, last_seen FROM wa_device WHERE removed_at IS NULL ORDER BY device",
			       -1, &st, NULL) != SQLITE_OK)
		return a;
	while (sqlite3_step(st) == SQLITE_ROW) {
		char f[32], ls[32];

		cl_time_format(sqlite3_column_int64(st, 1), f);
		cl_time_format(sqlite3_column_int64(st, 2), ls);
		json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "device",
						   (const char *)sqlite3_column_text(st, 0),
						   "first_seen", f, "last_seen", ls));
	}
	sqlite3_finalize(st);
	return a;
}

int cl_wa_devices_update(struct cl_ledger *l, const char *own_jid,
			 const struct cl_wa_node *n, int full, int64_t now_ms,
			 json_t **alerts, json_t **list, char **err)
{
	sqlite3 *db = cl_ledger_sqlite(l);
	char own[96] = "";
	int rc;

	*alerts = json_array();
	*list = NULL;
	if (*alerts == NULL)
		return CL_ENOMEM;
	(void)dev_name(own_jid, own, sizeof(own));
	if ((rc = cl_ledger_begin(l, err)))
		return rc;
	if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS wa_device(device TEXT PRIMARY KEY, "
			 "first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, removed_at INTEGER)",
			 NULL, NULL, NULL) != SQLITE_OK)
		rc = cl_error(err, CL_EIO, "cannot create wa_device: %s",
			      sqlite3_errmsg(db));
	if (rc == CL_OK)
		rc = apply(l, own, n, full, now_ms, *alerts, err);
	if (rc == CL_OK)
		rc = cl_ledger_commit(l, err);
	else
		cl_ledger_rollback(l);
	if (rc) {
		json_decref(*alerts);
		*alerts = NULL;
		return rc;
	}
	*list = device_list(db);
	return CL_OK;
}
