#!/bin/sh
# t120-wechat: `chatledger wechat serve|pull` against the local Tencent
# simulator tests/wechat/sim.js (issue 17):
#
#   - URL verification: the OA echostr, a bad signature, the WeCom
#     encrypted echostr with a literal '+' answered within 1 s;
#   - refusals that store nothing, each with a log line naming why: bad
#     msg_signature, wrong receive id (both routes), a replayed timestamp,
#     billion laughs (outer and inner XML), an external entity; padding
#     1, 19 and 32 accepted; hundreds of refused bombs do not grow memory;
#   - acceptance 2: a scripted run of 300 route-A pushes (plaintext,
#     compatible, safe; duplicates), 40 WeCom callbacks, 100 微信客服
#     messages (sync_msg pages, origin 3/4/5, a 42001 on the way) and 80
#     route-B records (getmsglist over 3 days, paged) is stored exactly
#     once each, with the receiver SIGKILLed mid-run and restarted:
#     every push answered "success" is in the ledger, re-pulls and
#     re-pushes store nothing new, `verify` exits 0;
#   - direction and agent: a route-B agent reply and a 微信客服 servicer
#     reply are "out" with "agent"; identifiers are typed;
#   - media: downloaded as attachments, expired ids (40007) as coverage;
#   - acceptance 4: an openid (route A, via cgi-bin/user/info) and an
#     external_userid (微信客服, via kf/customer/batchget) with one unionid
#     are one party: a hold on either covers both routes' conversations;
#   - key batches: a busy second's commits share few; an idle second ends one.
. "$(dirname "$0")/lib.sh"

SIM="$CL_ROOT/tests/wechat/sim.js"
A="$T/a"
B="$T/b"
api=""
srv=""
pusher=""
trap 'for p in $api $srv $pusher; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"' EXIT INT TERM

for tool in node python3 curl; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		notok "$tool is installed (needed by this test)"
		t_done
		exit 1
	fi
done

printf 'oaTokenTest\n' >"$T/oatok"
printf 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG\n' >"$T/oakey"
printf 'QDG6eK\n' >"$T/wctok"
printf 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C\n' >"$T/wckey"
printf 'oa-app-secret\n' >"$T/oasec"
printf 'wecom-kf-secret\n' >"$T/wcsec"
chmod 600 "$T"/oatok "$T"/oakey "$T"/wctok "$T"/wckey "$T"/oasec "$T"/wcsec

