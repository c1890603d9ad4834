#!/bin/sh
# tests/run.sh BUILD_DIR - run every test against one build and print the
# total as "N passed, N failed" (after "N skipped" when checks could not
# run here; a skip is never a pass).  Unit binaries and CLI scripts each
# end with their own "N passed, N failed" line (CLI scripts: "N skipped"
# before it); a program that exits non-zero without failing a check (a crash, a sanitizer report) counts as one
# failure.  Fuzz targets replay their corpus; a crash is one failure.
set -u
O=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CHATLEDGER="$ROOT/$O/chatledger"
export CL_ROOT="$ROOT"
export CL_BUILD="$ROOT/$O"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
LOGDIR="$ROOT/$O/test-logs"
mkdir -p "$LOGDIR"
pass=0
fail=0
skipped=0
failed_names=""

account() { # name, exit status, log file
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$3" | tail -n 1)
	p=0; f=0
	if [ -n "$line" ]; then
		p=${line%% passed*}
		f=${line#*, }; f=${f%% failed}
	fi
	if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	s=$(sed -n 's/^\([0-9][0-9]*\) skipped$/\1/p' "$3" | tail -n 1)
	s=${s:-0}
	pass=$((pass + p)); fail=$((fail + f)); skipped=$((skipped + s))
	if [ "$f" -ne 0 ]; then
		failed_names="$failed_names $1"
		echo "FAIL $1 ($p passed, $f failed; log: $3)"
		grep -E '^not ok' "$3" | head -n 20
		tail -n 15 "$3"
	else
		if [ "$s" -ne 0 ]; then echo "PASS $1 ($p passed, $s SKIPPED)"
		else echo "PASS $1 ($p passed)"; fi
	fi
}

for t in "$ROOT/$O"/tests/test_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	log="$LOGDIR/$n.log"
	(cd "$ROOT" && "$t") >"$log" 2>&1
	account "$n" $? "$log"
done

for t in "$ROOT/$O"/fuzz/fuzz_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	c="$ROOT/tests/fuzz/corpus/${n#fuzz_}"
	[ -d "$c" ] || c="$ROOT/tests/wa/corpus/${n#fuzz_}"
	log="$LOGDIR/$n.log"
	if [ -d "$c" ]; then
		"$t" "$c" >"$log" 2>&1
		rc=$?
	else
		echo "no corpus at $c" >"$log"; rc=1
	fi
	if [ $rc -eq 0 ]; then echo "1 passed, 0 failed" >>"$log"; fi
	account "$n" $rc "$log"
done

for t in "$ROOT"/tests/cli/t*.sh; do
	[ -f "$t" ] || continue
	n=$(basename "$t" .sh)
	log="$LOGDIR/$n.log"
	sh "$t" >"$log" 2>&1
	account "$n" $? "$log"
done

# The WhatsApp protocol peer checked against Baileys' own client code
# (the collector's tests trust it only after this passes).
log="$LOGDIR/peer-selftest.log"
(cd "$ROOT" && node tests/peer/selftest.js) >"$log" 2>&1
account peer-selftest $? "$log"

[ -n "$failed_names" ] && echo "failed:$failed_names"
[ "$skipped" -eq 0 ] || echo "$skipped skipped (not counted as passed)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
