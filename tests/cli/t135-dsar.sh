#!/bin/sh
# t135-dsar: chatledger dsar writes the export bag (docs/BUNDLE.md) for a
# PDPO s.18 request.  One customer (+852 9123 4567, "Chan Tai Man", WeCom
# external contact wmT130ChanTaiMan, linked with `party link`) reaches the
# business through a Cloud API webhook body, a WhatsApp chat export (with
# a photo) and WeCom, and writes in a group chat where another customer
# gives her phone number.  The bundle passes verify-bundle, sha256sum -c
# on both manifests and openssl cms -verify; it holds exactly the party's
# records from every source (checked against the inputs); other people's
# group messages are redacted (numbers masked, proof without content) and
# counted as such; tampering with a redacted record's proof, or dropping
# it, makes verify-bundle exit 1.  The request, its 40-day deadline,
# dsar list and dsar close are checked too.
. "$(dirname "$0")/lib.sh"
[ -n "${T135_KEEP:-}" ] && trap - EXIT

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
	"04/02/2025, 10:03 - Agent Amy: Noted" \
	"04/02/2025, 10:04 - +852 6000 1234: IMG-20250204-WA0002.jpg (file attached)" >"$T/group.txt"
# the group export with another member's photo (it must stay out of the bag)
python3 - "$T/group.txt" "$T/group.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[2], "w") as z:
    z.write(sys.argv[1], "WhatsApp Chat with Policy holders.txt")
    z.writestr("IMG-20250204-WA0002.jpg", b"\xff\xd8\xff\xe0WONG-PRIVATE-PHOTO\n" * 30)
PY

ACC=85230000001
expect_exit "cloudapi body imports" 0 "$CHATLEDGER" ingest -a "$A" --format cloudapi "$T/cloud.json"
expect_exit "chat export zip imports" 0 "$CHATLEDGER" ingest -a "$A" --format whatsapp-export \
	--account $ACC --self "Agent Amy" --date-order dmy --json "$T/chat.zip"
expect_grep "the export's photo is stored" '"attachments":1' "$T/out"
expect_exit "group export imports" 0 "$CHATLEDGER" ingest -a "$A" --format whatsapp-export \
	--account $ACC --self "Agent Amy" --date-order dmy --conversation group-policy "$T/group.zip"
expect_exit "wecom record imports" 0 "$CHATLEDGER" ingest -a "$A" --format wecom --account corp-acme "$T/wecom.json"
# a shared sample too, so the party is one among others
expect_exit "a sample from ../shared/samples imports" 0 "$CHATLEDGER" ingest -a "$A" \
	--format cloudapi "$S/cloudapi-webhook/bindambc_textMessage.json"

# ---- the customer's identifiers, linked (as t130 does) ----------------------
expect_exit "party link joins the WeCom id to the customer" 0 "$CHATLEDGER" party link -a "$A" \
	"+852 9123 4567" "wmT130ChanTaiMan"

# ---- the request and its bundle ---------------------------------------------
expect_exit "dsar records the request and writes the bundle" 0 "$CHATLEDGER" dsar -a "$A" \
	--party "+852 9123 4567" --received 2025-03-01 --out "$T/dsar.tar" $P
expect_grep "... says the deadline (40 days)" "due by 2025-04-10" "$T/out"
expect_grep "... counts the redacted records" "redacted" "$T/out"
id=$(sed -n 's/^data access request \([0-9]*\) recorded.*/\1/p' "$T/out")
check "... prints the request id" [ -n "$id" ]
VK=$("$CHATLEDGER" pubkey -a "$A")
expect_exit "verify-bundle passes (pinned key and root)" 0 "$CHATLEDGER" verify-bundle "$T/dsar.tar" \
	--vkey "$VK" --ca "$A/export.crt"
cp "$T/out" "$T/vb.txt"
expect_grep "... reports the redacted records" "^redacted (content withheld): 5 " "$T/vb.txt"
expect_grep "... and the rest verified" "verified: .* 6 records and 1 natives" "$T/vb.txt"
expect_exit "verify-bundle --json" 0 "$CHATLEDGER" verify-bundle "$T/dsar.tar" --vkey "$VK" --ca "$A/export.crt" --json
expect_grep "... \"redacted\":5 (4 records, 1 attachment)" '"redacted":5' "$T/out"

mkdir "$T/d" && tar -xf "$T/dsar.tar" -C "$T/d"
B="$T/d/EXPORT-dsar-$id"
check "one top folder EXPORT-dsar-ID" [ -d "$B" ] && [ "$(ls "$T/d" | wc -l)" -eq 1 ]
(cd "$B" && sha256sum -c --quiet tagmanifest-sha256.txt) && ok "sha256sum -c tagmanifest" || notok "sha256sum -c tagmanifest"
(cd "$B" && sha256sum -c --quiet manifest-sha256.txt) && ok "sha256sum -c manifest" || notok "sha256sum -c manifest"
(cd "$B" && openssl cms -verify -binary -inform DER -in tagmanifest-sha256.txt.p7s \
	-content tagmanifest-sha256.txt -CAfile "$A/export.crt" -out /dev/null 2>/dev/null) &&
	ok "openssl cms -verify" || notok "openssl cms -verify"
