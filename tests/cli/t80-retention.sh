#!/bin/sh
# t80-retention: the Hong Kong profiles with a fake clock (--now), holds,
# regulator notices, lifecycle events; what erasure leaves behind; policy
# errors erase nothing; retain killed at random moments converges.
. "$(dirname "$0")/lib.sh"

P="$CL_ROOT/config/policies"
ACC="85290000001@s.whatsapp.net"

# rec ID CONV LABEL SENT_AT: one record
rec() {
	printf '{"account":"%s","conversation":{"id":"%s","type":"direct"},"id":"%s","sender":{"id":"%s"},"direction":"in","sent_at":"%s","kind":"text","text":"retention test %s","labels":["%s"]}\n' \
		"$ACC" "$2" "$1" "$2" "$4" "$1" "$3"
}
# count_payloads DIR: entries that still have a ciphertext
payloads() { "$CHATLEDGER" status -a "$1" --json | sed 's/.*"payloads":\([0-9]*\).*/\1/'; }
decision() { # DIR INDEX POLICY NOW -> decision word
	"$CHATLEDGER" policy explain -a "$1" --index "$2" --policy "$3" --now "$4" --json |
		sed 's/.*"decision":"\([a-z-]*\)".*/\1/'
}

# --- SFC: client orders by IM kept >= 2 years, erased after the maximum.
A="$T/sfc"; new_archive "$A"
rec o1 85291110001@s.whatsapp.net orders 2024-03-01T10:00:00+08:00 >"$T/sfc.jsonl"
rec o2 85291110002@s.whatsapp.net client-money 2024-03-01T10:00:00+08:00 >>"$T/sfc.jsonl"
"$CHATLEDGER" ingest -a "$A" --format jsonl "$T/sfc.jsonl" >/dev/null
[ "$(decision "$A" 0 "$P/hk-sfc-intermediary.policy" 2026-02-28)" = keep ] && ok "sfc: order kept before 2 years" || notok "sfc: order kept before 2 years"
expect_exit "sfc: retain just before 2 years" 0 "$CHATLEDGER" retain -a "$A" --policy "$P/hk-sfc-intermediary.policy" --now 2026-02-28
expect_grep "sfc: nothing erased at 23 months" " 0 erased" "$T/out"
expect_exit "sfc: retain after 2 years, before the maximum" 0 "$CHATLEDGER" retain -a "$A" --policy "$P/hk-sfc-intermediary.policy" --now 2026-06-01
expect_grep "sfc: nothing erased during the maximum" " 0 erased" "$T/out"
expect_exit "sfc: explain" 0 "$CHATLEDGER" policy explain -a "$A" --index 0 --policy "$P/hk-sfc-intermediary.policy" --now 2026-06-01
expect_grep "sfc: explain names the rule" "rule client-orders-im" "$T/out"
expect_grep "sfc: explain cites the basis" "571O" "$T/out"
expect_grep "sfc: explain gives retain-until" "retain until: 2026-03-01" "$T/out"
expect_exit "sfc: retain after minimum + maximum" 0 "$CHATLEDGER" retain -a "$A" --policy "$P/hk-sfc-intermediary.policy" --now 2031-03-02
expect_grep "sfc: the order is erased by its rule" "rule client-orders-im: 1 erased" "$T/out"
[ "$(decision "$A" 1 "$P/hk-sfc-intermediary.policy" 2031-03-02)" = keep ] && ok "sfc: client-money record still kept (7 years)" || notok "sfc: client-money record kept"
expect_exit "sfc: verify after erasure" 0 "$CHATLEDGER" verify -a "$A"
expect_grep "sfc: verify counts the tombstone" "1 tombstone," "$T/out"
expect_exit "sfc: an erased record cannot be shown" 2 "$CHATLEDGER" show -a "$A" --index 0 --passphrase-file "$T/pass"
expect_grep "sfc: show says it was erased" "was erased" "$T/err"
expect_exit "sfc: re-running retain is idempotent" 0 "$CHATLEDGER" retain -a "$A" --policy "$P/hk-sfc-intermediary.policy" --now 2031-03-02 --json
expect_grep "sfc: nothing more to erase" '"erased":0' "$T/out"
expect_exit "policy check: the PDPO profile on the SFC archive" 0 "$CHATLEDGER" policy check -a "$A" --policy "$P/hk-pdpo-default.policy"
expect_grep "policy check: reports records no rule matches" "1 record examined, 1 matched by no rule" "$T/out"
expect_exit "policy check: the SFC profile has no conflict within itself" 0 "$CHATLEDGER" policy check -a "$A" --policy "$P/hk-sfc-intermediary.policy"
expect_grep "policy check: says so" " 0 conflicts" "$T/out"
printf '[policy]\ndefault = keep\n[rule short]\nmatch.label = orders\nminimum = 0\nclock = message\nmaximum = 1y\nbasis = t\nconfidence = assumed\n[rule long]\nmatch.label = client-money\nminimum = 7y\nclock = message\nbasis = t\nconfidence = assumed\n' >"$T/conflict.policy"
expect_exit "policy check: a conflicting policy is reported" 1 "$CHATLEDGER" policy check -a "$A" --policy "$T/conflict.policy"
expect_grep "policy check: names the conflicting rules" "^conflict: " "$T/out"

