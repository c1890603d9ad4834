#!/bin/sh
# t150-replicate.sh - off-site WORM copies in a real Ceph RGW with Object
# Lock (../shared/tools/rgw-local.sh): replicate with attachments while the
# replicator is SIGKILLed at random points; every entry in the bucket
# exactly once (a version repeating the same content is a retried write,
# not tampering); verify --remote; restore into an empty directory (same
# checkpoints, a record opens); COMPLIANCE refuses deleting or overwriting
# a segment version and a planted version is detected; an erasure after
# replication crypto-shreds the copy; the store down: the archive keeps
# accepting, status shows the lag and a coverage entry, replication
# catches up; two archives under their own prefixes in one bucket.
#
#   T150_ENTRIES  records to replicate (default 3000; the long mode is 100000)
#   T150_KILLS    SIGKILLs of the replicator (default 12)
# Skipped (visibly) when the Ceph packages are missing, except under CI=true.
. "$(dirname "$0")/lib.sh"

N=${T150_ENTRIES:-3000}
KILLS=${T150_KILLS:-12}
RGW=$CL_ROOT/../shared/tools/rgw-local.sh
for b in radosgw ceph-mon ceph-osd aws; do
	if ! command -v "$b" >/dev/null 2>&1; then
		if [ "${CI:-}" = true ]; then
			notok "prerequisite: $b is installed (.ci/deps installs radosgw ceph-mon ceph-osd awscli)"
			t_done
			exit 1
		fi
		skip "replication against Ceph RGW" "$b not installed (apt-get install radosgw ceph-mon ceph-osd awscli)"
		t_done
		exit 0
	fi
done
[ -x "$RGW" ] || [ -r "$RGW" ] || { notok "rgw-local.sh present at $RGW"; t_done; exit 1; }

