#!/bin/sh
# t70-webhook: `chatledger webhook`, the WhatsApp Business Platform webhook
# receiver, driven over loopback with curl (issue 4, acceptance 3 and 4).
#
#   - verification handshake: right token 200 with the challenge, wrong
#     token 403, bad challenge 400; other methods 405;
#   - every raw body of ../shared/samples/cloudapi-webhook (the pywa files
#     are collections: each member value is one body), signed with
#     `openssl dgst -sha256 -hmac` over the exact bytes, is answered 200
#     and archived; replaying one stores nothing new;
#   - a wrong signature, a missing one, an oversize body (413, announced
#     and chunked), malformed JSON and a non-WhatsApp body (400) are
#     refused and store nothing; a bad item inside a good body is
#     quarantined;
#   - concurrent requests are all stored (group commit);
#   - a slow client is cut off by the idle timeout while others are served;
#   - SIGKILL right after a 200: after a restart the message is there and
#     `verify` exits 0; SIGTERM exits 0.
# The server listens on 127.0.0.1 port 0 (the kernel picks a free port)
# and reports the port it got, so there is no port race to retry.
. "$(dirname "$0")/lib.sh"

SAMPLES="$CL_ROOT/../shared/samples/cloudapi-webhook"
A="$T/a"
SECRET='test app secret 0123456789abcdef'
pid=""
trap 'if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null; fi; rm -rf "$T"' EXIT INT TERM

for tool in curl openssl python3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		notok "$tool is installed (needed by this test)"
		t_done
		exit 1
	fi
done
if [ ! -d "$SAMPLES" ]; then
	notok "samples at $SAMPLES"
	t_done
	exit 1
fi

new_archive "$A"
printf '%s\n' "$SECRET" >"$T/secret"
printf 'verify-me-42\n' >"$T/token"
chmod 600 "$T/secret" "$T/token"

# ---- helpers ---------------------------------------------------------------

. "$(dirname "$0")/webhook-lib.sh"

# ---- command line ------------------------------------------------------------

expect_exit "--media-url without an access token is refused, not ignored" 2 \
	"$CHATLEDGER" webhook -a "$A" --listen 127.0.0.1:0 --app-secret-file "$T/secret" \
	--verify-token-file "$T/token" --media-url http://127.0.0.1:1/
expect_grep "... with a clear message" "needs --access-token-file" "$T/err"
expect_exit "a bad listen address is an error" 2 \
	"$CHATLEDGER" webhook -a "$A" --listen localhost --app-secret-file "$T/secret" \
	--verify-token-file "$T/token"
: >"$T/empty"
expect_exit "an empty app secret is an error" 2 \
	"$CHATLEDGER" webhook -a "$A" --listen 127.0.0.1:0 --app-secret-file "$T/empty" \
	--verify-token-file "$T/token"

# ---- start ---------------------------------------------------------------------

cp "$T/token" "$T/token644"
chmod 644 "$T/token644"
if start_server wh1; then ok "server starts and answers on 127.0.0.1:$port"
else
	notok "server starts and answers"
	sed 's/^/#   /' "$T/wh1.err" | head -n 20
	t_done
	exit 1
fi

# ---- handshake -----------------------------------------------------------------

code=$(curl -s -o "$T/resp" -w '%{http_code}' \
	"$URL?hub.mode=subscribe&hub.verify_token=verify-me-42&hub.challenge=1158201444")
expect_status "handshake with the right token: 200" 200 "$code"
[ "$(cat "$T/resp")" = "1158201444" ] && ok "handshake answers the challenge, exactly" ||
	notok "handshake answers the challenge, exactly (got '$(cat "$T/resp")')"
code=$(curl -s -o "$T/resp" -w '%{http_code}' \
	"$URL?hub.mode=subscribe&hub.verify_token=verify-me-41&hub.challenge=1158201444")
expect_status "handshake with a wrong token: 403" 403 "$code"
grep -q 1158201444 "$T/resp" && notok "a refused handshake does not echo the challenge" ||
	ok "a refused handshake does not echo the challenge"
