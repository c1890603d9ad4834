#!/bin/sh
# t66-export-identity: a WhatsApp chat export is one conversation whatever
# its file is called.  The same export imported under two file names, then
# re-exported with three more messages, stores each message once (counted
# with `status --json`); so do iOS zips of any name, and a later export
# that lost its oldest lines to WhatsApp's history cap.  Traditional and
# Simplified Chinese exports (12h 上午/下午 and 24h) have their system
# lines classified.  The fixtures are written here.
. "$(dirname "$0")/lib.sh"

ACC=85290000001@s.whatsapp.net

# records DIR: the number of record entries in the archive
records() {
	"$CHATLEDGER" status -a "$1" --json | sed 's/.*"records":\([0-9]*\).*/\1/'
}

# ing DIR FILE [options]: import; prints "ingested duplicates"
ing() {
	a=$1; f=$2; shift 2
	"$CHATLEDGER" ingest -a "$a" --format whatsapp-export --account $ACC --json "$@" "$f" >"$T/ing" 2>"$T/ing.err"
	sed 's/.*"duplicates":\([0-9]*\).*"ingested":\([0-9]*\).*/\2 \1/' "$T/ing"
}

# expect_records NAME DIR WANT
expect_records() {
	got=$(records "$2")
	[ "$got" = "$3" ] && ok "$1 ($got records)" ||
		{ notok "$1 ($got records, want $3)"; sed 's/^/#   /' "$T/ing" "$T/ing.err" | head -5; }
}

# ---- Android: two file names, then a later export --------------------------
base() {
	cat <<'EOF'
13/01/2024, 09:00 - Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them. Tap to learn more.
13/01/2024, 09:00 - Chan Tai Man: Is my loan approved?
13/01/2024, 09:01 - Amy (Agent): Checking now
13/01/2024, 09:02 - Chan Tai Man: ok
13/01/2024, 09:02 - Chan Tai Man: ok
13/01/2024, 09:05 - Amy (Agent): Approved: HK$50,000 at 28% APR
EOF
}
more() {
	cat <<'EOF'
14/01/2024, 10:00 - Chan Tai Man: Thanks
14/01/2024, 10:01 - Chan Tai Man: ok
14/01/2024, 10:02 - Amy (Agent): You are welcome
EOF
}
A="$T/android"; new_archive "$A"
base >"$T/WhatsApp Chat with Chan Tai Man.txt"
cp "$T/WhatsApp Chat with Chan Tai Man.txt" "$T/WhatsApp Chat with Chan Tai Man (1).txt"
{ base; more; } >"$T/WhatsApp Chat with Chan Tai Man (2).txt"
r=$(ing "$A" "$T/WhatsApp Chat with Chan Tai Man.txt")
[ "$r" = "6 0" ] && ok "first export: 6 new" || notok "first export: $r (want '6 0')"
r=$(ing "$A" "$T/WhatsApp Chat with Chan Tai Man (1).txt")
[ "$r" = "0 6" ] && ok "the (1) copy: 6 duplicates, nothing new" || notok "the (1) copy: $r (want '0 6')"
expect_records "two file names: each message once" "$A" 6
r=$(ing "$A" "$T/WhatsApp Chat with Chan Tai Man (2).txt")
[ "$r" = "3 6" ] && ok "later export: its 3 new messages only" || notok "later export: $r (want '3 6')"
expect_records "after the later export: each message once" "$A" 9
# WhatsApp's history cap: the oldest lines are gone, three more are new
{ base | tail -n 3; more; printf '15/01/2024, 08:00 - Chan Tai Man: Paid\n15/01/2024, 08:01 - Chan Tai Man: ok\n15/01/2024, 08:02 - Amy (Agent): Received\n'; } \
	>"$T/WhatsApp Chat with Chan Tai Man (3).txt"
r=$(ing "$A" "$T/WhatsApp Chat with Chan Tai Man (3).txt")
[ "$r" = "3 6" ] && ok "capped later export: 3 new, 6 duplicates" || notok "capped later export: $r (want '3 6')"
expect_records "after the capped export: each message once" "$A" 12
expect_exit "android: verify" 0 "$CHATLEDGER" verify -a "$A"

