#!/bin/sh
# bench/run.sh BUILD_DIR - chatledger benchmarks (`make bench`).
#
# Environment:
#   BENCH_N     records to generate (default 1000000)
#   BENCH_SEED  generator seed (default 20240601)
#   BENCH_K     prove calls per archive size (default 200)
#   BENCH_DIR   scratch directory (default /tmp/chatledger-bench); the run
#               works in BENCH_DIR/run, which it recreates
#   BENCH_KEEP  1 = keep BENCH_DIR/run afterwards (default: removed)
#   CC          C compiler for the helpers (default cc)
#
# Each benchmark prints its figures and a ratio against a baseline measured
# in the same run; a summary table comes last.  A target that is missed is
# reported as MISS but does not fail the run: the exit status is non-zero
# only when a command fails (chatledger, a helper, a baseline tool).
set -u

BUILD=${1:-build}
N=${BENCH_N:-1000000}
SEED=${BENCH_SEED:-20240601}
K=${BENCH_K:-200}
SCRATCH=${BENCH_DIR:-/tmp/chatledger-bench}
KEEP=${BENCH_KEEP:-0}
CC=${CC:-cc}
SMALL=1000
BENCH_SRC=$(cd "$(dirname "$0")" && pwd)

die() {
	echo "bench: ERROR: $*" >&2
	exit 2
}

case $N in ''|*[!0-9]*) die "BENCH_N must be a positive integer" ;; esac
case $K in ''|*[!0-9]*) die "BENCH_K must be a positive integer" ;; esac
[ "$N" -ge "$SMALL" ] || die "BENCH_N must be at least $SMALL"
[ "$K" -ge 1 ] || die "BENCH_K must be at least 1"
CL_SRC=$(cd "$BUILD" 2>/dev/null && pwd)/chatledger
[ -x "$CL_SRC" ] || die "no chatledger binary in '$BUILD' (run make first)"
for t in awk date sha256sum zstd du sync; do
	command -v "$t" >/dev/null 2>&1 || die "'$t' is required"
done

W=$SCRATCH/run
mkdir -p "$SCRATCH" || die "cannot create $SCRATCH"
rm -rf "$W"
mkdir -p "$W/bin" || die "cannot create $W"
SUMMARY=$W/summary
# Run a private copy, so a rebuild during the run cannot swap the binary.
CL=$W/bin/chatledger
cp "$CL_SRC" "$CL" || die "cannot copy $CL_SRC"
: >"$SUMMARY"
HAVE_TIME=0
[ -x /usr/bin/time ] && /usr/bin/time -f '%e' -o /dev/null true 2>/dev/null && HAVE_TIME=1

now() { date +%s.%N; }
# calc EXPR: awk arithmetic, printed with %.6f unless FMT given
calc() { awk "BEGIN { printf \"${2:-%.6f}\", $1 }"; }
fmt_int() { awk -v x="$1" 'BEGIN { printf "%.0f", x }'; }
human() {
	awk -v b="$1" 'BEGIN {
		split("B KiB MiB GiB TiB", u, " "); i = 1
		while (b >= 1024 && i < 5) { b /= 1024; i++ }
		printf (i == 1 ? "%d %s" : "%.2f %s"), b, u[i] }'
}
# verdict VALUE OP TARGET -> PASS/MISS (OP is >= or <=)
verdict() {
	awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
		ok = (op == ">=") ? (v + 0 >= t + 0) : (v + 0 <= t + 0)
		print ok ? "PASS" : "MISS" }'
}
# add_summary NAME OURS BASELINE RATIO TARGET VERDICT
add_summary() {
	printf '%s|%s|%s|%s|%s|%s\n' "$1" "$2" "$3" "$4" "$5" "$6" >>"$SUMMARY"
}
# apparent size in bytes of every file under a directory
dir_bytes() {
	if du -sb "$1" >/dev/null 2>&1; then
		du -sb "$1" | awk '{ print $1 }'
	else
		find "$1" -type f -exec wc -c {} + |
			awk '$2 != "total" { s += $1 } END { print s + 0 }'
	fi
}
file_bytes() { wc -c <"$1" | tr -d ' '; }

