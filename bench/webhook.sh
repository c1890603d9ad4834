#!/bin/sh
# bench/webhook.sh BUILD_DIR - webhook requests/s with durable
# acknowledgement, against a baseline measured in the same run (issue 4,
# benchmark 5).
#
# Two baselines are compiled here, both libmicrohttpd in the same server
# mode as `chatledger webhook` (internal thread pool, one thread per CPU,
# same timeout and connection limit):
#   plain        reads each body and answers 200, checking and storing
#                nothing (the target ratio is against this one);
#   parse-only   checks the signature and runs the importer and the record
#                validation exactly as the webhook does (linked with
#                libchatledger.a), then answers 200 without storing: "the
#                same server answering without storing".
# `chatledger webhook` does all that, then seals, appends, commits with
# fsync and only then answers 200.  Both are driven by wrk with a Lua script (written below)
# replaying pre-signed bodies, each with its own message id, so every request the
# webhook answers is a new record (deduplication hides no cost; the script
# checks that no body was sent twice and that every 200 is in the archive).
#
# Environment:
#   WH_SECONDS   duration of each wrk run (default 10)
#   WH_CONNS     concurrent connections, a list: one measurement each
#                (default "32 256")
#   WH_THREADS   wrk threads (default 2)
#   WH_BODIES    pre-signed bodies (default 300000; must exceed the
#                requests of one webhook run; baselines may replay them)
#   BENCH_DIR    scratch directory (default /tmp/chatledger-bench); works in
#                BENCH_DIR/webhook, recreated; removed unless BENCH_KEEP=1
#   CC           C compiler for the baselines (default cc)
#
# Prints both ratios per concurrency (against plain: target >= 0.5, issue 4;
# against parse-only: target >= 0.8, issue 16) and each server's CPU
# time per request, which does not depend on what else the machine runs; a
# missed target is MISS but not a failure.  Exit status is non-zero only if
# a command fails.
set -u

BUILD=${1:-build}
SECS=${WH_SECONDS:-10}
CONNS=${WH_CONNS:-32 256}
THREADS=${WH_THREADS:-2}
NBODIES=${WH_BODIES:-300000}
SCRATCH=${BENCH_DIR:-/tmp/chatledger-bench}
KEEP=${BENCH_KEEP:-0}
CC=${CC:-cc}
TARGET=0.5       # webhook / plain (issue 4)
TARGET_PARSE=0.8 # webhook / parse-only (issue 16)

die() {
	echo "bench webhook: ERROR: $*" >&2
	exit 2
}

for v in "$SECS" "$THREADS" "$NBODIES" $CONNS; do
	case $v in ''|*[!0-9]*|0) die "WH_* settings must be positive integers" ;; esac
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CL_SRC=$(cd "$BUILD" 2>/dev/null && pwd)/chatledger
[ -x "$CL_SRC" ] || die "no chatledger binary in '$BUILD' (run make first)"
for t in wrk python3 awk pkg-config; do
	command -v "$t" >/dev/null 2>&1 || die "'$t' is required"
done
pkg-config --exists libmicrohttpd || die "libmicrohttpd development files are required"

