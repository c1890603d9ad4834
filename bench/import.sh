#!/bin/sh
# bench/import.sh BUILD_DIR - WhatsApp chat-export import rate
# (messages/s, durable), as the sources issue asks: a rate, reported in
# the closing note.  BENCH_IMPORT_N (default 200000), BENCH_DIR (default
# /tmp/chatledger-bench).
set -eu
O=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_IMPORT_N:-200000}
W=${BENCH_DIR:-/tmp/chatledger-bench}/import
BIN="$W/chatledger"
rm -rf "$W"
mkdir -p "$W"
cp "$ROOT/$O/chatledger" "$BIN" 2>/dev/null || cp "$O/chatledger" "$BIN"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
echo "== WhatsApp export import, $N messages"
# An Android-style export: day-first dates, 24-hour clock, three speakers,
# some multi-line messages.
awk -v n="$N" 'BEGIN {
	split("Chan Tai Man|Agent Amy|+852 9123 4567", who, "|")
	for (i = 0; i < n; i++) {
		m = int(i / 1440); d = 1 + m % 28; mo = 1 + int(m / 28) % 12; y = 2020 + int(m / 336)
		printf "%02d/%02d/%d, %02d:%02d - %s: message %d about the loan repayment schedule and the documents\n", d, mo, y, int(i / 60) % 24, i % 60, who[1 + i % 3], i
		if (i % 10 == 0) printf "second line of message %d\n", i
	}
}' >"$W/WhatsApp Chat with Chan Tai Man.txt"
printf 'bench passphrase\n' >"$W/pass"
"$BIN" init -a "$W/a" --origin bench.example/import --passphrase-file "$W/pass" --kdf interactive >/dev/null
t0=$(now)
"$BIN" ingest -a "$W/a" --format whatsapp-export --account 85290000001@s.whatsapp.net --self "Agent Amy" --json "$W/WhatsApp Chat with Chan Tai Man.txt" >"$W/out.json"
t1=$(now)
grep -q "\"ingested\":$N" "$W/out.json" || { echo "import failed: $(cat "$W/out.json")"; exit 2; }
imp=$(elapsed "$t0" "$t1")
rate=$(awk -v n="$N" -v t="$imp" 'BEGIN { printf "%.0f", n / t }')
echo "    import of $N messages: ${imp}s = $rate messages/s"
"$BIN" verify -a "$W/a" >/dev/null || { echo "verify failed"; exit 2; }
rm -rf "$W"
