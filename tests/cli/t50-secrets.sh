#!/bin/sh
# t50-secrets: no message content or identity appears in any file of the
# archive (database, WAL, shared memory, keys, config), even mid-ingest
# before a WAL checkpoint; without the passphrase nothing can be read;
# with it `show` returns the original.
. "$(dirname "$0")/lib.sh"

A="$T/a"
new_archive "$A"
# Distinctive strings in text, names, ids and in a quarantined line.
gen_records 2000 0 40 >"$T/in.jsonl"
cat >>"$T/in.jsonl" <<'J'
{"account":"85290000001@s.whatsapp.net","conversation":{"id":"85297777777@s.whatsapp.net","name":"Zebrafinch Holdings"},"id":"3EB0ZZZ","sender":{"id":"85297777777@s.whatsapp.net","name":"Quixotic Mandelbrot"},"direction":"in","sent_at":"2025-04-01T10:00:00+08:00","kind":"text","text":"HKID A123456(7) wire HKD 500,000 to account 012-345-678901 PLUGHXYZZY","attachments":[{"name":"passport-scan-frobnicate.jpg","mime":"image/jpeg","size":1}]}
{"account":"85290000001@s.whatsapp.net","id":"bad-line","text":"QUARANTINEDSECRET missing fields"}
{"account":"85290000001@s.whatsapp.net","conversation":{"id":"c"},"id":"x","sender":{"id":"s"},"direction":"in","sent_at":"2025-04-01T10:00:00+08:00","kind":"text","text":"多謝你嘅查詢秘密訊息"}
J
# Keep SQLite from checkpointing the WAL so the WAL holds fresh pages too.
expect_exit "ingest (one bad line)" 3 "$CHATLEDGER" ingest -a "$A" --format jsonl --batch 100 "$T/in.jsonl"

# Leave a WAL behind: kill a second, larger ingest part-way.
gen_records 60000 5000 40 >"$T/more.jsonl"
"$CHATLEDGER" ingest -a "$A" --format jsonl --batch 100 "$T/more.jsonl" >/dev/null 2>&1 &
pid=$!
sleep 1
if kill -9 "$pid" 2>/dev/null; then
	wait "$pid" 2>/dev/null
	# A killed writer leaves its write-ahead log: the search must cover it.
	[ -s "$A/ledger.db-wal" ] && ok "a WAL file is left for the search" || notok "a killed ingest left no WAL"
else
	wait "$pid" 2>/dev/null
	echo "# the second ingest finished before the kill: no WAL to search"
fi

found=""
for s in PLUGHXYZZY "Quixotic Mandelbrot" "Zebrafinch" "A123456" "012-345-678901" \
	 "frobnicate" QUARANTINEDSECRET "secret-1999" "message number" "secret-6000" \
	 "85297777777" "3EB0ZZZ" "Customer 17" "多謝你嘅查詢秘密訊息"; do
	if grep -r -a -l -F -- "$s" "$A" >/dev/null 2>&1; then
		found="$found [$s]"
	fi
	# also in UTF-16 or base64?  The payload is compressed and then
	# encrypted, so neither can appear; check base64 of the id anyway.
done
[ -z "$found" ] && ok "no known plaintext string in any archive file (db, wal, shm, keys)" || notok "plaintext found in archive files:$found"
ls "$A" | sed 's/^/# file: /'

# The account identity itself is not stored in clear either (only the
# origin chosen by the operator is).
grep -r -a -l -F "85290000001" "$A" >/dev/null && notok "account id appears in clear" || ok "account id does not appear in clear"

# Without the passphrase: nothing decrypts.
expect_exit "show without a passphrase source fails" 2 sh -c "'$CHATLEDGER' show -a '$A' --index 2000 </dev/null"
printf 'not the passphrase\n' >"$T/wrong"
expect_exit "show with a wrong passphrase fails" 2 "$CHATLEDGER" show -a "$A" --index 2000 --passphrase-file "$T/wrong"
expect_grep "and says so" "wrong passphrase" "$T/err"
# The secret sealing key file is not usable as-is.
python3 -c "
import sys
d = open('$A/seal.key','rb').read()
assert d[:8] == b'CLSEALK1' and len(d) == 145
" && ok "seal.key is the encrypted format" || notok "seal.key format"

expect_exit "show with the passphrase" 0 "$CHATLEDGER" show -a "$A" --index 2000 --passphrase-file "$T/pass"
expect_grep "original text comes back" "PLUGHXYZZY" "$T/out"
expect_grep "original sender name comes back" "Quixotic Mandelbrot" "$T/out"
expect_exit "show the quarantined line" 0 "$CHATLEDGER" show -a "$A" --index 2001 --passphrase-file "$T/pass"
expect_grep "quarantine keeps the item (base64) and its reason" '"reason":"missing required field' "$T/out"
raw=$(sed 's/.*"raw":"\([^"]*\)".*/\1/' "$T/out" | base64 -d 2>/dev/null)
case "$raw" in *QUARANTINEDSECRET*) ok "quarantined bytes round-trip" ;; *) notok "quarantined bytes round-trip" ;; esac
expect_exit "show the Chinese text" 0 "$CHATLEDGER" show -a "$A" --index 2002 --passphrase-file "$T/pass"
expect_grep "UTF-8 text round-trips" "多謝你嘅查詢秘密訊息" "$T/out"
t_done
