#!/bin/sh
# t110-witness: witnessed and timestamped checkpoints (issue 14).
#   - two archives witness each other on loopback (chatledger witness
#     serve), plus an independent witness written in Node from the C2SP
#     text (tests/witness/witness.js) whose cosignatures chatledger checks;
#     chatledger's cosignatures are checked by the Node code in turn;
#   - rollback and fork: an archive restored from an earlier copy and
#     grown differently is refused (422/409), the alert and its evidence
#     are kept, verify --witness-policy fails on it and passes on the
#     true archive;
#   - the tlog-witness conformance cases, and SIGKILL between verifying
#     and answering;
#   - RFC 3161: tokens from a local `openssl ts` TSA verify with
#     `openssl ts -verify`; a token moved to another checkpoint is rejected.
. "$(dirname "$0")/lib.sh"

if ! command -v node >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
	skip "witnessing" "node and curl are needed"
	t_done
	exit $?
fi
WJS="$CL_ROOT/tests/witness/witness.js"
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

# serve NAME STATE [ENV]: start a chatledger witness; sets PORT_<NAME>.
serve() {
	rm -f "$T/$1.out"
	env ${3:-CHATLEDGER_TEST_WITNESS_KILL=} "$CHATLEDGER" witness serve --state "$2" \
		--listen 127.0.0.1:${4:-0} >"$T/$1.out" 2>>"$T/$1.err" &
	eval "PID_$1=$!"
	PIDS="$PIDS $!"
	i=0
	while [ $i -lt 100 ] && ! grep -q '^listening port' "$T/$1.out" 2>/dev/null; do
		sleep 0.05; i=$((i + 1))
	done
	eval "PORT_$1=$(sed -n 's/^listening port //p' "$T/$1.out")"
}

# records PREFIX COUNT: COUNT distinct records
records() {
	awk -v p="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++)
		printf "{\"account\":\"85290000001@s.whatsapp.net\",\"conversation\":{\"id\":\"c%d\",\"type\":\"direct\"},\"id\":\"%s-%d\",\"sender\":{\"id\":\"c%d\"},\"direction\":\"in\",\"sent_at\":\"2025-03-01T10:00:00+08:00\",\"kind\":\"text\",\"text\":\"%s message %d\"}\n", i % 4, p, i, i % 4, p, i }'
}
ingest() { # DIR PREFIX COUNT [BATCH]
	records "$2" "$3" >"$T/rec.jsonl"
	"$CHATLEDGER" ingest -a "$1" --format jsonl --batch "${4:-1000}" "$T/rec.jsonl" >/dev/null
}

# ---- two appliances and an independent witness ---------------------------
new_archive "$T/A" a.example/log
new_archive "$T/B" b.example/log
VKA=$("$CHATLEDGER" pubkey -a "$T/A")
VKB=$("$CHATLEDGER" pubkey -a "$T/B")
"$CHATLEDGER" witness init --state "$T/SA" --name a.example/witness >/dev/null
"$CHATLEDGER" witness init --state "$T/SB" --name b.example/witness >/dev/null
expect_exit "witness key file is private" 0 sh -c "[ \"\$(stat -c %a '$T/SA/witness.key')\" = 600 ]"
WA=$("$CHATLEDGER" witness pubkey --state "$T/SA")
WB=$("$CHATLEDGER" witness pubkey --state "$T/SB")
case "$WA" in a.example/witness+????????+B*) ok "witness vkey has type 0x04" ;;
	*) notok "witness vkey has type 0x04 ($WA)" ;; esac
"$CHATLEDGER" witness add-log --state "$T/SA" --key "$VKB" 2>/dev/null
"$CHATLEDGER" witness add-log --state "$T/SB" --key "$VKA" 2>/dev/null
serve SA "$T/SA"
serve SB "$T/SB"
node "$WJS" serve --state "$T/node.json" --name node.example/witness --log "$VKA" --log "$VKB" \
	>"$T/node.out" 2>"$T/node.err" &
PIDS="$PIDS $!"
i=0
while [ $i -lt 100 ] && ! grep -q '^listening port' "$T/node.out"; do sleep 0.05; i=$((i + 1)); done
PORT_N=$(sed -n 's/^listening port //p' "$T/node.out")
WN=$(sed -n 's/^vkey //p' "$T/node.out")
[ -n "$PORT_SA" ] && [ -n "$PORT_SB" ] && [ -n "$PORT_N" ] && ok "three witnesses listening" ||
	notok "three witnesses listening ($PORT_SA $PORT_SB $PORT_N)"

