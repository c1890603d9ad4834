#!/bin/sh
# bench/writers.sh BUILD_DIR - many writers on one archive (issue 10,
# benchmark), each figure as a ratio against a baseline from the same run:
#   1. two `ingest` processes in parallel (two files of N records each)
#      against one process ingesting both files in turn: aggregate
#      records/s each way and their ratio;
#   2. webhook latency, one signed post at a time (a python3 client, P
#      posts, each a new message): p50 and p99 alone, and again while a
#      `retain` erases a large due set; the ratios.
# Figures only: no target, no pass/fail.  Exit status is non-zero only if
# a command fails.
#   BENCH_WRITERS_N      records per ingest file (default 100000)
#   BENCH_WRITERS_POSTS  posts per latency run (default 500)
#   BENCH_WRITERS_DUE    records due for erasure under the retain (default 200000)
#   BENCH_DIR            scratch directory (default /tmp/chatledger-bench);
#                        works in BENCH_DIR/writers, recreated and removed
set -u
BUILD=${1:-build}
N=${BENCH_WRITERS_N:-100000}
POSTS=${BENCH_WRITERS_POSTS:-500}
DUE=${BENCH_WRITERS_DUE:-200000}
W=${BENCH_DIR:-/tmp/chatledger-bench}/writers
CL_SRC=$(cd "$BUILD" 2>/dev/null && pwd)/chatledger

die() {
	echo "bench writers: ERROR: $*" >&2
	exit 2
}
[ -x "$CL_SRC" ] || die "no chatledger binary in '$BUILD' (run make first)"
command -v python3 >/dev/null 2>&1 || die "'python3' is required"
rm -rf "$W"
mkdir -p "$W/bin" || die "cannot create $W"
CL=$W/bin/chatledger
cp "$CL_SRC" "$CL" || die "cannot copy $CL_SRC"
server_pid=""
retain_pid=""
cleanup() {
	for p in $server_pid $retain_pid; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 2' INT TERM
printf 'bench passphrase\n' >"$W/pass"
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"${2:-%.2f}\", $1 }"; }
new() { "$CL" init -a "$1" --origin bench.example/writers --passphrase-file "$W/pass" \
	--kdf interactive >/dev/null || die "init failed"; }
# gen START COUNT LABEL SENT_AT: jsonl records with unique ids
gen() {
	awk -v s="$1" -v n="$2" -v lab="$3" -v at="$4" 'BEGIN { for (i = s; i < s + n; i++)
	printf "{\"account\":\"85290000001@s.whatsapp.net\",\"conversation\":{\"id\":\"8529%07d@s.whatsapp.net\",\"type\":\"direct\"},\"id\":\"w%d\",\"sender\":{\"id\":\"8529%07d@s.whatsapp.net\"},\"direction\":\"in\",\"sent_at\":\"%s\",\"kind\":\"text\",\"text\":\"writers bench message %d about the documents\",\"labels\":[\"%s\"]}\n", i % 500, i, i % 500, at, i, lab }'
}

# ---- 1. parallel ingests ----------------------------------------------------

gen 0 "$N" keep 2025-01-01T00:00:00Z >"$W/x.jsonl"
gen "$N" "$N" keep 2025-01-01T00:00:00Z >"$W/y.jsonl"
echo "== ingest: two files of $N records"
new "$W/seq"
t0=$(now)
"$CL" ingest -a "$W/seq" --format jsonl "$W/x.jsonl" "$W/y.jsonl" >/dev/null || die "ingest failed"
t1=$(now)
seq_s=$(calc "$t1 - $t0" %.3f)
seq_r=$(calc "2 * $N / $seq_s" %.0f)
new "$W/par"
t0=$(now)
"$CL" ingest -a "$W/par" --format jsonl "$W/x.jsonl" >/dev/null 2>&1 &
p1=$!
"$CL" ingest -a "$W/par" --format jsonl "$W/y.jsonl" >/dev/null 2>&1 &
p2=$!
wait "$p1" || die "ingest failed"
wait "$p2" || die "ingest failed"
t1=$(now)
par_s=$(calc "$t1 - $t0" %.3f)
par_r=$(calc "2 * $N / $par_s" %.0f)
"$CL" verify -a "$W/par" >/dev/null || die "verify failed after the parallel ingests"
echo "    one process, both files:    ${seq_s}s = $seq_r records/s"
echo "    two processes in parallel:  ${par_s}s = $par_r records/s"
echo "    ratio parallel / sequential: $(calc "$par_r / $seq_r" %.3f)"
rm -rf "$W/seq" "$W/par" "$W/x.jsonl" "$W/y.jsonl"

