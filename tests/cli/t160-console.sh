#!/bin/sh
# t160-console: named officers and the web console (issue 15).
#
# Officers: the single-passphrase archive migrates to a named admin
# (seal.key destroyed), an officer and an auditor are added; content needs
# --officer and --reason and names the officer in the access entry; an
# auditor cannot unlock content; access list filters by officer and party;
# a removed officer can no longer unlock and their accesses stay.
#
# Console, driven in Debian's headless chromium by puppeteer-core
# (tests/peer/console-browser.js): sign in, search a party across three
# sources, open the conversation, place a hold, export and download a
# bundle that verify-bundle accepts, see the access entries, switch to
# Traditional Chinese; hostile message texts are inert and visible in the
# console and in the bundle's transcripts; an auditor cannot fetch content
# by URL; CSRF without or with another session's token is refused; an
# expired session is refused; the Nth wrong passphrase in a minute is
# refused unchecked (even a right one) and every attempt is on the record;
# plain HTTP off loopback is refused.  Screenshots: $CL_BUILD/test-logs/t160/.
. "$(dirname "$0")/lib.sh"

PEER="$CL_ROOT/tests/peer"
SHOTS="${CL_BUILD:-$CL_ROOT/build}/test-logs/t160"
A="$T/a"
new_archive "$A"
printf 'bob passphrase 2\n' >"$T/bob"
printf 'carol passphrase 3\n' >"$T/carol"
printf 'dave passphrase 4\n' >"$T/dave"

