#!/bin/sh
# bench/console.sh [--quick] BUILD_DIR - page times of the web console
# (chatledger console): p50 and p99 of the conversation page for one
# conversation of 10,000 messages, and of a party search, over an archive
# of N records (default 10^6; --quick or BENCH_QUICK=1: 20,000 records and
# a 2,000-message conversation).  The baseline, measured here on the same
# rows: the sqlite3 CLI reading them from a plain indexed table (no
# decryption, no HTML, no access entry).  Prints both and the ratio.
#
# Each page load decrypts every record it shows, escapes it into HTML and
# first appends (and fsyncs) its access entry; the session is already
# signed in, so Argon2id is not in the page time.
#
# Environment: BENCH_CONSOLE_N, BENCH_CONSOLE_CONV, BENCH_CONSOLE_RUNS,
# BENCH_SEED, BENCH_DIR (default /tmp/chatledger-bench-console),
# BENCH_KEEP=1, CC.
set -u

QUICK=${BENCH_QUICK:-0}
if [ "${1:-}" = "--quick" ] || [ "${2:-}" = "quick" ]; then QUICK=1; fi
[ "${1:-}" = "--quick" ] && shift
BUILD=${1:-build}
if [ "$QUICK" = 1 ]; then
	N=${BENCH_CONSOLE_N:-20000}; M=${BENCH_CONSOLE_CONV:-2000}; RUNS=${BENCH_CONSOLE_RUNS:-10}
else
	N=${BENCH_CONSOLE_N:-1000000}; M=${BENCH_CONSOLE_CONV:-10000}; RUNS=${BENCH_CONSOLE_RUNS:-30}
fi
SEED=${BENCH_SEED:-20240601}
SCRATCH=${BENCH_DIR:-/tmp/chatledger-bench-console}
CC=${CC:-cc}
SRC=$(cd "$(dirname "$0")" && pwd)

die() { echo "bench/console: ERROR: $*" >&2; exit 2; }
CL=$(cd "$BUILD" 2>/dev/null && pwd)/chatledger
[ -x "$CL" ] || die "no chatledger binary in '$BUILD' (run make first)"
for t in sqlite3 python3 awk curl date; do
	command -v "$t" >/dev/null 2>&1 || die "'$t' is required"
done
rm -rf "$SCRATCH"
mkdir -p "$SCRATCH" || die "cannot create $SCRATCH"
CPID=
cleanup() {
	[ -n "$CPID" ] && kill -TERM "$CPID" 2>/dev/null && wait "$CPID" 2>/dev/null
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$SCRATCH"
}
trap cleanup EXIT INT TERM
now() { date +%s.%N; }

$CC -O2 -std=c11 -D_GNU_SOURCE -o "$SCRATCH/gen" "$SRC/gen.c" || die "cannot compile bench/gen.c"
"$SCRATCH/gen" "$N" "$SEED" >"$SCRATCH/records.jsonl" 2>/dev/null || die "gen failed"
# one long conversation of M messages
awk -v m="$M" 'BEGIN { for (i = 0; i < m; i++) {
	d = (i % 2) ? "out" : "in"; s = (i % 2) ? "85230000001@s.whatsapp.net" : "85298765432@s.whatsapp.net"
	printf "{\"account\":\"85230000001@s.whatsapp.net\",\"conversation\":{\"id\":\"85298765432@s.whatsapp.net\",\"type\":\"direct\",\"name\":\"Long Chat\"},\"id\":\"BENCHLONG%08d\",\"sender\":{\"id\":\"%s\",\"name\":\"P%d\",\"device\":%d},\"direction\":\"%s\",\"sent_at\":\"2026-01-%02dT%02d:%02d:%02dZ\",\"kind\":\"text\",\"text\":\"message %d of the long chat <b>escaped</b> & more words here\"}\n", i, s, i % 2, i % 3, d, 1 + int(i / 86400) % 28, int(i / 3600) % 24, int(i / 60) % 60, i % 60, i } }' \
	>>"$SCRATCH/records.jsonl"
printf 'bench passphrase\n' >"$SCRATCH/pass"
A=$SCRATCH/archive
"$CL" init -a "$A" --origin bench.example/console --passphrase-file "$SCRATCH/pass" \
	--kdf interactive >/dev/null || die "init failed"
t0=$(now)
"$CL" ingest -a "$A" --format jsonl --batch 5000 "$SCRATCH/records.jsonl" >/dev/null ||
	die "ingest failed"
t1=$(now)
echo "console: $((N + M)) records ingested in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
"$CL" officer migrate -a "$A" --name bench --passphrase-file "$SCRATCH/pass" --kdf interactive \
	>/dev/null || die "officer migrate failed"

