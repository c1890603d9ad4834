#!/bin/sh
# t45-writers: many writer processes on one archive (issue 10).
#
#   - with `chatledger webhook` running, hold add, policy event, ingest,
#     retain and verify each finish (exit 0), and the server still
#     stores what it receives afterwards;
#   - two ingests of different files in parallel store each record
#     exactly once, and verify;
#   - a process holding DIR/lock makes `hold add --wait 2` give up with
#     exit 2, naming the holder's pid; readers do not wait for it;
#   - a writer killed with SIGKILL inside its batch leaves the archive
#     unlocked: the next writer proceeds and verify exits 0.
# No timing is measured: every command runs under `timeout 120`, and a
# hang (exit 124) fails its check.
. "$(dirname "$0")/lib.sh"

A="$T/a"
SECRET='test app secret 0123456789abcdef'
P="$CL_ROOT/config/policies/hk-sfc-intermediary.policy"
pid=""
holder=""
trap 'for p in $pid $holder; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"' EXIT INT TERM

for tool in curl openssl python3 timeout; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		notok "$tool is installed (needed by this test)"
		t_done
		exit 1
	fi
done

# run NAME WANT COMMAND...: expect_exit under `timeout 120` (124: a hang).
run() {
	name=$1; want=$2; shift 2
	expect_exit "$name" "$want" timeout 120 "$@"
}

# entries DIR: the archive's entry count, from status --json.
entries() {
	"$CHATLEDGER" status -a "$1" --json | python3 -c \
		'import json, sys; print(json.load(sys.stdin)["entries"])'
}

# body N: a Business Platform webhook body carrying one text message.
body() {
	printf '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"85290000001","phone_number_id":"1"},"contacts":[{"profile":{"name":"A"},"wa_id":"85291234567"}],"messages":[{"from":"85291234567","id":"wamid.t45-%s","timestamp":"1700000000","type":"text","text":{"body":"hello %s"}}]}}]}]}' "$1" "$1"
}

new_archive "$A"
printf '%s\n' "$SECRET" >"$T/secret"
printf 'verify-me-45\n' >"$T/token"
chmod 600 "$T/secret" "$T/token"
. "$(dirname "$0")/webhook-lib.sh"

# ---- (a) writers beside a running webhook server ----------------------------

if start_server wh; then ok "webhook server starts"; else notok "webhook server starts"; fi
body 1 >"$T/b1"
expect_status "a message is stored by the server" 200 "$(post "$T/b1")"
gen_records 300 0 5 >"$T/r0.jsonl"
run "hold add while the server runs" 0 \
	"$CHATLEDGER" hold add -a "$A" --case T45 --reason test --participant 85290000099@s.whatsapp.net --allow-empty
run "policy event while the server runs" 0 \
	"$CHATLEDGER" policy event -a "$A" --subject 85290000001@s.whatsapp.net \
	--event relationship-ended --at 2025-01-01 --allow-empty
run "ingest while the server runs" 0 \
	"$CHATLEDGER" ingest -a "$A" --format jsonl --batch 50 "$T/r0.jsonl"
run "retain --now (far future) while the server runs" 0 \
	"$CHATLEDGER" retain -a "$A" --policy "$P" --now 2100-01-01
run "verify while the server runs" 0 "$CHATLEDGER" verify -a "$A"
run "status while the server runs" 0 "$CHATLEDGER" status -a "$A"
body 2 >"$T/b2"
expect_status "the server stores after the others wrote" 200 "$(post "$T/b2")"
expect_status "... and still de-duplicates a redelivery" 200 "$(post "$T/b1")"
stop_server TERM
[ "$stop_rc" -eq 0 ] && ok "server stops on SIGTERM" || notok "server stops on SIGTERM ($stop_rc)"
run "verify after the server and the others" 0 "$CHATLEDGER" verify -a "$A"
n=$(entries "$A")
n_again=$(timeout 120 "$CHATLEDGER" ingest -a "$A" --format jsonl "$T/r0.jsonl" 2>&1)
case $n_again in
"0 ingested, 300 duplicates skipped"*) ok "re-ingest beside the server's entries: 0 new" ;;
*) notok "re-ingest: 0 new (got: $n_again)" ;;
esac
[ "$(entries "$A")" = "$n" ] && ok "... and the size is unchanged" || notok "size unchanged"

# ---- (b) two ingests in parallel ---------------------------------------------

