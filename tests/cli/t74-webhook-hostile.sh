#!/bin/sh
# t74-webhook-hostile: `chatledger webhook` survives hostile clients
# (issue 10), driven over loopback by webhook_hostile.py.
#
#   - siege: ~1,000 slow-header connections (a request line, then one
#     header byte every 0.5 s, reopened when closed) while 20 signed posts
#     are made one after the other: every post is answered 200 (a 20 s
#     socket timeout fails a hang), and once the siege stops reopening,
#     every slow connection is closed by the header deadline
#     (--header-timeout 2) although it keeps sending.  The per-address
#     limit is raised for this part, since every client here is
#     127.0.0.1;
#   - per-address limit: with --max-connections-per-address 8, a ninth
#     connection is closed at once; after the deadline cuts the eight, a
#     signed post is answered 200;
#   - memory: 24 requests announcing Content-Length: 16777216 (unsigned,
#     malformed and wrong signatures) hold no memory for it (VmRSS and
#     VmData of the server barely move); a whole unsigned 16 MiB body is
#     401 and an announced 16 MiB + 1 is 413, RSS steady; a signed 2 MB
#     body of 15,000 messages is stored with a peak RSS (VmHWM) under 20
#     times its size (skipped in a sanitizer build);
#   - option checks and the cut_off count in the JSON summary.
# Uses as many slow connections as the hard limit on open files allows
# (minus a margin), and says how many.
. "$(dirname "$0")/lib.sh"

A="$T/a"
SECRET='test app secret 0123456789abcdef'
HOSTILE="$(dirname "$0")/webhook_hostile.py"
pid=""
trap 'if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null; fi; rm -rf "$T"' EXIT INT TERM

for tool in curl openssl python3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		notok "$tool is installed (needed by this test)"
		t_done
		exit 1
	fi
done

new_archive "$A"
printf '%s\n' "$SECRET" >"$T/secret"
printf 'verify-me-42\n' >"$T/token"
chmod 600 "$T/secret" "$T/token"

. "$(dirname "$0")/webhook-lib.sh"

# kv FILE KEY: the value of "KEY=value" in FILE.
kv() { sed -n "s/^$2=//p" "$1" | head -n 1; }

# status_kb FIELD: a field of the server's /proc/PID/status, in kB.
status_kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$pid/status"; }

# ---- options -------------------------------------------------------------------

for bad in "--max-connections 0" "--max-connections 65537" \
	"--max-connections-per-address 0" "--header-timeout 0" "--header-timeout 301" \
	"--max-connections 10 --max-connections-per-address 11"; do
	# shellcheck disable=SC2086
	expect_exit "refused: $bad" 2 "$CHATLEDGER" webhook -a "$A" --listen 127.0.0.1:0 \
		--app-secret-file "$T/secret" --verify-token-file "$T/token" $bad
done

# ---- the siege ------------------------------------------------------------------

hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
want=$((1000 + 200))
if [ "$hard" -lt "$want" ]; then
	ulimit -n "$hard" 2>/dev/null
	N=$((hard - 200))
else
	ulimit -n "$want" 2>/dev/null || ulimit -n "$hard" 2>/dev/null
	N=1000
fi
[ "$(ulimit -n)" -lt $((N + 100)) ] && N=$(($(ulimit -n) - 150))
echo "# siege: $N slow connections (ulimit -n $(ulimit -n), hard limit $hard)"
if [ "$N" -lt 100 ]; then
	skip "siege of slow-header connections" "only $(ulimit -n) open files allowed"
else
	start_server siege --header-timeout 2 --max-connections $((N + 100)) \
		--max-connections-per-address $((N + 100)) &&
		ok "server with --header-timeout 2 starts" ||
		notok "server with --header-timeout 2 starts"
	python3 "$HOSTILE" siege "$port" "$SECRET" "$N" 20 2 >"$T/siege" 2>&1
	sed 's/^/#   /' "$T/siege"
	[ "$(kv "$T/siege" posts_200)" = 20 ] &&
		ok "20 signed posts during a siege of $N slow connections: all 200" ||
		notok "signed posts during the siege: $(kv "$T/siege" posts_200) of 20 answered 200"
	held=$(kv "$T/siege" held_min_during_posts)
	[ -n "$held" ] && [ "$held" -ge $((N * 9 / 10)) ] &&
		ok "the siege held at least 90% of $N connections throughout ($held)" ||
		notok "the siege held only $held of $N connections"
	[ "$(kv "$T/siege" still_open)" = 0 ] &&
		ok "every slow connection was closed by the header deadline while trickling" ||
		notok "$(kv "$T/siege" still_open) slow connections still open"
	stop_server TERM
	cut=$(sed -n 's/.*"cut_off":\([0-9]*\).*/\1/p' "$T/siege.out")
	[ -n "$cut" ] && [ "$cut" -ge "$N" ] &&
		ok "the summary counts them (cut_off $cut)" ||
		notok "cut_off is '$cut', want >= $N"
	[ "$(field records)" -ge 20 ] && ok "... and the 20 posts are stored" ||
		notok "siege posts not stored"
fi

# ---- the per-address limit ------------------------------------------------------

start_server peraddr --header-timeout 2 --max-connections-per-address 8 ||
	notok "server with --max-connections-per-address 8 starts"
python3 "$HOSTILE" peraddr "$port" "$SECRET" 8 >"$T/peraddr" 2>&1
sed 's/^/#   /' "$T/peraddr"
[ "$(kv "$T/peraddr" held)" = 8 ] && ok "8 idle connections from one address are held" ||
	notok "held $(kv "$T/peraddr" held) of 8"
[ "$(kv "$T/peraddr" extra_closed)" = 1 ] &&
	ok "a ninth from the same address is closed at once" ||
	notok "a ninth connection from the same address was not closed"
