#!/bin/sh
# t22-columns: every stored byte is committed or checked.  For every table
# of ledger.db (read from sqlite_master, so a new table is covered without
# editing this test) and every column of it, one row's value is changed on
# a fresh copy of a small archive that has every kind of row, and `verify`
# must exit 1.  The columns deliberately outside the commitments are the
# fenced `columns-outside` block of docs/FORMAT.md §10; the test prints
# that list and requires it to equal the set of columns whose change
# verify did not report.
. "$(dirname "$0")/lib.sh"

B="$T/base"
new_archive "$B"
# 300 records (stored tree nodes start at 256 leaves), some twice (the
# second delivery is a duplicate: nothing stored), a bad line (quarantine).
gen_records 20 0 7 | sed 's/^{/{"labels":["enquiry"],/' >"$T/in.jsonl"
gen_records 280 20 7 >>"$T/in.jsonl"
gen_records 5 0 7 >>"$T/in.jsonl"
echo '{"not": "a record"}' >>"$T/in.jsonl"
"$CHATLEDGER" ingest -a "$B" --format jsonl --batch 100 "$T/in.jsonl" >/dev/null 2>&1
# A hold (control entry) on one conversation, then erase the rest by a
# policy far in the future: tombstones, erased entries, payloads kept.
"$CHATLEDGER" hold add -a "$B" --case T22/1 --reason test \
	--participant 85290000000@s.whatsapp.net >/dev/null
"$CHATLEDGER" retain -a "$B" --policy "$CL_ROOT/config/policies/hk-pdpo-default.policy" \
	--now 2060-01-01 >/dev/null
# The side table of FORMAT.md §4, with a row.
sql "$B/ledger.db" "CREATE TABLE IF NOT EXISTS media_pending(idx INTEGER PRIMARY KEY,
  media_id TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL)" >/dev/null
sql "$B/ledger.db" "INSERT INTO media_pending VALUES (3, 'media-3', 0, 1700000000)" >/dev/null
expect_exit "the base archive verifies" 0 "$CHATLEDGER" verify -a "$B"
for what in "payload" "sealed_key" "key_batch" "node" "checkpoint" "media_pending" \
	"entry WHERE type = 2" "entry WHERE type = 4" "entry WHERE type = 5" \
	"entry WHERE attrs IS NOT NULL" "dedup WHERE ch IS NOT NULL"; do
	n=$(sql "$B/ledger.db" "SELECT count(*) FROM $what")
	[ "${n:-0}" -gt 0 ] && ok "the base archive has rows: $what ($n)" ||
		notok "the base archive has rows: $what"
done

# The mutations: "TABLE COLUMN N" per line, N counting the ways that
# column is changed (a value changed, and a NULL set where one exists).
python3 - "$B/ledger.db" >"$T/plan" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                       " AND name NOT LIKE 'sqlite_%' ORDER BY name"):
    for c in db.execute("PRAGMA table_info(%s)" % t).fetchall():
        print(t, c[1])
PY

# mutate DB TABLE COLUMN MODE: change one row's COLUMN (MODE value: the
# last row, in column order, whose value is not NULL; MODE null: a row
# where it is NULL gets a value).  Exit 3 when there is no such row.
mutate() {
	python3 - "$@" <<'PY'
import sqlite3, sys
path, t, c, mode = sys.argv[1:5]
db = sqlite3.connect(path)
cols = [r[1] for r in db.execute("PRAGMA table_info(%s)" % t)]
order = ", ".join(cols)
cond = "IS NOT NULL" if mode == "value" else "IS NULL"
rows = db.execute("SELECT %s FROM %s WHERE %s %s ORDER BY %s"
                  % (order, t, c, cond, order)).fetchall()
if not rows:
    sys.exit(3)
row = rows[-1]
v = row[cols.index(c)]
decl = [r[2].upper() for r in db.execute("PRAGMA table_info(%s)" % t)][cols.index(c)]
if v is None:
    new = {"BLOB": [b"\x01" * 8], "INTEGER": [1], "TEXT": ["x"]}.get(decl, [1]) + \
        [b"\x01" * 8, 1, "x"]
elif isinstance(v, bytes):
    b = bytearray(v)
    b[len(b) // 2] ^= 0x01
    new = [bytes(b)]
elif isinstance(v, int):
    new = [v + 1, v - 1]
elif isinstance(v, float):
    new = [v + 1]
else:
    s = list(v)
    s[len(s) // 2] = "x" if s[len(s) // 2] != "x" else "y"
    new = ["".join(s)]
where = " AND ".join("%s IS ?" % k for k in cols)
for n in new:
    try:
        db.execute("UPDATE %s SET %s = ? WHERE %s" % (t, c, where), [n] + list(row))
        db.commit()
        sys.exit(0)
    except sqlite3.IntegrityError:
        db.rollback()
sys.exit(4)
PY
}

: >"$T/outside"
while read -r table column; do
	detected=1 tried=0
	for mode in value null; do
		rm -rf "$T/c"; cp -a "$B" "$T/c"
		mutate "$T/c/ledger.db" "$table" "$column" "$mode"
		m=$?
		[ "$m" -eq 3 ] && continue
		if [ "$m" -ne 0 ]; then
			notok "$table.$column ($mode): cannot change it (mutate exit $m)"
			continue
		fi
		tried=1
		"$CHATLEDGER" verify -a "$T/c" >"$T/out" 2>&1
		rc=$?
		[ "$rc" -eq 1 ] || detected=0
		echo "# $table.$column ($mode): verify exit $rc: $(grep -m1 -i 'fail\|problem\|entry\|not ' "$T/out" | cut -c1-120)"
	done
	[ "$tried" -eq 1 ] || notok "$table.$column: no row to change"
	[ "$detected" -eq 1 ] || echo "$table.$column" >>"$T/outside"
done <"$T/plan"

sed -n '/^```columns-outside$/,/^```$/p' "$CL_ROOT/docs/FORMAT.md" | sed '1d;$d' | sort >"$T/listed"
sort -o "$T/outside" "$T/outside"
echo "# columns deliberately outside the commitments (docs/FORMAT.md §10):"
sed 's/^/#   /' "$T/listed"
[ -s "$T/listed" ] && ok "FORMAT.md lists the columns outside" || notok "FORMAT.md lists the columns outside"
if cmp -s "$T/listed" "$T/outside"; then
	ok "exactly the listed columns can change without verify failing"
else
	notok "exactly the listed columns can change without verify failing"
	diff "$T/listed" "$T/outside" | sed 's/^/#   /'
fi
t_done
