#!/bin/sh
# t30-independent-verifier: tests/verifier/verify.py, an auditor's verifier
# written from docs/FORMAT.md alone (Python standard library + openssl),
# accepts what chatledger writes (whole archive, exported leaves with a
# signed checkpoint, tlog-proofs, consistency proofs) and rejects tampering.
. "$(dirname "$0")/lib.sh"

if ! command -v python3 >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
	skip "independent verifier" "python3 or openssl is missing"
	t_done
	exit
fi

V="$CL_ROOT/tests/verifier/verify.py"
vpy() { python3 "$V" "$@"; }

# An archive with several checkpoints and more than 256 entries (so that
# stored tree nodes exist), records in 9 conversations and two bad lines.
A="$T/a"
check "init an archive" new_archive "$A"
gen_records 120 0 9 >"$T/r1.jsonl"
expect_exit "ingest run 1 (batches of 50)" 0 "$CHATLEDGER" ingest -a "$A" --format jsonl --batch 50 "$T/r1.jsonl"
"$CHATLEDGER" checkpoint -a "$A" >"$T/cp-120"
{
	gen_records 60 120 9
	echo 'this is not json'
	echo '{"account":"85290000001@s.whatsapp.net","id":"x"}'
	gen_records 40 180 9
} >"$T/r2.jsonl"
expect_exit "ingest run 2 with two bad lines is partial" 3 "$CHATLEDGER" ingest -a "$A" --format jsonl --batch 64 "$T/r2.jsonl"
gen_records 100 220 9 | "$CHATLEDGER" ingest -a "$A" --format jsonl --batch 1000 - >"$T/out" 2>&1
expect_grep "ingest run 3 from stdin" "^100 ingested" "$T/out"
N=322
"$CHATLEDGER" pubkey -a "$A" >"$T/vkey"
KEY=$(cat "$T/vkey")
"$CHATLEDGER" checkpoint -a "$A" >"$T/cp-latest"
[ "$(sed -n 2p "$T/cp-latest")" = "$N" ] && ok "latest checkpoint covers $N entries" \
	|| notok "latest checkpoint size is $(sed -n 2p "$T/cp-latest"), want $N"

# The whole archive.
expect_exit "chatledger verify agrees the archive is sound" 0 "$CHATLEDGER" verify -a "$A"
expect_exit "verify.py: archive verifies" 0 vpy "$A"
expect_grep "verify.py: counts entries and quarantines" "$N entries (320 records, 0 tombstones, 0 coverage, 0 control, 2 quarantined)" "$T/out"
expect_grep "verify.py: checked the stored tree node" ", 1 stored nodes" "$T/out"
root=$(sed -n 's/.*; root \([0-9a-f]*\)$/\1/p' "$T/out")
"$CHATLEDGER" verify -a "$A" >"$T/cverify"
expect_grep "verify.py: same root as chatledger verify" "^root $root\$" "$T/cverify"
expect_exit "verify.py: archive with trusted key and saved checkpoint" 0 vpy --vkey "$KEY" --checkpoint "$T/cp-120" "$A"

# Exported leaves and signed checkpoints, no database.
"$CHATLEDGER" leaves -a "$A" >"$T/leaves"
expect_exit "verify.py --leaves against the latest checkpoint" 0 vpy --leaves "$T/leaves" --checkpoint "$T/cp-latest" --vkey "$KEY"
expect_grep "verify.py --leaves reports the same root" "root $root\$" "$T/out"
expect_exit "verify.py --leaves with an older checkpoint too" 0 vpy --leaves "$T/leaves" --checkpoint "$T/cp-120" --checkpoint "$T/cp-latest" --vkey "$T/vkey"

# Inclusion proofs (C2SP tlog-proof) for entries around the stored node.
for i in 0 1 42 255 256 257 300 $((N - 1)); do
	"$CHATLEDGER" prove -a "$A" --index "$i" >"$T/proof-$i"
	leaf=$("$CHATLEDGER" leaves -a "$A" --from "$i" --to "$i")
	expect_exit "verify.py --proof for entry $i" 0 vpy --proof "$T/proof-$i" --leaf-hex "$leaf" --vkey "$KEY"
