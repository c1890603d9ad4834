#!/bin/sh
# tests/demo.sh - the main job on the embedded default: create a demo
# archive in ./demo-archive, ingest the bundled sample, verify it and
# print the signed checkpoint; then an officer's day: the same customer
# arrives through a Cloud API webhook body and a WhatsApp chat export,
# the officer links the export's display name to the number, finds the
# customer across every source, exports the signed eDiscovery bundle, and
# the bundle is verified with sha256sum and openssl alone.  (`make demo`)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CHATLEDGER:-$ROOT/build/chatledger}
A=${DEMO_ARCHIVE:-$ROOT/demo-archive}
P="$A.passphrase"

D="$ROOT/tests/data"
BUNDLE="$A.bundle.tar"
rm -rf "$A" "$P" "$BUNDLE" "$A.bundle"
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

echo "--- an officer's day: one customer across sources ---"
"$BIN" ingest -a "$A" --format cloudapi "$D/demo-webhook.json"
"$BIN" ingest -a "$A" --format whatsapp-export --account 85290000001@s.whatsapp.net \
	--self "Agent Ben" --date-order dmy "$D/demo-export/WhatsApp Chat with Mr Chan.txt"
# The export names the customer as saved in the agent's phone; the
# officer confirms it is the same person and links it (a ledger entry).
"$BIN" party link -a "$A" "Mr Chan" "+852 9123 4567" \
	--note "customer confirmed his number by phone" --by demo-officer
"$BIN" party show -a "$A" "+852 9123 4567" --passphrase-file "$P"
"$BIN" search -a "$A" --party "+852 9123 4567" --text 貸款 --passphrase-file "$P"
"$BIN" export -a "$A" --party "+852 9123 4567" --case DEMO-1 --out "$BUNDLE" --passphrase-file "$P"
echo "--- the bundle, checked with standard tools only ---"
mkdir -p "$A.bundle"
tar -xf "$BUNDLE" -C "$A.bundle"
(cd "$A.bundle/EXPORT-DEMO-1" &&
	sha256sum -c --quiet manifest-sha256.txt && echo "manifest-sha256.txt: OK" &&
	sha256sum -c --quiet tagmanifest-sha256.txt && echo "tagmanifest-sha256.txt: OK" &&
	openssl cms -verify -binary -inform DER -in tagmanifest-sha256.txt.p7s \
		-content tagmanifest-sha256.txt -CAfile "$A/export.crt" -out /dev/null)
