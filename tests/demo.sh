#!/bin/sh
# tests/demo.sh - the main job on the embedded default: create a demo
# archive in ./demo-archive, ingest the bundled sample, verify it and
# print the signed checkpoint; then an officer's day: the same customer
# arrives through a Cloud API webhook body, a WhatsApp chat export and a
# message to the firm's WeChat Official Account (received by `wechat
# serve`), the officer links the export's display name and the WeChat
# openid to the number, finds the customer across every source, exports
# the signed eDiscovery bundle, and the bundle is verified with sha256sum
# and openssl alone.  (`make demo`)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CHATLEDGER:-$ROOT/build/chatledger}
A=${DEMO_ARCHIVE:-$ROOT/demo-archive}
P="$A.passphrase"

D="$ROOT/tests/data"
BUNDLE="$A.bundle.tar"
TOK="$A.wechat-token"
rm -rf "$A" "$P" "$BUNDLE" "$A.bundle" "$TOK" "$A.wechat.out"
srv=""
trap 'if [ -n "$srv" ]; then kill "$srv" 2>/dev/null; fi' EXIT INT TERM
# A demo passphrase, generated and kept beside the archive (0600).  A real
# deployment gives the officer's passphrase on a terminal prompt.
umask 077
head -c 18 /dev/urandom | base64 >"$P"
"$BIN" init -a "$A" --origin chatledger.example/demo --passphrase-file "$P" --kdf interactive
"$BIN" ingest -a "$A" --format jsonl "$ROOT/tests/data/demo.jsonl"
"$BIN" ingest -a "$A" --format jsonl "$ROOT/tests/data/demo.jsonl"
"$BIN" verify -a "$A"
echo "--- latest signed checkpoint (save it off-host; see SECURITY.md) ---"
"$BIN" checkpoint -a "$A"
echo "--- verifier key ---"
"$BIN" pubkey -a "$A"
echo "--- entry 3, decrypted with the officer's passphrase ($P) ---"
"$BIN" show -a "$A" --index 3 --passphrase-file "$P"

echo "--- an officer's day: one customer across sources ---"
"$BIN" ingest -a "$A" --format cloudapi "$D/demo-webhook.json"
"$BIN" ingest -a "$A" --format whatsapp-export --account 85290000001@s.whatsapp.net \
	--self "Agent Ben" --date-order dmy "$D/demo-export/WhatsApp Chat with Mr Chan.txt"
# The export names the customer as saved in the agent's phone; the
# officer confirms it is the same person and links it (a ledger entry).
"$BIN" party link -a "$A" "Mr Chan" "+852 9123 4567" \
	--note "customer confirmed his number by phone" --by demo-officer
# He also writes to the firm's WeChat Official Account.  `wechat serve`
# receives the push as Tencent sends it (route A; plaintext mode here, so
# that sha1sum can sign it; production uses safe mode with the
# EncodingAESKey) and answers "success" once it is stored and fsynced.
echo "--- the same customer on WeChat: a push to the Official Account ---"
printf 'demoWeChatToken\n' >"$TOK"
"$BIN" wechat serve -a "$A" --listen 127.0.0.1:0 --json --oa-appid wxd3m0a1b2c3d4e5f6 \
	--oa-token-file "$TOK" >"$A.wechat.out" &
srv=$!
i=0
while ! grep -q listening "$A.wechat.out" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
addr=$(sed -n 's/.*"address":"\([^"]*\)".*/\1/p' "$A.wechat.out")
OPENID=oDemoChanWeChat000000000001
ts=$(date +%s)
nonce=73915
# Tencent's signature: SHA-1 of the token, timestamp and nonce, sorted
sig=$(printf '%s\n' demoWeChatToken "$ts" "$nonce" | LC_ALL=C sort | tr -d '\n' | sha1sum | cut -d' ' -f1)
answer=$(printf '<xml><ToUserName><![CDATA[gh_0d3m0c4a11ed]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%s</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好，我是陳大文，想問貸款幾時過數？]]></Content><MsgId>24531000000000001</MsgId></xml>' "$OPENID" "$ts" |
	curl -sS -X POST -H 'Content-Type: text/xml' --data-binary @- \
		"http://$addr/oa?signature=$sig&timestamp=$ts&nonce=$nonce&openid=$OPENID")
echo "wechat serve answered: $answer"
kill "$srv"
wait "$srv"
srv=""
[ "$answer" = success ]
"$BIN" party link -a "$A" "wechat-openid:$OPENID" "+852 9123 4567" \
	--note "on a call to this number he confirmed the WeChat account is his" --by demo-officer
"$BIN" party show -a "$A" "+852 9123 4567" --passphrase-file "$P"
"$BIN" search -a "$A" --party "+852 9123 4567" --text 貸款 --passphrase-file "$P"
"$BIN" export -a "$A" --party "+852 9123 4567" --case DEMO-1 --out "$BUNDLE" --passphrase-file "$P"
echo "--- the bundle, checked with standard tools only ---"
mkdir -p "$A.bundle"
tar -xf "$BUNDLE" -C "$A.bundle"
(cd "$A.bundle/EXPORT-DEMO-1" &&
	sha256sum -c --quiet manifest-sha256.txt && echo "manifest-sha256.txt: OK" &&
	sha256sum -c --quiet tagmanifest-sha256.txt && echo "tagmanifest-sha256.txt: OK" &&
	openssl cms -verify -binary -inform DER -in tagmanifest-sha256.txt.p7s \
		-content tagmanifest-sha256.txt -CAfile "$A/export.crt" -out /dev/null)
