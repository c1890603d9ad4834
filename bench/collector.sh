#!/bin/sh
# bench/collector.sh BUILD_DIR - the linked-device collector's
# receive -> decrypt -> commit (fsync) -> receipt latency and throughput
# (issue 13, benchmark 8), against a baseline measured in the same run.
#
# The local peer (tests/peer/peer.js) pairs with a fresh archive and then
# sends CB_MESSAGES scripted messages (1:1 and groups, every kind) as fast
# as it can encrypt them; each message's latency is the peer's receipt
# time minus its send time (both on the peer's clock).  The baseline is
# the floor of a durable receipt: one fsynced SQLite commit per message
# (bench/baseline_sqlite.c with BATCH=1, synchronous=FULL, WAL) on the
# same disk.  Prints p50/p99 latency, messages/s, the ratio of the
# collector's throughput to that baseline, and the collector's RSS at the
# start and end (it must stay flat).  A missed target (p99 <= 20 ms) is
# MISS, not a failure.
#
# Environment: CB_MESSAGES (default 2000), BENCH_DIR (default
# /tmp/chatledger-bench), CC (default cc).
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CL=$(cd "$BUILD" 2>/dev/null && pwd)/chatledger
N=${CB_MESSAGES:-2000}
SCRATCH=${BENCH_DIR:-/tmp/chatledger-bench}/collector
CC=${CC:-cc}
[ -x "$CL" ] || { echo "bench collector: no chatledger in '$BUILD'" >&2; exit 2; }
[ -d "$ROOT/tests/peer/node_modules" ] ||
	{ echo "bench collector: run npm ci in tests/peer" >&2; exit 2; }
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH" || exit 2
$CC -O2 -o "$SCRATCH/baseline_sqlite" "$ROOT/bench/baseline_sqlite.c" \
	$(pkg-config --cflags --libs sqlite3) || exit 2
i=0
while [ $i -lt "$N" ]; do
	echo "{\"n\":$i,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}"
	i=$((i + 1))
done >"$SCRATCH/lines.jsonl"
t0=$(date +%s%N)
"$SCRATCH/baseline_sqlite" "$SCRATCH/base.db" "$SCRATCH/lines.jsonl" 1 >/dev/null || exit 2
t1=$(date +%s%N)
BASE_RATE=$(awk -v n="$N" -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", n / (ns / 1e9) }')
echo "baseline: $N fsynced single-row SQLite commits: $BASE_RATE/s"
CHATLEDGER=$CL CL_ROOT=$ROOT BENCH_SCRATCH=$SCRATCH CB_MESSAGES=$N \
	BASE_RATE=$BASE_RATE exec python3 "$ROOT/bench/collector_bench.py"
