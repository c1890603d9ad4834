#!/bin/sh
# t72-webhook-media: `chatledger webhook --access-token-file` downloads Cloud
# API media (issue 4) from a mock Graph API on loopback (python3 stdlib):
#
#   - /MEDIA_OK answers {"url": .../file/ok}, whose bytes become a sealed
#     attachment entry ({"attachment_of": N}) readable with `show`;
#   - /MEDIA_BAD fails (500) the first time: a coverage entry
#     "media-download-failed" is written, and the retry (--media-retry-base
#     1, so 2 s later) stores the attachment;
#   - the mock checks the bearer token on every request; the token never
#     appears in the server's output; a pending download survives a restart
#     (/MEDIA_SLOW is only served once the mock is told to, after a
#     restart); `verify` exits 0.
. "$(dirname "$0")/lib.sh"

A="$T/a"
SECRET='test app secret 0123456789abcdef'
TOKEN='EAAG-test-access-token-5f2c9d'
pid=""
mpid=""
trap 'if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null; fi
      if [ -n "$mpid" ]; then kill "$mpid" 2>/dev/null; fi; rm -rf "$T"' EXIT INT TERM

for tool in curl openssl python3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		notok "$tool is installed (needed by this test)"
		t_done
		exit 1
	fi
done

new_archive "$A"
printf '%s\n' "$SECRET" >"$T/secret"
printf 'verify-me-42\n' >"$T/token"
printf '%s\n' "$TOKEN" >"$T/access"
chmod 600 "$T/secret" "$T/token" "$T/access"

