#!/bin/sh
# t100-collector: `chatledger pair` and `chatledger collect` against the
# local WhatsApp protocol peer (tests/peer/peer.js), end to end over TLS
# WebSockets on loopback.  The checks are in collector_test.py.
exec python3 "$(dirname "$0")/collector_test.py"
