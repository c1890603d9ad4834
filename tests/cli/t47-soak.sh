#!/bin/sh
# t47-soak: every kind of writer on one archive at once, with SIGKILLs
# (issue 10, acceptance 1).  For SOAK_SECONDS (default 45): the webhook
# receiving signed posts from a bounded client, `collect` linked to the
# local peer (tests/peer/peer.js), an ingest of SOAK_N records (default
# 20000), `retain` in a loop with a far-future --now and a policy that
# erases only the records labelled soak-erase, and `hold add` / `policy
# event` in a loop; every 1.5-4 s a random one of them is SIGKILLed and
# restarted.  Then verify exits 0 and every acknowledged item (HTTP 200
# post, ingested record, hold or event that exited 0) is present exactly
# once; every command runs under `timeout 300` and exit 124 fails.  The
# driver is soak.py; SOAK_SEED picks the kill schedule.
. "$(dirname "$0")/lib.sh"

SECS=${SOAK_SECONDS:-45}
N=${SOAK_N:-20000}
A="$T/a"
for tool in python3 timeout; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		notok "$tool is installed (needed by this test)"
		t_done
		exit 1
	fi
done
new_archive "$A"
printf 'soak app secret 0123456789abcdef\n' >"$T/secret"
printf 'verify-me-47\n' >"$T/token"
chmod 600 "$T/secret" "$T/token"
# N records, unique ids; one in four labelled for erasure.
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++)
	printf "{\"account\":\"85290000001@s.whatsapp.net\",\"conversation\":{\"id\":\"8529%07d@s.whatsapp.net\",\"type\":\"direct\"},\"id\":\"soak-%d\",\"sender\":{\"id\":\"8529%07d@s.whatsapp.net\"},\"direction\":\"in\",\"sent_at\":\"2021-01-01T00:00:00Z\",\"kind\":\"text\",\"text\":\"soak record %d\",\"labels\":[\"%s\"]}\n", i % 50, i, i % 50, i, (i % 4 == 0) ? "soak-erase" : "soak-keep" }' >"$T/in.jsonl"
cat >"$T/soak.policy" <<'POL'
[policy]
name = soak
default = keep
[rule soak-erase]
match.label = soak-erase
minimum = 0
clock = message
maximum = 1d
basis = test
confidence = verified
POL
python3 "$(dirname "$0")/soak.py" "$T" "$A" "$T/in.jsonl" "$N" "$T/soak.policy" "$SECS" >"$T/soak.out" 2>&1
rc=$?
grep -v -E '^[0-9]+ (passed, [0-9]+ failed|skipped)$' "$T/soak.out"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$T/soak.out" | tail -n 1)
s=$(sed -n 's/^\([0-9][0-9]*\) skipped$/\1/p' "$T/soak.out" | tail -n 1)
if [ -n "$line" ]; then
	t_pass=${line%% passed*}
	t_fail=${line#*, }; t_fail=${t_fail%% failed}
fi
t_skip=${s:-0}
[ "$rc" -eq 0 ] || [ "$t_fail" -gt 0 ] || notok "soak.py exits 0 (exit $rc)"
t_done
