#!/bin/sh
# t20-tamper: every kind of tampering makes `verify` exit 1 and name the
# problem; an untouched archive exits 0.
. "$(dirname "$0")/lib.sh"

B="$T/base"
new_archive "$B"
gen_records 300 0 7 | "$CHATLEDGER" ingest -a "$B" --format jsonl --batch 1000 - >/dev/null
"$CHATLEDGER" checkpoint -a "$B" >"$T/cp-300"
cp -a "$B" "$T/old-300"
gen_records 300 300 7 | "$CHATLEDGER" ingest -a "$B" --format jsonl --batch 1000 - >/dev/null
"$CHATLEDGER" checkpoint -a "$B" >"$T/cp-600"
expect_exit "untouched archive verifies" 0 "$CHATLEDGER" verify -a "$B" --checkpoint "$T/cp-300" --checkpoint "$T/cp-600"

# fresh COPY: a scratch copy of the base archive at $C
fresh() { rm -rf "$T/c"; cp -a "$B" "$T/c"; C="$T/c"; }

# tampered NAME PATTERN [verify options...]: verify exits 1 and says PATTERN
tampered() {
	name=$1; pat=$2; shift 2
	expect_exit "$name: verify exits 1" 1 "$CHATLEDGER" verify -a "$C" "$@"
	expect_grep "$name: names the problem" "$pat" "$T/out"
}

fresh; py "$C/ledger.db" 'flip("payload", "ct", "idx", 42, 30)'
tampered "ciphertext byte" "entry 42: ciphertext does not match"

fresh; py "$C/ledger.db" 'flip("payload", "ct", "idx", 43, 0)'
tampered "ciphertext version byte" "entry 43: ciphertext"

fresh; py "$C/ledger.db" 'flip("entry", "leaf", "idx", 50, 12)'
tampered "leaf sent_at byte" "entry 50: index columns"

fresh; py "$C/ledger.db" 'flip("entry", "leaf", "idx", 51, 200)'
tampered "leaf hash field byte" "entry 5[0-9]*\|tree over entries"

fresh; py "$C/ledger.db" 'db.execute("UPDATE entry SET sent_at = sent_at + 1000 WHERE idx = 60")'
tampered "index column sent_at" "entry 60: index columns"

fresh; py "$C/ledger.db" 'db.execute("UPDATE entry SET kind = ? WHERE idx = 61", ("image",))'
tampered "index column kind" "entry 61: index columns"

fresh; py "$C/ledger.db" 'db.execute("UPDATE dedup SET kh = kh + 1 WHERE idx = 62")'
tampered "key index row" "entry 62: index columns"

fresh; py "$C/ledger.db" 'db.execute("UPDATE chain_head SET idx = idx - 7 WHERE idx = (SELECT max(idx) FROM chain_head)")'
tampered "chain head row" "stored chain head"

fresh; py "$C/ledger.db" 'db.execute("DELETE FROM entry WHERE idx = 70")'
tampered "deleted entry" "entry 70 is missing"

fresh; py "$C/ledger.db" 'db.execute("DELETE FROM entry WHERE idx = 599")'
tampered "deleted last entry" "larger than the log"

fresh; py "$C/ledger.db" '
a = db.execute("SELECT leaf, type, kind, sent_at FROM entry WHERE idx = 80").fetchone()
b = db.execute("SELECT leaf, type, kind, sent_at FROM entry WHERE idx = 81").fetchone()
db.execute("UPDATE entry SET leaf=?, type=?, kind=?, sent_at=? WHERE idx = 81", a)
db.execute("UPDATE entry SET leaf=?, type=?, kind=?, sent_at=? WHERE idx = 80", b)
ka = db.execute("SELECT kh FROM dedup WHERE idx = 80").fetchone()[0]
kb = db.execute("SELECT kh FROM dedup WHERE idx = 81").fetchone()[0]
db.execute("UPDATE dedup SET kh = ? WHERE idx = 81", (ka,))
db.execute("UPDATE dedup SET kh = ? WHERE idx = 80", (kb,))
pa = db.execute("SELECT ct FROM payload WHERE idx = 80").fetchone()[0]
pb = db.execute("SELECT ct FROM payload WHERE idx = 81").fetchone()[0]
db.execute("UPDATE payload SET ct = ? WHERE idx = 81", (pa,))
db.execute("UPDATE payload SET ct = ? WHERE idx = 80", (pb,))'
tampered "swapped entries" "entry 80: leaf says it is entry 81"

fresh; py "$C/ledger.db" 'db.execute("DELETE FROM payload WHERE idx = 90"); db.execute("DELETE FROM sealed_key WHERE idx = 90"); db.execute("UPDATE entry SET attrs = NULL WHERE idx = 90")'
tampered "erased without tombstone" "entry 90: ciphertext and key are missing and no tombstone"

fresh; py "$C/ledger.db" 'db.execute("DELETE FROM sealed_key WHERE idx = 91")'
tampered "sealed key removed" "entry 91: .*sealed key"