cat >>"$T/A/chatledger.conf" <<CONF
[witness]
witness = http://127.0.0.1:$PORT_SB $WB
witness = http://127.0.0.1:$PORT_N/ $WN
quorum = 2
interval = 0
retries = 0
CONF
cat >>"$T/B/chatledger.conf" <<CONF
[witness]
witness = http://127.0.0.1:$PORT_SA $WA
witness = http://127.0.0.1:$PORT_N $WN
interval = 0
retries = 0
CONF

ingest "$T/A" a 20
ingest "$T/B" b 10
expect_exit "A pushes to B's witness and the Node witness" 0 "$CHATLEDGER" witness push -a "$T/A"
expect_grep "A: checkpoint 20 cosigned by 2 of 2" "checkpoint 20 cosigned by 2 of 2" "$T/out"
expect_exit "B pushes to A's witness and the Node witness" 0 "$CHATLEDGER" witness push -a "$T/B"
expect_grep "B: checkpoint 10 cosigned by 2 of 2" "checkpoint 10 cosigned by 2 of 2" "$T/out"
"$CHATLEDGER" checkpoint -a "$T/A" >"$T/cpA"
[ "$(grep -c '^— ' "$T/cpA")" -eq 3 ] && ok "checkpoint prints the log signature and 2 cosignatures" ||
	notok "checkpoint prints the log signature and 2 cosignatures"; 
expect_exit "Node checks chatledger's cosignature/v1 (independent verifier)" 0 \
	node "$WJS" verify-cosig --vkey "$WB" --note "$T/cpA"
expect_exit "Node's own cosignature on the printed checkpoint" 0 \
	node "$WJS" verify-cosig --vkey "$WN" --note "$T/cpA"
"$CHATLEDGER" status -a "$T/A" >"$T/st"
expect_grep "status: witnessed up to size 20 by 2 of 2" "witnessed up to size 20 at .* by 2 of 2" "$T/st"
expect_exit "a second push is up to date" 0 "$CHATLEDGER" witness push -a "$T/A"

cat >"$T/policyA" <<POL
# A's witnesses: both required
log $VKA
witness b $WB http://127.0.0.1:$PORT_SB
witness n $WN http://127.0.0.1:$PORT_N
group both all b n
quorum both
POL
expect_exit "verify --witness-policy passes on A" 0 "$CHATLEDGER" verify -a "$T/A" --witness-policy "$T/policyA"
expect_grep "verify reports the policy met" "witness policy met" "$T/out"
printf 'log %s\nwitness x %s\nquorum x\n' "$VKA" "$WA" >"$T/policyX"
expect_exit "a policy naming a witness that never cosigned fails" 1 \
	"$CHATLEDGER" verify -a "$T/A" --witness-policy "$T/policyX"
printf 'witness b %s\nquorum nobody\n' "$WB" >"$T/policyBad"
expect_exit "a malformed policy is an error (2)" 2 \
	"$CHATLEDGER" verify -a "$T/A" --witness-policy "$T/policyBad"

# A stored cosignature changed in ledger.db is caught by plain verify.
cp -a "$T/A" "$T/Atamper"
py "$T/Atamper/ledger.db" "
r = db.execute('SELECT line FROM witness_cosig LIMIT 1').fetchone()[0]
i = r.rindex(' ') + 10
r = r[:i] + ('A' if r[i] != 'A' else 'B') + r[i + 1:]
db.execute('UPDATE witness_cosig SET line = ? WHERE rowid = (SELECT min(rowid) FROM witness_cosig)', (r,))"
expect_exit "a tampered stored cosignature fails verify" 1 "$CHATLEDGER" verify -a "$T/Atamper"
rm -rf "$T/Atamper"

# ---- rollback and fork -------------------------------------------------
cp -a "$T/A" "$T/Aold"          # the archive as it was at size 20
ingest "$T/A" a2 5
expect_exit "A grows to 25 and is witnessed" 0 "$CHATLEDGER" witness push -a "$T/A"
expect_grep "A: checkpoint 25 cosigned by 2 of 2" "checkpoint 25 cosigned by 2 of 2" "$T/out"

