#!/bin/sh
# tests/demo.sh - the main job on the embedded default: create a demo
# archive in ./demo-archive, ingest the bundled sample, verify it and
# print the signed checkpoint.  (`make demo`)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CHATLEDGER:-$ROOT/build/chatledger}
A=${DEMO_ARCHIVE:-$ROOT/demo-archive}
P="$A.passphrase"

rm -rf "$A" "$P"
# A demo passphrase, generated and kept beside the archive (0600).  A real
# deployment gives the officer's passphrase on a terminal prompt.
umask 077
head -c 18 /dev/urandom | base64 >"$P"
"$BIN" init -a "$A" --origin chatledger.example/demo --passphrase-file "$P" --kdf interactive
"$BIN" ingest -a "$A" --format jsonl "$ROOT/tests/data/demo.jsonl"
"$BIN" ingest -a "$A" --format jsonl "$ROOT/tests/data/demo.jsonl"
"$BIN" verify -a "$A"
echo "--- latest signed checkpoint (save it off-host; see SECURITY.md) ---"
"$BIN" checkpoint -a "$A"
echo "--- verifier key ---"
"$BIN" pubkey -a "$A"
echo "--- entry 3, decrypted with the officer's passphrase ($P) ---"
"$BIN" show -a "$A" --index 3 --passphrase-file "$P"
