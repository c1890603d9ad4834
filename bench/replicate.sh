#!/bin/sh
# bench/replicate.sh BUILD_DIR - replication throughput (issue 18): one
# `chatledger replicate` of N records (with attachments) into a local Ceph
# RGW with Object Lock (../shared/tools/rgw-local.sh), in entries/s and
# MB/s, against `aws s3 cp --recursive` of the same bytes (the segment
# objects, downloaded and re-uploaded as plain files) to the same RGW as
# the baseline, in one run.  Figures only: no pass/fail.
#   BENCH_REPL_N     records (default 20000)
#   BENCH_DIR        scratch directory (default /tmp/chatledger-bench)
set -u
BUILD=${1:-build}
N=${BENCH_REPL_N:-20000}
W=${BENCH_DIR:-/tmp/chatledger-bench}/replicate
CL=$(cd "$BUILD" 2>/dev/null && pwd)/chatledger
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RGW=$ROOT/../shared/tools/rgw-local.sh
die() { echo "bench replicate: ERROR: $*" >&2; exit 2; }
[ -x "$CL" ] || die "no chatledger binary in '$BUILD' (run make first)"
for b in radosgw ceph-mon aws; do command -v $b >/dev/null || die "$b not installed"; done
rm -rf "$W"; mkdir -p "$W"
RGW_PORT=${RGW_PORT:-27480}; MON_PORT=${MON_PORT:-27481}; export RGW_PORT MON_PORT
bash "$RGW" start "$W/rgw" >"$W/rgw.out" 2>&1 || die "rgw-local start failed"
trap 'bash "$RGW" stop "$W/rgw" >/dev/null 2>&1' EXIT INT TERM
eval "$(bash "$RGW" env "$W/rgw")"
A="aws --endpoint-url $S3_ENDPOINT_URL"
$A s3api create-bucket --bucket worm --object-lock-enabled-for-bucket >/dev/null
$A s3api create-bucket --bucket keys >/dev/null
$A s3api create-bucket --bucket plain >/dev/null
umask 077
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
	"$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$W/cred"
umask 022
printf 'bench passphrase\n' >"$W/pass"
"$CL" init -a "$W/a" --origin bench.example/repl --passphrase-file "$W/pass" --kdf interactive >/dev/null
python3 - "$W/r.jsonl" "$N" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        c = i % 200
        f.write(json.dumps({"account": "85290000001@s.whatsapp.net",
            "conversation": {"id": "8529%07d@s.whatsapp.net" % c, "type": "direct"},
            "id": "B%018d" % i, "sender": {"id": "8529%07d@s.whatsapp.net" % c},
            "direction": "in", "sent_at": "2025-01-01T10:00:00Z", "kind": "text",
            "source": "jsonl", "text": "benchmark message %d " % i * 4}) + "\n")
PY
python3 - "$W/chat.zip" <<'PY'
import sys, zipfile, os
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("_chat.txt", "".join("[3/27/22, 21:41:%02d] C: \u200e<attached: %08d-PHOTO-2022-03-27-21-41-%02d.jpg>\r\n" % (i % 60, i, i % 60) for i in range(100)))
    for i in range(100):
        z.writestr("%08d-PHOTO-2022-03-27-21-41-%02d.jpg" % (i, i % 60), os.urandom(100000))
PY
"$CL" ingest -a "$W/a" --format jsonl --batch 1000 "$W/r.jsonl" >/dev/null || die "ingest"
"$CL" ingest -a "$W/a" --format whatsapp-export --account 85290000001@s.whatsapp.net --self X "$W/chat.zip" >/dev/null || die "ingest zip"
printf '\n[replicate]\nurl = %s/worm/a\nkeys_url = %s/keys/a\ncredentials_file = %s\nretention_days = 1\n' \
	"$S3_ENDPOINT_URL" "$S3_ENDPOINT_URL" "$W/cred" >>"$W/a/chatledger.conf"
t0=$(date +%s.%N)
"$CL" replicate -a "$W/a" --json >"$W/rep.json" || die "replicate failed"
t1=$(date +%s.%N)
# The same bytes as files, uploaded by awscli to the same RGW.
mkdir -p "$W/objs"
$A s3 cp --recursive --quiet "s3://worm/a/seg/" "$W/objs/" || die "download"
t2=$(date +%s.%N)
$A s3 cp --recursive --quiet "$W/objs/" "s3://plain/copy/" || die "aws s3 cp"
t3=$(date +%s.%N)
python3 - "$W/rep.json" "$t0" "$t1" "$t2" "$t3" "$W/objs" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[1])); t0, t1, t2, t3 = map(float, sys.argv[2:6])
nbytes = sum(os.path.getsize(os.path.join(sys.argv[6], f)) for f in os.listdir(sys.argv[6]))
nfiles = len(os.listdir(sys.argv[6]))
rs, bs = t1 - t0, t3 - t2
print("replicate: %d entries, %d segments, %.1f MB in %.2f s: %.0f entries/s, %.2f MB/s"
      % (r["entries"], r["segments"], r["bytes"] / 1e6, rs, r["entries"] / rs, r["bytes"] / 1e6 / rs))
print("aws s3 cp (baseline, same %d objects, %.1f MB, no lock, no keys): %.2f s: %.2f MB/s"
      % (nfiles, nbytes / 1e6, bs, nbytes / 1e6 / bs))
print("ratio replicate/aws-cli throughput: %.2f" % ((r["bytes"] / rs) / (nbytes / bs)))
PY
