#!/bin/sh
# t140-export: chatledger export and verify-bundle (docs/BUNDLE.md).  The
# bundle is checked with standard tools only (sha256sum, openssl cms,
# openssl ts against a local TSA, minisign), its RSMF against the 2.0
# schema with Python's jsonschema and email modules, its proofs with the
# independent verifier (tests/verifier); tampering, a removed record
# re-signed with another key, a retention run (tombstones) and a headless
# Chromium screenshot of a transcript.
. "$(dirname "$0")/lib.sh"

SCHEMA="$CL_ROOT/../shared/formats/rsmf/rsmf_schema_2_0_0.json"
CHECK="python3 $CL_ROOT/tests/cli/bundle_check.py"
ACC="85290000001@s.whatsapp.net"
G="group1@g.us"
A="$T/a"; new_archive "$A"

# rec ID KIND SENDER DIR TIME EXTRA: one record of the group conversation
rec() {
	printf '{"account":"%s","conversation":{"id":"%s","type":"group","name":"交易群 Trading"},"id":"%s","sender":{"id":"%s","name":"%s","device":"%s"},"direction":"%s","sent_at":"%s","kind":"%s"%s}\n' \
		"$ACC" "$G" "$1" "$3" "$4" "$5" "$6" "$7" "$2" "$8"
}
{
rec m1 text 85291234567 "陳大文" phone in 2025-03-01T10:00:00+08:00 ',"text":"請於明天匯豐銀行戶口 <b>transfer</b>"'
rec m2 text 85290000001 "Agent Amy" agent-amy out 2025-03-01T10:01:00+08:00 ',"text":"OK, noted","reply_to":"m1"'
rec m3 reaction 85291234567 "陳大文" phone in 2025-03-01T10:02:00+08:00 ',"text":"👍","target":"m2"'
rec m4 edit 85291234567 "陳大文" phone in 2025-03-01T10:03:00+08:00 ',"text":"請於後天匯豐銀行戶口","target":"m1"'
rec m5 revoke 85290000001 "Agent Amy" agent-amy out 2025-03-01T10:04:00+08:00 ',"target":"m2"'
rec m6 join 85299999999 "New Member" phone in 2025-03-01T10:05:00+08:00 ''
rec m7 leave 85299999999 "New Member" phone in 2025-03-02T09:00:00+08:00 ''
} >"$T/g.jsonl"
# The same message id with other content: a conflicting redelivery.
rec m2 text 85290000001 "Agent Amy" agent-amy out 2025-03-01T10:01:00+08:00 ',"text":"OK, noted (other copy)","reply_to":"m1"' >"$T/conflict.jsonl"
expect_exit "ingest the group conversation" 0 "$CHATLEDGER" ingest -a "$A" --format jsonl "$T/g.jsonl"
"$CHATLEDGER" ingest -a "$A" --format jsonl "$T/conflict.jsonl" >/dev/null 2>&1
# A chat export with a photo: an attachment entry.
python3 - "$T/chat.zip" <<'PY'
import sys, zipfile
chat = ("[3/27/22, 21:41:55] Chan Tai Man: \u200e<attached: 00000035-PHOTO-2022-03-27-21-41-55.jpg>\r\n"
        "[3/27/22, 21:42:10] Agent Amy: Thanks, received\r\n")
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("_chat.txt", chat)
    z.writestr("00000035-PHOTO-2022-03-27-21-41-55.jpg", b"\xff\xd8\xff\xe0PHOTO-BYTES" * 40)
PY
expect_exit "ingest a chat export with a photo" 0 "$CHATLEDGER" ingest -a "$A" --format whatsapp-export --account "$ACC" --conversation 85291112222@s.whatsapp.net --self "Agent Amy" "$T/chat.zip"
# Enquiries that the PDPO profile erases after 24 months.
for i in 1 2 3; do
	printf '{"account":"%s","conversation":{"id":"85293330000@s.whatsapp.net","type":"direct"},"id":"q%s","sender":{"id":"85293330000"},"direction":"in","sent_at":"2024-01-0%sT10:00:00Z","kind":"text","text":"enquiry %s","labels":["enquiry"]}\n' "$ACC" $i $i $i