W=$SCRATCH/webhook
rm -rf "$W"
mkdir -p "$W/bin" || die "cannot create $W"
CL=$W/bin/chatledger
cp "$CL_SRC" "$CL" || die "cannot copy $CL_SRC"
server_pid=""
cleanup() {
	[ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null
	[ "$KEEP" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 2' INT TERM

calc() { awk "BEGIN { printf \"${2:-%.6f}\", $1 }"; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v + 0 >= t + 0) ? "PASS" : "MISS" }'; }
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?')

echo "chatledger webhook benchmark: ${SECS}s per run, connections: $CONNS," \
	"wrk threads $THREADS"
echo "host: $(uname -srm), $ncpu cpus, load average $(cut -d' ' -f1-3 /proc/loadavg)," \
	"scratch filesystem $(df -PT "$W" | awk 'NR == 2 { print $2 }')"
echo "binary: $CL_SRC ($("$CL" --version))"
echo

# ---- the baseline server ----------------------------------------------------
cat >"$W/baseline.c" <<'EOF'
/*
 * The benchmark baselines: libmicrohttpd in chatledger webhook's server
 * mode (thread pool, same timeout and limits), printing its port and
 * running until SIGTERM.
 *   plain:          reads each body and answers 200; checks and stores
 *                   nothing.
 *   -DPARSE_ONLY:   does what the webhook does before storing (HMAC check
 *                   in constant time, cl_cloudapi_import_body, and
 *                   cl_record_parse of every record), then answers 200;
 *                   stores nothing.  Secret in $BENCH_SECRET.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <microhttpd.h>
#ifdef PARSE_ONLY
#include <sodium.h>
#include "archiver/sources/cloudapi.h"
#include "archiver/ingest/record.h"
#include "common/buf.h"

static const char *secret;

static int on_record(void *ctx, const char *json, size_t len)
{
	struct cl_record r;
	char *err = NULL;
	int rc = cl_record_parse(json, len, &r, &err);

	(void)ctx;
	cl_record_release(&r);
	free(err);
	return rc == 5 /* CL_EINVAL: would be quarantined */ ? 0 : rc;
}

static int on_bad(void *ctx, uint64_t item, const unsigned char *data,
		  size_t len, const char *reason)
{
	(void)ctx; (void)item; (void)data; (void)len; (void)reason;
	return 0;
}

static unsigned check(struct MHD_Connection *c, const struct cl_buf *b)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    "X-Hub-Signature-256");
	unsigned char want[32], got[32];
	struct cl_import_sink sink;
	size_t glen = 0;
	uint64_t n = 0;
	char *err = NULL;
	int rc;

	if (h == NULL || strncmp(h, "sha256=", 7) != 0 ||
	    sodium_hex2bin(got, 32, h + 7, 64, NULL, &glen, NULL) != 0 || glen != 32)
		return 401;
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, b->data, b->len);
	crypto_auth_hmacsha256_final(&st, want);
	if (sodium_memcmp(want, got, 32) != 0)
		return 401;
	memset(&sink, 0, sizeof(sink));
	sink.record = on_record;
	sink.bad = on_bad;
	rc = cl_cloudapi_import_body((const char *)b->data, b->len, &sink, &n, &err);
	free(err);
	return rc == 0 ? 200 : 400;
}
#endif

static void on_done(void *cls, struct MHD_Connection *c, void **state,
		    enum MHD_RequestTerminationCode toe)
{
	(void)cls; (void)c; (void)toe;
#ifdef PARSE_ONLY
	if (*state) {
		cl_buf_release(*state);
		free(*state);
	}
#endif
	*state = NULL;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c,
				 const char *url, const char *method,
				 const char *version, const char *data,
				 size_t *size, void **state)
{
	static char ok[] = "ok\n";
	struct MHD_Response *r;
	enum MHD_Result ret;
	unsigned status = 200;

	(void)cls; (void)url; (void)method; (void)version; (void)data;
	if (*state == NULL) {
#ifdef PARSE_ONLY
		struct cl_buf *b = malloc(sizeof(*b));

		if (b == NULL)
			return MHD_NO;
		cl_buf_init(b, 1u << 20);
		*state = b;
#else
		*state = ok;
#endif
		return MHD_YES;
	}
	if (*size) {
#ifdef PARSE_ONLY
		if (cl_buf_add(*state, data, *size) != 0)
			return MHD_NO;
#endif
		*size = 0;
		return MHD_YES;
	}
#ifdef PARSE_ONLY
	status = check(c, *state);
#endif
	r = MHD_create_response_from_buffer(3, ok, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

int main(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned pool = n < 2 ? 2u : n > 16 ? 16u : (unsigned)n;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *i;
	sigset_t s;
	int sig;

#ifdef PARSE_ONLY
	secret = getenv("BENCH_SECRET");
	if (secret == NULL || sodium_init() < 0)
		return 2;
#endif
	sigemptyset(&s);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGINT);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME,
			     0, NULL, NULL, on_access, NULL,
			     MHD_OPTION_THREAD_POOL_SIZE, pool,
			     MHD_OPTION_CONNECTION_TIMEOUT, 10u,
			     MHD_OPTION_CONNECTION_LIMIT, 1024u,
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64u << 10),
			     MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
			     MHD_OPTION_END);
	if (d == NULL)
		return 2;
	i = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("{\"event\":\"listening\",\"address\":\"127.0.0.1:%u\"}\n",
	       (unsigned)i->port);
	fflush(stdout);
	while (sigwait(&s, &sig) != 0)
		;
	MHD_stop_daemon(d);
	return 0;
}
EOF
PKGS="libsodium libzstd jansson sqlite3 libcrypto inih libarchive libmicrohttpd"
# shellcheck disable=SC2046
$CC -O2 -pthread -o "$W/bin/baseline" "$W/baseline.c" \
	$(pkg-config --cflags --libs libmicrohttpd) || die "cannot compile the baseline"