# timed NAME CMD... : run CMD with stdout/stderr in $W/NAME.out/.err;
# sets T_WALL (s) and, with /usr/bin/time, T_USER, T_SYS (s), T_RSS (KiB);
# dies unless the command exits 0.
timed() {
	tname=$1
	shift
	T_USER=- T_SYS=- T_RSS=-
	t_a=$(now)
	if [ "$HAVE_TIME" = 1 ]; then
		/usr/bin/time -f '%U %S %M' -o "$W/$tname.time" "$@" \
			>"$W/$tname.out" 2>"$W/$tname.err"
		t_rc=$?
	else
		"$@" >"$W/$tname.out" 2>"$W/$tname.err"
		t_rc=$?
	fi
	t_b=$(now)
	T_WALL=$(calc "$t_b - $t_a")
	if [ "$t_rc" -ne 0 ]; then
		echo "bench: '$*' exited $t_rc" >&2
		sed 's/^/  | /' "$W/$tname.err" | tail -n 20 >&2
		die "$tname failed"
	fi
	if [ "$HAVE_TIME" = 1 ]; then
		read -r T_USER T_SYS T_RSS <"$W/$tname.time" || true
	fi
}
cpu_note() {
	[ "$HAVE_TIME" = 1 ] && printf '    cpu: user %ss, sys %ss, max rss %s KiB\n' \
		"$T_USER" "$T_SYS" "$T_RSS"
	return 0
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?'; }

RUN_START=$(now)
echo "chatledger benchmarks: N=$N seed=$SEED K=$K scratch=$W"
echo "binary: $CL_SRC ($("$CL" --version 2>/dev/null || echo '?');" \
	"built $(date -r "$CL_SRC" '+%F %T' 2>/dev/null || echo '?'), sha256" \
	"$(sha256sum "$CL" | cut -c1-12)), run from a copy"
echo "host: $(uname -srm), $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') cpus," \
	"filesystem of scratch: $(df -PT "$W" 2>/dev/null | awk 'NR == 2 { print $2 }')," \
	"load average $(loadavg)"
echo

# ---- helpers ----------------------------------------------------------
SQLITE_FLAGS=$(pkg-config --cflags --libs sqlite3 2>/dev/null || echo -lsqlite3)
$CC -O2 -std=c11 -D_GNU_SOURCE -o "$W/bin/gen" "$BENCH_SRC/gen.c" ||
	die "cannot compile bench/gen.c"
# shellcheck disable=SC2086
$CC -O2 -std=c11 -D_GNU_SOURCE -o "$W/bin/baseline_sqlite" \
	"$BENCH_SRC/baseline_sqlite.c" $SQLITE_FLAGS ||
	die "cannot compile bench/baseline_sqlite.c"
# shellcheck disable=SC2086
$CC -O2 -std=c11 -D_GNU_SOURCE -o "$W/bin/floor_rows" \
	"$BENCH_SRC/floor_rows.c" $SQLITE_FLAGS ||
	die "cannot compile bench/floor_rows.c"
FLOOR_LIBS=$(pkg-config --cflags --libs jansson libsodium libzstd libcrypto 2>/dev/null ||
	echo -ljansson -lsodium -lzstd -lcrypto)
# shellcheck disable=SC2086
$CC -O2 -std=c11 -D_GNU_SOURCE -pthread -o "$W/bin/floor_cpu" \
	"$BENCH_SRC/floor_cpu.c" $FLOOR_LIBS ||
	die "cannot compile bench/floor_cpu.c"
DICT=$BENCH_SRC/../archiver/ledger/dict/payload-1.dict
[ -f "$DICT" ] || die "no payload dictionary at $DICT"
NCPU=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
case $NCPU in ''|*[!0-9]*|0) NCPU=1 ;; esac

