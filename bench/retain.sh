#!/bin/sh
# bench/retain.sh BUILD_DIR - retention benchmark (issue: retention).
#   1. `retain` erasing half of N records, time / time to ingest the same N
#      (target <= 0.5);
#   2. dry-run evaluation rate, records/s.
# BENCH_N (default 1000000), BENCH_DIR (default /tmp/chatledger-bench).
set -eu
O=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_N:-1000000}
W=${BENCH_DIR:-/tmp/chatledger-bench}/retain
BIN="$W/chatledger"
rm -rf "$W"
mkdir -p "$W"
cp "$ROOT/$O/chatledger" "$BIN" 2>/dev/null || cp "$O/chatledger" "$BIN"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

echo "== retention benchmark, N=$N (half due)"
awk -v n="$N" 'BEGIN {
	srand(7)
	for (i = 0; i < n; i++) {
		due = i % 2
		printf "{\"account\":\"85290000001@s.whatsapp.net\",\"conversation\":{\"id\":\"852%08d@s.whatsapp.net\",\"type\":\"direct\"},\"id\":\"3EB0%016X\",\"sender\":{\"id\":\"852%08d@s.whatsapp.net\"},\"direction\":\"in\",\"sent_at\":\"%s-0%d-1%dT0%d:1%d:00Z\",\"kind\":\"text\",\"text\":\"message %d about the account, please call me back regarding the statement\",\"labels\":[\"%s\"]}\n",
			i % 2000, i, i % 2000, due ? "2021" : "2026", 1 + i % 5, i % 10, i % 10, i % 10, i, due ? "enquiry" : "orders"
	}
}' >"$W/in.jsonl"
cat >"$W/bench.policy" <<'P'
[policy]
name = bench
default = keep

[rule orders]
match.label = orders
minimum = 2y
clock = message
maximum = 1y
basis = Cap. 571O Sch. s.1(d); SFC circular 18EC30
confidence = verified

[rule enquiries]
match.label = enquiry
minimum = 0
clock = message
maximum = 24m
basis = PDPO Cap. 486 DPP2(2), s.26
confidence = verified
P
printf 'bench passphrase\n' >"$W/pass"
"$BIN" init -a "$W/a" --origin bench.example/retain --passphrase-file "$W/pass" --kdf interactive >/dev/null
t0=$(now)
"$BIN" ingest -a "$W/a" --format jsonl --batch 1000 "$W/in.jsonl" >/dev/null
t1=$(now)
ing=$(elapsed "$t0" "$t1")
t0=$(now)
"$BIN" retain -a "$W/a" --policy "$W/bench.policy" --now 2026-06-01 --dry-run --json >"$W/dry.json"
t1=$(now)
dry=$(elapsed "$t0" "$t1")
t0=$(now)
"$BIN" retain -a "$W/a" --policy "$W/bench.policy" --now 2026-06-01 --json >"$W/run.json"
t1=$(now)
ret=$(elapsed "$t0" "$t1")
grep -q "\"erased\":$((N / 2))" "$W/run.json" || { echo "retain did not erase N/2: $(cat "$W/run.json")"; exit 2; }
"$BIN" verify -a "$W/a" >"$W/verify.out" || { cat "$W/verify.out"; exit 2; }
ratio=$(awk -v a="$ret" -v b="$ing" 'BEGIN { printf "%.3f", a / b }')
rate=$(awk -v n="$N" -v t="$dry" 'BEGIN { printf "%.0f", n / t }')
res=$(awk -v r="$ratio" 'BEGIN { print (r <= 0.5) ? "PASS" : "MISS" }')
echo "    ingest $N records: ${ing}s; retain erasing $((N / 2)): ${ret}s; dry run: ${dry}s"
echo "benchmark              chatledger        baseline            ratio    target   result"
printf "retain vs ingest       %-17s %-19s %-8s %-8s %s\n" "${ret}s" "${ing}s (ingest)" "$ratio" "<= 0.5" "$res"
printf "dry-run evaluation     %-17s\n" "$rate rec/s"
rm -rf "$W"
