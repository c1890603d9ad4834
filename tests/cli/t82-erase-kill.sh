#!/bin/sh
# t82-erase-kill: an erasure interrupted by SIGKILL is finished by the
# next writer (issue 10, docs/FORMAT.md §4 meta 'scrub-pending').
#
# `retain` is killed after some but not all of its batches committed; one
# other writer (`hold add`) then runs.  Afterwards no ciphertext or
# wrapped key of an erased entry is left in any file of the archive
# (ledger.db, ledger.db-wal, ...): the payloads are compressed and
# encrypted, so the check searches the raw files for fragments of the
# erased entries' stored ciphertext and wrapped keys, read from a copy of
# the archive taken before the retain.  verify exits 0.
#   CL_ERASE_N  records (default 10000)
. "$(dirname "$0")/lib.sh"

N=${CL_ERASE_N:-10000}
ACC=85290000001@s.whatsapp.net
P="$CL_ROOT/config/policies/hk-pdpo-default.policy"
A="$T/a"
payloads() { "$CHATLEDGER" status -a "$1" --json | sed 's/.*"payloads":\([0-9]*\).*/\1/'; }

# N enquiries from 2021 (due under the PDPO default in 2030), each text
# carrying a unique marker string.
new_archive "$T/pristine"
awk -v n="$N" -v acc="$ACC" 'BEGIN { for (i = 0; i < n; i++)
	printf "{\"account\":\"%s\",\"conversation\":{\"id\":\"8529%07d@s.whatsapp.net\"},\"id\":\"e%d\",\"sender\":{\"id\":\"x\"},\"direction\":\"in\",\"sent_at\":\"2021-01-01T00:00:00Z\",\"kind\":\"text\",\"text\":\"scrubmarker-%06d-zq\",\"labels\":[\"enquiry\"]}\n", acc, i % 200, i, i }' >"$T/in.jsonl"
expect_exit "ingest $N records" 0 "$CHATLEDGER" ingest -a "$T/pristine" --format jsonl "$T/in.jsonl"

# Fragments of every payload's ciphertext and wrapped key, by index, from
# a copy (opening the live files with python3 could checkpoint them).
cp -R "$T/pristine" "$T/before"
python3 - "$T/before/ledger.db" "$T/frag" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
with open(sys.argv[2], "w") as out:
    for idx, ct in db.execute("SELECT idx, ct FROM payload"):
        out.write("%d c %s\n" % (idx, bytes(ct[25:57]).hex()))
    for idx, w in db.execute("SELECT idx, wrapped FROM sealed_key"):
        out.write("%d k %s\n" % (idx, bytes(w[:32]).hex()))
PY

# Kill retain with growing delays until it stopped part way: some but
# not all payloads erased.  Each try starts from the pristine archive.
d=0.25
tries=0
left=$N
while [ "$tries" -lt 40 ]; do
	tries=$((tries + 1))
	rm -rf "$A"
	cp -R "$T/pristine" "$A"
	"$CHATLEDGER" retain -a "$A" --policy "$P" --now 2030-01-01 >/dev/null 2>&1 &
	pid=$!
	sleep "$d"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	left=$(payloads "$A")
	[ "$left" -gt 0 ] && [ "$left" -lt "$N" ] && break
	if [ "$left" -eq "$N" ]; then
		d=$(awk -v d="$d" 'BEGIN { printf "%.3f", d * 1.4 }')
	else
		d=$(awk -v d="$d" 'BEGIN { printf "%.3f", d * 0.6 }')
	fi
done
if [ "$left" -gt 0 ] && [ "$left" -lt "$N" ]; then
	ok "retain killed part way ($((N - left)) of $N erased, try $tries, ${d}s)"
else
	notok "retain killed part way (payloads left: $left after $tries tries)"
	t_done
	exit 1
fi

# Which entries lost their payload, read from a copy of the killed archive.
cp -R "$A" "$T/killed"
python3 - "$T/killed/ledger.db" "$T/frag" "$T/gone" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
have = {r[0] for r in db.execute("SELECT idx FROM payload")}
have |= {r[0] for r in db.execute("SELECT idx FROM sealed_key")}
with open(sys.argv[2]) as f, open(sys.argv[3], "w") as out:
    for line in f:
        idx, _, h = line.split()
        if int(idx) not in have:
            out.write(h + "\n")
PY
rm -rf "$T/killed"

# found DIR: how many fragments of erased entries occur in DIR's files.
found() {
	python3 - "$1" "$T/gone" <<'PY'
import os, sys
frags = [bytes.fromhex(l.strip()) for l in open(sys.argv[2]) if l.strip()]
blob = b"".join(open(os.path.join(sys.argv[1], f), "rb").read()
                for f in sorted(os.listdir(sys.argv[1]))
                if os.path.isfile(os.path.join(sys.argv[1], f)))
print(sum(1 for s in frags if s in blob), len(frags), len(blob))
PY
}
set -- $(found "$A")
echo "# after the kill: $1 of $2 erased fragments still in the files ($3 bytes)"
mark=$(cp -R "$A" "$T/m" && sql "$T/m/ledger.db" "SELECT count(*) FROM meta WHERE k = 'scrub-pending'"; rm -rf "$T/m")
[ "$mark" = 1 ] && ok "the killed erasure left its scrub mark" || notok "scrub mark after the kill ($mark)"

expect_exit "one other writer (hold add) runs" 0 \
	"$CHATLEDGER" hold add -a "$A" --case T82 --reason test --participant 85299999999@s.whatsapp.net --allow-empty
set -- $(found "$A")
[ "$1" -eq 0 ] && ok "no erased ciphertext or wrapped key left in any file ($2 fragments, $3 bytes)" ||
	notok "erased bytes left after the next writer: $1 of $2 fragments"
for f in ledger.db ledger.db-wal; do
	[ -f "$A/$f" ] || continue
	n=$(grep -c scrubmarker "$A/$f")
	[ "$n" -eq 0 ] && ok "no plaintext marker in $f" || notok "plaintext marker in $f ($n)"
done
mark=$(cp -R "$A" "$T/m" && sql "$T/m/ledger.db" "SELECT count(*) FROM meta WHERE k = 'scrub-pending'"; rm -rf "$T/m")
[ "$mark" = 0 ] && ok "the scrub mark is cleared" || notok "scrub mark cleared ($mark)"
expect_exit "verify after the finished scrub" 0 "$CHATLEDGER" verify -a "$A"
# The hold is a control entry with its own sealed payload.
[ "$(payloads "$A")" = $((left + 1)) ] && ok "the other payloads are untouched ($left)" ||
	notok "other payloads untouched ($(payloads "$A") != $left + 1)"
expect_exit "retain to the end" 0 "$CHATLEDGER" retain -a "$A" --policy "$P" --now 2030-01-01
[ "$(payloads "$A")" = 1 ] && ok "... erases the rest (the hold stays)" || notok "... erases the rest"
expect_exit "verify at the end" 0 "$CHATLEDGER" verify -a "$A"
t_done