# ---- 1. generator -------------------------------------------------------
echo "== 1. generator"
J=$W/records.jsonl
t_a=$(now)
"$W/bin/gen" "$N" "$SEED" >"$J" 2>"$W/gen.err" || { cat "$W/gen.err" >&2; die "generator failed"; }
t_b=$(now)
sed 's/^/    /' "$W/gen.err"
J_BYTES=$(file_bytes "$J")
J_LINES=$(wc -l <"$J" | tr -d ' ')
[ "$J_LINES" -eq "$N" ] || die "generator wrote $J_LINES lines, expected $N"
printf '    %s records, %s bytes (%s) in %.2fs\n' "$N" "$J_BYTES" "$(human "$J_BYTES")" \
	"$(calc "$t_b - $t_a")"
head -n "$SMALL" "$J" >"$W/small.jsonl" || die "head failed"
echo

# ---- 2. durable ingest ---------------------------------------------------
echo "== 2. durable ingest (--batch 1000) vs plain SQLite WAL+FULL, 1000 rows/txn"
printf 'bench passphrase\n' >"$W/pass"
chmod 600 "$W/pass"
A=$W/archive
timed init "$CL" init -a "$A" --origin bench.example/chatledger \
	--passphrase-file "$W/pass" --kdf interactive
sync
timed baseline "$W/bin/baseline_sqlite" "$W/baseline.db" "$J" 1000
grep -qx "$N rows" "$W/baseline.out" || die "baseline stored $(cat "$W/baseline.out"), expected $N rows"
B_WALL=$T_WALL
B_RATE=$(calc "$N / $B_WALL" %.1f)
B_DB=$(dir_bytes "$W/baseline.db")
[ -f "$W/baseline.db-wal" ] && B_DB=$((B_DB + $(file_bytes "$W/baseline.db-wal")))
printf '    baseline: %s rows in %.2fs = %s rows/s (db %s)\n' "$N" "$B_WALL" \
	"$(fmt_int "$B_RATE")" "$(human "$B_DB")"
cpu_note
rm -f "$W/baseline.db" "$W/baseline.db-wal" "$W/baseline.db-shm"
sync
timed ingest "$CL" ingest -a "$A" --format jsonl --batch 1000 "$J"
grep -qx "$N ingested, 0 duplicates skipped, 0 quarantined" "$W/ingest.out" ||
	die "ingest printed '$(cat "$W/ingest.out")', expected $N ingested"
I_WALL=$T_WALL
I_USER=$T_USER I_SYS=$T_SYS
I_RATE=$(calc "$N / $I_WALL" %.1f)
I_MB=$(calc "$J_BYTES / $I_WALL / 1048576" %.1f)
printf '    chatledger: %s records in %.2fs = %s records/s (%s MiB/s of JSONL)\n' \
	"$N" "$I_WALL" "$(fmt_int "$I_RATE")" "$I_MB"
cpu_note
R_INGEST=$(calc "$I_RATE / $B_RATE" %.3f)
V_INGEST=$(verdict "$R_INGEST" ">=" 0.5)
printf '    ratio chatledger/baseline = %s  (target >= 0.5: %s)\n' "$R_INGEST" "$V_INGEST"
add_summary "ingest records/s" "$(fmt_int "$I_RATE")" "$(fmt_int "$B_RATE")" \
	"$R_INGEST" ">= 0.5" "$V_INGEST"
A_BYTES_RAW=$(dir_bytes "$A")

