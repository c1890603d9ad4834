#!/bin/sh
# t10-basic: init, ingest, idempotency, verify, show, leaves, prove,
# checkpoint, pubkey, status; refusal to overwrite; file modes.
. "$(dirname "$0")/lib.sh"

A="$T/a"
check "init creates an archive" new_archive "$A"
expect_exit "init refuses to overwrite" 2 new_archive "$A"
expect_grep "overwrite refusal names the reason" "refusing to overwrite" "$T/err"
mode=$(stat -c %a "$A")
[ "$mode" = 700 ] && ok "archive dir is 0700" || notok "archive dir is $mode"
for f in log.key seal.key tag.key; do
	m=$(stat -c %a "$A/$f")
	[ "$m" = 600 ] && ok "$f is 0600" || notok "$f is $m"
done

gen_records 500 0 20 >"$T/r1.jsonl"
expect_exit "ingest 500 records" 0 "$CHATLEDGER" ingest -a "$A" --format jsonl --batch 64 "$T/r1.jsonl"
expect_grep "ingest reports 500" "^500 ingested, 0 duplicates" "$T/out"
expect_exit "re-ingest stores nothing new" 0 "$CHATLEDGER" ingest -a "$A" --format jsonl "$T/r1.jsonl"
expect_grep "re-ingest reports 500 duplicates" "^0 ingested, 500 duplicates" "$T/out"
gen_records 300 400 20 | "$CHATLEDGER" ingest -a "$A" --format jsonl --json - >"$T/out" 2>&1
expect_grep "overlapping ingest from stdin adds only new records" '"ingested":200' "$T/out"
expect_grep "and skips the overlap" '"duplicates":100' "$T/out"

expect_exit "verify exits 0" 0 "$CHATLEDGER" verify -a "$A"
expect_grep "verify counts 700 records" "700 records" "$T/out"
expect_grep "verify counts 20 chains" "in 20 conversation chains" "$T/out"
expect_exit "verify --json" 0 "$CHATLEDGER" verify -a "$A" --json
expect_grep "verify --json says ok" '"ok":true' "$T/out"

expect_exit "show entry 0" 0 "$CHATLEDGER" show -a "$A" --index 0 --passphrase-file "$T/pass"
expect_grep "show returns the original text" '"text":"message number 0 secret-0"' "$T/out"
expect_grep "show returns UTC time" '"sent_at":"2025-02-28T16:00:00.000Z"' "$T/out"
expect_grep "show fills defaults" '"revision":0' "$T/out"
printf 'wrong passphrase\n' >"$T/wrong"
expect_exit "show with a wrong passphrase fails" 2 "$CHATLEDGER" show -a "$A" --index 0 --passphrase-file "$T/wrong"
expect_grep "wrong passphrase is named" "wrong passphrase" "$T/err"
expect_exit "show needs a passphrase source" 2 sh -c "'$CHATLEDGER' show -a '$A' --index 0 </dev/null >/dev/null 2>&1 && exit 0 || exit 2"

expect_exit "leaves prints every entry" 0 "$CHATLEDGER" leaves -a "$A"
n=$(wc -l <"$T/out")
# 700 records and the access entry that show appended (issue 12)
[ "$n" -eq 701 ] && ok "701 leaf lines" || notok "$n leaf lines"
grep -qv '^[0-9a-f]*$' "$T/out" && notok "leaves are lowercase hex" || ok "leaves are lowercase hex"
expect_exit "leaves --from --to" 0 "$CHATLEDGER" leaves -a "$A" --from 10 --to 12
[ "$(wc -l <"$T/out")" -eq 3 ] && ok "three leaves in 10..12" || notok "leaves range"

