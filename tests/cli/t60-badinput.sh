#!/bin/sh
# t60-badinput: malformed JSON, missing required fields, invalid
# timestamps and oversize fields are quarantined with line number and
# reason; everything else is ingested; exit 3.  Re-running stores nothing
# new.  Bad configuration and operator input give exit 2.
. "$(dirname "$0")/lib.sh"

A="$T/a"
new_archive "$A"
gen_records 3 0 >"$T/in.jsonl"
big=$(awk 'BEGIN { for (i = 0; i < 600; i++) printf "x" }')
cat >>"$T/in.jsonl" <<J
{"account":"a","conversation":{"id":"c"},"id":"m4","sender":{"id":"s"},"direction":"in","sent_at":"2025-04-01T10:00:00Z","kind":"text"
{"conversation":{"id":"c"},"id":"m5","sender":{"id":"s"},"direction":"in","sent_at":"2025-04-01T10:00:00Z","kind":"text"}
{"account":"a","conversation":{"id":"c"},"id":"m6","sender":{"id":"s"},"direction":"in","sent_at":"2025-04-31T10:00:00Z","kind":"text"}
{"account":"a","conversation":{"id":"c"},"id":"$big","sender":{"id":"s"},"direction":"in","sent_at":"2025-04-01T10:00:00Z","kind":"text"}

{"account":"a","conversation":{"id":"c"},"id":"m8","sender":{"id":"s"},"direction":"in","sent_at":"2025-04-01T10:00:00Z","kind":"text","text":"fine"}
{"account":"a","conversation":{"id":"c"},"id":"m9","sender":{"id":"s"},"direction":"in","sent_at":"2025-04-01T10:00:00","kind":"text"}
[1,2,3]
J
gen_records 2 100 >>"$T/in.jsonl"
expect_exit "ingest with bad lines exits 3 (partial)" 3 "$CHATLEDGER" ingest -a "$A" --format jsonl "$T/in.jsonl"
expect_grep "good records are all ingested" "^6 ingested, 0 duplicates skipped, 6 quarantined" "$T/out"
expect_grep "malformed JSON: line and reason" "in.jsonl:4: quarantined: malformed JSON" "$T/err"
expect_grep "missing field: line and reason" "in.jsonl:5: quarantined: missing required field 'account'" "$T/err"
expect_grep "invalid date: line and reason" "in.jsonl:6: quarantined: field 'sent_at' is not an RFC 3339" "$T/err"
expect_grep "oversize field: line and reason" "in.jsonl:7: quarantined: field 'id' is too long" "$T/err"
expect_grep "time without offset: line and reason" "in.jsonl:10: quarantined: field 'sent_at'" "$T/err"
expect_grep "not an object: line and reason" "in.jsonl:11: quarantined: record must be a JSON object" "$T/err"
grep -q "in.jsonl:8:" "$T/err" && notok "blank line is not quarantined" || ok "blank line is skipped, not quarantined"
grep -q "x\{100\}" "$T/err" && notok "reasons do not quote content" || ok "reasons do not quote content"
expect_exit "verify after partial ingest" 0 "$CHATLEDGER" verify -a "$A"
expect_grep "verify counts quarantine entries" "6 quarantined" "$T/out"
expect_exit "re-ingest exits 3 again" 3 "$CHATLEDGER" ingest -a "$A" --format jsonl "$T/in.jsonl"
expect_grep "re-ingest stores nothing new" "^0 ingested, 6 duplicates skipped, 0 quarantined, 6 already quarantined" "$T/out"
expect_exit "status" 0 "$CHATLEDGER" status -a "$A" --json
expect_grep "status shows 6 quarantined" '"quarantined":6' "$T/out"
# An input that opens but cannot be read (a directory): the reason is named.
mkdir -p "$T/adir"
expect_exit "ingest of a directory fails (exit 2)" 2 "$CHATLEDGER" ingest -a "$A" --format jsonl "$T/adir"
expect_grep "... naming the input and why" "cannot read '.*adir': Is a directory" "$T/err"

# A record whose line is larger than the limit.
awk 'BEGIN { printf "{\"text\":\""; for (i = 0; i < 9 * 1024 * 1024; i++) printf "y"; print "\"}" }' >"$T/huge.jsonl"
expect_exit "oversize line is quarantined" 3 "$CHATLEDGER" ingest -a "$A" --format jsonl "$T/huge.jsonl"
expect_grep "oversize line reason" "huge.jsonl:1: quarantined: record too large" "$T/err"

# Operator errors are exit 2, never "tampered" (1).
printf 'garbage\n' >"$T/notacheckpoint"
expect_exit "malformed saved checkpoint is an error, not tampering" 2 "$CHATLEDGER" verify -a "$A" --checkpoint "$T/notacheckpoint"
expect_exit "malformed --key is an error" 2 "$CHATLEDGER" verify -a "$A" --key "nonsense+key+x"
expect_exit "missing input file is an error" 2 "$CHATLEDGER" ingest -a "$A" --format jsonl "$T/nope.jsonl"
expect_exit "leaves --from after --to is an error" 2 "$CHATLEDGER" leaves -a "$A" --from 5 --to 2
cp "$A/chatledger.conf" "$T/conf.bak"
printf '[ingest]\nbatchsize = 5\n' >>"$A/chatledger.conf"
expect_exit "unknown config key stops ingest" 2 "$CHATLEDGER" ingest -a "$A" --format jsonl "$T/in.jsonl"
expect_grep "config error names file:line" "chatledger.conf:[0-9]*: unknown key 'batchsize' in \[ingest\]" "$T/err"
cp "$T/conf.bak" "$A/chatledger.conf"
printf '[ingest]\nbatch_size = 0\n' >>"$A/chatledger.conf"
expect_exit "bad config value stops ingest" 2 "$CHATLEDGER" ingest -a "$A" --format jsonl "$T/in.jsonl"
cp "$T/conf.bak" "$A/chatledger.conf"
mkdir "$T/nonempty"; touch "$T/nonempty/x"
expect_exit "init refuses a non-empty directory" 2 "$CHATLEDGER" init -a "$T/nonempty" --origin x.example/y --passphrase-file "$T/pass" --kdf interactive
[ "$(ls "$T/nonempty")" = x ] && ok "and leaves it untouched" || notok "non-empty directory was changed"
ls -d "$T"/nonempty.init-* >/dev/null 2>&1 && notok "no temporary directory left" || ok "no temporary directory left"
mkdir "$T/empty"
expect_exit "init accepts an empty directory" 0 "$CHATLEDGER" init -a "$T/empty" --origin x.example/y --passphrase-file "$T/pass" --kdf interactive
expect_exit "init rejects an origin with a space" 2 "$CHATLEDGER" init -a "$T/sp" --origin "x y" --passphrase-file "$T/pass" --kdf interactive

# An auditor's read-only copy verifies (needs a non-root user to be real).
if [ "$(id -u)" -eq 0 ] && command -v su >/dev/null && id nobody >/dev/null 2>&1; then
	R="$T/ro"; cp -a "$A" "$R"; chmod 755 "$T"; chown -R nobody "$R"; chmod -R a-w "$R"
	if su nobody -s /bin/sh -c "'$CHATLEDGER' verify -a '$R'" >"$T/out" 2>&1; then
		ok "read-only copy verifies"
	else
		notok "read-only copy verifies"; sed 's/^/#   /' "$T/out"
	fi
	chmod -R u+w "$R"
else
	skip "read-only copy verifies" "needs root and su (to run as nobody)"
fi
t_done