check "RSMF: schema 2.0, email, zip, referential checks" python3 "$CL_ROOT/tests/cli/bundle_check.py" rsmf "$B" "$CL_ROOT/../shared/formats/rsmf/rsmf_schema_2_0_0.json"
check "proofs (redacted ones too): the independent verifier" python3 "$CL_ROOT/tests/cli/bundle_check.py" proofs "$B" "$VK"
expect_grep "bag-info names the request" "External-Description: .*data access request $id" "$B/bag-info.txt"
expect_grep "custody log: the request and its deadline" '"deadline":"2025-04-10"' "$B/data/custody/custody-log.jsonl"
expect_grep "DAT: a REDACTION field" "REDACTION" "$B/data/loadfiles/export.dat"

# Exactly the party's records, from every source, against the inputs.
python3 - "$B" "$T/cloud.json" "$T/wecom.json" "$T/chat.zip" "$T/group.txt" <<'PY2' && ok "the bundle holds exactly the party's records (every source)" || notok "the bundle holds exactly the party's records (every source)"
import glob, json, os, re, sys, zipfile
bag, cloud, wecom, chatzip, group = sys.argv[1:6]
full, red = {}, {}
for p in glob.glob(os.path.join(bag, "data/proofs/records/*.jsonl")):
    for line in open(p, encoding="utf-8"):
        j = json.loads(line)
        if "redacted" in j:
            assert "plaintext" not in j and "salt" not in j, j
            red[j["index"]] = j["redacted"]
        elif "plaintext" in j:
            full[j["index"]] = json.loads(j["plaintext"])
# what the inputs say the party's conversations hold
c = json.load(open(cloud))["entry"][0]["changes"][0]["value"]["messages"]
w = json.load(open(wecom))
chat = zipfile.ZipFile(chatzip).read("WhatsApp Chat with Chan.txt").decode()
chat_msgs = [l.split(": ", 1)[1] for l in chat.splitlines() if ": " in l.split(" - ", 1)[1]]
grp = [l.split(" - ", 1)[1] for l in open(group, encoding="utf-8").read().splitlines()]
grp_msgs = [(g.split(": ", 1)[0], g.split(": ", 1)[1]) for g in grp if ": " in g]
texts = sorted(r.get("text", "") for r in full.values())
want_full = sorted([c[0]["text"]["body"], w["text"]["content"]] + chat_msgs +
                   [t for who, t in grp_msgs if who == "+852 9123 4567"])
assert len(full) == len(want_full), (len(full), len(want_full), texts, want_full)
for t in want_full:
    base = t.replace(" (file attached)", "")
    assert any(base in x or x in base for x in texts), ("missing", t, texts)
# every other line of the group (other members, staff, the system line)
others = [g for g in grp if not g.startswith("+852 9123 4567: ")]
# and the other member's photo, as "attachment of a redacted record"
assert len(red) == len(others) + 1, (red, others)
assert sum(1 for r in red.values() if r.startswith("attachment of")) == 1, red
assert {r["source"] for r in full.values()} == {"cloudapi", "whatsapp-export", "wecom"}, full
ids = {r.get("sender", {}).get("id") for r in full.values()}
assert not any("Mauricio" in json.dumps(r) for r in full.values())
PY2
grep -rq "Mauricio" "$B" && notok "no other customer's chat in the bag" || ok "no other customer's chat in the bag"
grep -rqa "WONG-PRIVATE-PHOTO" "$B" && notok "group: another member's photo is left out" ||
	ok "group: another member's photo is left out"
grep -rqF "6000 1234" "$B" && notok "group: other members' numbers appear only masked" ||
	ok "group: other members' numbers appear only masked"
grep -rqF "+*** **** **34" "$B/data/transcripts" && ok "... the masked number is shown" || notok "... the masked number is shown"
grep -rq "Wong Siu Ling" "$B/data/transcripts" && ok "... names are kept" || notok "... names are kept"
grep -rq "REDACTED" "$B/data/transcripts" && ok "transcript: redacted records are marked" || notok "transcript: redacted records are marked"
grep -rq "REDACTED: group chat" "$B/data/text" && ok "text: redacted records marked with the reason" || notok "text: redacted records marked with the reason"
python3 - "$B" <<'PY2' && ok "RSMF: redacted events carry the reason" || notok "RSMF: redacted events carry the reason"
import base64, email, glob, io, json, os, sys, zipfile
n = 0
for p in glob.glob(os.path.join(sys.argv[1], "data/rsmf/*.rsmf")):
    m = email.message_from_binary_file(open(p, "rb"))
    for part in m.walk():
        if part.get_filename() == "rsmf.zip":
            z = zipfile.ZipFile(io.BytesIO(part.get_payload(decode=True)))
            man = json.loads(z.read("rsmf_manifest.json"))
            for ev in man["events"]:
                cu = {c["name"]: c["value"] for c in ev.get("custom", [])}
                if "redacted" in cu:
                    n += 1
                    assert "6000 1234" not in ev.get("body", "")