# Pure rollback: the restored copy, unchanged.  Its stored cosignatures
# are genuine, but the witnesses' own views (policy URLs) are larger.
cp -a "$T/Aold" "$T/Arolled"
expect_exit "rollback: verify --witness-policy fails (witness views)" 1 \
	"$CHATLEDGER" verify -a "$T/Arolled" --witness-policy "$T/policyA"
expect_grep "rollback named" "rollback" "$T/out"

# Fork: the restored copy grown with different entries to the same size.
ingest "$T/Aold" forged 5
expect_exit "fork: the witnesses refuse (push exits 1)" 1 "$CHATLEDGER" witness push -a "$T/Aold"
expect_grep "fork: alert reported" "ALERT" "$T/out"
"$CHATLEDGER" status -a "$T/Aold" >"$T/st"
expect_grep "fork: status shows the alert" "^ALERT " "$T/st"
[ "$(sql "$T/Aold/ledger.db" "SELECT count(*) FROM entry WHERE kind = 'witness-alert'")" -ge 2 ] &&
	ok "fork: witness-alert coverage entries in the log" || notok "fork: witness-alert coverage entries in the log"
n=$(sql "$T/Aold/ledger.db" "SELECT count(*) FROM witness_evidence WHERE length(request) > 0 AND status IN (409, 422)")
[ "$n" -ge 2 ] && ok "fork: evidence kept (requests and answers)" || notok "fork: evidence kept ($n rows)"
grep -q ' -> 422 ' "$T/SB.err" && ok "fork: chatledger witness answered 422" || notok "fork: chatledger witness answered 422"
grep -q ' -> 422' "$T/node.err" && ok "fork: Node witness answered 422" || notok "fork: Node witness answered 422"
expect_exit "fork: verify --witness-policy fails on the forked copy" 1 \
	"$CHATLEDGER" verify -a "$T/Aold" --witness-policy "$T/policyA"
expect_exit "fork: verify --witness-policy passes on the true archive" 0 \
	"$CHATLEDGER" verify -a "$T/A" --witness-policy "$T/policyA"
expect_exit "fork: plain verify of the forked copy still passes (it is self-consistent)" 0 \
	"$CHATLEDGER" verify -a "$T/Aold"

# ---- conformance (c2sp.org/tlog-witness) against chatledger's witness ----
new_archive "$T/C" c.example/log
new_archive "$T/D" d.example/log
"$CHATLEDGER" witness add-log --state "$T/SB" --key "$("$CHATLEDGER" pubkey -a "$T/C")" 2>/dev/null
ingest "$T/C" c 4 1
ingest "$T/D" d 2 1
URL="http://127.0.0.1:$PORT_SB/add-checkpoint"
# req OLD SIZE [ARCHIVE] [PROOF_FROM]: an add-checkpoint body on stdout
req() {
	printf 'old %s\n' "$1"
	if [ -n "${4:-}" ]; then
		"$CHATLEDGER" prove -a "${3:-$T/C}" --consistency "$4" --size "$2" | tail -n +4
	fi
	printf '\n'
	"$CHATLEDGER" checkpoint -a "${3:-$T/C}" --size "$2"
}
post() { # FILE -> HTTP status, body in $T/resp, content type in $T/ctype
	curl -s -o "$T/resp" -w '%{http_code} %{content_type}' --max-time 10 \
		--data-binary @"$1" "$URL" >"$T/code"
	cut -d' ' -f1 "$T/code"
}
req 0 2 >"$T/r"; expect_status() { [ "$3" = "$2" ] && ok "$1" || notok "$1 (HTTP $3, want $2)"; }
expect_status "old size 0 accepted (200)" 200 "$(post "$T/r")"
grep -q '^— b.example/witness ' "$T/resp" && ok "200 body is a cosignature line" || notok "200 body is a cosignature line"
# A bad signature: one base64 character of the log's signature changed.
req 2 3 "$T/C" 2 | python3 -c '
import sys
t = sys.stdin.read()
i = t.rindex("\u2014 c.example/log ") + len("\u2014 c.example/log ") + 40
sys.stdout.write(t[:i] + ("A" if t[i] != "A" else "B") + t[i + 1:])' >"$T/rbad"
expect_status "bad signature (403)" 403 "$(post "$T/rbad")"
req 0 2 "$T/D" >"$T/rd"
expect_status "unknown log (404)" 404 "$(post "$T/rd")"
req 0 4 >"$T/r"
expect_status "wrong old size (409)" 409 "$(post "$T/r")"
[ "$(cat "$T/resp")" = 2 ] && ok "409 body is the stored size" || notok "409 body is the stored size ($(cat "$T/resp"))"
grep -q 'text/x.tlog.size' "$T/code" && ok "409 Content-Type text/x.tlog.size" || notok "409 Content-Type ($(cat "$T/code"))"
req 2 4 "$T/C" 1 >"$T/r"   # a proof from 1, sent as from 2
expect_status "bad proof (422)" 422 "$(post "$T/r")"
req 5 4 >"$T/r"
expect_status "old size above the size (400)" 400 "$(post "$T/r")"
printf 'old 2\n\nnot a checkpoint\n' >"$T/r"
expect_status "malformed request (400)" 400 "$(post "$T/r")"
req 2 4 "$T/C" 2 >"$T/r"
expect_status "good proof 2 -> 4 (200)" 200 "$(post "$T/r")"
H=$(printf 'c.example/log' | sha256sum | cut -d' ' -f1)
code=$(curl -s -o "$T/mon" -w '%{http_code}' "http://127.0.0.1:$PORT_SB/$H/checkpoint")
[ "$code" = 200 ] && grep -q '^4$' "$T/mon" && grep -q '^— b.example/witness ' "$T/mon" &&
	ok "monitor endpoint serves the cosigned checkpoint" || notok "monitor endpoint ($code)"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT_SB/$(printf x | sha256sum | cut -d' ' -f1)/checkpoint")
