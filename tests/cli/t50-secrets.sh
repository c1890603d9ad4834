#!/bin/sh
# t50-secrets: no message content or identity appears in any file of the
# archive (database, WAL, shared memory, keys, config), even in a WAL
# not yet checkpointed; without the passphrase nothing can be read; with
# it `show` returns the original.  A secret given on the command line
# where a secret file belongs never appears in an error message.
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
expect_exit "ingest (one bad line)" 3 "$CHATLEDGER" ingest -a "$A" --format jsonl --batch 100 "$T/in.jsonl"

# The write-ahead log must be searched too, so make sure there is one: a
# reader holding a snapshot from before the next ingest keeps SQLite from
# checkpointing the new pages into ledger.db and from deleting the WAL
# when the writer closes.  (Killing an ingest part-way, as this test once
# did, leaves no WAL when the ingest finishes first.)
python3 - "$A/ledger.db" "$T/held" "$T/release" <<'PY' &
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN")
db.execute("SELECT count(*) FROM sqlite_master").fetchone()
open(sys.argv[2], "w").close()
for _ in range(1200):
    if os.path.exists(sys.argv[3]):
        break
    time.sleep(0.1)
db.execute("COMMIT")
db.close()
PY
holder=$!
for _ in $(seq 100); do [ -f "$T/held" ] && break; sleep 0.1; done
[ -f "$T/held" ] && ok "a reader holds a snapshot" || notok "a reader holds a snapshot"
gen_records 2000 5000 40 >"$T/more.jsonl"
expect_exit "a second ingest while the reader holds the WAL" 0 "$CHATLEDGER" ingest -a "$A" --format jsonl --batch 100 "$T/more.jsonl"
if [ -s "$A/ledger.db-wal" ]; then
	ok "a WAL file with the new pages is there for the search"
else
	notok "no WAL file to search ($A/ledger.db-wal missing or empty)"
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
ls -l "$A" | sed 's/^/# file: /'
touch "$T/release"
wait "$holder"

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

# ---- a secret on the command line never comes back in a message -----------
# getopt_long takes unambiguous prefixes: "--passphrase X" would be read as
# --passphrase-file X and X echoed as a file name.  Secret options must be
# spelled in full, and no message names the file given to one.
printf 'verify token\n' >"$T/tok"
chmod 600 "$T/tok"
# secret_refused NAME SECRET COMMAND...: exit 2, SECRET in neither stream.
secret_refused() {
	sr_name=$1; secret=$2; shift 2
	expect_exit "$sr_name: exit 2" 2 "$@"
	if grep -F -q -- "$secret" "$T/out" "$T/err"; then
		notok "$sr_name: the secret is not echoed"
		sed 's/^/#   /' "$T/err" | head -n 5
	else
		ok "$sr_name: the secret is not echoed"
	fi
}
secret_refused "show --passphrase" "correct horse battery" \
	"$CHATLEDGER" show -a "$A" --index 2000 --passphrase 'correct horse battery'
expect_grep "and names the option" "'--passphrase'" "$T/err"
secret_refused "show --passphrase=" "correct horse battery" \
	"$CHATLEDGER" show -a "$A" --index 2000 --passphrase='correct horse battery'
secret_refused "show --pass" "correct horse battery" \
	"$CHATLEDGER" show -a "$A" --index 2000 --pass 'correct horse battery'
secret_refused "init --passphrase-fil" "hunter2-swordfish" \
	"$CHATLEDGER" init -a "$T/new" --origin example.com/x --passphrase-fil hunter2-swordfish
[ ! -e "$T/new" ] && ok "init --passphrase-fil creates nothing" || notok "init --passphrase-fil creates nothing"
secret_refused "webhook --app-secret" "SEKRIT-123" \
	"$CHATLEDGER" webhook -a "$A" --listen 127.0.0.1:0 --app-secret 'SEKRIT-123' --verify-token-file "$T/tok"
expect_grep "and names the option" "'--app-secret'" "$T/err"
secret_refused "webhook --app-secret=" "SEKRIT-123" \
	"$CHATLEDGER" webhook -a "$A" --listen 127.0.0.1:0 --app-secret=SEKRIT-123 --verify-token-file "$T/tok"
secret_refused "webhook --verify-token" "TOKEN-456" \
	"$CHATLEDGER" webhook -a "$A" --listen 127.0.0.1:0 --app-secret-file "$T/tok" --verify-token TOKEN-456
secret_refused "webhook --access-token" "EAAG-789" \
	"$CHATLEDGER" webhook -a "$A" --listen 127.0.0.1:0 --app-secret-file "$T/tok" --verify-token-file "$T/tok" --access-token EAAG-789
# An option the command does not have: getopt would echo "--name=value".
secret_refused "verify --passphrase=" "correct horse battery" \
	"$CHATLEDGER" verify -a "$A" --passphrase='correct horse battery'
# Spelled in full but not a file: the value is still never echoed.
secret_refused "show --passphrase-file (not a file)" "correct horse battery" \
	"$CHATLEDGER" show -a "$A" --index 2000 --passphrase-file 'correct horse battery'
expect_grep "and names the option" "given to --passphrase-file" "$T/err"
secret_refused "init --passphrase-file (not a file)" "hunter2-swordfish" \
	"$CHATLEDGER" init -a "$T/new" --origin example.com/x --passphrase-file hunter2-swordfish
secret_refused "webhook --app-secret-file (not a file)" "SEKRIT-123" \
	"$CHATLEDGER" webhook -a "$A" --listen 127.0.0.1:0 --app-secret-file 'SEKRIT-123' --verify-token-file "$T/tok"
secret_refused "webhook --verify-token-file (not a file)" "TOKEN-456" \
	"$CHATLEDGER" webhook -a "$A" --listen 127.0.0.1:0 --app-secret-file "$T/tok" --verify-token-file TOKEN-456
secret_refused "webhook --access-token-file (not a file)" "EAAG-789" \
	"$CHATLEDGER" webhook -a "$A" --listen 127.0.0.1:0 --app-secret-file "$T/tok" --verify-token-file "$T/tok" --access-token-file EAAG-789
# The full spelling, with "=" too, still works.
expect_exit "show --passphrase-file=FILE works" 0 "$CHATLEDGER" show -a "$A" --index 2000 --passphrase-file="$T/pass"
t_done