# ---- one customer in three sources, with hostile texts --------------------
cat >"$T/cloud.json" <<'EOF'
{"object":"whatsapp_business_account","entry":[{"id":"100000000000001","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"85230000001","phone_number_id":"200000000000001"},"contacts":[{"profile":{"name":"Chan Tai Man"},"wa_id":"85291234567"}],"messages":[{"from":"85291234567","id":"wamid.T160CLOUD1","timestamp":"1735722000","text":{"body":"Cloud API hello about my loan"},"type":"text"}]},"field":"messages"}]}]}
EOF
printf '%s\n' \
	"03/02/2025, 09:00 - +852 9123 4567: Hello from the chat export about the loan, 你好" \
	"03/02/2025, 09:01 - Agent Amy: Hi Mr Chan" >"$T/chat.txt"
python3 - "$T/hostile.jsonl" <<'PY'
import json, sys
base = {"account": "85230000001", "conversation": {"id": "85291234567@s.whatsapp.net",
        "type": "direct", "name": "Chan Tai Man"}, "source": "jsonl", "kind": "text"}
texts = [("in", 0, "<script>window.__xss=1</script>"),
         ("in", 0, "\"><img src=x onerror=\"window.__xss=2;alert(2)\">"),
         ("in", 0, "see javascript:window.__xss=3 for the loan"),
         ("in", 0, "Invoice \u202egnp.exe\u202c attached"),
         ("out", 2, "Noted, we will call you about the loan")]
with open(sys.argv[1], "w") as f:
    for i, (d, dev, t) in enumerate(texts):
        r = dict(base, id="T160HOSTILE%d" % i, direction=d, text=t,
                 sent_at="2025-02-05T10:%02d:00+08:00" % i)
        r["sender"] = ({"id": "85291234567@s.whatsapp.net", "name": "Chan Tai Man", "device": dev}
                       if d == "in" else
                       {"id": "85230000001@s.whatsapp.net", "name": "Agent Amy", "device": dev})
        if d == "out":
            r["edited"] = True
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
PY
expect_exit "cloudapi body imports" 0 "$CHATLEDGER" ingest -a "$A" --format cloudapi "$T/cloud.json"
expect_exit "chat export imports" 0 "$CHATLEDGER" ingest -a "$A" --format whatsapp-export \
	--account 85230000001 --self "Agent Amy" --date-order dmy "$T/chat.txt"
expect_exit "hostile jsonl imports" 0 "$CHATLEDGER" ingest -a "$A" --format jsonl "$T/hostile.jsonl"

# ---- officers ---------------------------------------------------------------
expect_exit "before officers: the single passphrase still reads" 0 \
	"$CHATLEDGER" search -a "$A" --passphrase-file "$T/pass" --party "+852 9123 4567"
expect_exit "officer add needs officers first" 2 "$CHATLEDGER" officer add -a "$A" \
	--officer alice --passphrase-file "$T/pass" --name bob --role officer \
	--new-passphrase-file "$T/bob" --kdf interactive
expect_exit "migrate names the passphrase holder alice (admin)" 0 "$CHATLEDGER" officer migrate \
	-a "$A" --name alice --passphrase-file "$T/pass" --kdf interactive
check "seal.key is destroyed" test ! -e "$A/seal.key"
check "alice's file is 0600 in a 0700 directory" sh -c \
	"[ \$(stat -c %a '$A/officers') = 700 ] && [ \$(stat -c %a '$A/officers/alice.officer') = 600 ]"
expect_exit "the old single-passphrase path is closed" 2 \
	"$CHATLEDGER" search -a "$A" --passphrase-file "$T/pass" --party "+852 9123 4567" --reason x
expect_grep "... and says to give --officer" "officer" "$T/err"
expect_exit "alice adds bob (officer)" 0 "$CHATLEDGER" officer add -a "$A" --officer alice \
	--passphrase-file "$T/pass" --name bob --role officer --new-passphrase-file "$T/bob" \
	--kdf interactive
expect_exit "alice adds carol (auditor)" 0 "$CHATLEDGER" officer add -a "$A" --officer alice \
	--passphrase-file "$T/pass" --name carol --role auditor --new-passphrase-file "$T/carol" \
	--kdf interactive
expect_exit "alice adds dave (officer)" 0 "$CHATLEDGER" officer add -a "$A" --officer alice \
	--passphrase-file "$T/pass" --name dave --role officer --new-passphrase-file "$T/dave" \
	--kdf interactive
expect_exit "bob (not admin) cannot add officers" 2 "$CHATLEDGER" officer add -a "$A" \
	--officer bob --passphrase-file "$T/bob" --name eve --role admin \
	--new-passphrase-file "$T/bob" --kdf interactive
"$CHATLEDGER" officer list -a "$A" >"$T/list"
expect_grep "officer list shows the auditor holds no key" "carol.*auditor.*no key" "$T/list"
expect_exit "content needs a reason" 2 "$CHATLEDGER" search -a "$A" --officer dave \
	--passphrase-file "$T/dave" --party "+852 9123 4567"
expect_exit "dave searches with a reason" 0 "$CHATLEDGER" search -a "$A" --officer dave \
	--passphrase-file "$T/dave" --reason "case D1" --party "+852 9123 4567"
expect_exit "the auditor cannot unlock content" 2 "$CHATLEDGER" show -a "$A" --index 0 \
	--officer carol --passphrase-file "$T/carol" --reason audit
expect_grep "... because of the role" "auditor" "$T/err"
expect_exit "a wrong passphrase is refused" 2 "$CHATLEDGER" search -a "$A" --officer dave \
	--passphrase-file "$T/bob" --reason x
expect_exit "dave places a hold" 0 "$CHATLEDGER" hold add -a "$A" --officer dave \
	--passphrase-file "$T/dave" --case D-HOLD --reason "dispute" --party "+852 9123 4567"
expect_exit "party show works for an officer" 0 "$CHATLEDGER" party show -a "$A" \
	--officer dave --passphrase-file "$T/dave" --reason "case D1" "+852 9123 4567"
expect_exit "verify --deep works for an officer" 0 "$CHATLEDGER" verify -a "$A" --deep \
	--officer dave --passphrase-file "$T/dave"
expect_exit "verify --deep refuses an auditor" 2 "$CHATLEDGER" verify -a "$A" --deep \
	--officer carol --passphrase-file "$T/carol"
"$CHATLEDGER" access list -a "$A" --officer dave >"$T/acc"
expect_grep "access list --officer: dave's search" "dave	search" "$T/acc"
expect_grep "access list --officer: dave's hold" "dave	hold-add" "$T/acc"
"$CHATLEDGER" access list -a "$A" --party "+852 9123 4567" >"$T/accp"
expect_grep "access list --party finds who looked at the customer" "dave	search" "$T/accp"
"$CHATLEDGER" access list -a "$A" --as alice --passphrase-file "$T/pass" --reason review --json \
	>"$T/accj"
expect_grep "the reason is sealed in the access entry" '"reason":"case D1"' "$T/accj"

# ---- the console --------------------------------------------------------------
mkdir -p "$SHOTS"
rm -f "$SHOTS"/*.png
expect_exit "plain HTTP off loopback is refused" 2 "$CHATLEDGER" console -a "$A" \
	--listen 0.0.0.0:0
expect_grep "... naming the rule" "loopback" "$T/err"

start_console() {
	"$CHATLEDGER" console -a "$A" --listen 127.0.0.1:0 --json >"$T/con.out" 2>"$T/con.err" &
	CPID=$!
	i=0
	while [ $i -lt 600 ] && ! grep -q listening "$T/con.out" 2>/dev/null; do
		sleep 0.1; i=$((i + 1))
	done
	BASE="http://$(sed -n 's/.*"address":"\([^"]*\)".*/\1/p' "$T/con.out")"
}
stop_console() {
	kill -TERM "$CPID" 2>/dev/null
	wait "$CPID" 2>/dev/null
}

start_console
check "the console listens" grep -q listening "$T/con.out"
if ! command -v chromium >/dev/null 2>&1 || [ ! -d "$PEER/node_modules/puppeteer-core" ]; then
	skip "browser flow" "chromium or puppeteer-core (cd tests/peer && npm ci) missing"
else
	printf '{"bob":"bob passphrase 2","carol":"carol passphrase 3"}' |
		(cd "$PEER" && node console-browser.js flow "$BASE" "$SHOTS" "$T/flow.json") \
		>"$T/browser.out" 2>&1
	grep '^RESULT' "$T/browser.out" | while read -r _ st rest; do
		echo "$st $rest"
	done >"$T/results"
	while read -r st rest; do
		if [ "$st" = PASS ]; then ok "console: $rest"; else notok "console: $rest"; fi
	done <"$T/results"
	[ -s "$T/results" ] || { notok "console: the browser flow printed results"; sed 's/^/#   /' "$T/browser.out" | head -20; }
	if [ -f "$SHOTS/../bundle.zip" ]; then
		mv "$SHOTS/../bundle.zip" "$T/bundle.zip"
		expect_exit "the downloaded bundle passes verify-bundle" 0 \
			"$CHATLEDGER" verify-bundle "$T/bundle.zip"
		mkdir -p "$T/unz"
		python3 -c 'import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
			"$T/bundle.zip" "$T/unz"
		find "$T/unz" -name '*.html' >"$T/transcripts"
		check "the bundle has HTML transcripts" test -s "$T/transcripts"
		if grep -rl '__xss' "$T/unz" --include='*.html' | xargs grep -l '<script>window' >/dev/null 2>&1; then
			notok "transcripts escape <script>"
		else
			ok "transcripts escape <script>"
		fi
		# shellcheck disable=SC2046
		(cd "$PEER" && node console-browser.js transcripts "$SHOTS" $(cat "$T/transcripts")) \
			>"$T/tr.out" 2>&1
		grep '^RESULT' "$T/tr.out" | while read -r _ st rest; do echo "$st $rest"; done >"$T/tr.res"
		while read -r st rest; do
			if [ "$st" = PASS ]; then ok "export: $rest"; else notok "export: $rest"; fi
		done <"$T/tr.res"
		[ -s "$T/tr.res" ] || notok "export: transcripts were checked in chromium"
	else
		notok "the console's export was downloaded"
	fi
fi

# ---- a removed officer ------------------------------------------------------------
expect_exit "alice removes bob" 0 "$CHATLEDGER" officer remove -a "$A" --officer alice \
	--passphrase-file "$T/pass" --name bob
check "bob's wrapped key is gone" test ! -e "$A/officers/bob.officer"
expect_exit "bob can no longer unlock" 2 "$CHATLEDGER" search -a "$A" --officer bob \
	--passphrase-file "$T/bob" --reason x --party "+852 9123 4567"
code=$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode "name=bob" \
	--data-urlencode "passphrase=bob passphrase 2" "$BASE/login")
[ "$code" = 403 ] && ok "bob can no longer sign in to the console" ||
	notok "bob can no longer sign in to the console (HTTP $code)"
"$CHATLEDGER" access list -a "$A" --officer bob >"$T/accb"
expect_grep "bob's past console accesses stay on the record" "bob	console-view" "$T/accb"
expect_exit "removing the last admin is refused" 2 "$CHATLEDGER" officer remove -a "$A" \
	--officer alice --passphrase-file "$T/pass" --name alice

# ---- sign-in rate limit (4 wrong, then the 5th is refused unchecked) --------------------
for i in 1 2 3 4; do
	c=$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode "name=dave" \
		--data-urlencode "passphrase=wrong $i" "$BASE/login")
	printf '%s ' "$c"