expect_status "monitor: unknown origin 404" 404 "$code"
req 4 4 >"$T/r"
expect_status "same size, same root (200)" 200 "$(post "$T/r")"
"$CHATLEDGER" witness cosign --state "$T/SB" "$T/r" >"$T/cos" 2>/dev/null
[ $? -eq 0 ] && grep -q '^— b.example/witness ' "$T/cos" && ok "air-gapped: witness cosign REQUEST" ||
	notok "air-gapped: witness cosign REQUEST"
"$CHATLEDGER" witness disable-log --state "$T/SB" --origin c.example/log
expect_status "disabled log answers 404" 404 "$(post "$T/r")"
"$CHATLEDGER" witness list --state "$T/SB" >"$T/list"
expect_grep "disabled log kept with its size" "c.example/log	disabled	size 4" "$T/list"
"$CHATLEDGER" witness add-log --state "$T/SB" --key "$("$CHATLEDGER" pubkey -a "$T/C")" 2>/dev/null
"$CHATLEDGER" witness list --state "$T/SB" >"$T/list"
expect_grep "re-enabled log keeps its size" "c.example/log	enabled	size 4" "$T/list"

# ---- SIGKILL between verifying and answering ---------------------------
stored() { "$CHATLEDGER" witness list --state "$T/SB" | awk -F'\t' '$1 == "c.example/log" { sub(/size /, "", $3); print $3 }'; }
ingest "$T/C" c2 2 1
kill -9 "$PID_SB"; wait "$PID_SB" 2>/dev/null
serve SB "$T/SB" CHATLEDGER_TEST_WITNESS_KILL=verified "$PORT_SB"
req 4 5 "$T/C" 4 >"$T/r"
code=$(post "$T/r")
[ "$code" = 000 ] && ok "killed after verifying: no answer" || notok "killed after verifying: no answer ($code)"
[ "$(stored)" = 4 ] && ok "killed after verifying: stored size unchanged (4)" || notok "killed after verifying: stored size $(stored)"
serve SB "$T/SB" CHATLEDGER_TEST_WITNESS_KILL=committed "$PORT_SB"
code=$(post "$T/r")
[ "$code" = 000 ] && ok "killed after committing: no answer" || notok "killed after committing: no answer ($code)"
[ "$(stored)" = 5 ] && ok "killed after committing: stored size is the request's (5), not beyond" ||
	notok "killed after committing: stored size $(stored)"