# Floors: how fast could any ingest be that does the work every record
# needs, with these libraries on this machine?  Each is measured in this
# run; none of them is chatledger.
#   rows: the rows this archive holds for its records (entry, payload,
#         sealed_key, dedup, attr_index), inserted plainly (bench/floor_rows.c);
#   json: jansson parse + canonical dump, zstd -3 with the dictionary, and
#         the per-record crypto, on NCPU threads, nothing stored (floor_cpu.c);
#   seal: the same without the JSON step.
# With perfect overlap on NCPU CPUs, an ingest doing rows + json cannot
# take less than max(rows wall, json wall, (rows CPU + json CPU) / NCPU).
echo "    floors (same run; the work every record needs, nothing else):"
sync
timed floor-rows "$W/bin/floor_rows" "$A/ledger.db" "$W/floor.db" 1000 \
	entry payload sealed_key dedup attr_index
read -r _ _ FR_ROWS _ FR_WALL _ _ FR_CPU _ <"$W/floor-rows.out" ||
	die "floor_rows printed nothing"
rm -f "$W/floor.db" "$W/floor.db-wal" "$W/floor.db-shm"
timed floor-json "$W/bin/floor_cpu" "$DICT" "$J" "$NCPU" json
{ read -r _ _ FJ_WALL _ _ FJ_CPU _ && read -r size_line; } <"$W/floor-json.out" ||
	die "floor_cpu printed nothing"
printf '%s\n' "$size_line" >"$W/floor-json.out.size"
timed floor-seal "$W/bin/floor_cpu" "$DICT" "$J" "$NCPU" seal
read -r _ _ FS_WALL _ _ FS_CPU _ <"$W/floor-seal.out" || die "floor_cpu printed nothing"
# floor_line NAME WALL CPU: one floor's rate and ratio against the baseline
floor_line() {
	printf '      %-52s %8.2fs wall %8.2fs cpu = %9s rec/s, ratio %s\n' "$1" "$2" "$3" \
		"$(fmt_int "$(calc "$N / $2")")" "$(calc "$N / $2 / $B_RATE" %.3f)"
}
floor_line "rows: $FR_ROWS rows inserted plainly, 1000 records/txn" "$FR_WALL" "$FR_CPU"
floor_line "json: jansson + zstd -3 + crypto on $NCPU threads" "$FJ_WALL" "$FJ_CPU"
floor_line "seal: zstd -3 + crypto on $NCPU threads (no JSON)" "$FS_WALL" "$FS_CPU"
# combined FLOOR_WALL FLOOR_CPU -> the lower bound of the two overlapped
combined() {
	awk -v a="$FR_WALL" -v b="$1" -v c="$FR_CPU" -v d="$2" -v n="$NCPU" 'BEGIN {
		m = a; if (b > m) m = b; if ((c + d) / n > m) m = (c + d) / n
		printf "%.6f", m }'
}
F_ALL=$(combined "$FJ_WALL" "$FJ_CPU")
F_NOJSON=$(combined "$FS_WALL" "$FS_CPU")
R_FLOOR=$(calc "$N / $F_ALL / $B_RATE" %.3f)
R_FLOOR_NOJSON=$(calc "$N / $F_NOJSON / $B_RATE" %.3f)
floor_line "rows + json, overlapped on $NCPU CPUs (the floor)" "$F_ALL" "$(calc "$FR_CPU + $FJ_CPU")"
floor_line "rows + seal, overlapped (a JSON step costing nothing)" "$F_NOJSON" \
	"$(calc "$FR_CPU + $FS_CPU")"
printf '    chatledger reaches %s of its floor; CPU per record: chatledger %s us, floor %s us\n' \
	"$(calc "$R_INGEST / $R_FLOOR" %.3f)" \
	"$(awk -v u="$I_USER" -v s="$I_SYS" -v n="$N" 'BEGIN { if (u == "-") print "?"; else printf "%.1f", (u + s) / n * 1e6 }')" \
	"$(calc "($FR_CPU + $FJ_CPU) / $N * 1000000" %.1f)"
