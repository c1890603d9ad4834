# tests/cli/webhook-lib.sh - helpers shared by the webhook tests (sourced
# after lib.sh).  Expect $A (archive), $T, $SECRET and the files
# $T/secret and $T/token.

# start_server LOG [OPTIONS...]: run the server in the background, wait
# until it reports its address and answers; sets pid, port and URL.
start_server() {
	log=$1; shift
	port=""
	"$CHATLEDGER" webhook -a "$A" --listen 127.0.0.1:0 \
		--app-secret-file "$T/secret" --verify-token-file "$T/token" \
		--json "$@" >"$T/$log.out" 2>"$T/$log.err" &
	pid=$!
	i=0
	while [ "$i" -lt 400 ]; do
		port=$(sed -n 's/^{"event":"listening","address":"127\.0\.0\.1:\([0-9]*\)"}$/\1/p' \
			"$T/$log.out")
		[ -n "$port" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
		i=$((i + 1))
	done
	URL="http://127.0.0.1:$port/webhook"
	[ -n "$port" ] &&
		curl -s -o /dev/null --max-time 5 "$URL?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1"
}

# stop_server SIGNAL: signal the server and wait; sets stop_rc.
stop_server() {
	kill "-$1" "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null
	stop_rc=$?
	pid=""
}

sign() {
	openssl dgst -sha256 -hmac "$SECRET" <"$1" | awk '{ print $NF }'
}

# post FILE [HEADER]: POST the exact bytes of FILE, signed unless HEADER
# is given ("-" for none); prints the HTTP status; the body is in $T/resp.
post() {
	if [ $# -ge 2 ]; then hdr=$2; else hdr="sha256=$(sign "$1")"; fi
	if [ "$hdr" = "-" ]; then
		curl -s -o "$T/resp" -w '%{http_code}' --max-time 30 \
			-H 'Content-Type: application/json' --data-binary @"$1" "$URL"
	else
		curl -s -o "$T/resp" -w '%{http_code}' --max-time 30 \
			-H 'Content-Type: application/json' -H "X-Hub-Signature-256: $hdr" \
			--data-binary @"$1" "$URL"
	fi
}

# expect_status NAME WANT GOT
expect_status() {
	if [ "$3" = "$2" ]; then ok "$1"; else notok "$1 (HTTP $3, want $2)"; fi
}

# log_count LOG PATTERN WANT: how many lines of $T/LOG.err match PATTERN,
# waiting up to 5 s for WANT of them (a request is logged just after its
# answer has been sent, so curl may return first).
log_count() {
	i=0
	while :; do
		got=$(grep -c -- "$2" "$T/$1.err")
		[ "$got" -ge "$3" ] || [ "$i" -ge 50 ] && break
		sleep 0.1
		i=$((i + 1))
	done
	echo "$got"
}

field() { # field NAME: a top-level counter from `status --json` (the
	# sections have keys of the same names: webhook.records)
	"$CHATLEDGER" status -a "$A" --json |
		python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# wait_log LOG PATTERN WANT [TENTHS]: wait (default 15 s) for WANT lines of
# $T/LOG.err to match PATTERN; true if they did.
wait_log() {
	i=0
	while :; do
		got=$(grep -c -- "$2" "$T/$1.err")
		[ "$got" -ge "$3" ] || [ "$i" -ge "${4:-150}" ] && break
		sleep 0.1
		i=$((i + 1))
	done
	[ "$got" -ge "$3" ]
}
