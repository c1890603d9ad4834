#!/bin/sh
# t05-demo.sh - `make demo` (tests/demo.sh) runs to the end against the
# binary under test, in a scratch directory: the main job of the README's
# first command, proven by `make check`.
. "$(dirname "$0")/lib.sh"

A="$T/demo-archive"
if DEMO_ARCHIVE="$A" sh "$CL_ROOT/tests/demo.sh" >"$T/out" 2>"$T/err"; then
	ok "tests/demo.sh exits 0"
else
	notok "tests/demo.sh exits 0"; sed 's/^/#   /' "$T/err"
fi
grep -q '^chatledger.example/demo$' "$T/out" && ok "it prints the signed checkpoint" ||
	notok "it prints the signed checkpoint"
grep -q '^chatledger.example/demo+' "$T/out" && ok "it prints the verifier key" ||
	notok "it prints the verifier key"
expect_exit "the demo archive verifies" 0 "$CHATLEDGER" verify -a "$A"
[ "$(stat -c %a "$A.passphrase" 2>/dev/null)" = 600 ] && ok "the demo passphrase file is 0600" ||
	notok "the demo passphrase file is 0600"
t_done
