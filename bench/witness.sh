#!/bin/sh
# bench/witness.sh BUILD_DIR - witnessing (issue 14, benchmark), each
# figure as a ratio against a baseline from the same run:
#   1. checkpoints cosigned per second by one `chatledger witness serve` on
#      loopback (K consecutive add-checkpoint requests with consistency
#      proofs over one keep-alive connection; each is verified, committed
#      and fsynced before its answer), against bare HTTP round trips to the
#      same server (monitor GETs) as the baseline;
#   2. ingest rate with two witnesses configured and `witness push` running
#      back to back in a loop beside the ingest (interval 0: far more often
#      than the timer would), against the same ingest with no witness.
#      Target: ratio >= 0.95 (not slowed by more than 5%).
# Figures only: no pass/fail.  Exit status is non-zero only if a command
# fails.
#   BENCH_WITNESS_K      checkpoints to cosign (default 300)
#   BENCH_WITNESS_N      records to ingest (default 40000)
#   BENCH_DIR            scratch directory (default /tmp/chatledger-bench)
set -u
BUILD=${1:-build}
K=${BENCH_WITNESS_K:-300}
N=${BENCH_WITNESS_N:-40000}
W=${BENCH_DIR:-/tmp/chatledger-bench}/witness
CL=$(cd "$BUILD" 2>/dev/null && pwd)/chatledger
ROOT=$(cd "$(dirname "$0")/.." && pwd)

die() {
	echo "bench witness: ERROR: $*" >&2
	exit 2
}
[ -x "$CL" ] || die "no chatledger binary in '$BUILD' (run make first)"
command -v curl >/dev/null 2>&1 || die "'curl' is required"
command -v node >/dev/null 2>&1 || die "'node' is required"
rm -rf "$W"
mkdir -p "$W" || die "cannot create $W"
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT INT TERM
printf 'bench passphrase\n' >"$W/pass"
now() { date +%s.%N; }
records() { # PREFIX COUNT
	awk -v p="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++)
		printf "{\"account\":\"85290000001@s.whatsapp.net\",\"conversation\":{\"id\":\"c%d\",\"type\":\"direct\"},\"id\":\"%s-%d\",\"sender\":{\"id\":\"c%d\"},\"direction\":\"in\",\"sent_at\":\"2025-03-01T10:00:00+08:00\",\"kind\":\"text\",\"text\":\"%s bench message %d\"}\n", i % 50, p, i, i % 50, p, i }'
}
serve() { # STATE -> port on stdout
	"$CL" witness serve --state "$1" --listen 127.0.0.1:0 >"$1.out" 2>/dev/null &
	pids="$pids $!"
	i=0
	while [ $i -lt 100 ] && ! grep -q '^listening port' "$1.out" 2>/dev/null; do
		sleep 0.05; i=$((i + 1))
	done
	sed -n 's/^listening port //p' "$1.out"
}

# ---- 1. cosignatures per second --------------------------------------
"$CL" init -a "$W/A" --origin bench.example/log --passphrase-file "$W/pass" --kdf interactive \
	>/dev/null || die "init"
records k "$K" >"$W/k.jsonl"
"$CL" ingest -a "$W/A" --format jsonl --batch 1 "$W/k.jsonl" >/dev/null || die "ingest"
"$CL" witness init --state "$W/S" --name bench.example/witness >/dev/null || die "witness init"
"$CL" witness add-log --state "$W/S" --key "$("$CL" pubkey -a "$W/A")" 2>/dev/null
P=$(serve "$W/S")
[ -n "$P" ] || die "witness serve did not start"
mkdir -p "$W/req"
i=1
while [ $i -le "$K" ]; do
	{
		printf 'old %d\n' $((i - 1))
		[ $i -gt 1 ] && "$CL" prove -a "$W/A" --consistency $((i - 1)) --size $i | tail -n +4
		printf '\n'
		"$CL" checkpoint -a "$W/A" --size $i
	} >"$W/req/$i"
	i=$((i + 1))