node "$SIM" api --port-file "$T/apiport" &
api=$!
i=0
while [ ! -s "$T/apiport" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
AP="http://127.0.0.1:$(cat "$T/apiport")"

# start_serve ARCHIVE NAME [LISTEN]: sets $srv and $PORT
start_serve() {
	: >"$T/$2.out"
	# Under ASan, a small quarantine: freed memory is then reused and
	# RSS means what it means without ASan (the memory check below).
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1" \
	"$CHATLEDGER" wechat serve -a "$1" --listen "${3:-127.0.0.1:0}" --json \
		--oa-appid wxb11529c136998cb6 --oa-token-file "$T/oatok" \
		--oa-aes-key-file "$T/oakey" --oa-secret-file "$T/oasec" \
		--wecom-corpid wx5823bf96d3bd56c7 --wecom-token-file "$T/wctok" \
		--wecom-aes-key-file "$T/wckey" --wecom-secret-file "$T/wcsec" \
		--lookup-unionid --api-url "$AP" --wecom-api-url "$AP" \
		--media-retry-base 1 >"$T/$2.out" 2>"$T/$2.err" &
	srv=$!
	i=0
	while ! grep -q listening "$T/$2.out" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	PORT=$(sed -n 's/.*"address":"127.0.0.1:\([0-9]*\)".*/\1/p' "$T/$2.out")
	[ -n "$PORT" ]
}

records() { # ARCHIVE: message records (not attachments or identity links)
	sql "$1/ledger.db" "SELECT count(*) FROM entry WHERE type = 1 AND kind NOT IN ('attachment', 'identity-link')"
}
entries() { sql "$1/ledger.db" "SELECT count(*) FROM entry"; }

# ---- command line ----------------------------------------------------------

new_archive "$A"
expect_exit "serve without a route is a usage error" 2 \
	"$CHATLEDGER" wechat serve -a "$A" --listen 127.0.0.1:0
expect_exit "WeCom without an EncodingAESKey is refused" 2 \
	"$CHATLEDGER" wechat serve -a "$A" --listen 127.0.0.1:0 --wecom-corpid ww1 \
	--wecom-token-file "$T/wctok"
expect_grep "... with a clear message" "wecom-aes-key-file is required" "$T/err"
printf 'short\n' >"$T/badkey"
expect_exit "a malformed EncodingAESKey is refused" 2 \
	"$CHATLEDGER" wechat serve -a "$A" --listen 127.0.0.1:0 --oa-appid wx1 \
	--oa-token-file "$T/oatok" --oa-aes-key-file "$T/badkey"
if grep -q short "$T/err"; then notok "... without printing the key"; else ok "... without printing the key"; fi
expect_exit "--oa-token is not an option (secrets come from files)" 2 \
	"$CHATLEDGER" wechat serve -a "$A" --listen 127.0.0.1:0 --oa-appid wx1 --oa-token secret

# ---- URL verification and refusals -------------------------------------------

if start_serve "$A" s1; then ok "serve starts on 127.0.0.1:$PORT"
else notok "serve starts"; sed 's/^/#   /' "$T/s1.err" | head; t_done; exit 1; fi
URL="http://127.0.0.1:$PORT"
node "$SIM" verify-get --url "$URL" >"$T/get"
expect_grep "OA URL check answers the echostr" "^oa-echo 200 4375120948345356249$" "$T/get"
expect_grep "OA URL check with a bad signature: 403" "^oa-echo-bad 403$" "$T/get"
expect_grep "WeCom encrypted echostr (literal '+') decrypted within 1 s" \
	"^wecom-echo 200 plaintext fast$" "$T/get"

before=$(entries "$A")
node "$SIM" bad --url "$URL" >"$T/bad"
for c in bad-signature wrong-receive-id wecom-bad-signature wecom-wrong-receive-id \
	replayed-timestamp; do
	expect_grep "$c refused (403)" "^$c 403$" "$T/bad"
done
for c in billion-laughs-outer billion-laughs-inner external-entity external-entity-wecom; do
	expect_grep "$c refused (400)" "^$c 400$" "$T/bad"
done
for p in 1 19 32; do
	expect_grep "padding $p accepted" "^padding-$p 200$" "$T/bad"
done
after=$(entries "$A")
if [ $((after - before)) -eq 3 ]; then ok "only the three padding messages were stored"
else notok "refusals stored nothing ($before -> $after entries, want +3)"; fi
expect_grep "log: bad msg_signature" "POST /oa 403 .* bad msg_signature" "$T/s1.err"
expect_grep "log: receive id mismatch" "POST /wecom 403 .* receive id mismatch" "$T/s1.err"
expect_grep "log: replay window" "outside the allowed window" "$T/s1.err"
expect_grep "log: DOCTYPE refused" "400 .* document type declarations are not allowed" "$T/s1.err"
rss() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }
r0=$(rss "$srv")
n=0
while [ $n -lt 12 ]; do node "$SIM" bad --url "$URL" >/dev/null; n=$((n + 1)); done
r1=$(rss "$srv")
if kill -0 "$srv" 2>/dev/null && [ $((r1 - r0)) -lt 8192 ]; then
	ok "192 more refused pushes: no crash, RSS ${r0} -> ${r1} kB"