done >"$T/q.jsonl"
printf '{"account":"%s","conversation":{"id":"85293330000@s.whatsapp.net","type":"direct"},"id":"q9","sender":{"id":"85293330000"},"direction":"in","sent_at":"2026-06-01T10:00:00Z","kind":"text","text":"later enquiry","labels":["customer"]}\n' "$ACC" >>"$T/q.jsonl"
"$CHATLEDGER" ingest -a "$A" --format jsonl "$T/q.jsonl" >/dev/null

# --- a local RFC 3161 TSA (openssl ts -reply behind a tiny HTTP server)
TSA="$T/tsa"; mkdir -p "$TSA"
(
cd "$TSA" || exit 1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
	-subj "/CN=Test TSA Root" -days 30 -addext basicConstraints=critical,CA:TRUE >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tsa.key -out tsa.csr -subj "/CN=Test TSA" >/dev/null 2>&1
printf 'extendedKeyUsage=critical,timeStamping\nbasicConstraints=CA:FALSE\n' >ext.cnf
openssl x509 -req -in tsa.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out tsa.pem -days 30 -extfile ext.cnf >/dev/null 2>&1
echo 01 >serial
cat >tsa.cnf <<CNF
[tsa]
default_tsa = t
[t]
serial = $TSA/serial
signer_cert = $TSA/tsa.pem
signer_key = $TSA/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.4146.2.3
digests = sha256, sha384, sha512
ess_cert_id_alg = sha256
CNF
)
cat >"$TSA/server.py" <<'PY'
import http.server, subprocess, sys, os
d = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        q = self.rfile.read(int(self.headers["Content-Length"]))
        open(os.path.join(d, "q.tsq"), "wb").write(q)
        subprocess.run(["openssl", "ts", "-reply", "-config", os.path.join(d, "tsa.cnf"),
                        "-queryfile", os.path.join(d, "q.tsq"), "-out", os.path.join(d, "r.tsr")],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = open(os.path.join(d, "r.tsr"), "rb").read()
        self.send_response(200); self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(r))); self.end_headers(); self.wfile.write(r)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(os.path.join(d, "port"), "w").write(str(s.server_address[1]))
s.serve_forever()
PY
python3 "$TSA/server.py" "$TSA" &
TSAPID=$!
trap 'kill $TSAPID 2>/dev/null; rm -rf "$T"' EXIT INT TERM
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s "$TSA/port" ] && break; sleep 0.3; done
PORT=$(cat "$TSA/port")

# --- export with a TSA, as zip
expect_exit "export-cert creates the export certificate once" 0 "$CHATLEDGER" export-cert -a "$A"
expect_grep "export-cert prints the fingerprint" "SHA256 fingerprint" "$T/out"
[ "$(stat -c %a "$A/export.key")" = 600 ] && ok "export.key is 0600" || notok "export.key is 0600"
expect_exit "export (zip, TSA)" 0 "$CHATLEDGER" export -a "$A" --out "$T/b.zip" --case CASE-1 \
	--tz Asia/Hong_Kong --tsa-url "http://127.0.0.1:$PORT/" --tsa-ca "$TSA/ca.pem" --passphrase-file "$T/pass" --json
expect_grep "export counts the attachment" '"attachments":1' "$T/out"
expect_exit "export refuses to overwrite" 2 "$CHATLEDGER" export -a "$A" --out "$T/b.zip" --case CASE-1 --passphrase-file "$T/pass"
VK=$("$CHATLEDGER" pubkey -a "$A")
expect_exit "verify-bundle: pinned key and root" 0 "$CHATLEDGER" verify-bundle "$T/b.zip" --vkey "$VK" --ca "$A/export.crt" --tsa-ca "$TSA/ca.pem"
expect_grep "verify-bundle reports verified" "verified:" "$T/out"