[ "$(kv "$T/peraddr" still_open)" = 0 ] && [ "$(kv "$T/peraddr" post_after)" = 200 ] &&
	ok "after the header deadline cut the eight, a signed post is answered 200" ||
	notok "after the deadline: still open $(kv "$T/peraddr" still_open), post $(kv "$T/peraddr" post_after)"
stop_server TERM

# ---- memory -----------------------------------------------------------------------

start_server mem --max-body 16777216 || notok "server with --max-body 16777216 starts"
rss0=$(status_kb VmRSS)
data0=$(status_kb VmData)
mkfifo "$T/go"
python3 "$HOSTILE" hold "$port" 8 16777216 - <"$T/go" >"$T/hold1" 2>&1 &
h1=$!
python3 "$HOSTILE" hold "$port" 8 16777216 sha256=zz <"$T/go" >"$T/hold2" 2>&1 &
h2=$!
python3 "$HOSTILE" hold "$port" 8 16777216 \
	sha256=0000000000000000000000000000000000000000000000000000000000000000 \
	<"$T/go" >"$T/hold3" 2>&1 &
h3=$!
exec 7>"$T/go"
i=0
while [ "$i" -lt 100 ]; do
	[ "$(cat "$T/hold1" "$T/hold2" "$T/hold3" 2>/dev/null | grep -c held)" -eq 3 ] && break
	sleep 0.1
	i=$((i + 1))
done
sleep 0.5
rss1=$(status_kb VmRSS)
data1=$(status_kb VmData)
echo "# 24 requests announcing 16 MiB, 64 KiB sent each: VmRSS $rss0 -> $rss1 kB," \
	"VmData $data0 -> $data1 kB"
[ $((rss1 - rss0)) -lt 16384 ] &&
	ok "24 announced 16 MiB bodies do not make RSS jump (+$((rss1 - rss0)) kB)" ||
	notok "24 announced 16 MiB bodies: RSS +$((rss1 - rss0)) kB"
[ $((data1 - data0)) -lt 65536 ] &&
	ok "... nor reserve memory for them (VmData +$((data1 - data0)) kB, not 384 MiB)" ||
	notok "24 announced 16 MiB bodies: VmData +$((data1 - data0)) kB"
echo go >&7
exec 7>&-
wait "$h1" "$h2" "$h3"
head -c 16777216 /dev/zero | tr '\0' 'a' >"$T/16m"
code=$(post "$T/16m" -)
expect_status "a whole unsigned 16 MiB body: 401" 401 "$code"
code=$(post "$T/16m" "sha256=zz")
expect_status "... with a malformed signature: 401" 401 "$code"
rss2=$(status_kb VmRSS)
echo "# after two unsigned 16 MiB bodies: VmRSS $rss2 kB"
[ $((rss2 - rss0)) -lt 16384 ] &&
	ok "... read and thrown away, not kept (RSS +$((rss2 - rss0)) kB)" ||
	notok "unsigned 16 MiB bodies: RSS +$((rss2 - rss0)) kB"
printf 'a' >>"$T/16m"
code=$(post "$T/16m")
expect_status "a signed body announcing 16 MiB + 1: 413" 413 "$code"

python3 - "$T/big.json" <<'PY'
import json, sys
msgs = [{"from": "8529%07d" % (i % 500), "id": "wamid.BIG%08d" % i,
         "timestamp": str(1700000000 + i), "type": "text",
         "text": {"body": "hostile message %d" % i}} for i in range(15000)]
b = {"object": "whatsapp_business_account", "entry": [{"id": "880480571844883",
     "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": "85230000000",
                               "phone_number_id": "409552778964973"},
                  "messages": msgs}}]}]}
open(sys.argv[1], "wb").write(json.dumps(b, separators=(",", ":")).encode())
PY
size=$(wc -c <"$T/big.json")
hwm0=$(status_kb VmHWM)
r0=$(field records)
code=$(curl -s -o "$T/resp" -w '%{http_code}' --max-time 120 \
	-H "X-Hub-Signature-256: sha256=$(sign "$T/big.json")" \
	--data-binary @"$T/big.json" "$URL")
hwm1=$(status_kb VmHWM)
expect_status "a signed body of $size bytes, 15000 messages: 200" 200 "$code"
[ "$(field records)" -eq $((r0 + 15000)) ] && ok "... all 15000 stored" ||
	notok "big body: records $r0 -> $(field records)"
# Peak RSS over the idle server, against 20 times the body (the records
# of a body are several times its size, and the database's page cache
# grows too); about 13 times here.  A 12.9 MB body peaked at 29 times its
# size before issue 10, 10 times after.
bound=$((size * 20 / 1024))
echo "# body $size bytes: peak RSS $hwm0 -> $hwm1 kB (+$((hwm1 - hwm0)) kB," \
	"$(awk "BEGIN { printf \"%.1f\", ($hwm1 - $rss0) * 1024 / $size }")x the body" \
	"over the idle server)"
if grep -aq __asan_init "$CHATLEDGER"; then
	# ASan keeps freed memory in quarantine and pads every block.
	skip "its peak RSS stays under 20x the body" "a sanitizer build"
elif [ $((hwm1 - rss0)) -lt "$bound" ]; then
	ok "its peak RSS stays under 20x the body (+$((hwm1 - rss0)) kB < $bound kB)"
else
	notok "peak RSS +$((hwm1 - rss0)) kB over the idle server, bound $bound kB"
fi
stop_server TERM
[ "$stop_rc" -eq 0 ] && ok "SIGTERM: exits 0" || notok "SIGTERM: exit $stop_rc"
expect_exit "verify at the end" 0 "$CHATLEDGER" verify -a "$A"
t_done
