#!/bin/sh
# t65-import: every sample under ../shared/samples imports through the
# CLI with the expected number of records; re-importing adds nothing; an
# overlapping later export adds only its new messages; a chat-export zip
# stores its attachments; verify exits 0 after every import.
. "$(dirname "$0")/lib.sh"

S="$CL_ROOT/../shared/samples"
[ -d "$S" ] || { notok "samples directory $S is missing"; t_done; exit 1; }
ACC=85290000001@s.whatsapp.net

# imp FORMAT FILE WANT [options...]: fresh archive, import, check counts,
# re-import (nothing new), verify.
imp() {
	fmt=$1; f=$2; want=$3; shift 3
	name=$(basename "$f")
	A="$T/a-$name"
	new_archive "$A"
	"$CHATLEDGER" ingest -a "$A" --format "$fmt" --json "$@" "$f" >"$T/out" 2>"$T/err"
	rc=$?
	got=$(sed 's/.*"ingested":\([0-9]*\).*/\1/' "$T/out")
	if [ "$got" = "$want" ] && { [ $rc -eq 0 ] || [ $rc -eq 3 ]; }; then
		ok "$fmt $name: $want records"
	else
		notok "$fmt $name: $got records (want $want), exit $rc"
		sed 's/^/#   /' "$T/out" "$T/err" | head -5
	fi
	"$CHATLEDGER" ingest -a "$A" --format "$fmt" --json "$@" "$f" >"$T/out2" 2>/dev/null
	grep -q '"ingested":0' "$T/out2" && ok "$fmt $name: re-import adds nothing" ||
		{ notok "$fmt $name: re-import adds nothing"; sed 's/^/#   /' "$T/out2"; }
	"$CHATLEDGER" verify -a "$A" >"$T/v" 2>&1 && ok "$fmt $name: verify" ||
		{ notok "$fmt $name: verify"; sed 's/^/#   /' "$T/v"; }
}

W="$S/whatsapp-export"
imp whatsapp-export "$W/chatminer_android_mmddyyyy_12h_es-a.m.-p.m..txt" 9 --account $ACC
imp whatsapp-export "$W/chatminer_android_yyyymmdd-slash_24h.txt" 9 --account $ACC
imp whatsapp-export "$W/chatminer_bracketed_mmddyy_24h_no-seconds.txt" 9 --account $ACC
imp whatsapp-export "$W/pustur_short-chat_android_ddmmyyyy_24h_group.txt" 5 --account $ACC --date-order dmy
imp whatsapp-export "$W/whatsjson_android_en_ddmmyyyy_group-system-msgs.txt" 20 --account $ACC --date-order dmy
imp whatsapp-export "$W/whatsjson_android_en_ddmmyyyy_with-media.txt" 60 --account $ACC
imp whatsapp-export "$W/whatsjson_android_nl_dd-mm-yyyy_no-comma_with-media.txt" 41 --account $ACC
imp whatsapp-export "$W/whatsjson_ios_buddhist-calendar_BE.txt" 28 --account $ACC
imp whatsapp-export "$W/whatsjson_ios_de_without-media.txt" 23 --account $ACC
imp whatsapp-export "$W/whatsjson_ios_en_mdyy_24h_with-media_LRM_CRLF.txt" 25 --account $ACC
imp whatsapp-export "$W/whatsjson_ios_pt-PT_no-comma_without-media.txt" 23 --account $ACC
imp whatsapp-export "$W/whatstk_pokemon_android_dotted-ddmmyyyy_24h_group.txt" 20 --account $ACC

# The pywa fixtures reuse message ids (wamid.xyzxyz) across cases.  Items
# with the same id and the same content (kind, direction, time, text,
# target, sender, attachments) are redeliveries and stored once; items
# with the same id and other content are kept as conflicting copies.
C="$S/cloudapi-webhook"
imp cloudapi "$C/bindambc_textMessage.json" 1
imp cloudapi "$C/pywa_callback_button.json" 3
imp cloudapi "$C/pywa_callback_selection.json" 1
imp cloudapi "$C/pywa_edited_message.json" 1
imp cloudapi "$C/pywa_message.json" 19
imp cloudapi "$C/pywa_message_status.json" 6
imp cloudapi "$C/pywa_system.json" 2

