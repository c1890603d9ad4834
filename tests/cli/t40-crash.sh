#!/bin/sh
# t40-crash: SIGKILL `chatledger ingest` at random moments during a large
# ingest; after every kill `verify` exits 0; re-running the ingest to the
# end stores exactly the input set: no loss, no duplicates.
#   CL_CRASH_N      records (default 100000)
#   CL_CRASH_KILLS  kills (default 50)
. "$(dirname "$0")/lib.sh"

N=${CL_CRASH_N:-100000}
KILLS=${CL_CRASH_KILLS:-50}
A="$T/a"
new_archive "$A"
gen_records "$N" 0 500 >"$T/in.jsonl"

# Delays (seconds) before each kill, from a fixed seed so a failure can be
# replayed; short enough that every run is cut off mid-ingest.
awk -v k="$KILLS" 'BEGIN { srand(20261124); for (i = 0; i < k; i++) printf "%.3f\n", 0.02 + rand() * 0.25 }' >"$T/delays"

kills=0
mid=0
bad=0
while read -r d; do
	"$CHATLEDGER" ingest -a "$A" --format jsonl --batch 500 "$T/in.jsonl" >"$T/run.out" 2>&1 &
	pid=$!
	sleep "$d"
	if kill -9 "$pid" 2>/dev/null; then
		mid=$((mid + 1))
	fi
	wait "$pid" 2>/dev/null
	kills=$((kills + 1))
	if ! "$CHATLEDGER" verify -a "$A" >"$T/v.out" 2>&1; then
		bad=$((bad + 1))
		echo "# verify failed after kill $kills (delay $d):"
		sed 's/^/#   /' "$T/v.out"
	fi
done <"$T/delays"
# On a slow machine every short-delay run may die before its first
# commit; then keep killing with longer delays until some batches are
# durable, so the final run really resumes a partial ingest.
extra=0
while [ "$extra" -lt 10 ]; do
	n=$("$CHATLEDGER" status -a "$A" --json | sed 's/.*"records":\([0-9]*\).*/\1/')
	[ "$n" -gt 0 ] && break
	"$CHATLEDGER" ingest -a "$A" --format jsonl --batch 500 "$T/in.jsonl" >"$T/run.out" 2>&1 &
	pid=$!
	sleep $((1 + extra))
	kill -9 "$pid" 2>/dev/null && mid=$((mid + 1))
	wait "$pid" 2>/dev/null
	kills=$((kills + 1))
	"$CHATLEDGER" verify -a "$A" >"$T/v.out" 2>&1 || { bad=$((bad + 1)); sed 's/^/#   /' "$T/v.out"; }
	extra=$((extra + 1))
done
[ "$bad" -eq 0 ] && ok "verify exits 0 after each of $kills kills" || notok "verify failed after $bad of $kills kills"
[ "$mid" -ge "$KILLS" ] && ok "all $mid kills landed while ingest was running" || notok "only $mid of $KILLS kills landed mid-ingest"
before=$("$CHATLEDGER" status -a "$A" --json | sed 's/.*"records":\([0-9]*\).*/\1/')
echo "# $before of $N records were durable before the final run"
[ "$before" -gt 0 ] && [ "$before" -lt "$N" ] && ok "the kills interrupted a partial ingest" || notok "kills did not interrupt a partial ingest ($before)"

expect_exit "final ingest runs to the end" 0 "$CHATLEDGER" ingest -a "$A" --format jsonl "$T/in.jsonl"
expect_exit "re-ingest finds every record already there" 0 "$CHATLEDGER" ingest -a "$A" --format jsonl "$T/in.jsonl"
expect_grep "re-ingest: nothing new, all $N duplicates" "^0 ingested, $N duplicates skipped, 0 quarantined" "$T/out"
expect_exit "verify after the final run" 0 "$CHATLEDGER" verify -a "$A"
expect_grep "exactly $N records, no duplicates" "^OK: $N entries ($N records" "$T/out"

# Spot-check content round-trips for a few entries.
for i in 0 $((N / 2)) $((N - 1)); do
	"$CHATLEDGER" show -a "$A" --index "$i" --passphrase-file "$T/pass" >"$T/show" 2>&1
	id=$(sed 's/.*"id":"\(3EB0[0-9]*\)".*/\1/' "$T/show")
	grep -q "\"id\":\"$id\"" "$T/in.jsonl" && ok "entry $i is an input record" || notok "entry $i is not an input record"
done
t_done