# --- AMLO: customer records stay until relationship-ended + 5 years.
A="$T/amlo"; new_archive "$A"
rec c1 85292220001@s.whatsapp.net customer 2024-01-10T10:00:00Z >"$T/amlo.jsonl"
rec c2 85292220001@s.whatsapp.net customer 2024-02-10T10:00:00Z >>"$T/amlo.jsonl"
rec c3 85292220002@s.whatsapp.net customer 2024-02-10T10:00:00Z >>"$T/amlo.jsonl"
"$CHATLEDGER" ingest -a "$A" --format jsonl "$T/amlo.jsonl" >/dev/null
expect_exit "amlo: retain far in the future, no event" 0 "$CHATLEDGER" retain -a "$A" --policy "$P/hk-amlo.policy" --now 2060-01-01 --json
expect_grep "amlo: never erased before the event is recorded" '"erased":0' "$T/out"
expect_grep "amlo: all three await the event" '"awaiting_event":3' "$T/out"
expect_exit "amlo: record relationship-ended" 0 "$CHATLEDGER" policy event -a "$A" --subject 85292220001@s.whatsapp.net --event relationship-ended --at 2025-01-01 --note "account closed at client request"
expect_exit "amlo: retain 1 day before event + 5y" 0 "$CHATLEDGER" retain -a "$A" --policy "$P/hk-amlo.policy" --now 2029-12-31 --json
expect_grep "amlo: kept until event + 5y" '"erased":0' "$T/out"
expect_exit "amlo: retain after event + 5y" 0 "$CHATLEDGER" retain -a "$A" --policy "$P/hk-amlo.policy" --now 2030-01-02 --json
expect_grep "amlo: that customer's two records erased" '"erased":2' "$T/out"
expect_grep "amlo: the other customer still waits" '"awaiting_event":1' "$T/out"
expect_exit "amlo: verify" 0 "$CHATLEDGER" verify -a "$A"

# --- Money lender (assumed rule): loan-repaid + 5 years.
A="$T/ml"; new_archive "$A"
rec l1 85293330001@s.whatsapp.net loan 2024-05-01T10:00:00Z >"$T/ml.jsonl"
"$CHATLEDGER" ingest -a "$A" --format jsonl "$T/ml.jsonl" >/dev/null
"$CHATLEDGER" policy event -a "$A" --subject 85293330001@s.whatsapp.net --event loan-repaid --at 2025-05-01 >/dev/null
[ "$(decision "$A" 0 "$P/hk-money-lender.policy" 2030-04-30)" = keep ] && ok "money lender: kept until repaid + 5y" || notok "money lender: kept until repaid + 5y"
# The profile's basis is only assumed, so it sets no maximum: nothing is
# erased automatically until the firm sets one (policy check says so).
[ "$(decision "$A" 0 "$P/hk-money-lender.policy" 2030-05-02)" = keep ] && ok "money lender: no automatic erasure on an assumed basis" || notok "money lender: no automatic erasure on an assumed basis"
"$CHATLEDGER" policy explain -a "$A" --index 0 --policy "$P/hk-money-lender.policy" --now 2030-05-02 --json >"$T/out"
expect_grep "money lender: explain says no maximum" '"reason":"no-maximum"' "$T/out"
expect_exit "money lender: policy check reports the assumed rule" 0 "$CHATLEDGER" policy check -a "$A" --policy "$P/hk-money-lender.policy"
expect_grep "money lender: assumed is flagged" "assumed" "$T/out"

# --- PDPO default: enquiries erased after 24 months.
A="$T/pdpo"; new_archive "$A"
rec e1 85294440001@s.whatsapp.net enquiry 2024-01-01T00:00:00Z >"$T/pdpo.jsonl"
"$CHATLEDGER" ingest -a "$A" --format jsonl "$T/pdpo.jsonl" >/dev/null
expect_exit "pdpo: before 24 months" 0 "$CHATLEDGER" retain -a "$A" --policy "$P/hk-pdpo-default.policy" --now 2025-12-31 --json
expect_grep "pdpo: kept before the maximum" '"erased":0' "$T/out"
expect_exit "pdpo: after 24 months" 0 "$CHATLEDGER" retain -a "$A" --policy "$P/hk-pdpo-default.policy" --now 2026-01-02 --json
expect_grep "pdpo: erased after the maximum" '"erased":1' "$T/out"