E="$S/wecom-archive"
for f in doc_agree_external doc_image_send doc_revoke_recall doc_switch_corp doc_text_send; do
	imp wecom "$E/$f.json" 1 --account corp-acme
done
A="$T/wecom-enc"; new_archive "$A"
expect_exit "wecom: still-encrypted GetChatData items are quarantined (exit 3)" 3 \
	"$CHATLEDGER" ingest -a "$A" --format wecom --account corp-acme "$E/sdk-header_getchatdata_response.json"
expect_grep "wecom: the reason names the SDK boundary" "decrypt with the WeCom Finance SDK" "$T/err"

# Ambiguous dates are refused with a clear message naming the option.
A="$T/amb"; new_archive "$A"
expect_exit "ambiguous export is refused" 2 "$CHATLEDGER" ingest -a "$A" --format whatsapp-export --account $ACC "$W/pustur_short-chat_android_ddmmyyyy_24h_group.txt"
expect_grep "the refusal names --date-order" "date-order" "$T/err"
expect_exit "whatsapp-export needs --account" 2 "$CHATLEDGER" ingest -a "$A" --format whatsapp-export "$W/whatstk_pokemon_android_dotted-ddmmyyyy_24h_group.txt"

# An overlapping later export of the same chat adds only the new lines.
P="$W/whatstk_pokemon_android_dotted-ddmmyyyy_24h_group.txt"
A="$T/overlap"; new_archive "$A"
head -n 12 "$P" >"$T/early.txt"
"$CHATLEDGER" ingest -a "$A" --format whatsapp-export --account $ACC --conversation pokemon-group --json "$T/early.txt" >"$T/o1"
first=$(sed 's/.*"ingested":\([0-9]*\).*/\1/' "$T/o1")
"$CHATLEDGER" ingest -a "$A" --format whatsapp-export --account $ACC --conversation pokemon-group --json "$P" >"$T/o2"
second=$(sed 's/.*"ingested":\([0-9]*\).*/\1/' "$T/o2")
dups=$(sed 's/.*"duplicates":\([0-9]*\).*/\1/' "$T/o2")
[ $((first + second)) -eq 20 ] && [ "$dups" -eq "$first" ] && ok "overlap: $first early + $second new = 20, $dups skipped" ||
	notok "overlap: $first early, $second new, $dups skipped"
expect_exit "overlap: verify" 0 "$CHATLEDGER" verify -a "$A"

# A zip export with media: attachments are linked and stored encrypted.
A="$T/zip"; new_archive "$A"
python3 - "$T/chat.zip" <<'PY'
import sys, zipfile
chat = ("[3/27/22, 21:41:55] Chan Tai Man: \u200e<attached: 00000035-PHOTO-2022-03-27-21-41-55.jpg>\r\n"
        "[3/27/22, 21:42:10] Agent Amy: Received the statement, thanks\r\n"
        "[3/27/22, 21:43:00] Chan Tai Man: \u200e<attached: 00000036-missing.pdf>\r\n")
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("_chat.txt", chat)
    z.writestr("00000035-PHOTO-2022-03-27-21-41-55.jpg", b"\xff\xd8\xff\xe0JPEGBYTES-QUIXOTIC" * 10)
PY
expect_exit "zip: import" 0 "$CHATLEDGER" ingest -a "$A" --format whatsapp-export --account $ACC --self "Agent Amy" --json "$T/chat.zip"
expect_grep "zip: three messages" '"ingested":3' "$T/out"
expect_grep "zip: one attachment stored" '"attachments":1' "$T/out"
grep -r -a -q "JPEGBYTES-QUIXOTIC" "$A" && notok "zip: attachment bytes are not stored in clear" || ok "zip: attachment bytes are not stored in clear"
expect_exit "zip: the attachment decrypts" 0 "$CHATLEDGER" show -a "$A" --index 1 --passphrase-file "$T/pass"
expect_grep "zip: attachment bytes come back" "JPEGBYTES-QUIXOTIC" "$T/out"
expect_exit "zip: re-import" 0 "$CHATLEDGER" ingest -a "$A" --format whatsapp-export --account $ACC --self "Agent Amy" --json "$T/chat.zip"
expect_grep "zip: re-import adds nothing" '"ingested":0' "$T/out"
expect_exit "zip: verify" 0 "$CHATLEDGER" verify -a "$A"
t_done
