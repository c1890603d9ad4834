#!/bin/sh
# t105-collector-messages: `chatledger collect` receives, decrypts and
# archives messages the local peer encrypts with libsignal (1:1 pkmsg/msg,
# groups with sender keys, our own phone and another companion, edits,
# revokes, reactions, polls...), with a SIGKILL mid-stream, an offline
# replay with duplicates, a bad MAC and a missing sender key.  The checks
# are in collector_msgs_test.py (CL_LONG=1: 1,200 messages a run).
exec python3 "$(dirname "$0")/collector_msgs_test.py"
