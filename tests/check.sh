#!/bin/sh
# tests/check.sh BUILD... - run the suite against each build (plain, then
# ASan+UBSan) and print the grand total as the last line.  The names of
# failed tests, with their first failing checks (or, for a test that died
# without one, its last lines), are repeated just above the total, so a
# log that keeps only its tail still says what failed.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
tp=0; tf=0; summary=""
for b in "$@"; do
	echo "=== test suite against $b ==="
	all="$ROOT/$b/test-logs.out"
	mkdir -p "$ROOT/$b"
	"$ROOT/tests/run.sh" "$b" 2>&1 | tee "$all"
	out=$(tail -n 1 "$all")
	p=${out%% passed*}; f=${out#*, }; f=${f%% failed}
	case "$p$f" in *[!0-9]*|"") p=0; f=1 ;; esac
	tp=$((tp + p)); tf=$((tf + f))
	names=$(sed -n 's/^failed://p' "$all" | tail -n 1)
	if [ "$f" -ne 0 ] && [ -z "$names" ]; then
		summary="$summary
[$b] the runner itself failed (see above)"
	fi
	for n in $names; do
		log="$ROOT/$b/test-logs/$n.log"
		bad=""
		[ -f "$log" ] && bad=$(grep -E '^not ok' "$log" | head -n 5)
		[ -z "$bad" ] && [ -f "$log" ] && bad=$(tail -n 5 "$log")
		summary="$summary
[$b] $n:
$bad"
	done
done
if [ -n "$summary" ]; then
	echo "=== failed (first 5 failing checks per test) ===$summary"
fi
echo "$tp passed, $tf failed"
[ "$tf" -eq 0 ]