# Ports of our own, so parallel tests and other users of 7480 do not meet;
# below 32768, where the kernel hands out ephemeral ports for outgoing
# connections. A daemon can still die during start-up on a loaded machine
# (seen once in ~40 runs) or a port can be taken: the start is tried up to
# three times on fresh ports, and each failed try is shown as a comment.
R=$T/rgw
stop_rgw() { bash "$RGW" stop "$R" >/dev/null 2>&1; }
trap 'stop_rgw; rm -rf "$T"' EXIT INT TERM
started=
for try in 1 2 3; do
	RGW_PORT=$((20000 + ($$ + 2 * try) % 12000))
	MON_PORT=$((RGW_PORT + 1))
	export RGW_PORT MON_PORT
	mkdir -p "$R"
	if bash "$RGW" start "$R" >"$T/rgw.out" 2>&1; then started=1; break; fi
	echo "# rgw-local.sh start, try $try of 3 (ports $RGW_PORT/$MON_PORT), failed:"
	sed 's/^/#   /' "$T/rgw.out" | tail -n 5
	for f in "$R"/log/*.out; do [ -s "$f" ] && tail -n 3 "$f" | sed "s|^|#   $(basename "$f"): |"; done
	stop_rgw
	rm -rf "$R"
done
if [ -z "$started" ]; then
	notok "rgw-local.sh start (3 tries)"; t_done; exit 1
fi
ok "Ceph RGW with Object Lock started"
eval "$(bash "$RGW" env "$R")"
E=$S3_ENDPOINT_URL
AWS="aws --endpoint-url $E"
$AWS s3api create-bucket --bucket worm --object-lock-enabled-for-bucket >/dev/null &&
	$AWS s3api create-bucket --bucket wormkeys >/dev/null &&
	$AWS s3api create-bucket --bucket plainbucket >/dev/null
check "buckets created (WORM with Object Lock, key store without versioning)" [ $? -eq 0 ]
umask 077
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
	"$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$T/cred"
umask 022

# ---- an archive: N records in batches, plus a chat export with media --------
A=$T/arc
"$CHATLEDGER" init -a "$A" --origin t150.example/log --passphrase-file "$T/pass" --kdf interactive >/dev/null
python3 - "$T/recs.jsonl" "$N" <<'PY'
import json, sys
out, n = sys.argv[1], int(sys.argv[2])
with open(out, "w") as f:
    for i in range(n):
        c = i % 50
        r = {"account": "85290000001@s.whatsapp.net",
             "conversation": {"id": "8529%07d@s.whatsapp.net" % c, "type": "direct"},
             "id": "T150%016d" % i,
             "sender": {"id": "8529%07d@s.whatsapp.net" % c, "name": "Client %d" % c},
             "direction": "in", "sent_at": "2025-01-%02dT10:00:00+08:00" % (1 + i % 28),
             "kind": "text", "source": "jsonl", "text": "message %d about order %d" % (i, i * 7),
             "labels": ["erase-me" if i == 5 else "orders"]}
        f.write(json.dumps(r) + "\n")
PY
python3 - "$T/chat.zip" <<'PY'
import sys, zipfile
lines, files = [], {}
for i in range(20):
    name = "%08d-PHOTO-2022-03-27-21-41-%02d.jpg" % (100 + i, i)
    lines.append("[3/27/22, 21:41:%02d] Chan Tai Man: \u200e<attached: %s>\r\n" % (i, name))
    files[name] = (b"\xff\xd8\xff\xe0T150-ATTACHMENT-%d-" % i) * (200 + 50 * i)
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("_chat.txt", "".join(lines))
    for k, v in files.items():
        z.writestr(k, v)
PY
"$CHATLEDGER" ingest -a "$A" --format jsonl --batch 100 "$T/recs.jsonl" >/dev/null
"$CHATLEDGER" ingest -a "$A" --format whatsapp-export --account 85290000001@s.whatsapp.net \
	--self "Agent Amy" --json "$T/chat.zip" >"$T/zip.json"
expect_grep "archive: attachments stored" '"attachments":20' "$T/zip.json"
cat >>"$A/chatledger.conf" <<EOF

[replicate]
url = $E/worm/office-a
keys_url = $E/wormkeys/office-a
credentials_file = $T/cred
retention_days = 1
segment_entries = 100
timeout = 3
EOF

# ---- 1. replicate, SIGKILLed at random points -----------------------------
i=0
while [ "$i" -lt "$KILLS" ]; do
	"$CHATLEDGER" replicate -a "$A" >"$T/rep.$i" 2>&1 &
	pid=$!
	sleep "0.$(awk -v s="$$$i" 'BEGIN { srand(s); printf "%02d", 5 + int(rand() * 60) }')"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	i=$((i + 1))
done
ok "replicator SIGKILLed $KILLS times"
expect_exit "replicate: a run after the kills completes" 0 "$CHATLEDGER" replicate -a "$A" --json
cp "$T/out" "$T/final.json"
expect_grep "replicate: it reports success" '"ok":true' "$T/final.json"
REPL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["replicated"])' "$T/final.json")
$AWS s3api list-object-versions --bucket worm --prefix office-a/seg/ --output json >"$T/segs.json"
python3 - "$T/segs.json" "$REPL" >"$T/cover" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); want = int(sys.argv[2])
vs = d.get("Versions", [])
# A version that repeats another's bytes (a write retried after a kill) is
# one segment; two different contents under one key are not.
etags = {}
for v in vs:
    etags.setdefault(v["Key"], set()).add(v["ETag"])
keys = sorted(etags)
rng = sorted((int(k.split("/")[-1][:16], 16), int(k.split("/")[-1][17:], 16)) for k in keys)
at, bad = 0, []
for a, b in rng:
    if a != at: bad.append("gap or overlap at %d (segment %d-%d)" % (at, a, b))
    at = b
dup = any(len(e) > 1 for e in etags.values()) or "DeleteMarkers" in d
print("segments=%d end=%d want=%d bad=%s dup=%s" % (len(rng), at, want, bad, dup))
sys.exit(0 if at == want and not bad and not dup else 1)
PY
check "bucket: every entry exactly once (contiguous segments, one content each)" [ $? -eq 0 ]
sed 's/^/#   /' "$T/cover"
expect_exit "verify --remote passes" 0 "$CHATLEDGER" verify -a "$A" --remote "$E/worm/office-a"
expect_grep "verify --remote: says the remote is OK" "remote OK" "$T/out"
expect_grep "verify --remote: checked without downloading" "0 bytes downloaded" "$T/out"

# ---- 2. restore into an empty directory --------------------------------------
mkdir "$T/empty"
expect_exit "restore into an empty directory" 0 "$CHATLEDGER" restore --from "$E/worm/office-a" \
	-a "$T/empty" --credentials-file "$T/cred" --passphrase-file "$T/pass"
expect_exit "restored archive verifies" 0 "$CHATLEDGER" verify -a "$T/empty"
"$CHATLEDGER" checkpoint -a "$A" --size "$REPL" >"$T/cp.orig"
"$CHATLEDGER" checkpoint -a "$T/empty" >"$T/cp.rest"
check "restored: same latest checkpoint (same root)" cmp -s "$T/cp.orig" "$T/cp.rest"
for s in 100 1000; do
	"$CHATLEDGER" checkpoint -a "$A" --size $s >"$T/c1" 2>&1
	"$CHATLEDGER" checkpoint -a "$T/empty" --size $s >"$T/c2" 2>&1
	check "restored: same checkpoint of size $s" cmp -s "$T/c1" "$T/c2"
done
expect_exit "restored: show opens a record" 0 "$CHATLEDGER" show -a "$T/empty" --index 7 --passphrase-file "$T/pass"
expect_grep "restored: the record's text" "message 7 about order 49" "$T/out"
ATT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["first_index"])' "$T/zip.json" 2>/dev/null || echo "")
LAST=$((N + 1))
expect_exit "restored: an attachment opens" 0 "$CHATLEDGER" show -a "$T/empty" --index "$LAST" --passphrase-file "$T/pass"
expect_grep "restored: attachment bytes" "T150-ATTACHMENT" "$T/out"
mkdir -p "$T/full" && echo x >"$T/full/f"
expect_exit "restore refuses a non-empty directory" 2 "$CHATLEDGER" restore --from "$E/worm/office-a" \
	-a "$T/full" --credentials-file "$T/cred" --passphrase-file "$T/pass"
printf 'wrong\n' >"$T/wrong"
expect_exit "restore with a wrong passphrase fails" 2 "$CHATLEDGER" restore --from "$E/worm/office-a" \
	-a "$T/wp" --credentials-file "$T/cred" --passphrase-file "$T/wrong"
[ ! -e "$T/wp" ] && ok "restore: a failed restore leaves nothing" || notok "restore: a failed restore leaves nothing"

# ---- 4. erasure after replication crypto-shreds the copy ------------------
printf '[policy]\ndefault = keep\n[rule gone]\nmatch.label = erase-me\nminimum = 0\nclock = message\nmaximum = 1d\nbasis = t150\nconfidence = verified\n' >"$T/erase.policy"
expect_exit "retain erases the record after replication" 0 "$CHATLEDGER" retain -a "$A" --policy "$T/erase.policy" --now 2030-01-01 --json
expect_grep "retain: one record erased" '"erased":1' "$T/out"
expect_exit "verify --remote before the next run: erasure pending, not tampering" 0 "$CHATLEDGER" verify -a "$A" --remote "$E/worm/office-a"
expect_grep "verify --remote: reports the pending erasure" "not yet shredded" "$T/out"
expect_exit "replicate ships the tombstone and rewrites the key object" 0 "$CHATLEDGER" replicate -a "$A" --json
expect_grep "replicate: one key object rewritten" '"keys_rewritten":1' "$T/out"
expect_exit "verify --remote after the erasure" 0 "$CHATLEDGER" verify -a "$A" --remote "$E/worm/office-a"
expect_exit "restore after the erasure" 0 "$CHATLEDGER" restore --from "$E/worm/office-a" \
	-a "$T/r2" --credentials-file "$T/cred" --passphrase-file "$T/pass"
expect_exit "restored log with the tombstone verifies" 0 "$CHATLEDGER" verify -a "$T/r2"
expect_grep "restored: one tombstone" "1 tombstone," "$T/out"
expect_exit "restored: the erased record cannot be opened" 2 "$CHATLEDGER" show -a "$T/r2" --index 5 --passphrase-file "$T/pass"
"$CHATLEDGER" leaves -a "$T/r2" >"$T/leaves"
grep -c . "$T/leaves" >/dev/null && ok "restored: leaves readable" || notok "restored: leaves readable"
$AWS s3api get-object --bucket wormkeys --key "office-a/keys/0000000000000000-$(printf %016x 100)" "$T/k0" >/dev/null 2>&1
python3 - "$T/k0" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
pos, rows = 24, []
while pos < len(b):
    idx, f = struct.unpack(">QB", b[pos:pos + 9]); pos += 9
    if f & 1: pos += 80
    if f & 2: l, = struct.unpack(">I", b[pos:pos + 4]); pos += 4 + l
    rows.append(idx)
sys.exit(0 if 5 not in rows and 4 in rows else 1)
PY
check "key store: the erased entry's key is gone, its neighbour's kept" [ $? -eq 0 ]

# ---- 5. the store down for a while ---------------------------------------------
RGWPID=$(awk '$1 == "rgw.a" { print $2 }' "$R/pids")
kill -STOP "$RGWPID"
"$CHATLEDGER" ingest -a "$A" --format jsonl "$CL_ROOT/tests/data/demo.jsonl" >/dev/null
check "store down: the archive keeps accepting messages" [ $? -eq 0 ]
expect_exit "store down: replicate fails (operational)" 2 "$CHATLEDGER" replicate -a "$A"
expect_exit "store down: status" 0 "$CHATLEDGER" status -a "$A"
expect_grep "status: shows the replication lag" "replication:.*behind" "$T/out"
expect_grep "status: shows the failure" "replication.*failing" "$T/out"
"$CHATLEDGER" leaves -a "$A" | tail -n 3 >"$T/tail"
"$CHATLEDGER" verify -a "$A" --json >/dev/null
sqlite3 "$A/ledger.db" "SELECT kind FROM entry WHERE type = 3" >"$T/kinds"
expect_grep "store down: a replica-failed coverage entry" "replica-failed" "$T/kinds"
kill -CONT "$RGWPID"
expect_exit "store back: replication catches up" 0 "$CHATLEDGER" replicate -a "$A" --json
sqlite3 "$A/ledger.db" "SELECT kind FROM entry WHERE type = 3" >"$T/kinds"
expect_grep "store back: a replica-recovered coverage entry" "replica-recovered" "$T/kinds"
"$CHATLEDGER" replicate -a "$A" >/dev/null 2>&1
expect_exit "store back: status" 0 "$CHATLEDGER" status -a "$A"
expect_grep "status: replication ok" "replication: .* ok" "$T/out"
expect_exit "store back: verify --remote" 0 "$CHATLEDGER" verify -a "$A" --remote "$E/worm/office-a"

# ---- 6. two archives under their own prefixes in one bucket ----------------------
B=$T/arc2
"$CHATLEDGER" init -a "$B" --origin t150.example/office-b --passphrase-file "$T/pass" --kdf interactive >/dev/null
"$CHATLEDGER" ingest -a "$B" --format jsonl "$CL_ROOT/tests/data/demo.jsonl" >/dev/null
printf '[replicate]\nretention_days = 1\n' >>"$B/chatledger.conf"
expect_exit "second archive replicates under its own prefix" 0 "$CHATLEDGER" replicate -a "$B" \
	--url "$E/worm/office-b" --keys-url "$E/wormkeys/office-b" --credentials-file "$T/cred"
expect_exit "second archive: verify --remote on its prefix" 0 "$CHATLEDGER" verify -a "$B" --remote "$E/worm/office-b" --credentials-file "$T/cred"
# A replicator stopped mid-write can leave a second version that repeats
# the first (its request completes after the next run listed the bucket
# and wrote the object again): the same bytes, or a manifest that differs
# only in retain_until.  Not tampering; anything else is.
$AWS s3api get-object --bucket worm --key office-b/archive.json "$T/id.json" >/dev/null
$AWS s3api put-object --bucket worm --key office-b/archive.json --body "$T/id.json" >/dev/null 2>&1
MK=$($AWS s3api list-objects-v2 --bucket worm --prefix office-b/man/ --query 'Contents[0].Key' --output text)
$AWS s3api get-object --bucket worm --key "$MK" "$T/man.json" >/dev/null
python3 - "$T/man.json" "$T/man2.json" "$T/man3.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["retain_until"] = m["retain_until"][:2] + "99" + m["retain_until"][4:]
open(sys.argv[2], "w").write(json.dumps(m, sort_keys=True, separators=(",", ":")))
m["checkpoint"] = m["checkpoint"].replace("\n", "\n\n", 1)
open(sys.argv[3], "w").write(json.dumps(m, sort_keys=True, separators=(",", ":")))
PY
$AWS s3api put-object --bucket worm --key "$MK" --body "$T/man2.json" >/dev/null 2>&1
expect_exit "repeated writes of the same content are not tampering" 0 "$CHATLEDGER" verify -a "$B" --remote "$E/worm/office-b" --credentials-file "$T/cred"
expect_grep "verify --remote: counts the repeated writes" "2 objects written twice with the same content" "$T/out"
$AWS s3api put-object --bucket worm --key "$MK" --body "$T/man3.json" >/dev/null 2>&1
expect_exit "a manifest version that says something else is planted" 1 "$CHATLEDGER" verify -a "$B" --remote "$E/worm/office-b" --credentials-file "$T/cred"
expect_grep "verify --remote: names the planted manifest" "man/.*more than one version" "$T/out"
expect_exit "another archive's prefix is refused" 1 "$CHATLEDGER" verify -a "$B" --remote "$E/worm/office-a" --credentials-file "$T/cred"
expect_exit "replicate refuses a bucket without Object Lock" 1 "$CHATLEDGER" replicate -a "$B" \
	--url "$E/plainbucket/b" --keys-url "$E/wormkeys/office-b2" --credentials-file "$T/cred"
expect_grep "replicate: says why" "no Object Lock" "$T/err"

# expect_fail NAME COMMAND...: the store refuses (non-zero exit, AccessDenied)
expect_fail() {
	name=$1; shift
	if "$@" >"$T/out" 2>"$T/err"; then notok "$name (it succeeded)"
	elif grep -q AccessDenied "$T/err"; then ok "$name"
	else notok "$name (no AccessDenied)"; sed 's/^/#   /' "$T/err" | head -n 5; fi
}

# ---- 3. COMPLIANCE: the credentials cannot delete or overwrite ---------------------
SEG=office-a/seg/0000000000000000-$(printf %016x 100)
# (Retried: on a loaded machine one listing can time out, and an empty
# version id would make the refusals below look like usage errors. RGW's
# version ids may begin with '-', so they are passed as --version-id=ID:
# as a separate word the AWS CLI takes such an id for an option.)
VID=
for _ in 1 2 3 4 5; do
	VID=$($AWS s3api list-object-versions --bucket worm --prefix "$SEG" --query 'Versions[0].VersionId' \
		--output text 2>"$T/vid.err")
	case $VID in ''|None) sleep 1 ;; *) break ;; esac
done
case $VID in ''|None) notok "the segment's version id ($(head -c 300 "$T/vid.err"))" ;; esac
expect_fail "COMPLIANCE: deleting a segment version is refused" $AWS s3api delete-object --bucket worm --key "$SEG" --version-id="$VID"
expect_grep "COMPLIANCE: AccessDenied" "AccessDenied" "$T/err"
expect_fail "COMPLIANCE: bypassing governance does not help" $AWS s3api delete-object --bucket worm --key "$SEG" --version-id="$VID" --bypass-governance-retention
expect_fail "COMPLIANCE: shortening the retention is refused" $AWS s3api put-object-retention --bucket worm --key "$SEG" --version-id="$VID" \
	--retention "Mode=COMPLIANCE,RetainUntilDate=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)"
printf 'forged segment' >"$T/forged"
$AWS s3api put-object --bucket worm --key "$SEG" --body "$T/forged" >/dev/null 2>&1
expect_exit "a planted new version is detected by verify --remote" 1 "$CHATLEDGER" verify -a "$A" --remote "$E/worm/office-a"
expect_grep "verify --remote: names the planted version" "more than one version" "$T/out"
expect_exit "restore still uses the locked original" 0 "$CHATLEDGER" restore --from "$E/worm/office-a" \
	-a "$T/r3" --credentials-file "$T/cred" --passphrase-file "$T/pass"
expect_exit "restore from the original verifies" 0 "$CHATLEDGER" verify -a "$T/r3"
$AWS s3api delete-object --bucket worm --key "$SEG" >/dev/null 2>&1
expect_exit "a delete marker is detected too" 1 "$CHATLEDGER" verify -a "$A" --remote "$E/worm/office-a"
# A key store whose key rows were altered is detected (the log commits to them).
K0="office-a/keys/0000000000000000-$(printf %016x 100)"
python3 - "$T/k0" "$T/k0bad" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[24 + 9 + 40] ^= 1
open(sys.argv[2], "wb").write(b)
PY
$AWS s3api put-object --bucket wormkeys --key "$K0" --body "$T/k0bad" >/dev/null
expect_exit "restore detects an altered key store" 1 "$CHATLEDGER" restore --from "$E/worm/office-a" \
	-a "$T/r4" --credentials-file "$T/cred" --passphrase-file "$T/pass"
$AWS s3api delete-object --bucket wormkeys --key "$K0" >/dev/null
expect_exit "restore detects a lost key object" 1 "$CHATLEDGER" restore --from "$E/worm/office-a" \
	-a "$T/r5" --credentials-file "$T/cred" --passphrase-file "$T/pass"
grep -r -q "$AWS_SECRET_ACCESS_KEY" "$T"/rep.* "$T/out" "$T/err" "$A/replicate.state" 2>/dev/null &&
	notok "the secret key never appears in output or state" || ok "the secret key never appears in output or state"
stop_rgw
t_done