add_summary "ingest floor" "$(fmt_int "$(calc "$N / $F_ALL")") rec/s" "$(fmt_int "$B_RATE")" \
	"$R_FLOOR" "(bound)" "no-JSON $R_FLOOR_NOJSON"
echo

# ---- 3. full verify ------------------------------------------------------
echo "== 3. full verify vs sha256sum of the stored files"
if command -v sqlite3 >/dev/null 2>&1; then
	sqlite3 "$A/ledger.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >"$W/ckpt.out" 2>&1 ||
		{ cat "$W/ckpt.out" >&2; die "sqlite3 wal_checkpoint failed"; }
	echo "    WAL checkpointed with the sqlite3 CLI ($(cat "$W/ckpt.out"))"
else
	echo "    note: no sqlite3 CLI; the WAL (if any) is not checkpointed and is counted as stored bytes"
fi
set -- "$A/ledger.db"
[ -s "$A/ledger.db-wal" ] && set -- "$@" "$A/ledger.db-wal"
V_BYTES=0
for f in "$@"; do V_BYTES=$((V_BYTES + $(file_bytes "$f"))); done
cat "$@" >/dev/null
timed verify "$CL" verify -a "$A"
grep -q '^OK: ' "$W/verify.out" || die "verify did not print OK: $(cat "$W/verify.out")"
sed -n '1p' "$W/verify.out" | grep -q "^OK: $N entries ($N records" ||
	die "verify counted other than $N records: $(sed -n 1p "$W/verify.out")"
V_WALL=$T_WALL
V_RATE=$(calc "$V_BYTES / $V_WALL" %.1f)
printf '    verify: %s in %.2fs = %s MiB/s, %s entries/s\n' "$(human "$V_BYTES")" "$V_WALL" \
	"$(calc "$V_RATE / 1048576" %.1f)" "$(fmt_int "$(calc "$N / $V_WALL")")"
sed 's/^/      | /' "$W/verify.out"
cpu_note
timed sha256 sha256sum "$@"
S_WALL=$T_WALL
S_RATE=$(calc "$V_BYTES / $S_WALL" %.1f)
printf '    sha256sum: %s in %.2fs = %s MiB/s\n' "$(human "$V_BYTES")" "$S_WALL" \
	"$(calc "$S_RATE / 1048576" %.1f)"
R_VERIFY=$(calc "$V_RATE / $S_RATE" %.3f)
V_VERIFY=$(verdict "$R_VERIFY" ">=" 1.0)
printf '    ratio verify/sha256sum = %s  (target >= 1.0: %s)\n' "$R_VERIFY" "$V_VERIFY"
add_summary "verify bytes/s" "$(calc "$V_RATE / 1048576" %.1f) MiB/s" \
	"$(calc "$S_RATE / 1048576" %.1f) MiB/s" "$R_VERIFY" ">= 1.0" "$V_VERIFY"
echo

# ---- 4. archive size -----------------------------------------------------
echo "== 4. archive size vs zstd -3 of the input JSONL"
A_BYTES=$(dir_bytes "$A")
zstd -3 -q -c "$J" >"$W/records.jsonl.zst" || die "zstd failed"
Z_BYTES=$(file_bytes "$W/records.jsonl.zst")
rm -f "$W/records.jsonl.zst"
R_SIZE=$(calc "$A_BYTES / $Z_BYTES" %.3f)
V_SIZE=$(verdict "$R_SIZE" "<=" 2.5)
printf '    archive dir: %s bytes (%s; %s as left by ingest); %.0f B/record\n' \
	"$A_BYTES" "$(human "$A_BYTES")" "$(human "$A_BYTES_RAW")" "$(calc "$A_BYTES / $N")"
for f in "$A"/*; do
	[ -f "$f" ] && printf '      | %12s  %s\n' "$(file_bytes "$f")" "${f##*/}"
done
printf '    input JSONL: %s; zstd -3: %s bytes (%s)\n' "$(human "$J_BYTES")" "$Z_BYTES" \
	"$(human "$Z_BYTES")"