fresh; py "$C/ledger.db" 'flip("node", "hash", "level = 8 AND pos", 0, 3)'
tampered "stored tree node" "stored tree node (level 8, position 0)"

fresh; py "$C/ledger.db" '
import re
n = db.execute("SELECT note FROM checkpoint WHERE size = 300").fetchone()[0]
sig = n.rstrip("\n").split(" ")[-1]
bad = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
db.execute("UPDATE checkpoint SET note = ? WHERE size = 300", (n.replace(sig, bad),))'
tampered "replaced checkpoint signature" "checkpoint of size 300: signature does not verify"

# Another archive with the same origin: a different log key.
O="$T/other"
new_archive "$O"
gen_records 600 0 7 | "$CHATLEDGER" ingest -a "$O" --format jsonl - >/dev/null
"$CHATLEDGER" checkpoint -a "$O" >"$T/cp-other"

fresh; py "$C/ledger.db" "
note = open('$T/cp-other').read()
db.execute('UPDATE checkpoint SET note = ? WHERE size = 600', (note,))"
tampered "checkpoint signed with another key" "checkpoint of size 600: signature does not verify"

fresh
tampered "saved checkpoint signed with another key" "saved checkpoint.*signature does not verify" --checkpoint "$T/cp-other"

fresh; cp "$O/log.pub" "$C/log.pub"; cp "$O/log.key" "$C/log.key"
tampered "log key files substituted" "log key substituted"

fresh; cp "$O/log.pub" "$C/log.pub"; cp "$O/log.key" "$C/log.key"
py "$C/ledger.db" "db.execute(\"UPDATE meta SET v = ? WHERE k = 'vkey'\", (open('$O/log.pub').read().strip(),))"
tampered "log key substituted everywhere" "signature does not verify"

fresh
tampered "archive key is not the auditor's trusted key" "is not the trusted key" --key "$(cat "$O/log.pub")"

# Truncate the tail back to a consistent, signed size 300.
fresh; py "$C/ledger.db" '
for t in ("entry", "payload", "sealed_key", "dedup"):
    db.execute(f"DELETE FROM {t} WHERE idx >= 300")
db.execute("DELETE FROM chain_head")
import hashlib
heads = {}
for idx, leaf in db.execute("SELECT idx, leaf FROM entry ORDER BY idx").fetchall():
    o = 35 + leaf[34]
    heads[leaf[o + 32:o + 64]] = (idx, hashlib.sha256(b"\x00" + leaf).digest())
for tag, (idx, h) in heads.items():
    db.execute("INSERT INTO chain_head(tag, idx, hash) VALUES (?, ?, ?)", (tag, idx, h))
db.execute("DELETE FROM checkpoint WHERE size > 300")
db.execute("DELETE FROM node WHERE (pos + 1) * (1 << level) > 300")
import hashlib
H = lambda b: hashlib.sha256(b).digest()
leaves = [H(b"\x00" + r[0]) for r in db.execute("SELECT leaf FROM entry ORDER BY idx")]
def mth(a):
    if len(a) == 1: return a[0]
    k = 1
    while k * 2 < len(a): k *= 2
    return H(b"\x01" + mth(a[:k]) + mth(a[k:]))
fr, start = b"", 0
for bit in range(63, -1, -1):
    if 300 & (1 << bit):
        fr += mth(leaves[start:start + (1 << bit)]); start += 1 << bit
db.execute("UPDATE meta SET v = ? WHERE k = ?", ((300).to_bytes(8, "big") + fr, "frontier"))'
expect_exit "truncated tail alone is self-consistent" 0 "$CHATLEDGER" verify -a "$C"
tampered "truncated tail against a saved checkpoint" "truncated or rolled back" --checkpoint "$T/cp-600"

# Roll back to an older copy of the whole archive.
rm -rf "$T/c"; cp -a "$T/old-300" "$T/c"; C="$T/c"
expect_exit "older copy alone verifies" 0 "$CHATLEDGER" verify -a "$C"
tampered "rollback against a newer saved checkpoint" "truncated or rolled back" --checkpoint "$T/cp-600"

# Rewritten history: same size, different content, re-signed by the real
# key is impossible without it; a forked copy signed by the same key is
# the split-view case: build one from the old copy with other records.
rm -rf "$T/fork"; cp -a "$T/old-300" "$T/fork"
gen_records 300 5000 7 | "$CHATLEDGER" ingest -a "$T/fork" --format jsonl - >/dev/null
C="$T/fork"
tampered "forked history (split view) against a saved checkpoint" "history was rewritten" --checkpoint "$T/cp-600"

