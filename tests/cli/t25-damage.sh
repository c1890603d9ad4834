#!/bin/sh
# t25-damage: a damaged, truncated, overwritten or missing ledger.db makes
# `verify` (and tests/verifier/verify.py) exit 1 naming the damage -- a
# monitor alerting on exit 1 must see it -- while no archive directory at
# all stays an operational error (exit 2).
. "$(dirname "$0")/lib.sh"

B="$T/base"
new_archive "$B"
gen_records 600 0 7 | "$CHATLEDGER" ingest -a "$B" --format jsonl --batch 1000 - >/dev/null
expect_exit "untouched archive verifies" 0 "$CHATLEDGER" verify -a "$B"
SIZE=$(wc -c <"$B/ledger.db")
PAGES=$((SIZE / 4096))
[ "$PAGES" -ge 8 ] && ok "ledger.db has $PAGES pages" || notok "ledger.db has only $PAGES pages"

have_py=0
if command -v python3 >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1; then
	have_py=1
fi
V="$CL_ROOT/tests/verifier/verify.py"

# fresh: a scratch copy of the base archive at $C
fresh() { rm -rf "$T/c"; cp -a "$B" "$T/c"; C="$T/c"; }

# damaged NAME PATTERN: both verifiers exit 1 and say PATTERN
damaged() {
	expect_exit "$1: verify exits 1" 1 "$CHATLEDGER" verify -a "$C"
	expect_grep "$1: verify names the damage" "$2" "$T/out"
	if [ "$have_py" -eq 1 ]; then
		expect_exit "$1: verify.py exits 1" 1 python3 "$V" "$C"
		expect_grep "$1: verify.py names the damage" "$2" "$T/out"
	else
		skip "$1: verify.py" "python3 or openssl is missing"
	fi
}

# patch FILE OFFSET BYTE: overwrite one byte (python3: od/dd vary)
patch() {
	python3 -c 'import sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2]))
b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ int(sys.argv[3])]))' "$@"
}

for cut in half 4096 100; do
	fresh
	case $cut in half) n=$((SIZE / 2)) ;; *) n=$cut ;; esac
	truncate -s "$n" "$C/ledger.db"
	damaged "ledger.db cut to $cut ($n bytes)" "ledger.db is damaged.*cut short: $n bytes"
done

fresh; truncate -s 0 "$C/ledger.db"
damaged "ledger.db cut to nothing" "ledger.db is damaged"

fresh
dd if=/dev/zero of="$C/ledger.db" bs=4096 seek=$((PAGES / 2)) count=1 conv=notrunc 2>/dev/null
damaged "a zeroed page in the middle" "ledger.db is damaged.*table [a-z_]* is unreadable"

fresh; patch "$C/ledger.db" 0 1
damaged "flipped byte in the SQLite header magic" "ledger.db is damaged.*SQLite header is damaged"

fresh; patch "$C/ledger.db" 16 17
damaged "flipped byte in the SQLite header page size" "ledger.db is damaged.*page size"

fresh; rm "$C/ledger.db"
damaged "deleted ledger.db" "ledger.db is missing"

fresh; head -c 200000 /dev/urandom >"$C/ledger.db"
damaged "garbage ledger.db" "ledger.db is damaged.*SQLite header is damaged"

fresh; printf 'this is not a database\n' >"$C/ledger.db"
damaged "short text as ledger.db" "ledger.db is damaged"

# Operational errors stay exit 2.
expect_exit "no such archive directory: exit 2" 2 "$CHATLEDGER" verify -a "$T/no-such-dir"
expect_grep "no such archive directory: says so" "not a chatledger archive" "$T/err"
mkdir "$T/empty"
expect_exit "a directory that is no archive: exit 2" 2 "$CHATLEDGER" verify -a "$T/empty"
if [ "$have_py" -eq 1 ]; then
	expect_exit "no such archive directory: verify.py exits 2" 2 python3 "$V" "$T/no-such-dir"
fi
if [ "$(id -u)" -ne 0 ]; then
	fresh; chmod 000 "$C/ledger.db"
	expect_exit "unreadable ledger.db (permission denied): exit 2" 2 "$CHATLEDGER" verify -a "$C"
	chmod 644 "$C/ledger.db"
else
	skip "unreadable ledger.db (permission denied): exit 2" "running as root"
fi

# --json carries the damage as the problem.
fresh; truncate -s 4096 "$C/ledger.db"
expect_exit "--json: exit 1" 1 "$CHATLEDGER" verify -a "$C" --json
expect_grep "--json: ok false with the problem" '"ok":false.*"problem":"ledger.db is damaged' "$T/out"
t_done