else notok "refused pushes grow memory or crash (RSS ${r0} -> ${r1} kB)"; fi
kill "$srv"
if wait "$srv"; then ok "serve exits 0 on SIGTERM (no leak report under ASan)"
else notok "serve exit status $? on SIGTERM"; grep -i -A5 "sanitizer" "$T/s1.err" | head -20 | sed 's/^/#   /'; fi
srv=""
# Under --json, stdout stays JSON to the end: the run's summary is a
# "stopped" event whose counts are the run's (three pushes stored, the
# rest refused), not a line of text.
if python3 - "$T/s1.out" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
ev = [json.loads(l) for l in lines]          # every line parses
last = ev[-1]
assert last["event"] == "stopped", last
assert last["accepted"] >= 3 and last["refused"] > 0, last
assert last["requests"] >= last["accepted"] + last["refused"], last
assert last["records"] >= 3 and last["commits"] >= 1, last
PY
then ok "serve --json: the end-of-run summary is a JSON 'stopped' event with the run's counts"
else notok "serve --json: the end-of-run summary"; tail -n 2 "$T/s1.out" | sed 's/^/#   /'; fi

# ---- acceptance 2: the scripted run with a SIGKILL ------------------------------

new_archive "$B"
start_serve "$B" s2 || { notok "serve starts on the run archive"; t_done; exit 1; }
PORT1=$PORT
: >"$T/progress"
node "$SIM" push --url "http://127.0.0.1:$PORT1" --progress "$T/progress" --persist \
	>"$T/push.out" 2>&1 &
pusher=$!
i=0
while [ "$(wc -l <"$T/progress")" -lt 120 ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i + 1)); done
kill -9 "$srv"; wait "$srv" 2>/dev/null
killed_at=$(wc -l <"$T/progress")
sleep 0.5
if start_serve "$B" s3 "127.0.0.1:$PORT1"; then ok "receiver SIGKILLed after $killed_at answers, restarted"
else notok "receiver restarts on port $PORT1"; sed 's/^/#   /' "$T/s3.err" | head; fi
if wait "$pusher"; then ok "every push answered success ($(cat "$T/push.out"))"
else notok "pusher: $(cat "$T/push.out")"; fi
pusher=""
# route B: getmsglist over three days in 24 h windows, pages of 7
"$CHATLEDGER" wechat pull -a "$B" --route msglist --oa-appid wxb11529c136998cb6 \
	--oa-secret-file "$T/oasec" --api-url "$AP" --from 2024-04-24T23:00:00Z \
	--to 2024-04-28T00:00:00Z --page-size 7 --json >"$T/pullb" 2>"$T/pullb.err"
expect_grep "route B: 80 records in 4 windows" '"records":80,.*"windows":4,"failed_windows":0' "$T/pullb"
# route B around the route-A pushes: the three text messages route A
# stored are skipped (wechat_seen_t), the one it never saw is stored
"$CHATLEDGER" wechat pull -a "$B" --route msglist --oa-appid wxb11529c136998cb6 \
	--oa-secret-file "$T/oasec" --api-url "$AP" --from 2025-10-09T08:50:00Z \
	--to 2025-10-09T09:00:00Z --json >"$T/pullo" 2>"$T/pullo.err"
