#!/bin/sh
# t48-diskfull: the archive's file system fills up (a small tmpfs). ingest
# stops with a message that says what happened and what to do, everything
# it reported stored verifies, and a re-run after space is added completes
# the input. `wechat serve` answers 500 while the disk is full (the sender
# retries), keeps running, and stores again once there is space. `status`
# warns about a low file system and projects how long the space lasts.
# An auditor's copy on a read-only mount gets no warning.
# Mounting needs root (CAP_SYS_ADMIN): skipped, visibly, without it.
. "$(dirname "$0")/lib.sh"
unset CHATLEDGER_LOW_SPACE      # the default rule: below 1 GiB or 5% free

# The rule can be set (CHATLEDGER_LOW_SPACE), and a bad one is refused.
new_archive "$T/rule"
CHATLEDGER_LOW_SPACE=100% "$CHATLEDGER" status -a "$T/rule" --json >"$T/out" 2>&1
expect_grep "CHATLEDGER_LOW_SPACE=100%: low" '"low":true' "$T/out"
CHATLEDGER_LOW_SPACE=0 "$CHATLEDGER" status -a "$T/rule" --json >"$T/out" 2>&1
expect_grep "CHATLEDGER_LOW_SPACE=0: never low" '"low":false' "$T/out"
CHATLEDGER_LOW_SPACE=1TiB "$CHATLEDGER" status -a "$T/rule" --json >"$T/out" 2>&1
free=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["disk"]["free_bytes"])' "$T/out")
if [ "$free" -lt 1099511627776 ]; then expect_grep "CHATLEDGER_LOW_SPACE=1TiB: low below a size" '"low":true' "$T/out"
else expect_grep "CHATLEDGER_LOW_SPACE=1TiB: not low above it" '"low":false' "$T/out"; fi
for bad in x 101% 5GB -1 1.5GiB; do
	CHATLEDGER_LOW_SPACE=$bad "$CHATLEDGER" status -a "$T/rule" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -eq 2 ] && grep -q "CHATLEDGER_LOW_SPACE must be a percentage" "$T/err"; then
		ok "CHATLEDGER_LOW_SPACE=$bad is refused with the forms it takes"
	else notok "CHATLEDGER_LOW_SPACE=$bad (exit $rc)"; fi
done

M="$T/mnt"
mkdir -p "$M"
if ! mount -t tmpfs -o size=4m tmpfs "$M" 2>"$T/mount.err"; then
	skip "archive on a full file system" "cannot mount a tmpfs: $(head -c 200 "$T/mount.err")"
	t_done
	exit 0
fi
# The test grows and shrinks the mount: a sandbox may allow the mount
# but not the remount.
if ! mount -o remount,size=4m "$M" 2>"$T/mount.err"; then
	umount "$M" 2>/dev/null
	skip "archive on a full file system" "cannot remount the tmpfs: $(head -c 200 "$T/mount.err")"
	t_done
	exit 0
fi
srv=""
trap 'if [ -n "$srv" ]; then kill -9 "$srv" 2>/dev/null; fi; umount "$M" 2>/dev/null; rm -rf "$T"' EXIT INT TERM HUP PIPE
A="$M/a"
check "init an archive on a 4 MiB file system" new_archive "$A"

# Where the scratch directory has room, writers say nothing about space.
new_archive "$T/roomy"
gen_records 50 >"$T/few.jsonl"
expect_exit "ingest where there is room" 0 "$CHATLEDGER" ingest -a "$T/roomy" --format jsonl "$T/few.jsonl"
if "$CHATLEDGER" status -a "$T/roomy" --json | grep -q '"low":false'; then
	if grep -q "low on space" "$T/err"; then notok "... warns about space anyway"
	else ok "... without a low-space warning"; fi
else skip "no warning where there is room" "the scratch file system itself is low"; fi

# ---- ingest until full ---------------------------------------------------
gen_records 12000 0 400 >"$T/r.jsonl"
expect_exit "ingest on a file system that fills up exits 2" 2 \
	"$CHATLEDGER" ingest -a "$A" --format jsonl --batch 500 "$T/r.jsonl"
expect_grep "... saying the file system is full" "no space left on the archive's file system" "$T/err"
expect_grep "... and what to do" "free space, then retry" "$T/err"
n=$(grep -c "warning: the archive's file system is low on space (.* free of .*)" "$T/err")
if [ "$n" -eq 1 ]; then ok "... after warning once that the file system was low"
else notok "low-space warnings from ingest: $n, want 1"; sed 's/^/#   /' "$T/err" | head -5; fi
stored=$(sed -n 's/^\([0-9]*\) ingested.*/\1/p' "$T/out")
if [ -n "$stored" ] && [ "$stored" -gt 0 ] && [ "$stored" -lt 12000 ]; then
	ok "the summary says how many were stored before it filled ($stored)"
else notok "summary of the interrupted ingest: '$(cat "$T/out")'"; fi
expect_exit "what was stored verifies" 0 "$CHATLEDGER" verify -a "$A"
expect_grep "... exactly the records the summary reported" "^OK: $stored entries ($stored records" "$T/out"

expect_exit "status works on a full file system" 0 "$CHATLEDGER" status -a "$A"
expect_grep "status: a disk line" "^disk  .* free of .* on the archive's file system; archive " "$T/out"
expect_grep "status: the low-space warning" "^attention    the archive's file system is low on space" "$T/out"
expect_exit "status --json" 0 "$CHATLEDGER" status -a "$A" --json
if python3 - "$T/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["disk"]
assert d["low"] is True, d
assert 0 <= d["free_bytes"] < d["total_bytes"] <= 8 << 20, d
assert d["archive_bytes"] > 1 << 20, d
assert d["days_left"] is None, d          # younger than an hour: no projection
PY
then ok "status --json: disk low, free < total, the archive's bytes"
else notok "status --json: disk"; sed 's/^/#   /' "$T/out" | head -5; fi