done
"$CHATLEDGER" prove -a "$A" --index 7 --size 120 >"$T/proof-7-120"
expect_exit "verify.py --proof against an older checkpoint" 0 vpy --proof "$T/proof-7-120" --leaf-hex "$(sed -n 8p "$T/leaves")" --vkey "$KEY"
"$CHATLEDGER" prove -a "$A" --consistency 120 >"$T/cons"
expect_exit "verify.py --consistency 120 -> $N" 0 vpy --consistency "$T/cons" --checkpoint "$T/cp-120" --checkpoint "$T/cp-latest" --vkey "$KEY"

# ---- tampering: every case must exit 1 and say why --------------------

fresh() { rm -rf "$T/c"; cp -a "$A" "$T/c"; C="$T/c"; }
# bad NAME PATTERN ARGS...: verify.py exits 1 and prints FAIL: ...PATTERN
bad() {
	name=$1; pat=$2; shift 2
	expect_exit "$name: verify.py exits 1" 1 vpy "$@"
	expect_grep "$name: names the problem" "^FAIL: .*$pat" "$T/out"
}

fresh; py "$C/ledger.db" 'flip("payload", "ct", "idx", 42, 40)'
bad "ciphertext byte flipped" "entry 42: ciphertext does not match" "$C"

fresh; py "$C/ledger.db" 'flip("entry", "leaf", "idx", 100, 30)'
bad "leaf byte flipped mid-conversation" "entry 109: conversation chain broken" "$C"

fresh; py "$C/ledger.db" 'flip("entry", "leaf", "idx", 321, 30)'
bad "last leaf byte flipped" "tree over entries 0..321 does not match the signed checkpoint of size 322" "$C"

fresh; py "$C/ledger.db" 'db.execute("UPDATE entry SET kind = ? WHERE idx = 61", ("image",))'
bad "index column edited" "entry 61: index columns" "$C"

fresh; py "$C/ledger.db" 'db.execute("DELETE FROM entry WHERE idx = 70")'
bad "entry deleted" "entry 70 is missing" "$C"

fresh; py "$C/ledger.db" 'flip("node", "hash", "level = 8 AND pos", 0, 5)'
bad "stored tree node flipped" "stored tree node (level 8, position 0)" "$C"

fresh; py "$C/ledger.db" 'db.execute("DELETE FROM sealed_key WHERE idx = 91")'
bad "sealed key removed" "entry 91: .*sealed key" "$C"

fresh; py "$C/ledger.db" 'db.execute("DELETE FROM payload WHERE idx = 90"); db.execute("DELETE FROM sealed_key WHERE idx = 90"); db.execute("UPDATE entry SET attrs = NULL WHERE idx = 90")'
bad "payload erased without a tombstone" "entry 90: ciphertext and key are missing" "$C"

fresh; py "$C/ledger.db" 'db.execute("DELETE FROM key_batch WHERE id = 1")'
bad "key batch deleted" "key batch 1 is missing\|aux_hash" "$C"

fresh; py "$C/ledger.db" "
n = db.execute('SELECT note FROM checkpoint WHERE size = 120').fetchone()[0]
sig = n.rstrip('\n').split(' ')[-1]
db.execute('UPDATE checkpoint SET note = ? WHERE size = 120', (n.replace(sig, sig[:20] + ('A' if sig[20] != 'A' else 'B') + sig[21:]),))"
bad "checkpoint signature altered" "checkpoint of size 120: signature does not verify" "$C"

fresh; py "$C/ledger.db" '
import hashlib
row = db.execute("SELECT leaf, type, kind, sent_at FROM entry WHERE idx = 321").fetchone()
prev = bytes(row[0]); leaf = bytearray(prev); k = leaf[34]; o = 35 + k
leaf[2:10] = (322).to_bytes(8, "big")
leaf[o + 64:o + 72] = (321).to_bytes(8, "big")
leaf[o + 72:o + 104] = hashlib.sha256(b"\x00" + prev).digest()
leaf[o:o + 32] = bytes(32)
leaf[o + 104:o + 232] = bytes(128)
db.execute("INSERT INTO entry(idx, leaf, type, kind, sent_at) VALUES (322, ?, ?, ?, ?)", (bytes(leaf),) + row[1:4])'
bad "well-formed unsigned tail" "entries 322..322 are not covered by any signed checkpoint" "$C"

fresh; py "$C/ledger.db" '
b = bytearray(db.execute("SELECT v FROM meta WHERE k = ?", ("frontier",)).fetchone()[0])
b[20] ^= 1
db.execute("UPDATE meta SET v = ? WHERE k = ?", (bytes(b), "frontier"))'
bad "frontier altered" "frontier" "$C"