expect_grep "route B skips what route A stored, keeps the rest" '"records":1,.*"skipped_route_a":3' "$T/pullo"
# the worker pulls sync_msg after the kf_msg_or_event pushes
i=0
while [ "$(sql "$B/ledger.db" "SELECT count(*) FROM entry WHERE kind = 'kf-event'")" -lt 25 ] && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
i=0   # media downloads and the unionid lookups of route A's openids
while [ "$(sql "$B/ledger.db" "SELECT count(*) FROM entry WHERE kind = 'identity-link'")" -lt 10 ] && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
sleep 1
want=$((300 + 40 + 100 + 80 + 1))  # + the route-B-only message
got=$(records "$B")
if [ "$got" -eq "$want" ]; then ok "every message of the run is in the ledger once ($got records)"
else notok "records after the run: $got, want $want"; fi
# each answered push is there: the distinct answered ids equal the pushes
answered=$(sort -u "$T/progress" | wc -l)
if [ "$answered" -eq 340 ]; then ok "340 distinct pushes answered success"
else notok "distinct pushes answered: $answered, want 340"; fi
"$CHATLEDGER" wechat pull -a "$B" --route msglist --oa-appid wxb11529c136998cb6 \
	--oa-secret-file "$T/oasec" --api-url "$AP" --from 2024-04-24T23:00:00Z \
	--to 2024-04-28T00:00:00Z --json >"$T/pullb2" 2>&1
expect_grep "a second route-B pull stores nothing new" '"records":0,"duplicates":80' "$T/pullb2"
node "$SIM" push --url "http://127.0.0.1:$PORT1" --progress "$T/progress2" >/dev/null 2>&1
if [ "$(records "$B")" -eq "$want" ]; then ok "pushing the whole run again stores nothing new"
else notok "a second push run stored more ($(records "$B"))"; fi
kill "$srv"; wait "$srv" 2>/dev/null; srv=""
n_att=$(sql "$B/ledger.db" "SELECT count(*) FROM entry WHERE kind = 'attachment'")
n_exp=$(sql "$B/ledger.db" "SELECT count(*) FROM entry WHERE type = 3 AND kind = 'media-expired'")
if [ "$n_att" -gt 50 ] && [ "$n_exp" -eq 10 ]; then ok "media: $n_att attachments, $n_exp expired ids as coverage"
else notok "media: $n_att attachments, $n_exp media-expired (want >50 and 10)"; fi
n_links=$(sql "$B/ledger.db" "SELECT count(*) FROM entry WHERE kind = 'identity-link'")
if [ "$n_links" -eq 10 ]; then ok "10 identity links: 5 from cgi-bin/user/info, 5 from kf/customer/batchget"
else notok "identity links: $n_links, want 10"; fi
expect_exit "verify exits 0 after the run" 0 "$CHATLEDGER" verify -a "$B"

# ---- status: which route covers what, and what cannot be captured ------------------
# a route-B window that cannot be pulled (nothing listens) is a hole status names
"$CHATLEDGER" wechat pull -a "$B" --route msglist --oa-appid wxb11529c136998cb6 \
	--oa-secret-file "$T/oasec" --api-url "http://127.0.0.1:1" --from 2024-05-01T00:00:00Z \
	--to 2024-05-02T00:00:00Z >/dev/null 2>&1
"$CHATLEDGER" status -a "$B" >"$T/st" 2>&1
"$CHATLEDGER" status -a "$B" --json >"$T/stj" 2>&1
expect_grep "status: route A, its last push and records" "^wechat A .*last push 20[0-9-]*T.*, 300 records" "$T/st"
expect_grep "status: route A cannot capture the firm's own OA sends" "cannot: messages the firm sends through the Official Account" "$T/st"
expect_grep "status: route B pulled up to the last window" "^wechat B .*pulled up to 2024-04-28T00:00:00" "$T/st"
expect_grep "status: the failed route-B window is named" "route B: 1 windows could not be pulled.*2024-05-01T00:00:00.* \.\. 2024-05-02T00:00:00" "$T/st"
expect_grep "status: route C callbacks and 微信客服 accounts" "^wechat C .*last callback 20.*, 40 records; [1-9][0-9]* 微信客服 accounts, last sync_msg 20" "$T/st"
expect_grep "status: WeCom employee chats need the session-archive SDK" "session-archive" "$T/st"
expect_grep "status: consumer WeChat is not captured, and why" "not captured: personal (consumer) WeChat" "$T/st"
expect_grep "status: media expiry counted" "10 expired" "$T/st"
python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))["wechat"]
r = j["routes"]
assert r["A"]["records"] == 300 and r["A"]["last_push"] > 0, r["A"]
assert r["B"]["failed_windows"]["count"] == 1 and r["B"]["failed_windows"]["last"]["route"] == "getmsglist"
assert r["C"]["kf_accounts"] >= 1 and r["C"]["kf_last_pull"] > 0
assert j["media"]["expired"]["count"] == 10
' "$T/stj" && ok "status --json: the wechat section" || notok "status --json: the wechat section"