LIB=$(cd "$BUILD" && pwd)/libchatledger.a
[ -f "$LIB" ] || die "no $LIB (run make first)"
# shellcheck disable=SC2046
$CC -O2 -std=c17 -D_GNU_SOURCE -DPARSE_ONLY -pthread -I"$ROOT" \
	-o "$W/bin/baseline-parse" "$W/baseline.c" "$LIB" \
	$(pkg-config --cflags --libs $PKGS) -lm || die "cannot compile the parse-only baseline"

# ---- the wrk script ------------------------------------------------------------
# Thread k of n sends the bodies on lines k, k+n, k+2n... of bodies.tsv,
# each once; if a thread runs out it starts again and counts it ("wrapped").
cat >"$W/webhook.lua" <<'EOF'
local threads, count = {}, 0

function setup(thread)
	thread:set("id", count)
	count = count + 1
	table.insert(threads, thread)
end

function init(args)
	local nth = tonumber(args[1])
	sigs, bodies, n, i, wrapped = {}, {}, 0, 0, 0
	local k = 0
	for line in io.lines(args[2]) do
		if k % nth == id then
			local s, b = line:match("^(%x+)\t(.*)$")
			n = n + 1
			sigs[n] = "sha256=" .. s
			bodies[n] = b
		end
		k = k + 1
	end
end

function request()
	i = i + 1
	if i > n then
		i = 1
		wrapped = wrapped + 1
	end
	return wrk.format("POST", nil, { ["Content-Type"] = "application/json",
		["X-Hub-Signature-256"] = sigs[i] }, bodies[i])
end

function done(summary, latency, requests)
	local w = 0
	for _, t in ipairs(threads) do
		w = w + t:get("wrapped")
	end
	io.write(string.format("wrapped %d\n", w))
	io.write(string.format("latency-ms p50 %.3f p99 %.3f\n",
		latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
EOF

# ---- archive, secrets, bodies ------------------------------------------------
SECRET='bench app secret 5f0c7e1d'
printf 'bench passphrase\n' >"$W/pass"
printf '%s\n' "$SECRET" >"$W/secret"
printf 'bench verify token\n' >"$W/token"
chmod 600 "$W/pass" "$W/secret" "$W/token"

# One line per body: hex HMAC-SHA256 (the X-Hub-Signature-256 value), a
# tab, the body (one text message, Cloud API envelope, unique wamid).
python3 - "$NBODIES" "$SECRET" >"$W/bodies.tsv" <<'PY' || die "cannot generate bodies"
import hashlib, hmac, json, sys
n, key = int(sys.argv[1]), sys.argv[2].encode()
out = sys.stdout
for i in range(n):
    c = i % 500
    body = {"object": "whatsapp_business_account", "entry": [{"id": "880480571844883",
        "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "85230000000",
                         "phone_number_id": "409552778964973"},
            "contacts": [{"profile": {"name": "Customer %d" % c}, "wa_id": "8529%07d" % c}],
            "messages": [{"from": "8529%07d" % c, "id": "wamid.BENCH%010d" % i,
                          "timestamp": str(1700000000 + i), "type": "text",
                          "text": {"body": "benchmark message number %d" % i}}]}}]}]}
    b = json.dumps(body, separators=(",", ":")).encode()
    out.write(hmac.new(key, b, hashlib.sha256).hexdigest() + "\t" + b.decode() + "\n")