B="$T/b"
new_archive "$B"
gen_records 2000 0 40 >"$T/x.jsonl"
gen_records 2000 2000 40 >"$T/y.jsonl"
timeout 120 "$CHATLEDGER" ingest -a "$B" --format jsonl --batch 50 "$T/x.jsonl" >"$T/ix" 2>&1 &
p1=$!
timeout 120 "$CHATLEDGER" ingest -a "$B" --format jsonl --batch 50 "$T/y.jsonl" >"$T/iy" 2>&1 &
p2=$!
wait "$p1"; r1=$?
wait "$p2"; r2=$?
[ "$r1" -eq 0 ] && [ "$r2" -eq 0 ] && ok "two ingests in parallel exit 0" ||
	{ notok "two ingests in parallel exit 0 ($r1, $r2)"; sed 's/^/#   /' "$T/ix" "$T/iy"; }
run "verify after the parallel ingests" 0 "$CHATLEDGER" verify -a "$B"
[ "$(entries "$B")" = 4000 ] && ok "both files stored, each record once (4000)" ||
	notok "both files stored once (entries: $(entries "$B"))"
out=$(timeout 120 "$CHATLEDGER" ingest -a "$B" --format jsonl "$T/x.jsonl" "$T/y.jsonl" 2>&1)
case $out in
"0 ingested, 4000 duplicates skipped"*) ok "re-ingesting both stores nothing new" ;;
*) notok "re-ingesting both stores nothing new (got: $out)" ;;
esac

# ---- (c) a held lock: --wait gives up, naming the holder --------------------

python3 -c '
import fcntl, os, sys, time
f = open(sys.argv[1] + "/lock", "r+")
fcntl.flock(f, fcntl.LOCK_EX)
f.truncate(0); f.write("%d lockholder\n" % os.getpid()); f.flush()
print("locked", flush=True)
time.sleep(600)' "$B" >"$T/holder" &
holder=$!
i=0
while [ "$i" -lt 400 ] && ! grep -q locked "$T/holder"; do sleep 0.05; i=$((i + 1)); done
run "hold add --wait 2 gives up while another process holds the lock" 2 \
	"$CHATLEDGER" hold add -a "$B" --case C --reason r --wait 2
expect_grep "... after saying who holds it" "waiting for the archive: lockholder pid $holder holds it" "$T/err"
expect_grep "... and why it gave up" "archive busy" "$T/err"
[ "$(grep -c 'waiting for the archive' "$T/err")" = 1 ] && ok "... said once" || notok "... said once"
run "--wait 0 does not wait at all" 2 \
	"$CHATLEDGER" policy event -a "$B" --subject s --event e --at 2025-01-01 --allow-empty --wait 0
run "verify does not wait for the lock" 0 "$CHATLEDGER" verify -a "$B"
run "status does not wait for the lock" 0 "$CHATLEDGER" status -a "$B"
run "--wait is refused with a bad value" 2 \
	"$CHATLEDGER" hold add -a "$B" --case C --reason r --wait soon
run "readers take no --wait" 2 "$CHATLEDGER" status -a "$B" --wait 1
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
holder=""
run "hold add once the lock is free" 0 "$CHATLEDGER" hold add -a "$B" --case C --reason r --wait 30
# The holder line is fixed-width (FORMAT.md §1): one pwrite replaces the
# last holder's whole line, so a shorter name leaves nothing behind.
if [ "$(wc -c <"$B/lock" | tr -d ' ')" = 64 ] && grep -q "^[0-9][0-9]* hold *$" "$B/lock"
then ok "... and left its own 64-byte line"
else notok "... and left its own 64-byte line ($(cat "$B/lock"))"; fi

# ---- (d) a writer killed inside its batch ----------------------------------

gen_records 30000 10000 40 >"$T/big.jsonl"
"$CHATLEDGER" ingest -a "$B" --format jsonl --batch 100000 "$T/big.jsonl" >/dev/null 2>&1 &
victim=$!
i=0
while [ "$i" -lt 1200 ] && ! grep -q "^$victim ingest *$" "$B/lock" 2>/dev/null; do
	sleep 0.05; i=$((i + 1))
done
if grep -q "^$victim ingest *$" "$B/lock"; then ok "the writer names itself in DIR/lock inside its batch"
else notok "the writer names itself in DIR/lock inside its batch"; fi
kill -9 "$victim" 2>/dev/null
wait "$victim" 2>/dev/null
before=$(entries "$B")
run "the next writer proceeds after SIGKILL" 0 \
	"$CHATLEDGER" policy event -a "$B" --subject s --event after-kill --at 2025-01-01 --allow-empty --wait 60
run "verify after the killed batch" 0 "$CHATLEDGER" verify -a "$B"
[ "$(entries "$B")" = $((before + 1)) ] && ok "nothing of the killed batch was kept" ||
	notok "nothing of the killed batch kept ($before -> $(entries "$B"))"

t_done