done
# One curl process, one keep-alive connection, K requests in order.
: >"$W/curl.cfg"
i=1
while [ $i -le "$K" ]; do
	[ $i -gt 1 ] && echo 'next' >>"$W/curl.cfg"
	printf 'url = "http://127.0.0.1:%s/add-checkpoint"\ndata-binary = "@%s"\nwrite-out = "%%{http_code}\\n"\noutput = "/dev/null"\n' \
		"$P" "$W/req/$i" >>"$W/curl.cfg"
	i=$((i + 1))
done
H=$(printf 'bench.example/log' | sha256sum | cut -d' ' -f1)
: >"$W/get.cfg"
i=1
while [ $i -le "$K" ]; do
	[ $i -gt 1 ] && echo 'next' >>"$W/get.cfg"
	printf 'url = "http://127.0.0.1:%s/%s/checkpoint"\nwrite-out = "%%{http_code}\\n"\noutput = "/dev/null"\n' \
		"$P" "$H" >>"$W/get.cfg"
	i=$((i + 1))
done
t0=$(now)
curl -s -K "$W/curl.cfg" >"$W/codes" || die "curl"
t1=$(now)
ok=$(grep -c '^200$' "$W/codes")
[ "$ok" -eq "$K" ] || die "only $ok of $K checkpoints cosigned"
t2=$(now)
curl -s -K "$W/get.cfg" >"$W/gcodes" || die "curl"
t3=$(now)
awk -v k="$K" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN {
	cs = k / (b - a); rt = k / (d - c)
	printf "witness: %d checkpoints cosigned in %.2f s: %.0f cosignatures/s on loopback (verify + proof + fsync each)\n", k, b - a, cs
	printf "witness: bare HTTP round trips to the same server: %.0f/s; cosign/round-trip ratio %.3f\n", rt, cs / rt
}'

# ---- 2. ingest with two witnesses vs none ----------------------------
records n "$N" >"$W/n.jsonl"
"$CL" init -a "$W/none" --origin bench.example/none --passphrase-file "$W/pass" --kdf interactive >/dev/null
"$CL" init -a "$W/two" --origin bench.example/two --passphrase-file "$W/pass" --kdf interactive >/dev/null
"$CL" witness add-log --state "$W/S" --key "$("$CL" pubkey -a "$W/two")" 2>/dev/null
: >"$W/node.out"
node "$ROOT/tests/witness/witness.js" serve --state "$W/node.json" --name node.example/w \
	--log "$("$CL" pubkey -a "$W/two")" >"$W/node.out" 2>/dev/null &
pids="$pids $!"
i=0
while [ $i -lt 100 ] && ! grep -q '^listening port' "$W/node.out"; do sleep 0.05; i=$((i + 1)); done
PN=$(sed -n 's/^listening port //p' "$W/node.out")
printf '[witness]\nwitness = http://127.0.0.1:%s %s\nwitness = http://127.0.0.1:%s %s\ninterval = 0\n' \
	"$P" "$("$CL" witness pubkey --state "$W/S")" "$PN" "$(sed -n 's/^vkey //p' "$W/node.out")" \
	>>"$W/two/chatledger.conf"

t0=$(now)
"$CL" ingest -a "$W/none" --format jsonl --batch 500 "$W/n.jsonl" >/dev/null || die "ingest none"
t1=$(now)
: >"$W/stop"
( pushes=0
  while [ -f "$W/stop" ]; do
	"$CL" witness push -a "$W/two" >/dev/null 2>>"$W/push.err"
	pushes=$((pushes + 1))
  done
  echo "$pushes" >"$W/pushes" ) &
loop=$!
t2=$(now)
"$CL" ingest -a "$W/two" --format jsonl --batch 500 "$W/n.jsonl" >/dev/null || die "ingest two"
t3=$(now)
rm -f "$W/stop"
wait "$loop"
cos=$("$CL" status -a "$W/two" --json | sed 's/.*"witness":{[^}]*"by":\([0-9]*\).*/\1/')
awk -v n="$N" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v p="$(cat "$W/pushes")" 'BEGIN {
	r0 = n / (b - a); r2 = n / (d - c)
	printf "ingest: %d records, no witness: %.0f records/s\n", n, r0
	printf "ingest: with two witnesses and %d pushes during the run: %.0f records/s\n", p, r2
	printf "ingest: ratio two witnesses / none = %.3f (target >= 0.95)\n", r2 / r0
}'
echo "ingest: latest witnessed checkpoint cosigned by $cos of 2"