# ---- direction, agent, identifiers ----------------------------------------------

show_kind() { # KIND PATTERN [WHERE]: the first entry of KIND whose plaintext matches
	for idx in $(sql "$B/ledger.db" "SELECT idx FROM entry WHERE kind = '$1' ${3:-} ORDER BY idx DESC LIMIT 12"); do
		"$CHATLEDGER" show -a "$B" --index "$idx" --passphrase-file "$T/pass" >"$T/show" 2>/dev/null
		if grep -q -- "$2" "$T/show"; then return 0; fi
	done
	return 1
}
if show_kind text '"opercode":2002' "AND sent_at < 1715000000000" && grep -q '"direction":"out"' "$T/show" &&
   grep -q '"agent":"agent[0-9]@gh_97417a04a28d"' "$T/show" &&
   grep -q '"sender":{"id":"wechat-kf:agent' "$T/show"; then
	ok "route B agent reply: direction out, agent and sender wechat-kf:<worker>"
else
	notok "route B agent reply"; sed 's/^/#   /' "$T/show" | cut -c1-300
fi
if show_kind text '"agent":"servicer' "AND sent_at > $(( ($(date +%s) - 7200) * 1000 ))" && grep -q '"source":"wecom-kf"' "$T/show" &&
   grep -q '"direction":"out"' "$T/show" && grep -q '"sender":{"id":"wecom-user:servicer' "$T/show" &&
   grep -q '"identifiers":\["wecom-external:wmKF' "$T/show"; then
	ok "微信客服 servicer reply: out, agent, typed customer identifier"
else notok "微信客服 servicer reply"; sed 's/^/#   /' "$T/show" | cut -c1-300; fi
if show_kind newtype '"Future"' && grep -q '"identifiers":\["wechat-openid:oU' "$T/show" &&
   grep -q '"Future":{"Part":"1"}' "$T/show"; then
	ok "route A: an unknown MsgType and element kept, wechat-openid identifier ('+' intact)"
else notok "route A unknown elements"; sed 's/^/#   /' "$T/show" | cut -c1-300; fi
if show_kind group-event '"members":\["Jack","Rose"\]'; then
	ok "change_external_chat: MemChangeList in both shapes gives members"
else notok "MemChangeList members"; fi

# ---- acceptance 4: one customer across the routes is one party -------------------
# oU0001-ABC+def (an openid on the Official Account, routes A and B) and
# wmKF1 (an external_userid in 微信客服) share the unionid UNION-1 (the
# simulator's user/info and kf/customer/batchget): the identity-link
# records made them one party, so a hold on either covers both routes.
"$CHATLEDGER" hold add -a "$B" --case WX-1 --reason "complaint" \
	--party "wechat-openid:oU0001-ABC+def" >"$T/h1" 2>&1
"$CHATLEDGER" hold add -a "$B" --case WX-2 --reason "complaint" \
	--party "wecom-external:wmKF1" >"$T/h2" 2>&1
"$CHATLEDGER" hold add -a "$B" --case WX-3 --reason "other customer" \
	--party "wechat-openid:oU0007-ABC+def" >"$T/h3" 2>&1