# ---- the mock Graph API ------------------------------------------------------
# Writes its port to $T/mock.port; logs "PATH STATUS" lines to $T/mock.log;
# answers 401 unless "Authorization: Bearer TOKEN".
cat >"$T/mock.py" <<'PY'
import http.server, json, os, sys
token, d = sys.argv[1], sys.argv[2]
bad = {"n": 0}
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def send(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with open(d + "/mock.log", "a") as f:
            f.write("%s %d\n" % (self.path, code))
    def do_GET(self):
        port = self.server.server_address[1]
        if self.headers.get("Authorization") != "Bearer " + token:
            return self.send(401, b'{"error":"no token"}')
        p = self.path
        if p in ("/v21.0/MEDIA_OK", "/v21.0/MEDIA_BAD") or \
           (p == "/v21.0/MEDIA_SLOW" and os.path.exists(d + "/slow.ok")):
            if p == "/v21.0/MEDIA_BAD":
                bad["n"] += 1
                if bad["n"] == 1:
                    return self.send(500, b'{"error":"try later"}')
            name = p.rsplit("/", 1)[1].lower()
            u = "http://127.0.0.1:%d/file/%s?sig=x" % (port, name)
            return self.send(200, json.dumps({"url": u, "id": name}).encode())
        if p == "/v21.0/MEDIA_SLOW":
            return self.send(503, b'{"error":"not yet"}')
        if p.startswith("/file/"):
            name = p[6:].split("?")[0]
            return self.send(200, ("BYTES-OF-" + name + "\x00\xff").encode("latin-1"),
                             "application/octet-stream")
        return self.send(404, b'{"error":"unknown"}')
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(d + "/mock.port.tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(d + "/mock.port.tmp", d + "/mock.port")
s.serve_forever()
PY
python3 "$T/mock.py" "$TOKEN" "$T" &
mpid=$!
i=0
while [ ! -s "$T/mock.port" ] && [ "$i" -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
MPORT=$(cat "$T/mock.port" 2>/dev/null)
if [ -n "$MPORT" ]; then ok "mock Graph API on 127.0.0.1:$MPORT"
else notok "mock Graph API starts"; t_done; exit 1; fi
MEDIA_URL="http://127.0.0.1:$MPORT/v21.0"

# ---- helpers ------------------------------------------------------------------

. "$(dirname "$0")/webhook-lib.sh"

# msg ID TYPE MEDIA_ID: one inbound media message
msg() {
	printf '{"from":"85291234567","id":"wamid.%s","timestamp":"1749416383","type":"%s","%s":{"id":"%s","mime_type":"image/jpeg","sha256":"DhwSr6Xw7DBmxqgqyUJ2ZyJy0tw5hcMcWzSNbRKhIX4="}}' \
		"$1" "$2" "$2" "$3"
}

# body FILE MESSAGE...: a webhook body holding the messages
body() {
	f=$1; shift
	printf '{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Kerry Fisher"},"wa_id":"85291234567"}],"messages":[%s]}}]}]}' \
		"$(printf '%s,' "$@" | sed 's/,$//')" >"$f"
}

# ---- command line ----------------------------------------------------------------

expect_exit "--media-url without --access-token-file is refused" 2 \
	"$CHATLEDGER" webhook -a "$A" --listen 127.0.0.1:0 --app-secret-file "$T/secret" \
	--verify-token-file "$T/token" --media-url "$MEDIA_URL"
expect_exit "--media-retry-base 0 is refused" 2 \
	"$CHATLEDGER" webhook -a "$A" --listen 127.0.0.1:0 --app-secret-file "$T/secret" \
	--verify-token-file "$T/token" --access-token-file "$T/access" --media-retry-base 0
expect_exit "a media URL that is not http(s) is refused" 2 \
	"$CHATLEDGER" webhook -a "$A" --listen 127.0.0.1:0 --app-secret-file "$T/secret" \
	--verify-token-file "$T/token" --access-token-file "$T/access" --media-url ftp://x/

# ---- download, failure, retry ------------------------------------------------------

check "server starts with media download" start_server m1 \
	--access-token-file "$T/access" --media-url "$MEDIA_URL" --media-retry-base 1
# entries 0, 1, 2: the records (one body, one batch)
body "$T/two.json" "$(msg OK1 image MEDIA_OK)" "$(msg BAD1 document MEDIA_BAD)" \
	"$(msg STK1 sticker '')"
check "a body with media MEDIA_OK, MEDIA_BAD and an empty id is stored (200)" \
	[ "$(post "$T/two.json")" = 200 ]
check "MEDIA_OK is downloaded and stored" wait_log m1 "media of entry 0 stored" 1
check "MEDIA_BAD fails once, logged" wait_log m1 "media of entry 1: attempt 1 failed (HTTP 500); will retry" 1
check "MEDIA_BAD is stored on the retry" wait_log m1 "media of entry 1 stored" 1
check "mock saw one 500 and then the file" \
	[ "$(grep -c '^/v21.0/MEDIA_BAD 500$' "$T/mock.log")" = 1 ] && \
	[ "$(grep -c '^/file/media_bad?sig=x 200$' "$T/mock.log")" = 1 ]
check "no request went without the token" [ "$(grep -c ' 401$' "$T/mock.log")" = 0 ]

# a redelivery stores nothing new and downloads nothing again
check "a redelivered body is a duplicate" [ "$(post "$T/two.json")" = 200 ]
sleep 1
check "... and MEDIA_OK is not fetched again" \
	[ "$(grep -c '^/v21.0/MEDIA_OK ' "$T/mock.log")" = 1 ]

# a download that stays pending across a restart
body "$T/slow.json" "$(msg SLOW1 video MEDIA_SLOW)"
check "a body with media MEDIA_SLOW is stored (200)" [ "$(post "$T/slow.json")" = 200 ]
check "MEDIA_SLOW fails (503)" wait_log m1 "media of entry 6: attempt 1 failed (HTTP 503)" 1 ||
	sed 's/^/#   /' "$T/m1.err"
stop_server TERM
check "SIGTERM exits 0" [ "$stop_rc" -eq 0 ]
grep '"event":"stopped"' "$T/m1.out" | grep -q '"media_stored":2,"media_failed":2,' &&
	ok "summary counts media" || { notok "summary counts media"; cat "$T/m1.out"; }

# entries: 0 ok-record, 1 bad-record, 2 sticker record (no id),
# 3 attachment of 0, 4 coverage (1 failed), 5 attachment of 1, 6 SLOW record, 7 coverage
expect_exit "show the MEDIA_OK attachment" 0 "$CHATLEDGER" show -a "$A" --index 3 \
	--passphrase-file "$T/pass"
check "... holds the downloaded bytes" \
	python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.exit(d != b"BYTES-OF-media_ok\x00\xff\n")' "$T/out"
check "leaves: attachments point at their parents, coverage bodies have no id" \
	python3 - "$A/ledger.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT idx, type, kind FROM entry ORDER BY idx").fetchall()
kinds = [(t, k) for _, t, k in rows]
att = [i for i, t, k in rows if k == "attachment"]
cov = [i for i, t, k in rows if k == "media-download-failed" and t == 3]
assert len(att) == 2, rows
assert len(cov) == 2, rows
leaves = b"".join(r[0] for r in db.execute("SELECT leaf FROM entry"))
assert b'"attachment_of":0' in leaves and b'"attachment_of":1' in leaves, "bodies"
assert b'"entry":1,"attempt":1,"status":500' in leaves, "coverage body"
assert b"MEDIA_" not in leaves, "a media id in a public body"
pend = db.execute("SELECT media_id, attempts FROM media_pending").fetchall()
assert pend == [("MEDIA_SLOW", 1)], pend
PY
check "status counts the coverage entries" [ "$(field coverage)" = 2 ]

# restart: the pending row is retried (the mock now serves MEDIA_SLOW)
: >"$T/slow.ok"
check "server restarts" start_server m2 \
	--access-token-file "$T/access" --media-url "$MEDIA_URL" --media-retry-base 1
check "the pending MEDIA_SLOW is downloaded after the restart" \
	wait_log m2 "media of entry 6 stored" 1 || sed 's/^/#   /' "$T/m2.err"
stop_server TERM
check "pending table is empty" [ "$(sql "$A/ledger.db" "SELECT count(*) FROM media_pending")" = 0 ]
expect_exit "verify exits 0" 0 "$CHATLEDGER" verify -a "$A" --json
check "verify counts 2 coverage entries" grep -q '"coverage":2' "$T/out"
check "the access token never appears in the server's output" \
	sh -c '! grep -rqF "$1" "$2"/m1.err "$2"/m1.out "$2"/m2.err "$2"/m2.out' sh "$TOKEN" "$T"
check "the token is not in ledger.db" sh -c '! grep -qF "$1" "$2"' sh "$TOKEN" "$A/ledger.db"
kill "$mpid" 2>/dev/null
mpid=""
t_done
