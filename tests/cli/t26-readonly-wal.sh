#!/bin/sh
# t26-readonly-wal: an auditor's read-only copy whose committed data lives
# in ledger.db-wal (docs/FORMAT.md §1) verifies completely: the entries in
# the WAL are counted, and a payload tampered with inside the WAL is found,
# by `verify` and by tests/verifier/verify.py.  Nothing is written into the
# copy, and the private copy under $TMPDIR is removed afterwards.
#
# Root can write any directory, so a chmod'ed copy is not read-only for
# root; the read-only path is forced with --read-only (both verifiers),
# and when running as root it is also run as an unprivileged user if
# setpriv can, else that check is skipped.
. "$(dirname "$0")/lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
	skip "read-only copies with a WAL" "python3 is missing"
	t_done
	exit
fi
have_py=0
command -v openssl >/dev/null 2>&1 && have_py=1
V="$CL_ROOT/tests/verifier/verify.py"
mkdir "$T/tmp"
TMPDIR="$T/tmp"
export TMPDIR

A="$T/live"
new_archive "$A"
gen_records 300 0 7 | "$CHATLEDGER" ingest -a "$A" --format jsonl - >/dev/null
gen_records 200 300 7 >"$T/more.jsonl"

# A reader holds a read transaction open (so no checkpoint can move the
# next batch into ledger.db) while a second ingest commits; the archive
# is copied, -wal included, while the reader still holds it.  A second
# copy gets a payload changed through SQLite, in its WAL: the connection
# never closes (os._exit), so nothing checkpoints it into ledger.db.
python3 - "$A" "$CHATLEDGER" "$T/more.jsonl" "$T/ro" "$T/tampered" <<'PY'
import os, sqlite3, subprocess, sys
live, cl, more, ro, tampered = sys.argv[1:]
r = sqlite3.connect(os.path.join(live, "ledger.db"), isolation_level=None)
r.execute("BEGIN")
r.execute("SELECT count(*) FROM entry").fetchone()
with open(more, "rb") as f:
    subprocess.run([cl, "ingest", "-a", live, "--format", "jsonl", "-"],
                   stdin=f, stdout=subprocess.DEVNULL, check=True)
for d in (ro, tampered):
    subprocess.run(["cp", "-a", live, d], check=True)
r.close()
db = sqlite3.connect(os.path.join(tampered, "ledger.db"), isolation_level=None)
db.execute("PRAGMA wal_autocheckpoint=0")
ct = bytearray(db.execute("SELECT ct FROM payload WHERE idx = 400").fetchone()[0])
ct[40] ^= 1
db.execute("UPDATE payload SET ct = ? WHERE idx = 400", (bytes(ct),))
sys.stdout.flush()
os._exit(0)
PY
[ $? -eq 0 ] && ok "built a live archive and two copies with data in the WAL" ||
	notok "built a live archive and two copies with data in the WAL"

walsize() { wc -c <"$1/ledger.db-wal" 2>/dev/null || echo 0; }
[ "$(walsize "$T/ro")" -gt 0 ] && ok "the copy's WAL holds data" ||
	notok "the copy's WAL holds data"