# A case number as a court writes it: kept as given in bag-info, the
# folder name made safe; bad ones refused.
expect_exit "export: court case number with a space and a slash" 0 "$CHATLEDGER" export -a "$A" \
	--out "$T/hca.tar" --case "HCA 123/2026" --passphrase-file "$T/pass"
mkdir "$T/hca" && tar -xf "$T/hca.tar" -C "$T/hca"
[ -d "$T/hca/EXPORT-HCA_123_2026" ] && ok "export: folder EXPORT-HCA_123_2026" ||
	notok "export: folder for 'HCA 123/2026' is $(ls "$T/hca")"
expect_grep "export: External-Identifier as given" "^External-Identifier: HCA 123/2026$" "$T/hca/EXPORT-HCA_123_2026/bag-info.txt"
expect_exit "verify-bundle: court case number" 0 "$CHATLEDGER" verify-bundle "$T/hca.tar" --ca "$A/export.crt"
(cd "$T/hca/EXPORT-HCA_123_2026" && sha256sum -c --quiet manifest-sha256.txt && sha256sum -c --quiet tagmanifest-sha256.txt) &&
	ok "export: sha256sum -c passes for the court case number" || notok "export: sha256sum -c fails"
expect_exit "export: case id with a trailing space refused" 2 "$CHATLEDGER" export -a "$A" \
	--out "$T/bad1.tar" --case "HCA 1 " --passphrase-file "$T/pass"
expect_grep "export: says what a case id may be" "printable ASCII" "$T/err"
expect_exit "export: case id with a tab refused" 2 "$CHATLEDGER" export -a "$A" \
	--out "$T/bad2.tar" --case "$(printf 'HCA\t1')" --passphrase-file "$T/pass"
[ ! -e "$T/bad1.tar" ] && [ ! -e "$T/bad2.tar" ] && ok "export: nothing written for a refused case id" ||
	notok "export: a refused case id left a file"

mkdir "$T/u" && (cd "$T/u" && python3 -c 'import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extractall()' "$T/b.zip")
BAG="$T/u/EXPORT-CASE-1"
[ -d "$BAG" ] && [ "$(ls "$T/u" | wc -l)" -eq 1 ] && ok "one top folder" || notok "one top folder"
(cd "$BAG" && sha256sum -c --quiet tagmanifest-sha256.txt) && ok "sha256sum -c tagmanifest" || notok "sha256sum -c tagmanifest"
(cd "$BAG" && sha256sum -c --quiet manifest-sha256.txt) && ok "sha256sum -c manifest" || notok "sha256sum -c manifest"
(cd "$BAG" && openssl cms -verify -binary -inform DER -in tagmanifest-sha256.txt.p7s \
	-content tagmanifest-sha256.txt -CAfile "$A/export.crt" -out /dev/null 2>/dev/null) &&
	ok "openssl cms -verify" || notok "openssl cms -verify"
(cd "$BAG" && openssl ts -verify -data tagmanifest-sha256.txt.p7s -in tagmanifest-sha256.txt.p7s.tsr \
	-CAfile "$TSA/ca.pem" 2>/dev/null | grep -q "Verification: OK") &&
	ok "openssl ts -verify (local TSA)" || notok "openssl ts -verify (local TSA)"
if command -v minisign >/dev/null 2>&1; then
	(cd "$BAG" && minisign -V -q -p certs/minisign.pub -m tagmanifest-sha256.txt) &&
		ok "minisign -V" || notok "minisign -V"
else
	notok "minisign is not installed (.ci/deps installs it)"
fi
grep -q '^Payload-Oxum: [0-9]*\.[0-9]*$' "$BAG/bag-info.txt" && grep -q '^External-Identifier: CASE-1$' "$BAG/bag-info.txt" &&
	grep -q '^Slice-Time-Zone: Asia/Hong_Kong$' "$BAG/bag-info.txt" && ok "bag-info fields" || notok "bag-info fields"