code=$(curl -s -o /dev/null -w '%{http_code}' \
	"$URL?hub.mode=subscribe&hub.verify_token=verify-me-4&hub.challenge=1")
expect_status "handshake with a prefix of the token: 403" 403 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' \
	"$URL?hub.mode=subscribe&hub.challenge=1")
expect_status "handshake without a token: 403" 403 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' \
	"$URL?hub.mode=unsubscribe&hub.verify_token=verify-me-42&hub.challenge=1")
expect_status "handshake with another hub.mode: 403" 403 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' \
	"$URL?hub.mode=subscribe&hub.verify_token=verify-me-42&hub.challenge=%3Cscript%3E%20x")
expect_status "handshake with an unprintable challenge: 400" 400 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data x "$URL")
expect_status "PUT: 405" 405 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL")
expect_status "DELETE: 405" 405 "$code"
if grep -q 'verify-me-4' "$T/wh1.err"; then
	notok "the request log never shows the verify token"
else
	ok "the request log never shows the verify token"
fi

# ---- the samples -----------------------------------------------------------------

# One file per raw body.  bindambc_textMessage.json is posted as its exact
# bytes.  The pywa collections share a few wamids between cases, which
# the archive would (rightly) treat as one message; each case gets its own
# id here so that every kind is shown archived.  Bodies are written with
# \u escapes, as Meta sends them.
mkdir "$T/bodies"
python3 - "$SAMPLES" "$T/bodies" >"$T/expect" <<'PY'
import json, os, sys
src, dst = sys.argv[1], sys.argv[2]
kinds = set()
n = 0
for f in sorted(os.listdir(src)):
    if not f.endswith(".json"):
        continue
    raw = open(os.path.join(src, f), "rb").read()
    doc = json.loads(raw)
    base = f[:-5]
    if doc.get("object") == "whatsapp_business_account":
        bodies = {None: doc}
    else:
        bodies = doc
    for case, body in bodies.items():
        for e in body["entry"]:
            for c in e["changes"]:
                v = c["value"]
                for m in v.get("messages", []):
                    kinds.add(m["type"])
                    if case is not None:
                        m["id"] = m["id"] + "." + case
                    n += 1
                for s in v.get("statuses", []):
                    kinds.add("status")
                    if case is not None:
                        s["id"] = s["id"] + "." + case
                    n += 1
        name = base if case is None else base + "--" + case
        with open(os.path.join(dst, name + ".json"), "wb") as out:
            if case is None:
                out.write(raw)
            else:
                out.write(json.dumps(body).encode())
print(n)
print(" ".join(sorted(kinds)))
PY
items=$(sed -n 1p "$T/expect")
kinds=$(sed -n 2p "$T/expect")
nbodies=$(ls "$T/bodies" | wc -l)
echo "# $nbodies bodies, $items items, kinds: $kinds"
[ "$nbodies" -ge 30 ] && ok "split the samples into $nbodies raw bodies" ||
	notok "split the samples into raw bodies (only $nbodies)"