# ---- 2. webhook latency with and without a concurrent retain -----------------

A=$W/wh
new "$A"
gen 0 "$DUE" due 2021-01-01T00:00:00Z | "$CL" ingest -a "$A" --format jsonl - >/dev/null ||
	die "ingest failed"
printf 'bench writers secret 0123456789abcdef\n' >"$W/secret"
printf 'bench-token\n' >"$W/token"
chmod 600 "$W/secret" "$W/token"
printf '[policy]\nname = bench\ndefault = keep\n[rule due]\nmatch.label = due\nminimum = 0\nclock = message\nmaximum = 1d\nbasis = bench\nconfidence = verified\n' >"$W/bench.policy"
: >"$W/wh.out"   # exists before the server's shell opens it: the loop below reads it
"$CL" webhook -a "$A" --listen 127.0.0.1:0 --app-secret-file "$W/secret" \
	--verify-token-file "$W/token" --json >"$W/wh.out" 2>/dev/null &
server_pid=$!
port=""
i=0
while [ -z "$port" ] && [ "$i" -lt 400 ]; do
	port=$(sed -n 's/.*"address":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$W/wh.out")
	sleep 0.05
	i=$((i + 1))
done
[ -n "$port" ] || die "webhook did not start"

# client START [PID]: POSTS signed posts, one at a time; prints "p50 p99
# COUNT" (ms) over all of them, or with PID over those sent while PID ran.
client() {
	python3 - "$port" "$W/secret" "$1" "$POSTS" "${2:-0}" <<'PY'
import hashlib, hmac, http.client, json, sys, time
port, secret = int(sys.argv[1]), open(sys.argv[2], "rb").read().rstrip(b"\n")
start, n, pid = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def running():
    try:
        return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
lat = []
c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
for i in range(start, start + n):
    b = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "85290000001", "phone_number_id": "1"},
        "contacts": [{"profile": {"name": "A"}, "wa_id": "85291234567"}],
        "messages": [{"from": "85291234567", "id": "wamid.bench-%d" % i,
                      "timestamp": "1700000000", "type": "text",
                      "text": {"body": "bench %d" % i}}]}}]}]}).encode()
    sig = "sha256=" + hmac.new(secret, b, hashlib.sha256).hexdigest()
    during = pid == 0 or running()
    t0 = time.perf_counter()
    c.request("POST", "/webhook", b, {"Content-Type": "application/json",
                                      "X-Hub-Signature-256": sig})
    r = c.getresponse()
    r.read()
    if during:
        lat.append((time.perf_counter() - t0) * 1000)
    if r.status != 200:
        sys.exit("HTTP %d" % r.status)
lat.sort()
if not lat:
    sys.exit("no post overlapped")
print("%.2f %.2f %d" % (lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))], len(lat)))
PY
}

echo "== webhook latency, $POSTS signed posts one at a time"
set -- $(client 0) || die "client failed"
[ $# -eq 3 ] || die "client failed"
b50=$1; b99=$2
"$CL" retain -a "$A" --policy "$W/bench.policy" --now 2100-01-01 >"$W/retain.out" 2>&1 &
retain_pid=$!
sleep 0.2
set -- $(client 100000 "$retain_pid") || die "client failed"
[ $# -eq 3 ] || die "client failed"
r50=$1; r99=$2; rn=$3
wait "$retain_pid" || die "retain failed: $(cat "$W/retain.out")"
retain_pid=""
kill -TERM "$server_pid" 2>/dev/null
wait "$server_pid" 2>/dev/null
server_pid=""
"$CL" verify -a "$A" >/dev/null || die "verify failed after the webhook run"
echo "    alone:                 p50 ${b50} ms, p99 ${b99} ms"
echo "    beside retain ($DUE due; the $rn posts sent while it ran): p50 ${r50} ms, p99 ${r99} ms"
echo "    ratio with / without retain: p50 $(calc "$r50 / $b50" %.2f), p99 $(calc "$r99 / $b99" %.2f)"