PY
echo "bodies: $NBODIES pre-signed, $(wc -c <"$W/bodies.tsv" | tr -d ' ') bytes"
echo

# start NAME CMD...: start a server that prints {"event":"listening",...}
# on stdout; sets server_pid and URL.
start() {
	sname=$1
	shift
	"$@" >"$W/$sname.out" 2>"$W/$sname.err" &
	server_pid=$!
	port=""
	i=0
	while [ -z "$port" ] && [ "$i" -lt 200 ]; do
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.05
		port=$(sed -n 's/^{"event":"listening","address":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' \
			"$W/$sname.out")
		i=$((i + 1))
	done
	[ -n "$port" ] || { sed 's/^/  | /' "$W/$sname.err" >&2; die "$sname did not start"; }
	URL="http://127.0.0.1:$port/webhook"
}

# cpu_ms: CPU time (user + system) the server has used so far, in ms.
TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
cpu_ms() {
	# Fields after the parenthesised command name: utime is the 12th, stime the 13th.
	sed 's/^.*) //' "/proc/$server_pid/stat" |
		awk -v t="$TCK" '{ printf "%.0f", ($12 + $13) * 1000 / t }'
}

stop() {
	kill -TERM "$server_pid"
	wait "$server_pid"
	stop_rc=$?
	server_pid=""
	[ "$stop_rc" -eq 0 ] || die "server exited $stop_rc after SIGTERM"
}

# load NAME CONNS: run wrk; sets RPS, N2XX, BAD, WRAPPED, P50, P99.
load() {
	wrk -t"$THREADS" -c"$2" -d"${SECS}s" --latency -s "$W/webhook.lua" "$URL" \
		-- "$THREADS" "$W/bodies.tsv" >"$W/$1.wrk" 2>&1 || die "wrk failed ($1)"
	RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$W/$1.wrk")
	total=$(awk '/requests in/ { print $1 }' "$W/$1.wrk")
	BAD=$(awk '/Non-2xx or 3xx responses:/ { print $5 }' "$W/$1.wrk")
	BAD=${BAD:-0}
	ERRS=$(awk '/Socket errors:/ { print }' "$W/$1.wrk")
	N2XX=$((total - BAD))
	WRAPPED=$(awk '/^wrapped / { print $2 }' "$W/$1.wrk")
	P50=$(awk '/^latency-ms / { print $3 }' "$W/$1.wrk")
	P99=$(awk '/^latency-ms / { print $5 }' "$W/$1.wrk")
	[ -n "$RPS" ] && [ -n "$WRAPPED" ] || { cat "$W/$1.wrk" >&2; die "cannot read wrk's output ($1)"; }
}

status_field() {
	"$CL" status -a "$1" --json | sed "s/.*\"$2\":\([0-9]*\).*/\1/"
}

# measure NAME CONNS CMD...: start a server, load it, stop it; sets RPS,
# N2XX, P50, P99, CPU (server cpu us per 2xx answer) and the wrk figures.
measure() {
	mname=$1
	mconns=$2
	shift 2
	start "$mname" "$@"
	c0=$(cpu_ms)
	load "$mname" "$mconns"
	c1=$(cpu_ms)
	stop
	CPU=$(calc "($c1 - $c0) * 1000 / ($N2XX > 0 ? $N2XX : 1)" %.0f)
	[ "$BAD" -eq 0 ] || die "$mname answered $BAD requests with non-2xx (see $W/$mname.*)"
}