# --- Holds: a held record survives its due date; erased after release.
A="$T/hold"; new_archive "$A"
rec h1 85295550001@s.whatsapp.net enquiry 2024-01-01T00:00:00Z >"$T/hold.jsonl"
rec h2 85295550002@s.whatsapp.net enquiry 2024-01-01T00:00:00Z >>"$T/hold.jsonl"
"$CHATLEDGER" ingest -a "$A" --format jsonl "$T/hold.jsonl" >/dev/null
expect_exit "hold: place a litigation hold" 0 "$CHATLEDGER" hold add -a "$A" --case HCA-123/2026 --reason "writ served" --participant 85295550001@s.whatsapp.net
expect_exit "hold: regulator notice with an end date" 0 "$CHATLEDGER" hold add -a "$A" --case SFC-NOTICE-7 --reason "s.20(4) notice" --conversation 85295550002@s.whatsapp.net --until 2027-01-01
expect_exit "hold: list" 0 "$CHATLEDGER" hold list -a "$A" --json
expect_grep "hold: both holds listed active" '"state":"active".*"state":"active"' "$T/out"
expect_exit "hold: retain while held" 0 "$CHATLEDGER" retain -a "$A" --policy "$P/hk-pdpo-default.policy" --now 2026-06-01 --json
expect_grep "hold: both due records survive" '"held":2' "$T/out"
expect_exit "hold: explain names the case" 0 "$CHATLEDGER" policy explain -a "$A" --index 0 --policy "$P/hk-pdpo-default.policy" --now 2026-06-01
expect_grep "hold: explain shows the hold" "held by case HCA-123/2026" "$T/out"
expect_exit "hold: regulator notice ends by itself" 0 "$CHATLEDGER" retain -a "$A" --policy "$P/hk-pdpo-default.policy" --now 2027-01-02 --json
expect_grep "hold: the record under the expired notice is erased" '"erased":1' "$T/out"
expect_grep "hold: the litigation hold still holds" '"held":1' "$T/out"
expect_exit "hold: release" 0 "$CHATLEDGER" hold release -a "$A" --case HCA-123/2026
expect_exit "hold: releasing twice is an error" 2 "$CHATLEDGER" hold release -a "$A" --case HCA-123/2026
expect_exit "hold: retain after release" 0 "$CHATLEDGER" retain -a "$A" --policy "$P/hk-pdpo-default.policy" --now 2027-01-02 --json
expect_grep "hold: erased after release" '"erased":1' "$T/out"
expect_exit "hold: verify" 0 "$CHATLEDGER" verify -a "$A"
expect_grep "hold: verify counts 2 tombstones" "2 tombstones" "$T/out"

# --- Erasure leaves no ciphertext or key bytes in any file.
A="$T/bytes"; new_archive "$A"
i=0; : >"$T/b.jsonl"
while [ $i -lt 200 ]; do rec "b$i" 8529666000$((i % 5))@s.whatsapp.net enquiry 2024-01-01T00:00:00Z >>"$T/b.jsonl"; i=$((i + 1)); done
"$CHATLEDGER" ingest -a "$A" --format jsonl "$T/b.jsonl" >/dev/null
python3 - "$A/ledger.db" "$T/secrets.bin" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
out = open(sys.argv[2], "wb")
for (ct,) in db.execute("SELECT ct FROM payload"):
    out.write(ct[25:57])                  # 32 bytes of each ciphertext
for (w,) in db.execute("SELECT wrapped FROM sealed_key"):
    out.write(w[:32])                     # each wrapped key
PY
expect_exit "bytes: retain erases all 200" 0 "$CHATLEDGER" retain -a "$A" --policy "$P/hk-pdpo-default.policy" --now 2030-01-01 --json
expect_grep "bytes: 200 erased" '"erased":200' "$T/out"
python3 - "$A" "$T/secrets.bin" <<'PY' && ok "bytes: no erased ciphertext or key remains in any archive file" || notok "bytes: erased bytes remain"
import os, sys
raw = open(sys.argv[2], "rb").read()
secrets = [raw[i:i + 32] for i in range(0, len(raw), 32)]
assert len(secrets) == 400, len(secrets)
blob = b"".join(open(os.path.join(sys.argv[1], f), "rb").read() for f in os.listdir(sys.argv[1]))
found = [s for s in secrets if s in blob]
print("# %d of %d secret fragments found in %d bytes" % (len(found), len(secrets), len(blob)))
sys.exit(1 if found else 0)
PY
expect_exit "bytes: verify after mass erasure" 0 "$CHATLEDGER" verify -a "$A" --json
expect_grep "bytes: verify counts 200 erased" '"erased":200' "$T/out"