# ---- more space: the same command completes the input ------------------------
mount -o remount,size=64m "$M"
expect_exit "after space is added, the same ingest completes" 0 \
	"$CHATLEDGER" ingest -a "$A" --format jsonl --batch 500 "$T/r.jsonl"
expect_grep "... storing the rest and skipping what was stored" \
	"^$((12000 - stored)) ingested, $stored duplicates skipped" "$T/out"
expect_exit "verify after the re-run" 0 "$CHATLEDGER" verify -a "$A"
expect_grep "... all 12000 records" "^OK: 12000 entries" "$T/out"

# ---- wechat serve while the disk is full -----------------------------------
SIM=$CL_ROOT/tests/wechat/sim.js
printf 'oaTokenTest\n' >"$T/tok"
printf 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG\n' >"$T/key"
chmod 600 "$T/tok" "$T/key"
used=$(df -k --output=used "$M" | tail -n 1)
mount -o remount,size=$((used + 300))k "$M"
"$CHATLEDGER" wechat serve -a "$A" --listen 127.0.0.1:0 --json --oa-appid wxb11529c136998cb6 \
	--oa-token-file "$T/tok" --oa-aes-key-file "$T/key" >"$T/wx.out" 2>"$T/wx.err" &
srv=$!
i=0
while ! grep -q listening "$T/wx.out" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
URL="http://$(sed -n 's/.*"address":"\([^"]*\)".*/\1/p' "$T/wx.out")"
node "$SIM" bench --url "$URL" --seconds 3 --conc 4 >"$T/b1" 2>&1
f1=$(sed -n 's/.* failed \([0-9]*\) .*/\1/p' "$T/b1")
if [ -n "$f1" ] && [ "$f1" -gt 0 ] && kill -0 "$srv" 2>/dev/null; then
	ok "wechat serve on a full disk: $f1 pushes answered with an error, the server still runs"
else notok "wechat serve on a full disk ($(cat "$T/b1"))"; fi
expect_grep "... its log says the file system is full" "no space left on the archive's file system" "$T/wx.err"
n=$(grep -c "chatledger wechat: warning: the archive's file system is low on space" "$T/wx.err")
if [ "$n" -eq 1 ]; then ok "... and warned once (not per commit) that it was low"
else notok "low-space warnings from wechat serve: $n, want 1"; fi
mount -o remount,size=64m "$M"
node "$SIM" bench --url "$URL" --seconds 2 --conc 4 >"$T/b2" 2>&1
a2=$(sed -n 's/^answered \([0-9]*\) failed 0 .*/\1/p' "$T/b2")
if [ -n "$a2" ] && [ "$a2" -gt 0 ]; then ok "with space again, every push is stored ($a2)"
else notok "wechat serve after space was added ($(cat "$T/b2"))"; fi
kill "$srv"
if wait "$srv"; then ok "wechat serve stops cleanly"; else notok "wechat serve exit status"; fi
srv=""
if python3 - "$T/wx.out" <<'PY'
import json, sys
last = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
assert last["event"] == "stopped" and last["failed"] > 0 and last["accepted"] > 0, last
assert last["records"] == last["accepted"], last
PY
then ok "its summary counts the failed and the stored pushes"
else notok "wechat serve summary"; tail -n 1 "$T/wx.out" | sed 's/^/#   /'; fi
expect_exit "verify after the full-disk run" 0 "$CHATLEDGER" verify -a "$A"

# ---- the projection ------------------------------------------------------------
# Make the archive look two days old: its first checkpoint signed then.
python3 - "$A/ledger.db" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
first = db.execute("SELECT min(size) FROM checkpoint").fetchone()[0]
db.execute("UPDATE checkpoint SET created_at = ? WHERE size = ?",
           (int(time.time() * 1000) - 2 * 86400 * 1000, first))
db.commit()
PY
expect_exit "status --json on an older archive" 0 "$CHATLEDGER" status -a "$A" --json
if python3 - "$T/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["disk"]
rate, left = d["entries_per_day"], d["days_left"]
assert rate is not None and rate > 1000, d        # > 12000 entries in 2 days
want = d["free_bytes"] / (rate * d["archive_bytes"] / json.load(open(sys.argv[1]))["entries"])
assert left is not None and abs(left - int(want)) <= 1, (left, want)
PY
then ok "status --json: entries a day and days left, from the growth since the window began"
else notok "status --json: the projection"; sed 's/^/#   /' "$T/out" | head -5; fi
expect_exit "status" 0 "$CHATLEDGER" status -a "$A"
expect_grep "status: the projection in words" "; about [0-9]* days\{0,1\} left at [0-9.]* entries a day$" "$T/out"

# ---- an auditor's read-only copy ----------------------------------------------
# A full read-only medium is not a full disk: no warning, no projection.
umount "$M"
mount -t tmpfs -o size=4m tmpfs "$M"
new_archive "$M/copy"
mount -o remount,ro "$M"
expect_exit "status on a read-only mount" 0 "$CHATLEDGER" status -a "$M/copy"
expect_grep "... says read-only" "^disk         read-only file system; archive " "$T/out"
if grep -q "low on space" "$T/out"; then notok "... and does not warn about space"
else ok "... and does not warn about space"; fi
expect_exit "status --json on a read-only mount" 0 "$CHATLEDGER" status -a "$M/copy" --json
expect_grep "... read_only, not low" '"low":false,"read_only":true' "$T/out"

t_done