O="$T/other"
new_archive "$O"
gen_records 5 0 2 | "$CHATLEDGER" ingest -a "$O" --format jsonl - >/dev/null
fresh
bad "archive is not the trusted log" "is not the trusted key" --vkey "$(cat "$O/log.pub")" "$C"

fresh; cp "$O/seal.pub" "$O/seal.key" "$C/"
bad "sealing key pair substituted" "seal.pub is not the sealing key the log names" "$C"

# Exported leaves.
# edit_leaf LINE OUT: change one hex digit (in logged_at) of leaf LINE
edit_leaf() {
	awk -v n="$1" 'NR == n { c = substr($0, 61, 1); $0 = substr($0, 1, 60) (c == "0" ? "1" : "0") substr($0, 62) } { print }' \
		"$T/leaves" >"$2"
	cmp -s "$T/leaves" "$2" && notok "leaf line $1 was edited" || ok "leaf line $1 was edited"
}
edit_leaf 11 "$T/leaves-edited"
bad "leaves: a hex digit changed mid-conversation" "entry 19: conversation chain broken" --leaves "$T/leaves-edited" --checkpoint "$T/cp-latest" --vkey "$KEY"
edit_leaf "$N" "$T/leaves-edited"
bad "leaves: a hex digit of the last leaf changed" "tree over entries 0..321 does not match the signed checkpoint of size 322" --leaves "$T/leaves-edited" --checkpoint "$T/cp-latest" --vkey "$KEY"
sed '$d' "$T/leaves" >"$T/leaves-short"
bad "leaves: last leaf dropped" "only $((N - 1)) leaves" --leaves "$T/leaves-short" --checkpoint "$T/cp-latest" --vkey "$KEY"
sed '20d' "$T/leaves" >"$T/leaves-gap"
bad "leaves: a leaf removed from the middle" "entry 19: leaf says it is entry 20" --leaves "$T/leaves-gap" --checkpoint "$T/cp-120" --vkey "$KEY"
bad "leaves: checkpoint checked with another log's key" "signature does not verify" --leaves "$T/leaves" --checkpoint "$T/cp-latest" --vkey "$(cat "$O/log.pub")"
sed '2s/.*/999/' "$T/cp-latest" >"$T/cp-resized"
bad "leaves: checkpoint text altered" "signature does not verify" --leaves "$T/leaves" --checkpoint "$T/cp-resized" --vkey "$KEY"

# Proofs.
bad "proof: another entry's leaf" "leaf says it is entry 43" --proof "$T/proof-42" --leaf-hex "$(sed -n 44p "$T/leaves")" --vkey "$KEY"
leaf42=$(sed -n 43p "$T/leaves")
awk 'NR == 3 { $0 = (substr($0, 1, 1) == "A" ? "B" : "A") substr($0, 2) } { print }' "$T/proof-42" >"$T/proof-42-bad"
bad "proof: a proof hash altered" "does not lead to the checkpoint root\|not canonical" --proof "$T/proof-42-bad" --leaf-hex "$leaf42" --vkey "$KEY"
sed '3d' "$T/proof-42" >"$T/proof-42-short"
bad "proof: a proof hash removed" "inclusion proof has" --proof "$T/proof-42-short" --leaf-hex "$leaf42" --vkey "$KEY"
flipped=$(printf '%s\n' "$leaf42" | awk '{ c = substr($0, 61, 1); print substr($0, 1, 60) (c == "0" ? "1" : "0") substr($0, 62) }')
bad "proof: leaf bytes altered" "does not lead to the checkpoint root" --proof "$T/proof-42" --leaf-hex "$flipped" --vkey "$KEY"
bad "consistency: checkpoints swapped for another log's" "signature does not verify" --consistency "$T/cons" --checkpoint "$T/cp-120" --checkpoint "$T/cp-latest" --vkey "$(cat "$O/log.pub")"
"$CHATLEDGER" checkpoint -a "$A" --size 100 >"$T/cp-100"
bad "consistency: proof used with the wrong old checkpoint" "the proof is for sizes 120 -> $N" --consistency "$T/cons" --checkpoint "$T/cp-100" --checkpoint "$T/cp-latest" --vkey "$KEY"
t_done