# A copy renamed by hand has no chat name in WhatsApp's form: --self tells
# the parties apart.  (--self also sets each message's direction, which a
# redelivery must agree on, so one chat is imported with the same --self.)
B="$T/android-self"; new_archive "$B"
cp "$T/WhatsApp Chat with Chan Tai Man (2).txt" "$T/chan-backup.txt"
r=$(ing "$B" "$T/WhatsApp Chat with Chan Tai Man.txt" --self "Amy (Agent)")
[ "$r" = "6 0" ] && ok "--self: first export, 6 new" || notok "--self: first export: $r (want '6 0')"
r=$(ing "$B" "$T/chan-backup.txt" --self "Amy (Agent)")
[ "$r" = "3 6" ] && ok "--self: the later export renamed by hand adds its 3 new messages only" ||
	notok "--self: renamed later export: $r (want '3 6')"
expect_records "--self: each message once" "$B" 9
"$CHATLEDGER" show -a "$B" --index 2 --passphrase-file "$T/pass" >"$T/out" 2>&1
expect_grep "--self: the agent's line is outgoing" '"direction":"out"' "$T/out"
expect_exit "show a record" 0 "$CHATLEDGER" show -a "$A" --index 1 --passphrase-file "$T/pass"
expect_grep "conversation.id is direct:<peer>" '"id":"whatsapp-export:direct:Chan Tai Man"' "$T/out"
expect_grep "conversation.peer_name" '"peer_name":"Chan Tai Man"' "$T/out"
expect_grep "conversation.type direct" '"type":"direct"' "$T/out"

# ---- iOS: _chat.txt inside zips of any name ---------------------------------
A="$T/ios"; new_archive "$A"
python3 - "$T" <<'PY'
import sys, zipfile
d = sys.argv[1]
lrm = "\u200e"
head = ("[13/01/2024, 09:00:00] Chan Tai Man: " + lrm + "Messages and calls are end-to-end encrypted. "
        "No one outside of this chat, not even WhatsApp, can read or listen to them.\r\n"
        "[13/01/2024, 09:00:10] Chan Tai Man: Is my loan approved?\r\n"
        "[13/01/2024, 09:01:00] Amy Lee: Checking now\r\n"
        + lrm + "[13/01/2024, 09:02:00] Chan Tai Man: " + lrm + "<attached: 00000001-PHOTO-2024-01-13-09-02-00.jpg>\r\n")
more = ("[14/01/2024, 10:00:00] Chan Tai Man: Thanks\r\n"
        "[14/01/2024, 10:01:00] Amy Lee: You are welcome\r\n"
        "[14/01/2024, 10:02:00] Chan Tai Man: Bye\r\n")
jpg = b"\xff\xd8\xff\xe0 id card scan"
for name, text in (("WhatsApp Chat - Chan Tai Man.zip", head), ("download.zip", head),
                   ("WhatsApp Chat - Chan Tai Man (1).zip", head + more)):
    with zipfile.ZipFile(d + "/" + name, "w") as z:
        z.writestr("_chat.txt", text)
        z.writestr("00000001-PHOTO-2024-01-13-09-02-00.jpg", jpg)
PY
r=$(ing "$A" "$T/WhatsApp Chat - Chan Tai Man.zip")
[ "$r" = "4 0" ] && ok "iOS zip: 4 new" || notok "iOS zip: $r (want '4 0')"
r=$(ing "$A" "$T/download.zip")
[ "$r" = "0 4" ] && ok "iOS zip renamed: nothing new" || notok "iOS zip renamed: $r (want '0 4')"
r=$(ing "$A" "$T/WhatsApp Chat - Chan Tai Man (1).zip")
[ "$r" = "3 4" ] && ok "iOS later zip: its 3 new messages only" || notok "iOS later zip: $r (want '3 4')"
# 7 messages and the photo, stored once as its own entry
expect_records "iOS: each message (and the photo) once" "$A" 8
expect_exit "ios: verify" 0 "$CHATLEDGER" verify -a "$A"

# ---- Chinese system lines -----------------------------------------------------
# show_all DIR N: the first N records, decrypted, into $T/all
show_all() {
	: >"$T/all"
	i=0
	while [ $i -lt "$2" ]; do
		"$CHATLEDGER" show -a "$1" --index $i --passphrase-file "$T/pass" >>"$T/all" 2>/dev/null
		echo >>"$T/all"
		i=$((i + 1))
	done
}

# count PATTERN: lines of $T/all holding PATTERN
count() {
	grep -c -- "$1" "$T/all"
}