# --- A bad policy erases nothing and says file:line.
A="$T/bad"; new_archive "$A"
"$CHATLEDGER" ingest -a "$A" --format jsonl "$T/pdpo.jsonl" >/dev/null
printf '[policy]\nname = broken\n[rule x]\nmatch.label = enquiry\nminimum = 0\nmaximum = 1d\nbasis = test\nconfidence = verified\nmaxium = 2d\n' >"$T/typo.policy"
expect_exit "bad policy: unknown key stops retain" 2 "$CHATLEDGER" retain -a "$A" --policy "$T/typo.policy" --now 2030-01-01
expect_grep "bad policy: names file and line" "typo.policy:9: " "$T/err"
printf '[policy]\nname = broken\n[rule x\nminimum = 0\n' >"$T/syntax.policy"
expect_exit "bad policy: syntax error stops retain" 2 "$CHATLEDGER" retain -a "$A" --policy "$T/syntax.policy" --now 2030-01-01
expect_grep "bad policy: syntax error names file and line" "syntax.policy:3: " "$T/err"
[ "$(payloads "$A")" = 1 ] && ok "bad policy: nothing was erased" || notok "bad policy: something was erased"
expect_exit "no policy configured is an error" 2 "$CHATLEDGER" retain -a "$A"
printf '[retention]\npolicy = %s\n' "$P/hk-pdpo-default.policy" >>"$A/chatledger.conf"
expect_exit "configured policy is used" 0 "$CHATLEDGER" retain -a "$A" --now 2030-01-01 --json
expect_grep "configured policy erased the enquiry" '"erased":1' "$T/out"

# --- Crash: kill retain at random moments; every re-run converges.  When
# a run gets through the whole due set before its kill lands, more due
# records are ingested, until KILLS kills have landed mid-run.
N=${CL_RETAIN_N:-50000}
KILLS=${CL_RETAIN_KILLS:-20}
A="$T/crash"; new_archive "$A"
chunk() { # START COUNT
	awk -v s="$1" -v n="$2" -v acc="$ACC" 'BEGIN { for (i = s; i < s + n; i++)
	printf "{\"account\":\"%s\",\"conversation\":{\"id\":\"8529%07d@s.whatsapp.net\"},\"id\":\"k%d\",\"sender\":{\"id\":\"x\"},\"direction\":\"in\",\"sent_at\":\"2021-01-01T00:00:00Z\",\"kind\":\"text\",\"text\":\"t%d\",\"labels\":[\"enquiry\"]}\n", acc, i % 300, i, i }'
}
chunk 0 "$N" | "$CHATLEDGER" ingest -a "$A" --format jsonl - >/dev/null
total=$N
awk 'BEGIN { srand(4242); for (i = 0; i < 200; i++) printf "%.3f\n", 0.3 + rand() * 0.9 }' >"$T/delays"
bad=0; mid=0; tries=0
while read -r d; do
	[ "$mid" -ge "$KILLS" ] && break
	tries=$((tries + 1))
	if [ "$(payloads "$A")" -eq 0 ]; then
		chunk "$total" "$N" | "$CHATLEDGER" ingest -a "$A" --format jsonl - >/dev/null
		total=$((total + N))
	fi
	"$CHATLEDGER" retain -a "$A" --policy "$P/hk-pdpo-default.policy" --now 2030-01-01 >/dev/null 2>&1 &
	pid=$!
	sleep "$d"
	kill -9 "$pid" 2>/dev/null && mid=$((mid + 1))
	wait "$pid" 2>/dev/null
	"$CHATLEDGER" verify -a "$A" >"$T/v" 2>&1 || { bad=$((bad + 1)); sed 's/^/#   /' "$T/v"; }
done <"$T/delays"
[ "$bad" -eq 0 ] && ok "crash: verify exits 0 after each of $tries runs" || notok "crash: verify failed $bad times"
[ "$mid" -ge "$KILLS" ] && ok "crash: $mid kills landed while retain was running" || notok "crash: only $mid kills landed mid-run"
left=$(payloads "$A")
echo "# $left of $total payloads left before the final run"
expect_exit "crash: final run" 0 "$CHATLEDGER" retain -a "$A" --policy "$P/hk-pdpo-default.policy" --now 2030-01-01
expect_exit "crash: verify at the end" 0 "$CHATLEDGER" verify -a "$A" --json
expect_grep "crash: every record erased exactly once" "\"erased\":$total" "$T/out"
expect_grep "crash: one tombstone per record" "\"tombstones\":$total" "$T/out"
[ "$(payloads "$A")" = 0 ] && ok "crash: no payload left" || notok "crash: payloads left"
t_done
