#!/bin/sh
# t23-payload-dict: payload dictionary 1 and the two payload versions
# (docs/FORMAT.md §6.3, §6.3a).
#   - The committed dictionary is exactly what mkdict.py writes, and its
#     SHA-256 is the one FORMAT.md gives.
#   - Writers seal version-2 payloads (with the dictionary), and they are
#     smaller than version 1 for the same records.
#   - An archive written before the dictionary (tests/data/payload-v1:
#     version-1 payloads, written by chatledger at commit 9142f04) still
#     opens: show, search, deep verify, export and verify-bundle; records
#     appended to it are version 2, and the mixed archive verifies, with the
#     independent verifier too.
#   - Erasing one record leaves every other record readable, and none of
#     its ciphertext, key or text bytes in any archive file, the
#     dictionary or the binary that embeds it.
. "$(dirname "$0")/lib.sh"

DICT="$CL_ROOT/archiver/ledger/dict/payload-1.dict"
VERIFY_PY="$CL_ROOT/tests/verifier/verify.py"

# --- The dictionary is reproducible and pinned.
python3 "$CL_ROOT/archiver/ledger/dict/mkdict.py" >"$T/dict"
check "dictionary: mkdict.py reproduces the committed file" cmp -s "$T/dict" "$DICT"
sum=$(sha256sum "$DICT" | cut -d' ' -f1)
expect_grep "dictionary: FORMAT.md pins its SHA-256" "$sum" "$CL_ROOT/docs/FORMAT.md"
python3 - "$DICT" <<'PY' && ok "dictionary: no phone number or ID, only zero placeholders" || notok "dictionary: holds a number that is not a placeholder"
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
bad = [m for m in re.findall(r"[0-9]{6,}", text) if not re.fullmatch(r"(852|120363)?0+", m)]
print("# numbers that are not placeholders: %s" % (bad[:5] or "none"))
sys.exit(1 if bad else 0)
PY

# version_counts DIR: "v1 v2" payload counts by the blob's first byte
version_counts() {
	py - "$1/ledger.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
c = dict(db.execute("SELECT substr(ct, 1, 1), count(*) FROM payload GROUP BY 1"))
print(c.get(b"\x01", 0), c.get(b"\x02", 0))
PY
}
py() { python3 "$@"; }
# meta_format DIR: meta.format of the archive
meta_format() {
	py - "$1/ledger.db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT v FROM meta WHERE k = 'format'").fetchone()[0])
PY
}

# --- New archives write version 2, smaller than version 1.
A="$T/a"
new_archive "$A"
gen_records 200 0 >"$T/r.jsonl"
expect_exit "new archive: ingest" 0 "$CHATLEDGER" ingest -a "$A" --format jsonl "$T/r.jsonl"
[ "$(meta_format "$A")" = 3 ] && ok "new archive: format 3" || notok "new archive: format $(meta_format "$A")"
expect_grep "new archive: chatledger.conf says format 3" "^format = 3$" "$A/chatledger.conf"
[ "$(version_counts "$A")" = "0 200" ] && ok "new archive: every payload is version 2" ||
	notok "new archive: payload versions $(version_counts "$A")"
OLD_FX="$CL_ROOT/tests/data/payload-v1"
# Version-2 blobs, with their 49 bytes of framing, take under 70% of the
# plaintext of these short records (version 1: 86%, version 2: 47%).
expect_exit "new archive: show all 200" 0 "$CHATLEDGER" show -a "$A" --range 0-199 --passphrase-file "$T/pass"
cp "$T/out" "$T/pt2"
py - "$A/ledger.db" "$T/pt2" <<'PY' && ok "new archive: version 2 stores less than the plaintext" || notok "new archive: version 2 is not smaller"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
ct = sum(n for (n,) in db.execute("SELECT length(ct) FROM payload"))
pt = sum(len(l.rstrip(b"\n")) for l in open(sys.argv[2], "rb"))
print("# version 2: %d bytes of blobs for %d bytes of plaintext (%.2f)" % (ct, pt, ct / pt))
sys.exit(0 if ct < 0.70 * pt else 1)
PY
expect_exit "new archive: deep verify" 0 "$CHATLEDGER" verify -a "$A" --deep --passphrase-file "$T/pass"

