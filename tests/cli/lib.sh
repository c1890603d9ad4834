# tests/cli/lib.sh - shared helpers for the command-line tests (sourced).
#   CHATLEDGER  path to the binary under test
#   CL_ROOT     repository root
# Each test prints "ok N - name" / "not ok N - name" (or "skip - name #
# reason", which counts neither as passed nor as failed) and ends with
# "N passed, N failed" via t_done, preceded by "N skipped" when any were.

: "${CHATLEDGER:?set CHATLEDGER to the chatledger binary}"
: "${CL_ROOT:=$(cd "$(dirname "$0")/../.." && pwd)}"
t_pass=0
t_fail=0
t_skip=0
T=$(mktemp -d "${TMPDIR:-/tmp}/chatledger-test.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
printf 'test passphrase\n' >"$T/pass"
# Writers warn on stderr when the file system is low; the tests' outputs
# must not depend on the free space of the machine they run on (t48 tests
# the warning itself).
CHATLEDGER_LOW_SPACE=0
export CHATLEDGER_LOW_SPACE

ok() {
	t_pass=$((t_pass + 1))
	echo "ok $((t_pass + t_fail)) - $*"
}

notok() {
	t_fail=$((t_fail + 1))
	echo "not ok $((t_pass + t_fail)) - $*"
}

# skip NAME REASON: a check that could not run here; not a pass.
skip() {
	t_skip=$((t_skip + 1))
	echo "skip - $1 # SKIP $2"
}

# check NAME COMMAND... : passes when the command exits 0
check() {
	name=$1; shift
	if "$@"; then ok "$name"; else notok "$name"; fi
}

# expect_exit NAME CODE COMMAND... : passes when the command exits CODE
expect_exit() {
	name=$1; want=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	if [ "$got" -eq "$want" ]; then ok "$name"
	else
		notok "$name (exit $got, want $want)"
		sed 's/^/#   /' "$T/out" "$T/err" | head -n 20
	fi
}

# expect_grep NAME PATTERN FILE
expect_grep() {
	if grep -q -- "$2" "$3"; then ok "$1"
	else notok "$1 (no '$2' in output)"; sed 's/^/#   /' "$3" | head -n 10; fi
}

t_done() {
	[ "$t_skip" -eq 0 ] || echo "$t_skip skipped"
	echo "$t_pass passed, $t_fail failed"
	[ "$t_fail" -eq 0 ]
}

# new_archive DIR [ORIGIN]
new_archive() {
	"$CHATLEDGER" init -a "$1" --origin "${2:-example.com/chatledger/test}" \
		--passphrase-file "$T/pass" --kdf interactive >/dev/null
}

# gen_records COUNT [START] [CONVERSATIONS]: valid records on stdout,
# text "message number I secret-I", deterministic.
gen_records() {
	awk -v n="$1" -v s="${2:-0}" -v c="${3:-50}" 'BEGIN {
		for (i = s; i < s + n; i++) {
			conv = i % c
			dir = (i % 3 == 0) ? "out" : "in"
			sec = i % 60; min = int(i / 60) % 60; hr = int(i / 3600) % 24
			day = 1 + int(i / 86400) % 28
			printf "{\"account\":\"85290000001@s.whatsapp.net\",\"conversation\":{\"id\":\"8529%07d@s.whatsapp.net\",\"type\":\"direct\"},\"id\":\"3EB0%012d\",\"sender\":{\"id\":\"8529%07d@s.whatsapp.net\",\"name\":\"Customer %d\"},\"direction\":\"%s\",\"sent_at\":\"2025-03-%02dT%02d:%02d:%02d+08:00\",\"kind\":\"text\",\"text\":\"message number %d secret-%d\"}\n", conv, i, conv, conv, dir, day, hr, min, sec, i, i
		}
	}'
}

# sql DB STATEMENT: run SQL against an archive database with python3's
# sqlite3 module (the sqlite3 CLI may be absent).
sql() {
	python3 - "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
cur = db.execute(sys.argv[2])
for row in cur.fetchall():
    print("|".join(str(x) for x in row))
db.commit()
db.close()
PY
}

# py DB CODE: run python3 CODE with `db` bound to an sqlite3 connection
# to DB (committed afterwards), e.g. to tamper with an archive.
py() {
	python3 - "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
def flip(table, col, key, idx, off):
    b = bytearray(db.execute(f"SELECT {col} FROM {table} WHERE {key} = ?", (idx,)).fetchone()[0])
    b[off] ^= 0x01
    db.execute(f"UPDATE {table} SET {col} = ? WHERE {key} = ?", (bytes(b), idx))
exec(sys.argv[2])
db.commit()
db.close()
PY
}