c1=$(sed -n 's/.*covers \([0-9]* records* in [0-9]* conversations*\).*/\1/p' "$T/h1")
c2=$(sed -n 's/.*covers \([0-9]* records* in [0-9]* conversations*\).*/\1/p' "$T/h2")
c3=$(sed -n 's/.*covers \([0-9]* records* in [0-9]* conversations*\).*/\1/p' "$T/h3")
case "$c1" in
*" in 2 conversations") ok "a hold on the openid covers both routes' conversations ($c1)" ;;
*) notok "hold on the openid: '$c1' (want 2 conversations)"; sed 's/^/#   /' "$T/h1" ;;
esac
if [ -n "$c1" ] && [ "$c1" = "$c2" ]; then ok "a hold on the external_userid covers the same ($c2)"
else notok "hold on the external_userid: '$c2', on the openid: '$c1'"; fi
if [ -n "$c3" ] && [ "${c3% in 1 conversation}" != "$c3" ]; then ok "a customer without a unionid is a party of its own ($c3)"
else notok "another customer: '$c3'"; fi

# ---- key batches ------------------------------------------------------------
# key batches (ledger.h, CL_KEY_BATCH_MS): the commits of a busy spell
# share one; none goes on across an idle second.  A one-second burst from 4
# clients is at least answered/4 commits, and may use at most 3 key batches
# (a new one at the first commit a second after the last began).
KB="$T/kb"
new_archive "$KB"
start_serve "$KB" kb || { notok "serve starts on the key batch archive"; t_done; exit 1; }
kb0=$(sql "$KB/ledger.db" "SELECT coalesce(max(idx), -1) FROM entry")
node "$SIM" bench --url "http://127.0.0.1:$PORT" --seconds 1 --conc 4 >"$T/kb1" 2>&1
kb1=$(sql "$KB/ledger.db" "SELECT max(idx) FROM entry")
# three idle seconds, but for refused pushes that wake the committer: the
# idle time counts from the last commit, not from the last wake-up
i=0
while [ $i -lt 12 ]; do
	curl -s -o /dev/null -X POST --data '<xml/>' \
		"http://127.0.0.1:$PORT/oa?signature=0&timestamp=$(date +%s)&nonce=1"
	sleep 0.25
	i=$((i + 1))
done
node "$SIM" bench --url "http://127.0.0.1:$PORT" --seconds 1 --conc 4 >"$T/kb2" 2>&1
kb2=$(sql "$KB/ledger.db" "SELECT max(idx) FROM entry")
kbq="SELECT k.batch FROM sealed_key k JOIN entry e ON e.idx = k.idx WHERE e.kind = 'text'"
n1=$(sql "$KB/ledger.db" "SELECT count(DISTINCT batch) FROM ($kbq AND k.idx > $kb0 AND k.idx <= $kb1)")
a1=$(sed -n 's/^answered \([0-9]*\) .*/\1/p' "$T/kb1")
if [ "${a1:-0}" -ge 16 ] && [ "$n1" -ge 1 ] && [ "$n1" -le 3 ]; then
	ok "a busy second's commits share key batches ($a1 pushes, $n1 key batches)"
else notok "burst: ${a1:-?} pushes answered in $n1 key batches (want >= 16 in 1..3)"; fi
shared=$(sql "$KB/ledger.db" "SELECT count(*) FROM ($kbq AND k.idx > $kb0 AND k.idx <= $kb1 INTERSECT $kbq AND k.idx > $kb1 AND k.idx <= $kb2)")
n2=$(sql "$KB/ledger.db" "SELECT count(DISTINCT batch) FROM ($kbq AND k.idx > $kb1 AND k.idx <= $kb2)")
if [ "$shared" -eq 0 ] && [ "$n2" -ge 1 ]; then ok "after an idle second (refused pushes in it) the next commit begins another key batch"
else notok "bursts 3 s apart (refused pushes between) share $shared key batches (second burst: $n2)"; fi
expect_exit "verify exits 0 with key batches across commits" 0 "$CHATLEDGER" verify -a "$KB"
kill "$srv"; wait "$srv" 2>/dev/null; srv=""

t_done