before=$(field entries)
bad=0
for b in "$T"/bodies/*.json; do
	code=$(post "$b")
	if [ "$code" != 200 ]; then
		bad=$((bad + 1))
		echo "# $(basename "$b"): HTTP $code: $(cat "$T/resp")"
	fi
done
[ "$bad" -eq 0 ] && ok "every signed sample body is answered 200" ||
	notok "$bad signed sample bodies were not answered 200"
after=$(field entries)
records=$(field records)
[ "$((after - before))" -eq "$items" ] && [ "$records" -eq "$items" ] &&
	ok "all $items items are in the archive as records" ||
	notok "all $items items are in the archive (entries +$((after - before)), records $records)"
n200=$(log_count wh1 ' POST /webhook 200 records=1 duplicates=0 quarantined=0 ' "$nbodies")
[ "$n200" -eq "$nbodies" ] && ok "the request log shows one new record per body" ||
	notok "the request log shows one new record per body ($n200 of $nbodies)"
sql "$A/ledger.db" "SELECT DISTINCT kind FROM entry WHERE type = 1" >"$T/kinds"
missing=""
for k in $kinds; do
	grep -qx "$k" "$T/kinds" || missing="$missing $k"
done
[ -z "$missing" ] && ok "every sample kind is archived under its kind ($(tr '\n' ' ' <"$T/kinds"))" ||
	notok "sample kinds missing from the archive:$missing"
# One key batch serves the committer's commits while they follow each
# other (ledger.h, CL_KEY_BATCH_MS): the bodies, one commit each, used fewer.
nkb=$(sql "$A/ledger.db" "SELECT count(DISTINCT batch) FROM sealed_key WHERE idx >= $before")
[ "$nkb" -ge 1 ] && [ "$nkb" -lt "$nbodies" ] &&
	ok "the $nbodies one-body commits shared key batches ($nkb)" ||
	notok "the $nbodies one-body commits used $nkb key batches"

code=$(post "$SAMPLES/bindambc_textMessage.json")
expect_status "replaying a body: 200" 200 "$code"
[ "$(field entries)" -eq "$after" ] && ok "... and stores nothing new" ||
	notok "replaying a body stored something"
# status shows the receiver: every record came from a delivery (the replay
# stored nothing, so it does not count), and when the last one was stored
"$CHATLEDGER" status -a "$A" --json >"$T/st.json"
if python3 - "$T/st.json" "$records" <<'PY'
import json, sys, time
w = json.load(open(sys.argv[1]))["webhook"]
assert w["records"] == int(sys.argv[2]), w
t = time.mktime(time.strptime(w["last_delivery"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
assert abs(time.time() - t) < 600, w
assert w["media_queued"] == 0, w
PY
then ok "status --json: webhook.records counts the $records delivered records, last_delivery is recent"
else notok "status --json webhook section ($(cat "$T/st.json"))"; fi
"$CHATLEDGER" status -a "$A" >"$T/st.txt"
expect_grep "status: the webhook's last delivery" "^webhook      WhatsApp Business Platform (webhook): last delivery stored 20[0-9-]*T[0-9:.]*Z, $records records from deliveries in all; 0 media downloads queued$" "$T/st.txt"
[ "$(log_count wh1 ' POST /webhook 200 records=0 duplicates=1 ' 1)" -ge 1 ] &&
	ok "... and is logged as a duplicate" || notok "replay not logged as a duplicate"

# ---- refusals -----------------------------------------------------------------------

B="$SAMPLES/bindambc_textMessage.json"
sed 's/wamid\./wamid.FRESH-/' "$B" >"$T/fresh.json"
cmp -s "$B" "$T/fresh.json" && notok "made a new message from the sample" ||
	ok "made a new message from the sample"
before=$(field entries)
good=$(sign "$T/fresh.json")
last=$(printf '%s' "$good" | cut -c64)
[ "$last" = 0 ] && last=1 || last=0
flip="$(printf '%s' "$good" | cut -c1-63)$last"
code=$(post "$T/fresh.json" "sha256=$flip")
expect_status "wrong signature: 401" 401 "$code"
code=$(post "$T/fresh.json" -)
expect_status "missing signature: 401" 401 "$code"
code=$(post "$T/fresh.json" "sha1=$good")
expect_status "signature with another algorithm prefix: 401" 401 "$code"
code=$(post "$T/fresh.json" "sha256=$(printf '%s' "$good" | cut -c1-63)")
expect_status "truncated signature: 401" 401 "$code"
cp "$T/fresh.json" "$T/fresh-sp.json"
printf ' ' >>"$T/fresh-sp.json"
code=$(post "$T/fresh-sp.json" "sha256=$good")
expect_status "one byte added after signing: 401" 401 "$code"
python3 -c 'import sys; sys.stdout.write("{\"object\":\"whatsapp_business_account\",\"entry\":[],\"pad\":\"" + "x" * (1100 * 1024) + "\"}")' >"$T/big.json"
code=$(post "$T/big.json")
expect_status "oversize body (Content-Length > --max-body): 413" 413 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -H 'Transfer-Encoding: chunked' \
	-H "X-Hub-Signature-256: sha256=$(sign "$T/big.json")" --data-binary @"$T/big.json" "$URL")
expect_status "oversize chunked body: 413" 413 "$code"
printf '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[' >"$T/malformed.json"
code=$(post "$T/malformed.json")
expect_status "malformed JSON, correctly signed: 400" 400 "$code"
printf '{"object":"page","entry":[]}' >"$T/other.json"
code=$(post "$T/other.json")
expect_status "JSON that is not a WhatsApp body, correctly signed: 400" 400 "$code"
: >"$T/nothing.json"
code=$(post "$T/nothing.json")
expect_status "empty body, correctly signed: 400" 400 "$code"
[ "$(field entries)" -eq "$before" ] && ok "refused requests stored nothing" ||
	notok "refused requests stored something ($before -> $(field entries))"
code=$(post "$T/fresh.json")
expect_status "the refused body, correctly signed: 200" 200 "$code"
[ "$(field entries)" -eq $((before + 1)) ] && ok "... and now it is stored" ||
	notok "the correctly signed body was not stored"

# A good body with one bad item: the good message is stored, the bad one
# quarantined, the answer is 200.
python3 - "$B" "$T/mixed.json" <<'PY'
import json, sys
body = json.load(open(sys.argv[1]))
v = body["entry"][0]["changes"][0]["value"]
good = dict(v["messages"][0]); good["id"] = "wamid.MIXED-GOOD"
bad = dict(v["messages"][0]); bad["id"] = "wamid.MIXED-BAD"; del bad["from"]
v["messages"] = [good, bad]
open(sys.argv[2], "w").write(json.dumps(body))
PY
q0=$(field quarantined)
r0=$(field records)
code=$(post "$T/mixed.json")
expect_status "a body with one bad item: 200" 200 "$code"
[ "$(field records)" -eq $((r0 + 1)) ] && [ "$(field quarantined)" -eq $((q0 + 1)) ] &&
	ok "... its good message is stored and its bad item quarantined" ||
	notok "mixed body: records $r0 -> $(field records), quarantined $q0 -> $(field quarantined)"

# ---- concurrency ------------------------------------------------------------------------

N=24
i=0
while [ "$i" -lt "$N" ]; do
	sed "s/wamid\./wamid.CONC$i-/" "$B" >"$T/conc$i.json"
	i=$((i + 1))
done
r0=$(field records)
pids=""
i=0
while [ "$i" -lt "$N" ]; do
	post "$T/conc$i.json" >"$T/conc$i.code" &
	pids="$pids $!"
	i=$((i + 1))
done
for p in $pids; do
	wait "$p"
done
n=0
for f in "$T"/conc*.code; do
	[ "$(cat "$f")" = 200 ] && n=$((n + 1))
done
[ "$n" -eq "$N" ] && ok "$N concurrent signed bodies: all 200" ||
	notok "$N concurrent signed bodies: only $n answered 200"
[ "$(field records)" -eq $((r0 + N)) ] && ok "... and all $N are stored" ||
	notok "concurrent bodies: records $r0 -> $(field records), want +$N"

# ---- slow client ------------------------------------------------------------------------

# Headers and a tenth of the announced body, then silence: the server must
# close the connection after its idle timeout (10 s), answering others
# meanwhile.
python3 - "$port" >"$T/slow" 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"{" * 10)
t = time.time()
s.settimeout(40)
try:
    while s.recv(4096):
        pass
except OSError:
    pass
print("closed after %.1f s" % (time.time() - t))
PY
slow=$!
sleep 1
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
	"$URL?hub.mode=subscribe&hub.verify_token=verify-me-42&hub.challenge=7")
expect_status "others are served while a slow client stalls" 200 "$code"
wait "$slow"
secs=$(sed -n 's/^closed after \([0-9]*\)\..*/\1/p' "$T/slow")
[ -n "$secs" ] && [ "$secs" -ge 8 ] && [ "$secs" -le 20 ] &&
	ok "a stalled upload is cut off by the idle timeout ($(cat "$T/slow"))" ||
	notok "a stalled upload is cut off by the idle timeout ($(cat "$T/slow"))"

