#!/bin/sh
# bench/collector.sh BUILD_DIR - the linked-device collector's
# receive -> decrypt -> commit (fsync) -> receipt latency and throughput
# (issue 13, benchmark 8: "the peer sends 1,000 msg/s for 60 s; p50/p99
# latency, RSS at start and end; target p99 <= 20 ms, RSS flat"), against
# a baseline measured in the same run.
#
# The local peer (tests/peer/peer.js) pairs with a fresh archive, warms up
# every sender's session and sender key, then:
#   rate run: it encrypts CB_RATE * CB_SECONDS mixed messages ahead of
#     time (1:1 and group, as its scripted run mixes them; no media), then
#     only frames and sends them at CB_RATE/s on absolute deadlines and
#     times each message from its send to the collector's receipt (both
#     on the peer's clock, so the peer's own queue is not counted twice).
#     Prints the offered and achieved rate, p50/p90/p99/max latency (and
#     p99 per second), the collector's RSS at start and end (/proc), its
#     CPU time per message, how long it and the peer were runnable but
#     waiting for a CPU (others' load on a shared machine shows here),
#     and the ratio of its throughput and p50 to the baseline.
#   scripted run: CB_MESSAGES scripted messages of every kind as fast as
#     the peer encrypts them (its JavaScript libsignal, ~120 messages/s on
#     2 shared cores, is the limit), then a paced run at 50/s.
# The baseline is the floor of a durable receipt: one fsynced SQLite commit
# per message (bench/baseline_sqlite.c with BATCH=1, synchronous=FULL,
# WAL) on the same disk.  A missed target (p99 <= 20 ms) is MISS, not a
# failure.
#
# Short mode (the default, for `make bench`): 1,000 msg/s for 10 s.
# Long mode (the acceptance figure): CB_SECONDS=60 sh bench/collector.sh
#
# Environment: CB_MODE both|rate|scripted (default both), CB_RATE (1000),
# CB_SECONDS (10), CB_ITER consecutive|baileys (sender-key iterations of
# the rate run's group messages: consecutive as libsignal and the official
# clients send them (default), or Baileys' skipping one per message, which
# leaves up to 2,000 skipped keys in each sender-key record),
# CB_PERF cpu|sync (perf record the collector in the timed phase: a
# call-graph profile, or its fsync/fdatasync durations), CB_MESSAGES
# (2000, the scripted run and the baseline), BENCH_DIR (default
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
	BASE_RATE=$BASE_RATE CB_MODE=${CB_MODE:-both} CB_RATE=${CB_RATE:-1000} \
	CB_SECONDS=${CB_SECONDS:-10} CB_ITER=${CB_ITER:-consecutive} \
	exec python3 "$ROOT/bench/collector_bench.py"