expect_exit "checkpoint" 0 "$CHATLEDGER" checkpoint -a "$A"
cp "$T/out" "$T/cp-700"
[ "$(sed -n 2p "$T/cp-700")" = 701 ] && ok "checkpoint size 701" || notok "checkpoint size"
[ "$(sed -n 1p "$T/cp-700")" = "example.com/chatledger/test" ] && ok "checkpoint origin" || notok "checkpoint origin"
expect_grep "checkpoint is a signed note" "^— example.com/chatledger/test " "$T/cp-700"
expect_exit "pubkey" 0 "$CHATLEDGER" pubkey -a "$A"
expect_grep "pubkey is a C2SP verifier key" '^example.com/chatledger/test+[0-9a-f]\{8\}+A' "$T/out"
key=$(cat "$T/out")
expect_exit "verify with the trusted key and a saved checkpoint" 0 "$CHATLEDGER" verify -a "$A" --key "$key" --checkpoint "$T/cp-700"
expect_exit "verify --vkey (verify-bundle's spelling) takes the key too" 0 "$CHATLEDGER" verify -a "$A" --vkey "$key"
new_archive "$T/other"
expect_exit "verify --vkey with another log's key fails" 1 "$CHATLEDGER" verify -a "$A" --vkey "$("$CHATLEDGER" pubkey -a "$T/other")"
# The auditor with a read-only copy of ledger.db and only the public key.
mkdir "$T/aud"
cp "$A/ledger.db" "$T/aud/"
[ -f "$A/ledger.db-wal" ] && cp "$A/ledger.db-wal" "$T/aud/"
chmod -R a-w "$T/aud"
expect_exit "auditor: ledger.db alone verifies with --vkey" 0 "$CHATLEDGER" verify -a "$T/aud" --vkey "$key"
expect_grep "... all of it" "^OK: 701 entries" "$T/out"
expect_exit "auditor: ... and not with another log's key" 1 "$CHATLEDGER" verify -a "$T/aud" --vkey "$("$CHATLEDGER" pubkey -a "$T/other")"
expect_grep "... saying the recorded key is not the trusted one" "is not the trusted key" "$T/out"
expect_exit "auditor: ledger.db alone, no key: refused" 2 "$CHATLEDGER" verify -a "$T/aud"
expect_grep "... saying what to give" "no log.pub in .*give the verifier key with --key" "$T/err"
expect_exit "auditor: verify.py on ledger.db alone with --vkey" 0 python3 "$CL_ROOT/tests/verifier/verify.py" --vkey "$key" "$T/aud"
expect_exit "auditor: verify.py with another log's key fails" 1 python3 "$CL_ROOT/tests/verifier/verify.py" --vkey "$("$CHATLEDGER" pubkey -a "$T/other")" "$T/aud"
chmod -R u+w "$T/aud"

