#!/bin/sh
# t130-search: the read path.  One customer (+852 9123 4567, "Chan Tai
# Man", WeCom external contact wmT130ChanTaiMan) reaches the business
# through a Cloud API webhook body, a WhatsApp chat export and WeCom;
# search by party returns all three; a two-character Chinese query finds
# its message; show --out writes attachment bytes exactly (the SHA-256
# matches); every read appends an access entry before revealing content
# (status counts them, access list shows them, clear only with the key).
# dsar is in t135-dsar.sh.  Inputs are written here in each source's format (the layout of
# the samples under ../shared/samples).
. "$(dirname "$0")/lib.sh"
[ -n "${T130_KEEP:-}" ] && trap - EXIT

S="$CL_ROOT/../shared/samples"
A="$T/a"
new_archive "$A"
P="--passphrase-file $T/pass"

# ---- the three sources ----------------------------------------------------
cat >"$T/cloud.json" <<'EOF'
{"object":"whatsapp_business_account","entry":[{"id":"100000000000001","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"85230000001","phone_number_id":"200000000000001"},"contacts":[{"profile":{"name":"Chan Tai Man"},"wa_id":"85291234567"}],"messages":[{"from":"85291234567","id":"wamid.T130CLOUD1","timestamp":"1735722000","text":{"body":"Please check my HSBC account 請於明天匯豐銀行戶口"},"type":"text"}]},"field":"messages"}]}]}
EOF
cat >"$T/wecom.json" <<'EOF'
{"msgid":"T130WECOM1","action":"send","from":"wmT130ChanTaiMan","tolist":["amy"],"roomid":"","msgtime":1735808400000,"msgtype":"text","text":{"content":"WeCom message about insurance 保險"}}
EOF
# a chat export (zip with a photo) of a direct chat, and a group chat with
# another customer who writes her own phone number
python3 - "$T/chat.zip" "$T/photo.jpg" <<'PY'
import sys, zipfile
photo = b"\xff\xd8\xff\xe0T130-PHOTO-BYTES\n" * 40 + b"\n"
open(sys.argv[2], "wb").write(photo)
chat = ("03/02/2025, 09:00 - +852 9123 4567: Hello from the chat export, 你好\n"
        "03/02/2025, 09:01 - Agent Amy: Hi Mr Chan\n"
        "03/02/2025, 09:02 - +852 9123 4567: IMG-20250203-WA0001.jpg (file attached)\n")
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("WhatsApp Chat with Chan.txt", chat)
    z.writestr("IMG-20250203-WA0001.jpg", photo)
PY
printf '%s\n' \
	"04/02/2025, 10:00 - Agent Amy created group \"Policy holders\"" \
	"04/02/2025, 10:01 - +852 9123 4567: Group hello from Chan" \
	"04/02/2025, 10:02 - Wong Siu Ling: Call me on +852 6000 1234 please" \
	"04/02/2025, 10:03 - Agent Amy: Noted" >"$T/group.txt"

ACC=85230000001
expect_exit "cloudapi body imports" 0 "$CHATLEDGER" ingest -a "$A" --format cloudapi "$T/cloud.json"
expect_exit "chat export zip imports" 0 "$CHATLEDGER" ingest -a "$A" --format whatsapp-export \
	--account $ACC --self "Agent Amy" --date-order dmy --json "$T/chat.zip"
expect_grep "the export's photo is stored" '"attachments":1' "$T/out"
expect_exit "group export imports" 0 "$CHATLEDGER" ingest -a "$A" --format whatsapp-export \
	--account $ACC --self "Agent Amy" --date-order dmy --conversation group-policy "$T/group.txt"
expect_exit "wecom record imports" 0 "$CHATLEDGER" ingest -a "$A" --format wecom --account corp-acme "$T/wecom.json"
# a shared sample too, so the party is one among others
expect_exit "a sample from ../shared/samples imports" 0 "$CHATLEDGER" ingest -a "$A" \
	--format cloudapi "$S/cloudapi-webhook/bindambc_textMessage.json"

# ---- search by party ------------------------------------------------------
# The WeCom id belongs to the same customer by a link when the parties
# command exists; otherwise it is named as a second selector.
if "$CHATLEDGER" party --help >/dev/null 2>&1 &&
	"$CHATLEDGER" party link -a "$A" "+852 9123 4567" "wmT130ChanTaiMan" >/dev/null 2>&1; then
	SEL="--party +85291234567"
else
	skip "one --party across the WeCom id" "no 'chatledger party link' in this build"
	SEL="--party +85291234567 --party wmT130ChanTaiMan"
fi
# shellcheck disable=SC2086
expect_exit "search by party" 0 "$CHATLEDGER" search -a "$A" $P $SEL --json
cp "$T/out" "$T/party.json"
for s in cloudapi whatsapp-export wecom; do
	grep -q "\"source\":\"$s\"" "$T/party.json" && ok "party search returns the $s record" ||
		{ notok "party search returns the $s record"; sed 's/^/#   /' "$T/party.json" | cut -c1-200; }
done
grep -q "Mauricio" "$T/party.json" && notok "party search leaves other customers out" ||
	ok "party search leaves other customers out"
grep -q "Call me on" "$T/party.json" && ok "the party's group chat is covered" ||
	notok "the party's group chat is covered"

# ---- text -----------------------------------------------------------------
expect_exit "two-character Chinese query" 0 "$CHATLEDGER" search -a "$A" $P --text 匯豐 --json
check "... finds exactly its message" [ "$(grep -c '"record"' "$T/out")" -eq 1 ]
expect_grep "... and says so in the singular" "^chatledger search: 1 record (access recorded" "$T/err"
expect_grep "... the HSBC message" "wamid.T130CLOUD1" "$T/out"
expect_exit "two-character query in another record" 0 "$CHATLEDGER" search -a "$A" $P --text 保險
expect_grep "... finds the WeCom message" "WeCom message" "$T/out"
expect_exit "ASCII is case-insensitive, words are ANDed" 0 "$CHATLEDGER" search -a "$A" $P --text "hsbc ACCOUNT"
expect_grep "... the HSBC message" "HSBC" "$T/out"
expect_exit "no match is not an error" 0 "$CHATLEDGER" search -a "$A" $P --text "匯豐 nosuchword"
check "... and prints nothing" [ ! -s "$T/out" ]
expect_grep "... but says 0 records" "^chatledger search: 0 records (access recorded" "$T/err"
expect_exit "text within a party and a time window" 0 "$CHATLEDGER" search -a "$A" $P $SEL \
	--from 2025-02-01 --to 2025-02-03 --text hello
expect_grep "... finds the export line" "Hello from the chat export" "$T/out"
check "... and only it" [ "$(wc -l <"$T/out")" -eq 1 ]
expect_exit "kind selector" 0 "$CHATLEDGER" search -a "$A" $P --kind no-such-kind
check "... selects nothing" [ ! -s "$T/out" ]
expect_exit "a wrong passphrase fails" 2 "$CHATLEDGER" search -a "$A" --passphrase-file "$T/pass.wrong" --text x
printf 'wrong\n' >"$T/wrong"
expect_exit "a wrong passphrase fails before anything" 2 "$CHATLEDGER" search -a "$A" --passphrase-file "$T/wrong" --text x

# ---- show -------------------------------------------------------------------
att=$("$CHATLEDGER" search -a "$A" $P $SEL --json 2>/dev/null | sed -n 's/.*"attachment".*"index":\([0-9]*\).*/\1/p' | head -n 1)
check "search lists the photo as an attachment entry" [ -n "$att" ]
expect_exit "show --out writes the photo" 0 "$CHATLEDGER" show -a "$A" --index "${att:-0}" --out "$T/saved.jpg" $P
photo_sha=$(sha256sum "$T/photo.jpg" | cut -d' ' -f1)
got=$(sha256sum "$T/saved.jpg" 2>/dev/null | cut -d' ' -f1)
check "... byte for byte (sha256 matches)" [ "$photo_sha" = "$got" ]
"$CHATLEDGER" search -a "$A" $P $SEL --json 2>/dev/null | grep -q "$photo_sha" &&
	ok "... the sha256 the record lists" || notok "... the sha256 the record lists"
expect_exit "show --out never overwrites" 2 "$CHATLEDGER" show -a "$A" --index "${att:-0}" --out "$T/saved.jpg" $P
expect_exit "show --index N is unchanged for a record" 0 "$CHATLEDGER" show -a "$A" --index 0 $P
check "... one line of canonical JSON" [ "$(wc -l <"$T/out")" -eq 1 ]
expect_grep "... the record" '"id":"wamid.T130CLOUD1"' "$T/out"
expect_exit "show --range" 0 "$CHATLEDGER" show -a "$A" --range 0-2 --index 5 $P
check "... prints the entries" [ "$(wc -l <"$T/out")" -ge 3 ]
expect_exit "show: a bad range is refused" 2 "$CHATLEDGER" show -a "$A" --range 5-2 $P
expect_grep "... naming it" "ends before it starts" "$T/err"
expect_exit "show --out takes one entry" 2 "$CHATLEDGER" show -a "$A" --range 0-2 --out "$T/x" $P

# ---- access entries ----------------------------------------------------------
expect_exit "access list needs no passphrase" 0 "$CHATLEDGER" access list -a "$A" </dev/null
cp "$T/out" "$T/access.txt"
n_search=$(grep -c "	search	" "$T/access.txt")
check "every search was recorded ($n_search)" [ "$n_search" -ge 8 ]
expect_grep "show's ranges are recorded" "entries=0-2,5" "$T/access.txt"
grep -q "匯豐\|85291234567\|Chan" "$T/access.txt" && notok "the public part holds no selector in clear" ||
	ok "the public part holds no selector in clear"
expect_exit "access list with the key" 0 "$CHATLEDGER" access list -a "$A" $P
expect_grep "... shows the clear text query" 'text="匯豐"' "$T/out"
expect_exit "status" 0 "$CHATLEDGER" status -a "$A" --json
n=$("$CHATLEDGER" access list -a "$A" --json | grep -c '"command"')
expect_grep "status counts the access entries" "\"access\":$n" "$T/out"
# recorded before revealing: an access entry exists even when the output
# goes nowhere
before=$n
"$CHATLEDGER" search -a "$A" $P --text 匯豐 >/dev/null 2>&1
after=$("$CHATLEDGER" access list -a "$A" --json | grep -c '"command"')
check "a search appends one access entry" [ "$after" -eq $((before + 1)) ]
expect_exit "verify after all reads" 0 "$CHATLEDGER" verify -a "$A"

# dsar (the request, its bundle in the export bag format, list, close) is
# tested by t135-dsar.sh on the same inputs.
expect_exit "verify at the end" 0 "$CHATLEDGER" verify -a "$A"
t_done