serve SB "$T/SB" "" "$PORT_SB"
expect_status "the client's retry gets 409 with the committed size" 409 "$(post "$T/r")"
[ "$(cat "$T/resp")" = 5 ] && ok "409 says 5" || notok "409 says $(cat "$T/resp")"
req 5 5 >"$T/r5"
expect_status "retry from the returned size: cosigned (200)" 200 "$(post "$T/r5")"
req 5 6 "$T/C" 5 >"$T/r6"
expect_status "answered request for 6" 200 "$(post "$T/r6")"
kill -9 "$PID_SB"; wait "$PID_SB" 2>/dev/null
[ "$(stored)" = 6 ] && ok "killed after answering: stored size not behind (6)" || notok "killed after answering: stored size $(stored)"
serve SB "$T/SB" "" "$PORT_SB"

# Unreachable witness: a coverage entry, once.
printf '[witness]\nwitness = http://127.0.0.1:1 %s\ninterval = 0\nretries = 1\nretry_backoff_ms = 10\n' "$WB" >>"$T/D/chatledger.conf"
expect_exit "unreachable witness: push exits 3" 3 "$CHATLEDGER" witness push -a "$T/D"
"$CHATLEDGER" witness push -a "$T/D" >/dev/null 2>&1
n=$(sql "$T/D/ledger.db" "SELECT count(*) FROM entry WHERE kind = 'witness-unreachable'")
[ "$n" = 1 ] && ok "unreachable witness: one coverage entry" || notok "unreachable witness: $n coverage entries"
"$CHATLEDGER" status -a "$T/D" >"$T/st"
expect_grep "status names failing witnesses" "witnesses failing" "$T/st"
expect_exit "D still verifies" 0 "$CHATLEDGER" verify -a "$T/D"

# ---- RFC 3161 with a local openssl ts TSA -------------------------------
P="$T/pki"; mkdir -p "$P"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/ca.key" \
	-out "$P/ca.pem" -subj "/CN=chatledger test TSA root" -days 30 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/tsa.key" \
	-out "$P/tsa.csr" -subj "/CN=chatledger test TSA" 2>/dev/null
printf 'extendedKeyUsage = critical,timeStamping\nbasicConstraints = CA:FALSE\n' >"$P/ext"
openssl x509 -req -in "$P/tsa.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial \
	-out "$P/tsa.pem" -days 30 -extfile "$P/ext" 2>/dev/null
echo 01 >"$P/serial"
cat >"$P/tsa.cnf" <<CNF
[ tsa ]
default_tsa = tsa1
[ tsa1 ]
serial = $P/serial
signer_cert = $P/tsa.pem
signer_key = $P/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256
ess_cert_id_alg = sha256
CNF
node "$CL_ROOT/tests/witness/tsa.js" --config "$P/tsa.cnf" >"$T/tsa.out" 2>"$T/tsa.err" &
PIDS="$PIDS $!"
i=0
while [ $i -lt 100 ] && ! grep -q '^listening port' "$T/tsa.out"; do sleep 0.05; i=$((i + 1)); done
PORT_T=$(sed -n 's/^listening port //p' "$T/tsa.out")
printf '[timestamp]\nurl = http://127.0.0.1:%s/\nca_file = %s\n' "$PORT_T" "$P/ca.pem" >>"$T/B/chatledger.conf"
ingest "$T/B" b2 3
expect_exit "push timestamps the checkpoint" 0 "$CHATLEDGER" witness push -a "$T/B"
S1=$("$CHATLEDGER" status -a "$T/B" --json | sed 's/.*"checkpoint_size":\([0-9]*\).*/\1/')
expect_exit "checkpoint --tsr writes the token" 0 "$CHATLEDGER" checkpoint -a "$T/B" --tsr "$T/t1.tsr"
sed '/^$/,$d' "$T/out" >"$T/body1"
openssl ts -verify -data "$T/body1" -in "$T/t1.tsr" -CAfile "$P/ca.pem" >"$T/ov" 2>&1
expect_grep "openssl ts -verify: the token verifies" "Verification: OK" "$T/ov"
"$CHATLEDGER" status -a "$T/B" >"$T/st"
expect_grep "status shows the timestamp" "timestamped  up to size $S1" "$T/st"
expect_exit "verify --tsa-ca checks the token" 0 "$CHATLEDGER" verify -a "$T/B" --tsa-ca "$P/ca.pem"
expect_grep "verify counts the token" "1 timestamp tokens valid" "$T/out"
ingest "$T/B" b3 2
"$CHATLEDGER" witness push -a "$T/B" >/dev/null 2>&1
"$CHATLEDGER" checkpoint -a "$T/B" | sed '/^$/,$d' >"$T/body2"
if openssl ts -verify -data "$T/body2" -in "$T/t1.tsr" -CAfile "$P/ca.pem" >"$T/ov" 2>&1; then
	notok "openssl: the token does not verify another checkpoint"