assert n == 4, n
PY2
photo_sha=$(sha256sum "$T/photo.jpg" | cut -d' ' -f1)
got=$(sha256sum "$B"/data/natives/* 2>/dev/null | cut -d' ' -f1 | head -n 1)
check "the party's photo is a native, byte for byte" [ "$photo_sha" = "$got" ]

# ---- tampering with a redacted record's proof -----------------------------
# Re-hash the manifests and re-sign with another key, so that only the
# proof check can catch it.
resign() { # DIR
	(cd "$1" && python3 -c '
import hashlib
def sha(f): return hashlib.sha256(open(f, "rb").read()).hexdigest()
for mf in ("manifest-sha256.txt", "tagmanifest-sha256.txt"):
    t = [l.split("  ", 1) for l in open(mf).read().splitlines()]
    open(mf, "w").write("".join("%s  %s\n" % (sha(f), f) for _, f in t))' &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/evil.key" \
		-out "$T/evil.pem" -subj "/CN=evil" -days 2 >/dev/null 2>&1 &&
	cp "$T/evil.pem" certs/signer.pem && python3 -c '
import hashlib
t = [l.split("  ", 1) for l in open("tagmanifest-sha256.txt").read().splitlines()]
open("tagmanifest-sha256.txt", "w").write("".join("%s  %s\n" % (hashlib.sha256(open(f, "rb").read()).hexdigest(), f) for _, f in t))' &&
	openssl cms -sign -binary -md sha256 -outform DER -in tagmanifest-sha256.txt -signer "$T/evil.pem" \
		-inkey "$T/evil.key" -out tagmanifest-sha256.txt.p7s &&
	rm -f tagmanifest-sha256.txt.minisig)
}
redact_edit() { # NAME PYTHON (on j, the first redacted line; return None to drop it)
	rm -rf "$T/x" "$T/x.tar"; cp -r "$T/d" "$T/x"
	python3 - "$T/x/EXPORT-dsar-$id" "$2" <<'PY2'
import glob, json, os, sys
done = False
for p in sorted(glob.glob(os.path.join(sys.argv[1], "data/proofs/records/*.jsonl"))):
    out = []
    for line in open(p, encoding="utf-8"):
        j = json.loads(line)
        if not done and "redacted" in j:
            done = True
            exec(sys.argv[2])
            if j is None:
                continue
            line = json.dumps(j, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
        out.append(line)
    open(p, "w", encoding="utf-8").write("".join(out))
assert done
PY2
	resign "$T/x/EXPORT-dsar-$id"
	(cd "$T/x" && tar -cf "$T/x.tar" "EXPORT-dsar-$id")
	expect_exit "$1: verify-bundle exits 1" 1 "$CHATLEDGER" verify-bundle "$T/x.tar" --vkey "$VK"
	cp "$T/out" "$T/x.out"
}
redact_edit "redacted proof altered" 'q = j["proof"].split("\n"); q[2] = ("A" if q[2][0] != "A" else "B") + q[2][1:]; j["proof"] = "\n".join(q)'
expect_grep "... the inclusion proof does not verify" "inclusion proof does not verify" "$T/x.out"
redact_edit "redacted leaf altered (another time)" 'j["leaf"] = j["leaf"][:40] + ("0" if j["leaf"][40] != "0" else "1") + j["leaf"][41:]'
expect_grep "... caught" "FAILED" "$T/x.out"
redact_edit "redacted proof line dropped" 'j = None'
expect_grep "... caught by completeness" "neither exported nor erased" "$T/x.out"
redact_edit "redacted line with a forged plaintext" 'j["plaintext"] = "{}"'
expect_grep "... refused as malformed" "malformed proof line" "$T/x.out"

# ---- list and close ---------------------------------------------------------
expect_exit "dsar list" 0 "$CHATLEDGER" dsar list -a "$A" --now 2025-03-11
expect_grep "... shows the request, its deadline and days left" "^$id	received 2025-03-01	due 2025-04-10	30 days left" "$T/out"
expect_exit "dsar refuses to overwrite its bundle" 2 "$CHATLEDGER" dsar -a "$A" \
	--party "+852 9123 4567" --received 2025-03-01 --out "$T/dsar.tar" $P
expect_exit "dsar close" 0 "$CHATLEDGER" dsar close -a "$A" --id "$id" --note "replied by post"
expect_exit "dsar list after the reply" 0 "$CHATLEDGER" dsar list -a "$A"
expect_grep "... no open request (the refused one recorded none)" "no open data access requests" "$T/out"
expect_exit "dsar close twice is refused" 2 "$CHATLEDGER" dsar close -a "$A" --id "$id" --note again
"$CHATLEDGER" access list -a "$A" | grep -q "	dsar	" && ok "dsar is an access entry" || notok "dsar is an access entry"
expect_exit "verify at the end" 0 "$CHATLEDGER" verify -a "$A"
t_done