# What is in ledger.db alone (the WAL ignored) is only the first batch.
n=$(python3 -c 'import sqlite3, sys
print(sqlite3.connect("file:%s/ledger.db?immutable=1" % sys.argv[1], uri=True).execute("SELECT count(*) FROM entry").fetchone()[0])' "$T/ro")
[ "$n" -eq 300 ] && ok "without its WAL the copy holds only 300 entries" ||
	notok "without its WAL the copy holds only 300 entries (it holds $n)"
[ "$(walsize "$T/tampered")" -gt 0 ] && ok "the tampered copy's change is in its WAL" ||
	notok "the tampered copy's change is in its WAL"

# An auditor's evidence copy: readable by all, writable by none.
chmod -R a+rX,a-w "$T/ro" "$T/tampered"
listing() { (cd "$1" && ls -lA --time-style=+%s.%N . | sed 1d; sha256sum ./*); }
listing "$T/ro" >"$T/ro.before"

expect_exit "verify --read-only: the copy verifies" 0 "$CHATLEDGER" verify -a "$T/ro" --read-only
expect_grep "verify --read-only: the entries in the WAL are counted" "^OK: 500 entries" "$T/out"
listing "$T/ro" >"$T/ro.after"
check "verify --read-only: nothing was written into the copy" cmp -s "$T/ro.before" "$T/ro.after"
expect_exit "status on the copy (read as a copy: not writable, or as root" 0 "$CHATLEDGER" status -a "$T/ro"
expect_exit "verify --read-only: a payload changed in the WAL is found" 1 "$CHATLEDGER" verify -a "$T/tampered" --read-only
expect_grep "verify --read-only: names the entry" "entry 400: ciphertext does not match" "$T/out"
[ -z "$(ls -A "$T/tmp")" ] && ok "the private copies were removed from \$TMPDIR" ||
	notok "the private copies were removed from \$TMPDIR ($(ls -A "$T/tmp"))"

if [ "$have_py" -eq 1 ]; then
	expect_exit "verify.py --read-only: the copy verifies" 0 python3 "$V" --read-only "$T/ro"
	expect_grep "verify.py --read-only: the entries in the WAL are counted" ": 500 entries" "$T/out"
	expect_exit "verify.py --read-only: a payload changed in the WAL is found" 1 python3 "$V" --read-only "$T/tampered"
	expect_grep "verify.py --read-only: names the entry" "entry 400: ciphertext does not match" "$T/out"
else
	skip "verify.py on read-only copies" "openssl is missing"
fi

# The same without --read-only, by a user who really cannot write the copy.
if [ "$(id -u)" -ne 0 ]; then
	expect_exit "read-only directory: the copy verifies" 0 "$CHATLEDGER" verify -a "$T/ro"
	expect_grep "read-only directory: the entries in the WAL are counted" "^OK: 500 entries" "$T/out"
	expect_exit "read-only directory: a payload changed in the WAL is found" 1 "$CHATLEDGER" verify -a "$T/tampered"
	expect_exit "read-only directory: status counts the WAL" 0 "$CHATLEDGER" status -a "$T/ro"
	expect_grep "read-only directory: status counts the WAL" "^entries *500" "$T/out"
elif command -v setpriv >/dev/null 2>&1 &&
    chmod 755 "$T" && chmod 1777 "$T/tmp" &&
    setpriv --reuid=65534 --regid=65534 --clear-groups "$CHATLEDGER" --version >/dev/null 2>&1; then
	asnobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	expect_exit "as nobody: the read-only copy verifies" 0 asnobody "$CHATLEDGER" verify -a "$T/ro"
	expect_grep "as nobody: the entries in the WAL are counted" "^OK: 500 entries" "$T/out"
	expect_exit "as nobody: a payload changed in the WAL is found" 1 asnobody "$CHATLEDGER" verify -a "$T/tampered"
	expect_grep "as nobody: names the entry" "entry 400: ciphertext does not match" "$T/out"
	expect_exit "as nobody: status counts the WAL" 0 asnobody "$CHATLEDGER" status -a "$T/ro"
	expect_grep "as nobody: status counts the WAL" "^entries *500" "$T/out"
	if [ "$have_py" -eq 1 ] && asnobody /usr/bin/python3 -c '' 2>/dev/null &&
	    asnobody /usr/bin/python3 "$V" --help >/dev/null 2>&1; then
		expect_exit "as nobody: verify.py counts the entries in the WAL" 0 asnobody /usr/bin/python3 "$V" "$T/ro"
		expect_grep "as nobody: verify.py counts the entries in the WAL" ": 500 entries" "$T/out"
		expect_exit "as nobody: verify.py finds the payload changed in the WAL" 1 asnobody /usr/bin/python3 "$V" "$T/tampered"
	else
		skip "as nobody: verify.py" "no python3 the unprivileged user can run"
	fi
	[ -z "$(ls -A "$T/tmp")" ] && ok "as nobody: the private copies were removed" ||
		notok "as nobody: the private copies were removed ($(ls -A "$T/tmp"))"
else
	skip "a read-only directory without --read-only" "running as root and cannot switch to an unprivileged user"
fi
chmod -R u+w "$T/ro" "$T/tampered"
t_done