else ok "openssl: the token does not verify another checkpoint"; fi
S2=$("$CHATLEDGER" status -a "$T/B" --json | sed 's/.*"checkpoint_size":\([0-9]*\).*/\1/')
py "$T/B/ledger.db" "
db.execute('DELETE FROM checkpoint_tst WHERE size = $S2')
db.execute('UPDATE checkpoint_tst SET size = $S2 WHERE size = $S1')"
expect_exit "a token moved to another checkpoint is rejected" 1 "$CHATLEDGER" verify -a "$T/B" --tsa-ca "$P/ca.pem"
expect_grep "the rejection names the token" "timestamp token of checkpoint $S2 is rejected" "$T/out"
expect_exit "also without the CA (imprint check)" 1 "$CHATLEDGER" verify -a "$T/B"

# ---- export bundles carry the cosigned checkpoint and its token -----------
# B's export checkpoint is pushed to its witnesses (A's and the Node one)
# and its TSA; the bundle's data/proofs/checkpoint carries both
# cosignature lines and data/proofs/checkpoint.tsr the token.
cat >"$T/policyB" <<POL
log $VKB
witness a $WA
witness n $WN
group both all a n
quorum both
POL
expect_exit "export: the export checkpoint is pushed" 0 "$CHATLEDGER" export -a "$T/B" \
	--out "$T/bB.zip" --case W-1 --passphrase-file "$T/pass"
expect_grep "export: cosigned by 2 of 2 and timestamped" "cosigned by 2 of 2 witnesses, timestamped" "$T/out"
expect_exit "verify-bundle --witness-policy --tsa-ca passes" 0 "$CHATLEDGER" verify-bundle "$T/bB.zip" \
	--vkey "$VKB" --ca "$T/B/export.crt" --witness-policy "$T/policyB" --tsa-ca "$P/ca.pem"
expect_grep "verify-bundle: policy met, token ok" "2 witness cosignature lines, witness policy met; timestamp token ok" "$T/out"
mkdir "$T/ub" && (cd "$T/ub" && python3 -c 'import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extractall()' "$T/bB.zip")
WB_BAG="$T/ub/EXPORT-W-1"
[ "$(grep -c '^— ' "$WB_BAG/data/proofs/checkpoint")" -eq 3 ] &&
	ok "bundle checkpoint: the log's line and 2 cosignatures" || notok "bundle checkpoint: the log's line and 2 cosignatures"
expect_exit "Node checks the bundle's cosignatures (independent verifier)" 0 \
	node "$WJS" verify-cosig --vkey "$WA" --note "$WB_BAG/data/proofs/checkpoint"
sed '/^$/,$d' "$WB_BAG/data/proofs/checkpoint" >"$T/bbody"
openssl ts -verify -data "$T/bbody" -in "$WB_BAG/data/proofs/checkpoint.tsr" -CAfile "$P/ca.pem" >"$T/ov" 2>&1
expect_grep "openssl ts -verify: the bundle's token is for its checkpoint" "Verification: OK" "$T/ov"
printf 'witness a %s\nquorum a\n' "$WA" >"$T/policyA1"
expect_exit "verify-bundle: a 1-of-1 policy without log keys passes" 0 "$CHATLEDGER" verify-bundle "$T/bB.zip" \
	--vkey "$VKB" --ca "$T/B/export.crt" --witness-policy "$T/policyA1"
expect_exit "verify-bundle: a policy naming another witness fails" 1 "$CHATLEDGER" verify-bundle "$T/bB.zip" \
	--vkey "$VKB" --ca "$T/B/export.crt" --witness-policy "$T/policyX"