expect_exit "prove --index" 0 "$CHATLEDGER" prove -a "$A" --index 123
expect_grep "proof is a tlog-proof" "^c2sp.org/tlog-proof@v1" "$T/out"
expect_grep "proof names its index" "^index 123$" "$T/out"
expect_exit "prove against an older size" 0 "$CHATLEDGER" prove -a "$A" --index 5 --size 500
expect_exit "prove past the size fails" 2 "$CHATLEDGER" prove -a "$A" --index 600 --size 500
expect_exit "prove --consistency" 0 "$CHATLEDGER" prove -a "$A" --consistency 500
expect_grep "consistency proof header" "^chatledger-consistency-proof@v1" "$T/out"
expect_exit "status" 0 "$CHATLEDGER" status -a "$A" --json
expect_grep "status counts records" '"records":700' "$T/out"
expect_exit "unknown format is refused" 2 "$CHATLEDGER" ingest -a "$A" --format nope "$T/r1.jsonl"
expect_exit "missing archive is an error" 2 "$CHATLEDGER" verify -a "$T/none"
CHATLEDGER_ARCHIVE="$A" expect_exit "CHATLEDGER_ARCHIVE is the default archive" 0 "$CHATLEDGER" verify
# A slow pipe (the reader threads hand records over in runs): with
# --batch 1 each record is durable while ingest still waits for the next
# line, and a record that arrives alone is not held back for a run.
S="$T/slow"
new_archive "$S"
mkfifo "$T/fifo"
"$CHATLEDGER" ingest -a "$S" --format jsonl --batch 1 - <"$T/fifo" >"$T/slow.out" 2>"$T/slow.err" &
slow_pid=$!
exec 7>"$T/fifo"
# wait_records N: up to 20 s for status to count N records
wait_records() {
	i=0
	while [ $i -lt 200 ]; do
		"$CHATLEDGER" status -a "$S" --json >"$T/st" 2>/dev/null &&
			grep -q "\"records\":$1," "$T/st" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
gen_records 1 900 >&7
check "slow pipe: the first record is durable before the next line" wait_records 1
gen_records 2 901 >&7
check "slow pipe: two more lines, three records" wait_records 3
exec 7>&-
wait "$slow_pid"
rc=$?
[ "$rc" -eq 0 ] && ok "slow pipe: ingest exits 0 at end of input" || notok "slow pipe: ingest exit $rc"
expect_grep "slow pipe: all three counted" "^3 ingested, 0 duplicates skipped, 0 quarantined" "$T/slow.out"

# Input order survives the parallel readers: several threads parse and
# seal lines, finishing in any order; entries must still be appended in
# line order, bad lines (quarantined) in their place among the records.
# Line L's record is sent at BASE + L seconds; every 37th line is bad,
# every 101st blank.
O="$T/order"
new_archive "$O"
python3 - "$T/order.jsonl" "$T/order.expect" <<'PY'
import json, sys
base = 1735689600  # 2025-01-01T00:00:00Z
with open(sys.argv[1], "w") as f, open(sys.argv[2], "w") as e:
    for line in range(1, 4001):
        if line % 101 == 0:
            f.write("   \n")
        elif line % 37 == 0:
            f.write('{"bad": %d}\n' % line)
            e.write("Q\n")
        else:
            t = base + line
            f.write(json.dumps({
                "account": "85290000001@s.whatsapp.net",
                "conversation": {"id": "8529%07d@s.whatsapp.net" % (line % 13), "type": "direct"},
                "id": "ORDER%06d" % line, "direction": "in", "kind": "text",
                "sender": {"id": "8529%07d@s.whatsapp.net" % (line % 13)},
                "sent_at": "2025-01-01T%02d:%02d:%02dZ" % ((t - base) // 3600, (t - base) // 60 % 60, (t - base) % 60),
                "text": "line %d " % line + "x" * (line % 400)}) + "\n")
            e.write("R%d\n" % line)
PY
expect_exit "order: ingest with 4 reader threads" 3 \
	"$CHATLEDGER" ingest -a "$O" --format jsonl --threads 4 --batch 500 "$T/order.jsonl"
expect_grep "order: all lines counted" "^3854 ingested, 0 duplicates skipped, 107 quarantined" "$T/out"
"$CHATLEDGER" leaves -a "$O" >"$T/order.leaves" 2>"$T/err"
python3 - "$T/order.leaves" >"$T/order.got" <<'PY'
import sys
base_ms = 1735689600 * 1000
for h in open(sys.argv[1]):
    b = bytes.fromhex(h.strip())
    kind = b[1]
    if kind == 1:
        print("R%d" % ((int.from_bytes(b[10:18], "big") - base_ms) // 1000))
    elif kind == 5:
        print("Q")
PY
if cmp -s "$T/order.got" "$T/order.expect"; then ok "order: entries are in input line order"
else notok "order: entries are in input line order"; diff "$T/order.expect" "$T/order.got" | head -n 5; fi
expect_exit "order: --threads 0 is refused" 2 \
	"$CHATLEDGER" ingest -a "$O" --format jsonl --threads 0 "$T/order.jsonl"
expect_grep "... saying the range" "threads must be 1..16" "$T/err"
t_done