check "RSMF: schema 2.0, email, zip, referential checks" $CHECK rsmf "$BAG" "$SCHEMA"
check "proofs: verified by the independent verifier" $CHECK proofs "$BAG" "$VK"
$CHECK features "$BAG" >"$T/feat"
for f in rsmf-edit-previous-new rsmf-deleted rsmf-reaction rsmf-parent rsmf-attachment rsmf-join rsmf-leave \
	rsmf-conflict rsmf-direction-incoming rsmf-direction-outgoing html-edit html-deleted html-reaction \
	html-reply html-attachment html-chinese html-device; do
	expect_grep "shows $f" "shows $f\$" "$T/feat"
done
ls "$BAG"/data/natives/ | grep -q 'PHOTO' && ok "natives: the photo" || notok "natives: the photo"
N=$(ls "$BAG"/data/natives/*PHOTO*)
[ "$(sha256sum <"$N" | cut -c1-64)" = "$(python3 -c 'import hashlib;print(hashlib.sha256(b"\xff\xd8\xff\xe0PHOTO-BYTES"*40).hexdigest())')" ] &&
	ok "native bytes exact" || notok "native bytes exact"
python3 - "$BAG/data/loadfiles/export.dat" <<'PY' && ok "DAT: BOM, 0x14, þ, fields, Bates" || notok "DAT: BOM, 0x14, þ, fields, Bates"
import sys
b = open(sys.argv[1], "rb").read()
assert b.startswith(b"\xef\xbb\xbf")
lines = b[3:].decode("utf-8").split("\r\n")
head = [f.strip("\u00fe") for f in lines[0].split("\x14")]
assert head == ["BEGBATES","ENDBATES","BEGATTACH","ENDATTACH","CUSTODIAN","DATESENT","MD5HASH","SHA256HASH","NATIVEPATH","TEXTPATH"], head
rows = [[f.strip("\u00fe") for f in l.split("\x14")] for l in lines[1:] if l]
bates = [r[0] for r in rows]
assert bates == sorted(bates) and len(set(bates)) == len(bates)
assert any(r[8].startswith(".\\data\\natives\\") and r[2] != r[0] for r in rows)
PY
grep -q '"ledger_index"' "$BAG/data/custody/custody-log.jsonl" && ok "custody log names the export's ledger entry" || notok "custody log names the export's ledger entry"

# --- tar; the same checks hold
expect_exit "export (tar, 12h slices, UTC)" 0 "$CHATLEDGER" export -a "$A" --out "$T/b.tar" --case CASE-2 --slice 12h --tz UTC --passphrase-file "$T/pass"
expect_exit "verify-bundle tar" 0 "$CHATLEDGER" verify-bundle "$T/b.tar" --vkey "$VK" --ca "$A/export.crt"
mkdir "$T/ut" && tar -C "$T/ut" -xf "$T/b.tar"
(cd "$T/ut/EXPORT-CASE-2" && sha256sum -c --quiet manifest-sha256.txt) && ok "tar: sha256sum -c" || notok "tar: sha256sum -c"
ls "$T/ut/EXPORT-CASE-2/data/rsmf/" | grep -q 'T00.rsmf\|T12.rsmf' && ok "12h slices named by hour" || notok "12h slices named by hour"

# --- tampering: each must fail verify-bundle (1) and the matching standard tool
repack() { (cd "$1" && rm -f "$2" && python3 -c '
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for root, _, files in os.walk("."):
        for f in sorted(files):
            p = os.path.join(root, f)[2:]
            z.write(p, p)' "$2"); }
tamper() { # NAME FILE(relative to bag) PYTHON-EXPR-ON-b STDTOOL
	rm -rf "$T/x"; cp -r "$T/u" "$T/x"
	python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); exec(sys.argv[2]); open(p,"wb").write(b)' "$T/x/EXPORT-CASE-1/$2" "$3"
	repack "$T/x" "$T/x.zip"
	expect_exit "tamper $1: verify-bundle exits 1" 1 "$CHATLEDGER" verify-bundle "$T/x.zip" --vkey "$VK" --ca "$A/export.crt"
	if (cd "$T/x/EXPORT-CASE-1" && eval "$4") >/dev/null 2>&1; then notok "tamper $1: standard tool fails"; else ok "tamper $1: standard tool fails"; fi
}
TR=$(cd "$BAG" && ls data/transcripts/ | head -n 1)
PR=$(cd "$BAG" && ls data/proofs/records/ | head -n 1)
RS=$(cd "$BAG" && ls data/rsmf/ | head -n 1)
tamper "transcript" "data/transcripts/$TR" 'b[-20] ^= 1' 'sha256sum -c --quiet manifest-sha256.txt'
tamper "rsmf" "data/rsmf/$RS" 'b[100] ^= 1' 'sha256sum -c --quiet manifest-sha256.txt'
tamper "native" "$(cd "$BAG" && ls data/natives/* | head -n 1)" 'b[5] ^= 1' 'sha256sum -c --quiet manifest-sha256.txt'
tamper "proof" "data/proofs/records/$PR" 'b[30] ^= 1' 'sha256sum -c --quiet manifest-sha256.txt'
tamper "bag-info" "bag-info.txt" 'b += b"Note: added\n"' 'sha256sum -c --quiet tagmanifest-sha256.txt'
tamper "tag manifest" "tagmanifest-sha256.txt" 'b[3] ^= 1' 'openssl cms -verify -binary -inform DER -in tagmanifest-sha256.txt.p7s -content tagmanifest-sha256.txt -CAfile '"$A/export.crt"' -out /dev/null'
tamper "CMS signature" "tagmanifest-sha256.txt.p7s" 'b[-10] ^= 1' 'openssl cms -verify -binary -inform DER -in tagmanifest-sha256.txt.p7s -content tagmanifest-sha256.txt -CAfile '"$A/export.crt"' -out /dev/null'
tamper "minisign" "tagmanifest-sha256.txt.minisig" 'b[60] = ord("A") if b[60] != ord("A") else ord("B")' 'minisign -V -q -p certs/minisign.pub -m tagmanifest-sha256.txt'

# --- remove one record, fix every manifest and re-sign with another key
rm -rf "$T/r"; cp -r "$T/u" "$T/r"
python3 - "$T/r/EXPORT-CASE-1" <<'PY'
import glob, hashlib, os, sys
bag = sys.argv[1]
p = sorted(glob.glob(os.path.join(bag, "data/proofs/records/group1*2025-03-01.jsonl")))[0]
lines = open(p, encoding="utf-8").readlines()
open(p, "w", encoding="utf-8").write("".join(lines[:1] + lines[2:]))
def sha(f): return hashlib.sha256(open(os.path.join(bag, f), "rb").read()).hexdigest()
m = [l.split("  ", 1) for l in open(os.path.join(bag, "manifest-sha256.txt")).read().splitlines()]
open(os.path.join(bag, "manifest-sha256.txt"), "w").write("".join("%s  %s\n" % (sha(f), f) for _, f in m))
t = [l.split("  ", 1) for l in open(os.path.join(bag, "tagmanifest-sha256.txt")).read().splitlines()]
open(os.path.join(bag, "tagmanifest-sha256.txt"), "w").write("".join("%s  %s\n" % (sha(f), f) for _, f in t))
PY
(cd "$T/r/EXPORT-CASE-1" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/evil.key" -out "$T/evil.pem" -subj "/CN=evil" -days 2 >/dev/null 2>&1 &&
	cp "$T/evil.pem" certs/signer.pem &&
	python3 -c '
import hashlib
t = [l.split("  ", 1) for l in open("tagmanifest-sha256.txt").read().splitlines()]
open("tagmanifest-sha256.txt", "w").write("".join("%s  %s\n" % (hashlib.sha256(open(f, "rb").read()).hexdigest(), f) for _, f in t))' &&
	openssl cms -sign -binary -md sha256 -outform DER -in tagmanifest-sha256.txt -signer "$T/evil.pem" -inkey "$T/evil.key" -out tagmanifest-sha256.txt.p7s &&
	rm -f tagmanifest-sha256.txt.minisig tagmanifest-sha256.txt.p7s.tsr)
(cd "$T/r/EXPORT-CASE-1" && sha256sum -c --quiet manifest-sha256.txt && sha256sum -c --quiet tagmanifest-sha256.txt) &&
	ok "re-signed bundle passes the hash checks" || notok "re-signed bundle passes the hash checks"
repack "$T/r" "$T/r.zip"
expect_exit "removed record: verify-bundle exits 1 without --ca" 1 "$CHATLEDGER" verify-bundle "$T/r.zip"
expect_grep "removed record: caught by completeness" "neither exported nor erased" "$T/out"
expect_exit "removed record: the pinned root also rejects it" 1 "$CHATLEDGER" verify-bundle "$T/r.zip" --ca "$A/export.crt" --vkey "$VK"

# --- a headless Chromium screenshot of a transcript
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$CHROME" ]; then
	G1=$(ls "$BAG"/data/transcripts/group1*2025-03-01.html)
	"$CHROME" --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --user-data-dir="$T/chrome" \
		--window-size=1000,900 --screenshot="$T/shot.png" "file://$G1" >/dev/null 2>&1
	[ -s "$T/shot.png" ] && head -c 8 "$T/shot.png" | od -An -c | grep -q 'P   N   G' &&
		ok "chromium screenshot of a transcript" || notok "chromium screenshot of a transcript"
	[ -n "${CL_KEEP_SHOT:-}" ] && cp "$T/shot.png" "$CL_KEEP_SHOT"
elif [ -n "${CI:-}" ]; then
	notok "chromium is missing in CI (.ci/deps installs it)"
else
	skip "chromium screenshot" "chromium is not installed here"
fi

# --- after a retention run: erased records appear as tombstones
expect_exit "retain (PDPO profile, 2027)" 0 "$CHATLEDGER" retain -a "$A" --policy "$CL_ROOT/config/policies/hk-pdpo-default.policy" --now 2027-01-01
expect_grep "retention erased the enquiries" " 3 erased" "$T/out"
expect_exit "export after retention" 0 "$CHATLEDGER" export -a "$A" --out "$T/c.zip" --case CASE-3 --conversation 85293330000@s.whatsapp.net --passphrase-file "$T/pass" --json
expect_grep "export shows three erased records" '"erased":3' "$T/out"
expect_exit "verify-bundle after retention exits 0" 0 "$CHATLEDGER" verify-bundle "$T/c.zip" --vkey "$VK" --ca "$A/export.crt"
mkdir "$T/uc" && (cd "$T/uc" && python3 -c 'import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extractall()' "$T/c.zip")
grep -q 'erased under rule enquiries' "$T"/uc/EXPORT-CASE-3/data/proofs/chains/*.jsonl && ok "chain names the tombstones" || notok "chain names the tombstones"
grep -rq 'enquiry 1' "$T/uc" && notok "erased text is absent" || ok "erased text is absent"
check "after retention: independent proof check" $CHECK proofs "$T/uc/EXPORT-CASE-3" "$VK"
$CHECK features "$T/uc/EXPORT-CASE-3" >"$T/feat2"
expect_grep "RSMF shows the erasure" "shows rsmf-erased" "$T/feat2"
expect_grep "HTML shows the erasure" "shows html-erased" "$T/feat2"
expect_exit "verify-bundle: usage" 2 "$CHATLEDGER" verify-bundle
expect_exit "verify-bundle: not a bundle" 2 "$CHATLEDGER" verify-bundle "$T/pass"
t_done