# resign MODE [FILE]: a copy of the bag changed by whoever holds the
# archive's export key (the threat witnesses answer): the checkpoint note
# changed in data/proofs/checkpoint and in every proof, or the token
# replaced; both manifests recomputed, the CMS signature made again with
# B's export key.  MODE none changes nothing (the control).
resign() {
	rm -rf "$T/rs" "$T/rs.zip"; cp -r "$T/ub" "$T/rs"
	python3 - "$T/rs/EXPORT-W-1" "$1" "${2:-}" <<'PY' || return 1
import glob, hashlib, json, os, sys
bag, mode, arg = sys.argv[1:4]
cpf = os.path.join(bag, "data/proofs/checkpoint")
old = open(cpf, encoding="utf-8").read()
text, sigs = old.split("\n\n", 1)
lines = sigs.splitlines(True)
if mode == "strip":
    lines = lines[:-1]                      # drop the last cosignature line
elif mode == "alter":
    l = lines[1]; i = l.rindex(" ") + 30     # one base64 character of a cosignature
    lines[1] = l[:i] + ("A" if l[i] != "A" else "B") + l[i + 1:]
elif mode == "token":
    open(os.path.join(bag, "data/proofs/checkpoint.tsr"), "wb").write(open(arg, "rb").read())
new = text + "\n\n" + "".join(lines)
open(cpf, "w", encoding="utf-8").write(new)
for p in glob.glob(os.path.join(bag, "data/proofs/*/*.jsonl")):
    out = []
    for l in open(p, encoding="utf-8").read().splitlines():
        j = json.loads(l)
        for k in ("proof", "head_proof"):
            if k in j:
                assert j[k].endswith(old)
                j[k] = j[k][:-len(old)] + new
        out.append(json.dumps(j, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n")
    open(p, "w", encoding="utf-8").write("".join(out))
def sha(f): return hashlib.sha256(open(os.path.join(bag, f), "rb").read()).hexdigest()
for m in ("manifest-sha256.txt", "tagmanifest-sha256.txt"):
    t = [l.split("  ", 1) for l in open(os.path.join(bag, m)).read().splitlines()]
    open(os.path.join(bag, m), "w").write("".join("%s  %s\n" % (sha(f), f) for _, f in t))
os.remove(os.path.join(bag, "tagmanifest-sha256.txt.minisig"))
PY
	(cd "$T/rs/EXPORT-W-1" && openssl cms -sign -binary -md sha256 -outform DER -nosmimecap \
		-in tagmanifest-sha256.txt -signer "$T/B/export.crt" -inkey "$T/B/export.key" \
		-out tagmanifest-sha256.txt.p7s &&
		python3 -c '
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for root, _, files in os.walk("."):
        for f in sorted(files):
            p = os.path.join("EXPORT-W-1", os.path.join(root, f)[2:])
            z.write(os.path.join(root, f), p)' "$T/rs.zip")
}
vb() { "$CHATLEDGER" verify-bundle "$T/rs.zip" --vkey "$VKB" --ca "$T/B/export.crt" \
	--witness-policy "$T/policyB" --tsa-ca "$P/ca.pem"; }
resign none && expect_exit "re-signed with the export key, unchanged: passes (control)" 0 vb ||
	notok "resign none"
resign strip && expect_exit "a stripped cosignature line fails the policy (1)" 1 vb || notok "resign strip"
expect_grep "stripped: policy not satisfied" "witness policy not satisfied" "$T/out"
resign alter && expect_exit "an altered cosignature line fails (1)" 1 vb || notok "resign alter"
expect_grep "altered: the line named" "cosignature line of witness a does not verify" "$T/out"
resign token "$T/t1.tsr" && expect_exit "a token for another checkpoint fails (1)" 1 vb || notok "resign token"
expect_grep "token: checkpoint.tsr named" "data/proofs/checkpoint.tsr" "$T/out"
expect_exit "a token for another checkpoint fails without --tsa-ca too" 1 \
	"$CHATLEDGER" verify-bundle "$T/rs.zip" --vkey "$VKB" --ca "$T/B/export.crt"
expect_exit "verify-bundle: a malformed policy is an error (2)" 2 "$CHATLEDGER" verify-bundle "$T/bB.zip" \
	--witness-policy "$T/policyBad"

t_done
