#!/bin/sh
# t05-demo.sh - `make demo` (tests/demo.sh) runs to the end against the
# binary under test, in a scratch directory: the main job of the README's
# first command, proven by `make check`.
. "$(dirname "$0")/lib.sh"

A="$T/demo-archive"
if DEMO_ARCHIVE="$A" sh "$CL_ROOT/tests/demo.sh" >"$T/demo.out" 2>"$T/demo.err"; then
	ok "tests/demo.sh exits 0"
else
	notok "tests/demo.sh exits 0"; sed 's/^/#   /' "$T/demo.err"
fi
grep -q '^chatledger.example/demo$' "$T/demo.out" && ok "it prints the signed checkpoint" ||
	notok "it prints the signed checkpoint"
grep -q '^chatledger.example/demo+' "$T/demo.out" && ok "it prints the verifier key" ||
	notok "it prints the verifier key"
expect_exit "the demo archive verifies" 0 "$CHATLEDGER" verify -a "$A"
[ "$(stat -c %a "$A.passphrase" 2>/dev/null)" = 600 ] && ok "the demo passphrase file is 0600" ||
	notok "the demo passphrase file is 0600"
grep -q '^wechat serve answered: success$' "$T/demo.out" &&
	ok "wechat serve stores the customer's Official Account push and answers success" ||
	notok "wechat serve stores the customer's Official Account push and answers success"
grep -q '^party +852 9123 4567: 12 records in 5 conversations' "$T/demo.out" &&
	ok "the officer finds the customer across jsonl, webhook, chat export and WeChat" ||
	notok "the officer finds the customer across jsonl, webhook, chat export and WeChat"
grep -q '請問貸款批核了嗎' "$T/demo.out" && ok "a two-character Chinese search finds the export's message" ||
	notok "a two-character Chinese search finds the export's message"
grep -q 'wechat-oa.*想問貸款幾時過數' "$T/demo.out" && ok "... and the WeChat message" ||
	notok "... and the WeChat message"
grep -q 'bundle.tar: 12 records, 0 attachments, 5 conversations' "$T/demo.out" &&
	ok "the bundle holds all 12 records, WeChat included" ||
	notok "the bundle holds all 12 records, WeChat included"
grep -q '^manifest-sha256.txt: OK$' "$T/demo.out" && grep -q '^tagmanifest-sha256.txt: OK$' "$T/demo.out" &&
	ok "the bundle's manifests check with sha256sum alone" ||
	notok "the bundle's manifests check with sha256sum alone"
grep -q 'CMS Verification successful' "$T/demo.err" "$T/demo.out" &&
	ok "the bundle's signature checks with openssl cms alone" ||
	notok "the bundle's signature checks with openssl cms alone"
expect_exit "verify-bundle accepts the demo bundle" 0 "$CHATLEDGER" verify-bundle "$A.bundle.tar" \
	--vkey "$(cat "$A/log.pub")" --ca "$A/export.crt"
t_done
