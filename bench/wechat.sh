#!/bin/sh
# bench/wechat.sh BUILD_DIR - `chatledger wechat serve`: durable "success"
# answers per second (each push checked, decrypted, parsed, mapped, sealed,
# appended and fsynced before it is answered, group commit) against the
# same server started with --no-store (checked, decrypted, parsed and
# mapped, answered at once, nothing stored), measured in the same run by
# the simulator's bench client (tests/wechat/sim.js bench: safe-mode text
# pushes, each a new MsgId, WX_CONNS concurrent keep-alive clients for
# WX_SECONDS).  Prints both rates and their ratio (target >= 0.8, as for
# the WhatsApp webhook).  Also prints the server's CPU time per answer in
# each mode (utime + stime from /proc, microseconds): on a shared machine
# the rates move with the load of other processes, the CPU cost much less.
# The client's own CPU per answer and the machine's idle share are printed
# too: the client runs on the same CPUs, so when the parse-only server
# leaves CPU idle the baseline is the client's limit, and idle CPU in the
# durable runs means answers waited (on the disk, or for the group commit
# to gather), not on the CPU.
#
# Each concurrency is measured WX_ROUNDS times (default 3), the two modes
# alternating, and the medians are printed (the ratio is the median of the
# rounds' own ratios).
#
# Environment: WX_SECONDS (default 8), WX_CONNS (default "32 128"), WX_ROUNDS,
# BENCH_DIR (default /tmp/chatledger-bench; works in BENCH_DIR/wechat).
set -eu
O=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CL="$ROOT/$O/chatledger"
SIM="$ROOT/tests/wechat/sim.js"
W=${BENCH_DIR:-/tmp/chatledger-bench}/wechat
SECS=${WX_SECONDS:-8}
CONNS=${WX_CONNS:-32 128}
ROUNDS=${WX_ROUNDS:-3}
rm -rf "$W"
mkdir -p "$W"
pid=""
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; fi; rm -rf "$W"' EXIT INT TERM
printf 'bench passphrase\n' >"$W/pass"
printf 'oaTokenTest\n' >"$W/tok"
printf 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG\n' >"$W/key"
chmod 600 "$W/tok" "$W/key"

serve() { # ARCHIVE [--no-store]: start, set $pid and $url
	"$CL" wechat serve -a "$1" --listen 127.0.0.1:0 --json --oa-appid wxb11529c136998cb6 \
		--oa-token-file "$W/tok" --oa-aes-key-file "$W/key" ${2:-} >"$W/out" 2>/dev/null &
	pid=$!
	i=0
	while ! grep -q listening "$W/out" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	url="http://$(sed -n 's/.*"address":"\([^"]*\)".*/\1/p' "$W/out")"
}

rate() { sed -n 's/.* rate \([0-9.]*\)\/s/\1/p'; }
answered() { sed -n 's/^answered \([0-9]*\) .*/\1/p'; }
# cpu PID: utime + stime of the process, in clock ticks
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# idle: "idle+iowait total" ticks of the whole machine
idle() { awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat; }
TCK=$(getconf CLK_TCK)

# one MODE ROUND: one timed run; appends "rate server_cpu_us client_cpu_us
# idle_percent" (CPU per answer; the machine's idle share) to $W/MODE
one() {
	if [ "$1" = base ]; then serve "$W/a" --no-store; else serve "$W/a"; fi
	c0=$(cpu "$pid")
	i0=$(idle)
	node "$SIM" bench --url "$url" --seconds "$SECS" --conc "$c" >"$W/b"
	i1=$(idle)
	echo "$(rate <"$W/b") $(( ($(cpu "$pid") - c0) * 1000000 / TCK / ($(answered <"$W/b") + 1) ))" \
		"$(sed -n 's/^client cpu \([0-9.]*\) .*/\1/p' "$W/b")" \
		"$(echo "$i0 $i1" | awk '{ t = $4 - $2; printf "%.0f", (t > 0 ? 100 * ($3 - $1) / t : 0) }')" >>"$W/$1"
	kill "$pid"; wait "$pid" 2>/dev/null || true
	pid=""
}
# median of column $1 of file $2
median() { awk -v k="$1" '{ print $k }' "$2" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for c in $CONNS; do
	rm -rf "$W/a" "$W/base" "$W/dur" "$W/ratios"
	"$CL" init -a "$W/a" --origin bench.example/wechat --passphrase-file "$W/pass" \
		--kdf interactive >/dev/null
	# The machine is shared: the two modes alternate, ROUNDS times, and
	# each round's ratio is taken from its own pair of runs.
	r=0
	while [ $r -lt "$ROUNDS" ]; do
		one base
		one dur
		paste "$W/base" "$W/dur" | tail -n 1 | awk '{ printf "%.3f\n", $5 / $1 }' >>"$W/ratios"
		r=$((r + 1))
	done
	stored=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from entry where type=1').fetchone()[0])" "$W/a/ledger.db")
	echo "wechat serve, $c connections, median of $ROUNDS alternating runs: durable $(median 1 "$W/dur")/s ($stored records stored), parse-only baseline $(median 1 "$W/base")/s, ratio $(median 1 "$W/ratios") (each round: $(tr '\n' ' ' <"$W/ratios")); server CPU per answer: durable $(median 2 "$W/dur")us, parse-only $(median 2 "$W/base")us; client CPU per answer: durable $(median 3 "$W/dur")us, parse-only $(median 3 "$W/base")us; machine idle: durable $(median 4 "$W/dur")%, parse-only $(median 4 "$W/base")%"
done