# The baseline table and the party (median incoming sender), as bench/search.sh.
python3 - "$SCRATCH/records.jsonl" "$SCRATCH/plain.db" "$SCRATCH/party" <<'PY' || die "baseline load failed"
import json, sqlite3, sys, collections
db = sqlite3.connect(sys.argv[2])
db.execute("CREATE TABLE msgs(idx INTEGER PRIMARY KEY, conv TEXT, sender TEXT, body TEXT)")
cnt = collections.Counter()
def rows():
    with open(sys.argv[1], encoding="utf-8") as f:
        for i, line in enumerate(f):
            r = json.loads(line)
            if r.get("direction") == "in" and not r["id"].startswith("BENCHLONG"):
                cnt[r["sender"]["id"]] += 1
            yield (i, r["conversation"]["id"], r["sender"]["id"], line.rstrip("\n"))
db.executemany("INSERT INTO msgs VALUES (?,?,?,?)", rows())
db.execute("CREATE INDEX msgs_sender ON msgs(sender)")
db.execute("CREATE INDEX msgs_conv ON msgs(conv)")
db.commit()
c = sorted(cnt.items(), key=lambda kv: (kv[1], kv[0]))
open(sys.argv[3], "w").write(c[len(c) // 2][0])
PY
PARTY=$(cat "$SCRATCH/party")
CONV=85298765432@s.whatsapp.net

"$CL" console -a "$A" --listen 127.0.0.1:0 --json >"$SCRATCH/con.out" 2>"$SCRATCH/con.err" &
CPID=$!
i=0
while [ $i -lt 100 ] && ! grep -q listening "$SCRATCH/con.out" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
BASE="http://$(sed -n 's/.*"address":"\([^"]*\)".*/\1/p' "$SCRATCH/con.out")"
curl -s -o /dev/null -c "$SCRATCH/jar" --data-urlencode "name=bench" \
	--data-urlencode "passphrase=bench passphrase" "$BASE/login" || die "sign-in failed"
cat "$A/ledger.db" "$SCRATCH/plain.db" >/dev/null

# times URL: RUNS page loads, one time per line (seconds), sorted
loads() {
	: >"$SCRATCH/t"
	for _ in $(seq "$RUNS"); do
		curl -s -o "$SCRATCH/page" -w '%{http_code} %{time_total}\n' -b "$SCRATCH/jar" "$1" \
			>>"$SCRATCH/t" || die "page load failed"
	done
	grep -v '^200 ' "$SCRATCH/t" >/dev/null && die "a page load failed: $(grep -v '^200 ' "$SCRATCH/t" | head -1)"
	awk '{ print $2 }' "$SCRATCH/t" | sort -n
}
pct() { # pct P: the P-th percentile (nearest rank) of sorted stdin
	awk -v p="$1" '{ v[NR] = $1 } END { r = int((p / 100) * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR; printf "%.4f", v[r] }'
}
best() {
	b=
	for _ in 1 2 3; do
		s=$(now); "$@" >"$SCRATCH/out" 2>"$SCRATCH/err" || die "'$*' failed"; e=$(now)
		b=$(awk -v a="$s" -v z="$e" -v b="$b" 'BEGIN { t = z - a; if (b == "" || t < b) b = t; printf "%.4f", b }')
	done
	echo "$b"
}

enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
loads "$BASE/conversation?id=$(enc "$CONV")&reason=bench" >"$SCRATCH/conv.t"
shown=$(grep -o 'class="msg ' "$SCRATCH/page" | wc -l)
loads "$BASE/search?party=$(enc "$PARTY")&reason=bench" >"$SCRATCH/search.t"
hits=$(grep -c '<tr><td>' "$SCRATCH/page")
b_conv=$(best sqlite3 "$SCRATCH/plain.db" "SELECT body FROM msgs WHERE conv = '$CONV' ORDER BY idx;")
b_search=$(best sqlite3 "$SCRATCH/plain.db" "SELECT body FROM msgs WHERE conv IN (SELECT DISTINCT conv FROM msgs WHERE sender = '$PARTY') ORDER BY idx LIMIT 500;")
c50=$(pct 50 <"$SCRATCH/conv.t"); c99=$(pct 99 <"$SCRATCH/conv.t")
s50=$(pct 50 <"$SCRATCH/search.t"); s99=$(pct 99 <"$SCRATCH/search.t")
echo "console: archive of $((N + M)) records; $RUNS loads per page"
echo "console: conversation page ($shown messages): p50 $c50 s, p99 $c99 s; sqlite3 plain rows $b_conv s; ratio p99/baseline $(awk -v a="$c99" -v b="$b_conv" 'BEGIN { printf "%.1f", a / b }')"
echo "console: party search page ($hits rows shown, party $PARTY): p50 $s50 s, p99 $s99 s; sqlite3 plain rows $b_search s; ratio p99/baseline $(awk -v a="$s99" -v b="$b_search" 'BEGIN { printf "%.1f", a / b }')"