# --- An archive with version-1 payloads.
V="$T/v1"
mkdir "$V"
cp "$OLD_FX"/* "$V/"
chmod 600 "$V/seal.key" "$V/log.key" "$V/tag.key" "$V/export.key" "$V/export-minisign.key" "$V/chatledger.conf"
[ "$(version_counts "$V")" = "8 0" ] && ok "v1 fixture: eight version-1 payloads" ||
	notok "v1 fixture: payload versions $(version_counts "$V")"
[ "$(meta_format "$V")" = 2 ] && ok "v1 fixture: format 2" || notok "v1 fixture: format $(meta_format "$V")"
# The operator sees the format, and that the next write upgrades it.
expect_exit "v1: status" 0 "$CHATLEDGER" status -a "$V"
expect_grep "v1: status says format 2 and the upgrade to come" \
	"^format       2 (the next write upgrades it to 3; " "$T/out"
expect_exit "v1: status --json" 0 "$CHATLEDGER" status -a "$V" --json
expect_grep "v1: status --json has format 2" '"format":2,' "$T/out"
expect_exit "v1: verify" 0 "$CHATLEDGER" verify -a "$V"
expect_exit "v1: verify.py" 0 python3 "$VERIFY_PY" "$V"
expect_exit "v1: deep verify opens every version-1 payload" 0 "$CHATLEDGER" verify -a "$V" --deep --passphrase-file "$T/pass"
expect_grep "v1: deep verify opened 8" "8 payloads opened" "$T/out"
# Reading writes nothing but its access entry; that first batch makes the
# archive format 3, since it may seal version-2 payloads (FORMAT.md §10).
[ "$(meta_format "$V")" = 2 ] && ok "v1: still format 2 after verifying" || notok "v1: format changed by verify"
expect_exit "v1: show a version-1 record" 0 "$CHATLEDGER" show -a "$V" --index 1 --passphrase-file "$T/pass"
expect_grep "v1: its Chinese text decodes" "你好，貸款申請已收到" "$T/out"
[ "$(meta_format "$V")" = 3 ] && ok "v1: format 3 after the first batch (the access entry)" ||
	notok "v1: format $(meta_format "$V") after a batch"
expect_grep "v1: chatledger.conf keeps the format it was created with" "^format = 2$" "$V/chatledger.conf"
expect_exit "v1: status after the upgrade" 0 "$CHATLEDGER" status -a "$V"
expect_grep "v1: status says format 3, nothing more" "^format       3$" "$T/out"
expect_exit "v1: search finds a version-1 record" 0 "$CHATLEDGER" search -a "$V" --text 貸款 --passphrase-file "$T/pass" --json
expect_grep "v1: search returns it" "V1-0002" "$T/out"
gen_records 5 300 >"$T/new.jsonl"
expect_exit "v1: append new records" 0 "$CHATLEDGER" ingest -a "$V" --format jsonl "$T/new.jsonl"
# 8 records + 1 access entry (show) + 1 (search) + 5 new; access entries carry payloads
counts=$(version_counts "$V")
v1n=${counts% *}; v2n=${counts#* }
[ "$v1n" = 8 ] && [ "$v2n" -ge 5 ] && ok "v1: old payloads stay version 1, new ones are version 2 ($counts)" ||
	notok "v1: payload versions $counts"
expect_exit "mixed: deep verify" 0 "$CHATLEDGER" verify -a "$V" --deep --passphrase-file "$T/pass"
expect_exit "mixed: the independent verifier" 0 python3 "$VERIFY_PY" "$V"
expect_exit "mixed: export" 0 "$CHATLEDGER" export -a "$V" --out "$T/mixed.tar" --case MIXED --passphrase-file "$T/pass"
expect_exit "mixed: verify-bundle" 0 "$CHATLEDGER" verify-bundle "$T/mixed.tar" --ca "$V/export.crt"
mkdir "$T/mx" && tar -xf "$T/mixed.tar" -C "$T/mx"
grep -rqs "V1-0004" "$T/mx" && ok "mixed: the bundle holds a version-1 record" ||
	notok "mixed: no version-1 record in the bundle"
# A version byte the reader does not know is malformed, not guessed.
cp -r "$V" "$T/v9"
py - "$T/v9/ledger.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
ct = db.execute("SELECT ct FROM payload WHERE idx = 0").fetchone()[0]
db.execute("UPDATE payload SET ct = ? WHERE idx = 0", (b"\x03" + ct[1:],))
db.commit()
PY
expect_exit "unknown payload version: verify fails" 1 "$CHATLEDGER" verify -a "$T/v9"
expect_exit "unknown payload version: show refuses" 2 "$CHATLEDGER" show -a "$T/v9" --index 0 --passphrase-file "$T/pass"
expect_grep "unknown payload version: named as malformed" "entry 0: stored key or ciphertext malformed" "$T/err"
expect_exit "unknown payload version: verify.py fails" 1 python3 "$VERIFY_PY" "$T/v9"

# --- Erasing one record (issue 16 acceptance 3).
E="$T/erase"
new_archive "$E"
{
	gen_records 30 500
	printf '{"account":"85290000001@s.whatsapp.net","conversation":{"id":"85266660000@s.whatsapp.net","type":"direct"},"id":"ERASE-ME","sender":{"id":"85266660000@s.whatsapp.net"},"direction":"in","sent_at":"2020-01-01T00:00:00Z","kind":"text","text":"erase-me q7Zt4 unique enquiry text","labels":["enquiry"]}\n'
} >"$T/e.jsonl"
"$CHATLEDGER" ingest -a "$E" --format jsonl "$T/e.jsonl" >/dev/null
py - "$E/ledger.db" "$T/secret.bin" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
idx = 30  # the last of the 31 records
ct = db.execute("SELECT ct FROM payload WHERE idx = ?", (idx,)).fetchone()[0]
w = db.execute("SELECT wrapped FROM sealed_key WHERE idx = ?", (idx,)).fetchone()[0]
open(sys.argv[2], "wb").write(ct[25:57] + ct[-32:] + w[:32])
PY
expect_exit "erase: retain erases the one due record" 0 "$CHATLEDGER" retain -a "$E" \
	--policy "$CL_ROOT/config/policies/hk-pdpo-default.policy" --now 2026-01-01 --json
expect_grep "erase: exactly one erased" '"erased":1' "$T/out"
expect_exit "erase: the other 30 records open" 0 "$CHATLEDGER" show -a "$E" --range 0-29 --passphrase-file "$T/pass"
[ "$(grep -c '"kind":"text"' "$T/out")" -eq 30 ] && ok "erase: 30 records shown" || notok "erase: $(grep -c '"kind":"text"' "$T/out") records shown"
expect_exit "erase: the erased one does not" 2 "$CHATLEDGER" show -a "$E" --index 30 --passphrase-file "$T/pass"
expect_exit "erase: deep verify" 0 "$CHATLEDGER" verify -a "$E" --deep --passphrase-file "$T/pass"
py - "$E" "$T/secret.bin" "$DICT" "$CHATLEDGER" <<'PY' && ok "erase: none of its ciphertext, key or text in the archive files, the dictionary or the binary" || notok "erase: bytes of the erased record remain"
import os, sys
d, secret, dict_path, binary = sys.argv[1:5]
raw = open(secret, "rb").read()
frags = [raw[i:i + 32] for i in range(0, len(raw), 32)]
frags.append(b"erase-me q7Zt4")
blobs = {f: open(os.path.join(d, f), "rb").read() for f in os.listdir(d)}
blobs["dictionary"] = open(dict_path, "rb").read()
blobs["binary"] = open(binary, "rb").read()
bad = [(name, i) for name, b in blobs.items() for i, f in enumerate(frags) if f in b]
print("# checked %d fragments in %s" % (len(frags), ", ".join(sorted(blobs))))
for name, i in bad:
    print("# fragment %d found in %s" % (i, name))
sys.exit(1 if bad else 0)
PY
t_done