# ---- SIGTERM -----------------------------------------------------------------------------

stop_server TERM
[ "$stop_rc" -eq 0 ] && ok "SIGTERM: exits 0" || notok "SIGTERM: exit $stop_rc"
grep -q '"event":"stopped"' "$T/wh1.out" && ok "SIGTERM: prints its summary" ||
	notok "SIGTERM: no summary"
sed -n 's/.*"commits":\([0-9]*\).*/# summary: \0/p' "$T/wh1.out" | head -n 1
# "refused" names the 4xx answers as `wechat serve` does; "rejected" is
# the same count under its older name.
if grep '"event":"stopped"' "$T/wh1.out" | python3 -c '
import json, sys
e = json.loads(sys.stdin.readline())
assert e["refused"] == e["rejected"] and e["refused"] > 0, e
assert e["requests"] >= e["accepted"] + e["refused"] + e["failed"], e'; then
	ok "SIGTERM: the summary counts refused answers under both names"
else
	notok "SIGTERM: the summary counts refused answers under both names"
fi
if grep -Eq 'verify-me-42|test app secret' "$T/wh1.err" "$T/wh1.out"; then
	notok "no secret in the server's output"
else
	ok "no secret in the server's output"
fi
if grep -q 'hi everyone\|Mauricio\|wamid\.\|1111111111111' "$T/wh1.err" "$T/wh1.out"; then
	notok "no message content, name, number or id in the server's output"