printf '    archive/JSONL = %s; ratio archive/zstd = %s  (target <= 2.5: %s)\n' \
	"$(calc "$A_BYTES / $J_BYTES" %.3f)" "$R_SIZE" "$V_SIZE"
if command -v sqlite3 >/dev/null 2>&1; then
	sqlite3 "$A/ledger.db" "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC" \
		>"$W/dbstat.out" 2>/dev/null &&
		awk -F'|' -v n="$N" '{ printf "      | table/index %-20s %12d bytes %8.1f B/record\n", $1, $2, $2 / n }' "$W/dbstat.out"
fi
add_summary "archive size" "$(human "$A_BYTES")" "$(human "$Z_BYTES") (zstd -3)" \
	"$R_SIZE" "<= 2.5" "$V_SIZE"
# The floor: per-record erasure means each record is compressed on its own
# (floor_cpu's size line: canonical records, the dictionary, zstd -19 as
# the best case), and each record carries what its own key and its leaf's
# commitments need at the least: an AEAD tag (16), its wrapped key (32,
# without a tag of its own), key_hash, conv_tag and pt_hash (3 x 32), and
# the leaf's scalars (type 1, three times 3 x 8, kind ~5).  Nothing else
# (tree, chains, de-duplication, indexes, row overhead) is counted.
read -r _ ZM _ ZIN _ _ Z3 _ _ Z19 _ <"$W/floor-json.out.size" ||
	die "no size line from floor_cpu"
PER_REC_MIN=$((16 + 32 + 96 + 30))
Z_REC=$(calc "$Z_BYTES / $N" %.1f)
F_SIZE=$(calc "$Z19 + $PER_REC_MIN" %.1f)
printf '    floor (first %s records): canonical %s B, each compressed alone with the dictionary %s B (zstd -3), %s B (zstd -19)\n' \
	"$ZM" "$ZIN" "$Z3" "$Z19"
printf '      + %s B that per-record keys and the leaf need = %s B/record vs zstd -3 of the file %s B/record: ratio %s\n' \
	"$PER_REC_MIN" "$F_SIZE" "$Z_REC" "$(calc "$F_SIZE / $Z_REC" %.3f)"
add_summary "archive floor" "$F_SIZE B/rec" "$Z_REC B/rec" \
	"$(calc "$F_SIZE / $Z_REC" %.3f)" "(bound)" "-"
echo

# ---- 5. inclusion proofs ---------------------------------------------------
echo "== 5. inclusion proof: $K x 'prove --index I' at $SMALL vs $N entries"
A1=$W/archive-small
timed init-small "$CL" init -a "$A1" --origin bench.example/chatledger \
	--passphrase-file "$W/pass" --kdf interactive
timed ingest-small "$CL" ingest -a "$A1" --format jsonl --batch 1000 "$W/small.jsonl"
grep -qx "$SMALL ingested, 0 duplicates skipped, 0 quarantined" "$W/ingest-small.out" ||
	die "small ingest printed '$(cat "$W/ingest-small.out")'"

# The K calls per archive run in blocks that alternate between the two
# archives (and a start-up reference: `chatledger --version`), so that
# load from elsewhere on the machine falls on both sides alike.
awk -v n="$SMALL" -v k="$K" 'BEGIN { srand(1); for (i = 0; i < k; i++) print int(rand() * n) }' \
	>"$W/idx-small"
awk -v n="$N" -v k="$K" 'BEGIN { srand(2); for (i = 0; i < k; i++) print int(rand() * n) }' \
	>"$W/idx-big"
