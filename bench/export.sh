#!/bin/sh
# bench/export.sh BUILD_DIR [quick] - export benchmarks (issue 12), each a
# ratio against a baseline measured in the same run:
#   1. `chatledger export` of N messages (one tar bundle) against
#      `tar c | zstd` of the same plaintext records (target <= 3);
#   2. peak RSS of the bag writer streaming one 2 GiB native (bench/bag_stream;
#      quick: 256 MiB) against its RSS before the member (target: flat,
#      < 100 MB).  The ledger stores payloads up to 24 MiB (FORMAT.md §6.3),
#      so the 2 GiB figure is the bundle writer's, not an end-to-end export.
#   BENCH_EXPORT_N   messages (default 100000; quick 10000)
#   BENCH_DIR        scratch directory (default /tmp/chatledger-bench)
set -u
BUILD=${1:-build}
MODE=${2:-full}
N=${BENCH_EXPORT_N:-100000}
MIB=2048
[ "$MODE" = quick ] && { N=${BENCH_EXPORT_N:-10000}; MIB=256; }
W=${BENCH_DIR:-/tmp/chatledger-bench}/export
CL=$(cd "$BUILD" 2>/dev/null && pwd)/chatledger
[ -x "$CL" ] || { echo "bench export: no chatledger in $BUILD" >&2; exit 2; }
rm -rf "$W" && mkdir -p "$W" || exit 2
trap 'rm -rf "$W"' EXIT INT TERM
printf 'bench passphrase\n' >"$W/pass"
"$CL" init -a "$W/a" --origin bench.example/export --passphrase-file "$W/pass" --kdf interactive >/dev/null || exit 2
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) {
	conv = i % 50; day = 1 + int(i / 4000) % 28
	printf "{\"account\":\"85290000001@s.whatsapp.net\",\"conversation\":{\"id\":\"8529%07d@s.whatsapp.net\",\"type\":\"direct\"},\"id\":\"B%012d\",\"sender\":{\"id\":\"8529%07d\",\"name\":\"Customer %d\"},\"direction\":\"in\",\"sent_at\":\"2025-03-%02dT%02d:%02d:%02dZ\",\"kind\":\"text\",\"text\":\"benchmark message %d about an order of 100 shares\"}\n", conv, i, conv, conv, day, int(i/3600)%24, int(i/60)%60, i%60, i } }' >"$W/r.jsonl"
"$CL" ingest -a "$W/a" --format jsonl "$W/r.jsonl" >/dev/null || exit 2
python3 - "$CL" "$W" <<'PY' >"$W/rss" || exit 2
import resource, subprocess, sys, time
cl, w = sys.argv[1], sys.argv[2]
t = time.monotonic()
subprocess.run("tar c r.jsonl | zstd -q -c >/dev/null", shell=True, cwd=w, check=True)
tb = time.monotonic() - t
t = time.monotonic()
subprocess.run([cl, "export", "-a", w + "/a", "--out", w + "/b.tar", "--case", "BENCH",
                "--passphrase-file", w + "/pass"], check=True, stdout=subprocess.DEVNULL)
print("%.3f %.3f %d" % (time.monotonic() - t, tb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
PY
read -r te tb rss <"$W/rss"
python3 -c "
b = $tb; e = $te
print('bench export: %d messages: export %.2f s, tar|zstd of the plaintext %.3f s, ratio %.1f (target <= 3); export peak RSS %d KiB' % ($N, e, b, e / b if b > 0 else 0, $rss))"
# The floor: what writing the finished bundle durably and hashing it once
# (the payload manifest needs a SHA-256 of every byte) costs by itself,
# with cp + fsync and sha256sum, against the same baseline.  An export can
# not be faster than this floor, whatever it does to produce the bytes.
python3 - "$W" "$tb" "$N" <<'PY' || exit 2
import os, subprocess, sys, time
w, tb, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
size = os.path.getsize(w + "/b.tar")
plain = os.path.getsize(w + "/r.jsonl")
t = time.monotonic()
subprocess.run("cp b.tar copy.tar && sync copy.tar", shell=True, cwd=w, check=True)
tc = time.monotonic() - t
t = time.monotonic()
subprocess.run(["sha256sum", "b.tar"], cwd=w, check=True, stdout=subprocess.DEVNULL)
th = time.monotonic() - t
os.unlink(w + "/copy.tar")
print("bench export: the bundle is %.1f MB for %.1f MB of plaintext JSONL (%.0f B per message)"
      % (size / 1e6, plain / 1e6, size / n))
print("bench export: floor: writing it once with fsync %.3f s + sha256sum of it %.3f s = %.3f s, "
      "%.1f x tar|zstd" % (tc, th, tc + th, (tc + th) / tb if tb > 0 else 0))
PY
"$BUILD/bench/bag_stream" "$MIB" | sed 's/^/bench export: /'