# expect_events LABEL: the 13 records of a Chinese group fixture
expect_events() {
	for ev in encryption group_created added joined subject icon removed left; do
		[ "$(count "\"event\":\"$ev\"")" = 1 ] && ok "$1: $ev is a system event" ||
			notok "$1: $ev is a system event ($(count "\"event\":\"$ev\"") found)"
	done
	[ "$(count '"kind":"system"')" = 8 ] && ok "$1: 8 system records" ||
		notok "$1: $(count '"kind":"system"') system records, want 8"
	[ "$(count '"kind":"deleted"')" = 2 ] && ok "$1: both deletion notices" ||
		notok "$1: $(count '"kind":"deleted"') deletion notices, want 2"
	[ "$(count '"media_omitted":true')" = 1 ] && ok "$1: media omitted" ||
		notok "$1: media omitted"
	[ "$(count '"edited":true')" = 1 ] && ok "$1: edited marker" || notok "$1: edited marker"
	[ "$(count '"kind":"text"')" = 2 ] && ok "$1: two ordinary messages" ||
		notok "$1: $(count '"kind":"text"') text messages, want 2"
}

A="$T/zh-tw"; new_archive "$A"
cat >"$T/WhatsApp Chat with 貸款報價 2024.txt" <<'EOF'
2024/3/5 上午9:00 - 訊息和通話都已經過端對端加密。對話以外的任何人，甚至是 WhatsApp 都無法讀取或收聽。輕觸以瞭解更多資訊。
2024/3/5 上午9:00 - 黃小姐建立了群組「貸款報價」
2024/3/5 上午9:01 - 黃小姐新增了陳大文
2024/3/5 上午9:02 - 李先生已透過此群組的邀請連結加入
2024/3/5 上午9:03 - 黃小姐已將群組名稱從「貸款報價」更改為「貸款報價 2024」
2024/3/5 上午9:04 - 黃小姐已變更此群組的圖示
2024/3/5 上午9:05 - 陳大文: <省略影音內容>
2024/3/5 上午9:06 - 陳大文: 此訊息已刪除
2024/3/5 下午2:07 - 黃小姐: 你已刪除此訊息
2024/3/5 下午2:08 - 李先生: 年利率百分之五 <已編輯>
2024/3/5 下午2:09 - 黃小姐已移除李先生
2024/3/5 下午2:10 - 陳大文已離開
2024/3/5 下午2:11 - 黃小姐: 訊息有加密嗎？我們明天再談。
EOF
r=$(ing "$A" "$T/WhatsApp Chat with 貸款報價 2024.txt")
[ "$r" = "13 0" ] && ok "zh-TW 12h: 13 records" || notok "zh-TW 12h: $r (want '13 0')"
show_all "$A" 13
expect_events zh-TW
[ "$(count '"id":"whatsapp-export:group:貸款報價"')" = 13 ] && ok "zh-TW: the group is named by its created subject" ||
	notok "zh-TW: the group is named by its created subject"
[ "$(count '"sent_at":"2024-03-05T06:11:00.000Z"')" = 1 ] && ok "zh-TW: 下午2:11 is 14:11 local" ||
	notok "zh-TW: 下午2:11 is 14:11 local"

A="$T/zh-cn"; new_archive "$A"
cat >"$T/与贷款报价 2024的 WhatsApp 聊天.txt" <<'EOF'
2024/3/5 09:00 - 消息和通话都进行端到端加密。对话之外的任何人，甚至包括 WhatsApp，都无法读取或收听。点按了解更多。
2024/3/5 09:00 - 王经理创建了群组“贷款报价”
2024/3/5 09:01 - 王经理添加了张三
2024/3/5 09:02 - 李四通过此群组的邀请链接加入
2024/3/5 09:03 - 王经理将群组名称从“贷款报价”更改为“贷款报价 2024”
2024/3/5 09:04 - 王经理更改了此群组的图标
2024/3/5 09:05 - 张三: <媒体已省略>
2024/3/5 09:06 - 张三: 此消息已删除
2024/3/5 09:07 - 王经理: 你删除了此消息
2024/3/5 09:08 - 李四: 年利率百分之五 <已编辑>
2024/3/5 09:09 - 王经理移除了李四
2024/3/5 09:10 - 张三退出了
2024/3/5 09:11 - 王经理: 消息都是端到端加密
EOF
r=$(ing "$A" "$T/与贷款报价 2024的 WhatsApp 聊天.txt")
[ "$r" = "13 0" ] && ok "zh-CN 24h: 13 records" || notok "zh-CN 24h: $r (want '13 0')"
show_all "$A" 13
expect_events zh-CN
[ "$(count '"id":"whatsapp-export:group:贷款报价"')" = 13 ] && ok "zh-CN: the group is named by its created subject" ||
	notok "zh-CN: the group is named by its created subject"
expect_exit "zh-CN: verify" 0 "$CHATLEDGER" verify -a "$A"
t_done