# prove_check ARCHIVE INDEX: one call whose output is checked
prove_check() {
	"$CL" prove -a "$1" --index "$2" >"$W/prove.out" 2>"$W/prove.err" ||
		{ cat "$W/prove.err" >&2; die "prove -a $1 --index $2 failed"; }
	if ! grep -q '^c2sp.org/tlog-proof@v1' "$W/prove.out" ||
		! grep -qx "index $2" "$W/prove.out"; then
		die "prove output is not a tlog-proof for index $2"
	fi
}
prove_check "$A1" "$(sed -n 1p "$W/idx-small")"
prove_check "$A" "$(sed -n 1p "$W/idx-big")"
# prove_block ARCHIVE|- IDXFILE FROM TO: adds the block's seconds to P_SUM
prove_block() {
	sed -n "${3},${4}p" "$2" >"$W/idx-block"
	p_a=$(now)
	if [ "$1" = - ]; then
		while read -r i; do
			"$CL" --version >/dev/null || die "chatledger --version failed"
		done <"$W/idx-block"
	else
		while read -r i; do
			"$CL" prove -a "$1" --index "$i" >/dev/null 2>"$W/prove.err" ||
				{ cat "$W/prove.err" >&2; die "prove -a $1 --index $i failed"; }
		done <"$W/idx-block"
	fi
	p_b=$(now)
	P_SUM=$(calc "$P_SUM + $p_b - $p_a")
}
BS=$(( (K + 7) / 8 ))
P_SMALL_SUM=0 P_BIG_SUM=0 P_START_SUM=0
from=1
while [ "$from" -le "$K" ]; do
	to=$((from + BS - 1))
	[ "$to" -le "$K" ] || to=$K
	P_SUM=$P_SMALL_SUM; prove_block "$A1" "$W/idx-small" "$from" "$to"; P_SMALL_SUM=$P_SUM
	P_SUM=$P_BIG_SUM; prove_block "$A" "$W/idx-big" "$from" "$to"; P_BIG_SUM=$P_SUM
	P_SUM=$P_START_SUM; prove_block - "$W/idx-big" "$from" "$to"; P_START_SUM=$P_SUM
	from=$((to + 1))
done
P_SMALL=$(calc "$P_SMALL_SUM / $K")
P_BIG=$(calc "$P_BIG_SUM / $K")
P_START=$(calc "$P_START_SUM / $K")
R_PROVE=$(calc "$P_BIG / $P_SMALL" %.3f)
V_PROVE=$(verdict "$R_PROVE" "<=" 3)
printf '    mean per call: %.2f ms at %s entries, %.2f ms at %s entries\n' \
	"$(calc "$P_SMALL * 1000")" "$SMALL" "$(calc "$P_BIG * 1000")" "$N"
printf '    process start-up alone (chatledger --version): %.2f ms per call; beyond it:' \
	"$(calc "$P_START * 1000")"
printf ' %.2f ms at %s, %.2f ms at %s\n' "$(calc "($P_SMALL - $P_START) * 1000")" "$SMALL" \
	"$(calc "($P_BIG - $P_START) * 1000")" "$N"
printf '    ratio at %s / at %s = %s  (target <= 3: %s)\n' "$N" "$SMALL" "$R_PROVE" "$V_PROVE"
add_summary "prove ms/call" "$(calc "$P_BIG * 1000" %.2f) @N" \
	"$(calc "$P_SMALL * 1000" %.2f) @$SMALL" "$R_PROVE" "<= 3" "$V_PROVE"
echo

# ---- summary ---------------------------------------------------------------
RUN_END=$(now)
echo "== summary (N=$N, total run $(calc "$RUN_END - $RUN_START" %.1f)s, load average now $(loadavg))"
awk -F'|' 'BEGIN {
	printf "%-18s %-22s %-26s %-8s %-8s %s\n", "benchmark", "chatledger",
	       "baseline", "ratio", "target", "result"
} {
	printf "%-18s %-22s %-26s %-8s %-8s %s\n", $1, $2, $3, $4, $5, $6
}' "$SUMMARY"

if [ "$KEEP" = 1 ]; then
	echo "scratch kept in $W"
else
	rm -rf "$W"
fi
exit 0