line() { # line LABEL
	printf '    %-44s %8.0f req/s  p50 %8s ms  p99 %8s ms  cpu %5s us/req\n' \
		"$1" "$RPS" "$P50" "$P99" "$CPU"
	[ -z "$ERRS" ] || echo "      wrk: $ERRS"
}

SUMMARY=""
run=0
for C in $CONNS; do
	run=$((run + 1))
	echo "== $C connections"
	measure "baseline$run" "$C" "$W/bin/baseline"
	line "baseline: read body, 200, nothing else"
	B_RPS=$RPS
	B_CPU=$CPU
	BENCH_SECRET=$SECRET measure "parse$run" "$C" "$W/bin/baseline-parse"
	line "baseline: HMAC + import + record check, 200"
	P_RPS=$RPS
	P_CPU=$CPU

	A=$W/archive$run
	"$CL" init -a "$A" --origin bench.example/webhook --passphrase-file "$W/pass" \
		--kdf interactive >/dev/null || die "init failed"
	sync
	# Every wrk connection comes from 127.0.0.1, as from a reverse proxy:
	# lift the per-address limit (64 by default) to the total.
	measure "webhook$run" "$C" "$CL" webhook -a "$A" --listen 127.0.0.1:0 \
		--app-secret-file "$W/secret" --verify-token-file "$W/token" --json \
		--max-connections-per-address 1024
	line "chatledger webhook: all that + store + fsync"
	# Baselines may replay bodies; the webhook must not (dedup is cheaper).
	[ "$WRAPPED" -eq 0 ] || die "bodies were reused ($WRAPPED times): raise WH_BODIES"
	records=$(status_field "$A" records)
	commits=$(sed -n 's/.*"commits":\([0-9]*\).*/\1/p' "$W/webhook$run.out")
	# Requests cut off when wrk stopped may have been stored unanswered.
	[ "$records" -ge "$N2XX" ] ||
		die "only $records records in the archive for $N2XX answers 200"
	printf '    archive: %s records for %s answers 200, %s durable commits (%.1f records/commit)\n' \
		"$records" "$N2XX" "$commits" "$(calc "$records / ($commits > 0 ? $commits : 1)" %.1f)"
	"$CL" verify -a "$A" >"$W/verify$run.out" 2>&1 || die "verify failed: $(cat "$W/verify$run.out")"
	echo "    verify: $(head -n 1 "$W/verify$run.out")"
	R=$(calc "$RPS / $B_RPS" %.3f)
	V=$(verdict "$R" "$TARGET")
	R2=$(calc "$RPS / $P_RPS" %.3f)
	V2=$(verdict "$R2" "$TARGET_PARSE")
	echo "    ratio webhook / plain baseline         = $R  (target >= $TARGET: $V)"
	echo "    ratio webhook / parse-only baseline    = $R2  (target >= $TARGET_PARSE: $V2)"
	SUMMARY="$SUMMARY$(printf '%-6s %9.0f %9.0f %9.0f %7s %-4s %7s %-4s %6s %6s %6s' \
		"$C" "$RPS" "$B_RPS" "$P_RPS" "$R" "$V" "$R2" "$V2" "$CPU" "$B_CPU" "$P_CPU")
"
	rm -rf "$A"
	echo
done

echo "== summary: requests/s; cpu = server CPU microseconds per request (load-independent)"
printf '%-6s %9s %9s %9s %7s %-4s %7s %-4s %6s %6s %6s\n' conns webhook plain parse \
	"w/plain" "" "w/parse" "" "cpu-w" "cpu-pl" "cpu-pa"
printf '%s' "$SUMMARY"