done >"$T/codes"
c=$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode "name=dave" \
	--data-urlencode "passphrase=dave passphrase 4" "$BASE/login")
[ "$(cat "$T/codes")" = "403 403 403 403 " ] && ok "four wrong passphrases are checked (403)" ||
	notok "four wrong passphrases are checked (got $(cat "$T/codes"))"
[ "$c" = 429 ] && ok "the 5th attempt within a minute is refused unchecked, even the right one" ||
	notok "the 5th attempt within a minute is refused unchecked (HTTP $c)"
stop_console
"$CHATLEDGER" access list -a "$A" --officer dave >"$T/accd"
n=$(grep -c 'console-login' "$T/accd")
[ "$n" -ge 5 ] && ok "every sign-in attempt is in the access log ($n)" ||
	notok "every sign-in attempt is in the access log ($n)"
"$CHATLEDGER" access list -a "$A" --as alice --passphrase-file "$T/pass" --reason review --json \
	>"$T/accj2"
expect_grep "a refused attempt is recorded as refused" '"result":"refused"' "$T/accj2"

# ---- session expiry -------------------------------------------------------------------
printf '\n[console]\nidle_timeout = 4\nabsolute_timeout = 60\n' >>"$A/chatledger.conf"
start_console
curl -s -o /dev/null -c "$T/jar" --data-urlencode "name=alice" \
	--data-urlencode "passphrase=test passphrase" "$BASE/login"
c1=$(curl -s -o /dev/null -w '%{http_code}' -b "$T/jar" "$BASE/holds")
sleep 6
c2=$(curl -s -o /dev/null -w '%{http_code}' -b "$T/jar" "$BASE/holds")
[ "$c1" = 200 ] && [ "$c2" = 303 ] && ok "a session cookie past its idle expiry is refused" ||
	notok "a session cookie past its idle expiry is refused ($c1 then $c2)"
stop_console
check "the console stops on SIGTERM" grep -q "sessions wiped" "$T/con.err"
expect_exit "the archive verifies after all this" 0 "$CHATLEDGER" verify -a "$A"

t_done
