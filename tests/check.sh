#!/bin/sh
# tests/check.sh BUILD... - run the suite against each build (plain, then
# ASan+UBSan) and print the grand total as the last line.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
tp=0; tf=0
for b in "$@"; do
	echo "=== test suite against $b ==="
	out=$("$ROOT/tests/run.sh" "$b" 2>&1 | tee /dev/stderr | tail -n 1)
	p=${out%% passed*}; f=${out#*, }; f=${f%% failed}
	case "$p$f" in *[!0-9]*|"") p=0; f=1 ;; esac
	tp=$((tp + p)); tf=$((tf + f))
done
echo "$tp passed, $tf failed"
[ "$tf" -eq 0 ]