else
	ok "no message content, name, number or id in the server's output"
fi
expect_exit "verify after the server stopped" 0 "$CHATLEDGER" verify -a "$A"

# ---- SIGKILL right after a 200 --------------------------------------------------------------

start_server wh2 && ok "server restarts" || notok "server restarts"
grep -q 'warning' "$T/wh2.err" && notok "no permission warning for 0600 secret files" ||
	ok "no permission warning for 0600 secret files"
sed 's/wamid\./wamid.KILL9-/' "$B" >"$T/kill.json"
r0=$(field records)
n0=$(field entries)
code=$(post "$T/kill.json")
stop_server KILL
expect_status "a new message: 200, then SIGKILL at once" 200 "$code"
expect_exit "verify exits 0 after the SIGKILL" 0 "$CHATLEDGER" verify -a "$A"
start_server wh3 --verify-token-file "$T/token644" && ok "server restarts after SIGKILL" ||
	notok "server restarts after SIGKILL"
expect_grep "warns about a secret file readable by others" "accessible by group or others" "$T/wh3.err"
[ "$(field records)" -eq $((r0 + 1)) ] && ok "the acknowledged message survived the SIGKILL" ||
	notok "the acknowledged message is missing after SIGKILL (records $r0 -> $(field records))"
"$CHATLEDGER" show -a "$A" --index "$n0" --passphrase-file "$T/pass" >"$T/show" 2>&1
grep -q 'wamid.KILL9-' "$T/show" && ok "... and it is that message" ||
	notok "entry $n0 is not the acknowledged message"
code=$(post "$T/kill.json")
expect_status "its redelivery after the restart: 200" 200 "$code"
[ "$(field records)" -eq $((r0 + 1)) ] && ok "... stored once" || notok "redelivery stored twice"
stop_server INT
[ "$stop_rc" -eq 0 ] && ok "SIGINT: exits 0" || notok "SIGINT: exit $stop_rc"
expect_exit "verify at the end" 0 "$CHATLEDGER" verify -a "$A"
t_done