# An entry appended behind the ledger's back is not signed.
fresh; py "$C/ledger.db" '
row = db.execute("SELECT leaf, type, kind, sent_at FROM entry WHERE idx = 599").fetchone()
leaf = bytearray(row[0]); leaf[2:10] = (600).to_bytes(8, "big")
db.execute("INSERT INTO entry(idx, leaf, type, kind, sent_at) VALUES (600, ?, ?, ?, ?)", (bytes(leaf),) + row[1:])
db.execute("UPDATE entry SET attrs = (SELECT attrs FROM entry WHERE idx = 599) WHERE idx = 600")
db.execute("INSERT INTO payload(idx, ct) SELECT 600, ct FROM payload WHERE idx = 599")
db.execute("INSERT INTO sealed_key(idx, batch, wrapped) SELECT 600, batch, wrapped FROM sealed_key WHERE idx = 599")
db.execute("INSERT INTO dedup(idx, kh, ch) SELECT 600, kh, ch FROM dedup WHERE idx = 599")'
tampered "unsigned appended entry" "not covered by any signed checkpoint\|chain broken"

# A well-formed entry (correct index and chain link) appended behind the
# ledger's back: only the missing signature gives it away.
fresh; py "$C/ledger.db" '
import hashlib
row = db.execute("SELECT leaf, type, kind, sent_at FROM entry WHERE idx = 599").fetchone()
prev = bytes(row[0]); leaf = bytearray(prev); k = leaf[34]; o = 35 + k
leaf[2:10] = (600).to_bytes(8, "big")
leaf[o + 64:o + 72] = (599).to_bytes(8, "big")
leaf[o + 72:o + 104] = hashlib.sha256(b"\x00" + prev).digest()
db.execute("INSERT INTO entry(idx, leaf, type, kind, sent_at) VALUES (600, ?, ?, ?, ?)", (bytes(leaf),) + row[1:])
db.execute("UPDATE entry SET attrs = (SELECT attrs FROM entry WHERE idx = 599) WHERE idx = 600")
db.execute("INSERT INTO payload(idx, ct) SELECT 600, ct FROM payload WHERE idx = 599")
db.execute("INSERT INTO sealed_key(idx, batch, wrapped) SELECT 600, batch, wrapped FROM sealed_key WHERE idx = 599")
db.execute("INSERT INTO dedup(idx, kh, ch) SELECT 600, kh, ch FROM dedup WHERE idx = 599")'
tampered "well-formed unsigned tail" "entries 600..600 are not covered by any signed checkpoint"

fresh; py "$C/ledger.db" 'flip("meta", "v", "k", "frontier", 20)'
tampered "stored frontier" "stored frontier"

fresh; py "$C/ledger.db" 'db.execute("DELETE FROM key_batch")'
tampered "key batch deleted" "missing or malformed key batch\|aux_hash"

fresh; py "$C/ledger.db" 'db.execute("INSERT INTO payload(idx, ct) VALUES (5000, ?)", (b"\x01\x02",))'
tampered "stray ciphertext row" "ciphertext row belongs to no entry"

fresh; cp "$O/seal.pub" "$C/seal.pub"
tampered "sealing public key substituted" "seal.pub is not the public half"

# Both halves replaced by a pair of one's own: the log's signed
# checkpoints name the archive's sealing key, so verify fails and writers
# refuse to seal new records to the intruder's key.
fresh; cp "$O/seal.pub" "$O/seal.key" "$C/"
tampered "sealing key pair substituted" "seal.pub is not the sealing key the log names"
gen_records 1 900 1 >"$T/one.jsonl"
expect_exit "sealing key pair substituted: ingest refuses (exit 2)" 2 "$CHATLEDGER" ingest -a "$C" --format jsonl "$T/one.jsonl"
expect_grep "sealing key pair substituted: ingest says why" "refusing to seal records to it" "$T/err"
printf 'app-secret\n' >"$T/wh-secret"; printf 'verify-token\n' >"$T/wh-token"
expect_exit "sealing key pair substituted: the webhook refuses to start (exit 2)" 2 \
	timeout 60 "$CHATLEDGER" webhook -a "$C" --listen 127.0.0.1:0 \
	--app-secret-file "$T/wh-secret" --verify-token-file "$T/wh-token"
expect_grep "sealing key pair substituted: the webhook says why" "refusing to seal records to it" "$T/err"

fresh; py "$C/ledger.db" 'db.execute("DELETE FROM checkpoint")'
tampered "all checkpoints deleted" "no signed checkpoint"

# A format-1 archive (FORMAT.md §10): writers refuse it (exit 2), and
# verify fails it, both saying so.
fresh; py "$C/ledger.db" 'db.execute("UPDATE meta SET v = 1 WHERE k = ?", ("format",))'
tampered "format 1 archive" "format 1 archive: "
sed -i 's/^format = 3$/format = 1/' "$C/chatledger.conf"
gen_records 1 900 1 >"$T/one.jsonl"
expect_exit "format 1 archive: ingest refuses (exit 2)" 2 "$CHATLEDGER" ingest -a "$C" --format jsonl "$T/one.jsonl"
expect_grep "format 1 archive: ingest says why" "format 1 archive: " "$T/err"
sed -i 's/^format = 1$/format = 3/' "$C/chatledger.conf"
expect_exit "format 1 ledger: ingest refuses (exit 2)" 2 "$CHATLEDGER" ingest -a "$C" --format jsonl "$T/one.jsonl"
expect_grep "format 1 ledger: ingest says why" "format 1 archive: " "$T/err"
t_done
