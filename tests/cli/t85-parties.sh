#!/bin/sh
# t85-parties: one customer, one identity.  A customer reached through a
# Cloud API webhook body, a WhatsApp chat export (by display name) and the
# bundled samples of every format: `party show` lists every conversation
# and identifier once the officer links the name to the number; a hold on
# "+852 9123 4567" keeps both sides of every conversation through a
# far-future retain, and without it they are erased; classification by
# --label and [labels]; every refusal with its exact message; retain
# --dry-run --list equals what the real run erases, and --report matches
# the tombstones.
. "$(dirname "$0")/lib.sh"

S="$CL_ROOT/../shared/samples"
POL="$T/erase-all.policy"
cat >"$POL" <<'P'
[policy]
name = t85-erase-after-1y
default = erase-after 1y
P

# Our own input: the same customer through two sources.
cat >"$T/hook.json" <<'J'
{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"85230001234","phone_number_id":"109000000000001"},"contacts":[{"profile":{"name":"Chan Tai Man"},"wa_id":"85291234567"}],"messages":[{"from":"85291234567","id":"wamid.t85-hook-1","timestamp":"1735722000","type":"text","text":{"body":"Hello, I would like a loan quote"}}]}}]}]}
J
mkdir -p "$T/exports"
cat >"$T/exports/WhatsApp Chat with Chan Tai Man.txt" <<'X'
02/01/2025, 10:00 - Chan Tai Man: Is my application approved?
02/01/2025, 10:05 - Lender: Your loan is approved: HK$50,000 at APR 28%
02/01/2025, 10:06 - Chan Tai Man: Thank you
X

setup() { # DIR: every format, plus our two inputs
	new_archive "$1"
	for f in "$S"/cloudapi-webhook/*.json; do
		"$CHATLEDGER" ingest -a "$1" --format cloudapi "$f" >/dev/null 2>&1
	done
	for f in "$S"/wecom-archive/*.json; do
		"$CHATLEDGER" ingest -a "$1" --format wecom --account wecom-corp "$f" >/dev/null 2>&1
	done
	for f in "$S"/whatsapp-export/*.txt; do
		"$CHATLEDGER" ingest -a "$1" --format whatsapp-export --account 85230001234 "$f" >/dev/null 2>&1
	done
	"$CHATLEDGER" ingest -a "$1" --format cloudapi "$T/hook.json" >/dev/null
	"$CHATLEDGER" ingest -a "$1" --format whatsapp-export --account 85230001234 --self Lender --date-order dmy \
		"$T/exports/WhatsApp Chat with Chan Tai Man.txt" >/dev/null
}

A="$T/a"; setup "$A"
check "samples ingested" [ "$("$CHATLEDGER" status -a "$A" --json | sed 's/.*"payloads":\([0-9]*\).*/\1/')" -gt 100 ]

# --- identifiers in any form name the same party.
for form in "+852 9123 4567" 85291234567 85291234567@s.whatsapp.net "tel:+85291234567" "91234567"; do
	expect_exit "party show '$form'" 0 "$CHATLEDGER" party show -a "$A" "$form" --json
	expect_grep "party show '$form': the webhook conversation" '"conversations":1,' "$T/out"
done

# Before the link, the export's chat is known only by the display name.
expect_exit "party show by display name" 0 "$CHATLEDGER" party show -a "$A" "Chan Tai Man" --json
expect_grep "display name: the export's chat (and the webhook's profile name)" '"conversations":2,' "$T/out"

# --- refusals, with their exact messages.
expect_exit "link of two unknown identifiers is refused" 2 "$CHATLEDGER" party link -a "$A" "+852 6000 0000" "Nobody Known"
expect_grep "link refusal message" "neither 'tel:+85260000000' nor 'Nobody Known' appears in any record\|neither '+852 6000 0000' nor 'Nobody Known' appears in any record; check the spelling, or give --allow-empty to link parties not seen yet" "$T/err"
expect_exit "a hold covering nothing is refused" 2 "$CHATLEDGER" hold add -a "$A" --case C0 --reason r --party "+852 6000 0000"
expect_grep "hold refusal message" "chatledger hold: the selectors cover no record now; check the spelling (\`chatledger party show ID\`), or give --allow-empty to hold a party not seen yet" "$T/err"
expect_exit "--allow-empty holds a party not seen yet" 0 "$CHATLEDGER" hold add -a "$A" --case C-future --reason "expected claimant" --party "+852 6000 0000" --allow-empty
expect_grep "the empty hold says it covers nothing now" "covers 0 records in 0 conversations" "$T/out"
expect_exit "a reversed range is refused" 2 "$CHATLEDGER" hold add -a "$A" --case C1 --reason r --party 85291234567 --from 2026-01-01 --to 2025-01-01
expect_grep "reversed range message" "chatledger hold: --from 2026-01-01T00:00:00.000Z is after --to 2025-01-01T00:00:00.000Z: the range covers nothing" "$T/err"
expect_exit "an --until in the past is refused" 2 "$CHATLEDGER" hold add -a "$A" --case C2 --reason r --party 85291234567 --until 2000-01-01
expect_grep "past --until message" "chatledger hold: --until 2000-01-01T00:00:00.000Z is already past: the hold would never be active" "$T/err"
expect_exit "an event beyond the clock is refused" 2 "$CHATLEDGER" policy event -a "$A" --subject 85291234567 --event relationship-ended --at 2099-01-01
expect_grep "future event message" "chatledger policy: --at 2099-01-01T00:00:00.000Z is more than a day ahead of this clock" "$T/err"
expect_exit "an event for an unknown subject is refused" 2 "$CHATLEDGER" policy event -a "$A" --subject "+852 6000 0000" --event relationship-ended --at 2025-06-01
expect_grep "unknown subject message" "chatledger policy: subject '+852 6000 0000' appears in no record; check the spelling" "$T/err"
expect_exit "an event for a business account covers its records" 0 "$CHATLEDGER" policy event -a "$A" --subject 85230001234 --event account-reviewed --at 2025-06-01
expect_grep "the account event says what it covers" "applies to [1-9][0-9]* records" "$T/out"
expect_exit "--allow-empty records that event" 0 "$CHATLEDGER" policy event -a "$A" --subject "+852 6000 0000" --event relationship-ended --at 2025-06-01 --allow-empty
expect_exit "a label covering nothing is refused" 2 "$CHATLEDGER" label add -a "$A" --label loan --party "+852 6000 0000"
expect_grep "label refusal message" "chatledger label: the selectors cover no record; check the spelling, or give --allow-empty" "$T/err"
expect_exit "unlinking what is not linked is refused" 2 "$CHATLEDGER" party unlink -a "$A" "Chan Tai Man" "+852 9123 4567"
expect_grep "unlink refusal message" "any:Chan Tai Man and tel:+85291234567 are not linked" "$T/err"

# --- the hold, placed BEFORE the link: resolution happens at evaluation.
expect_exit "hold on +852 9123 4567" 0 "$CHATLEDGER" hold add -a "$A" --case HCA-1/2026 --reason "writ served" --party "+852 9123 4567"
expect_grep "the hold says what it covers now" "covers 1 record in 1 conversation now" "$T/out"
expect_exit "officer links the export's display name to the number" 0 "$CHATLEDGER" party link -a "$A" "Chan Tai Man" "+852 9123 4567" --note "confirmed by phone call" --by "officer-1"
expect_grep "link prints both sides" "linked any:Chan Tai Man and tel:+85291234567" "$T/out"
expect_exit "linking again is refused" 2 "$CHATLEDGER" party link -a "$A" "+852 9123 4567" "Chan Tai Man"
expect_grep "already linked message" "are already linked" "$T/err"
expect_exit "party show after the link" 0 "$CHATLEDGER" party show -a "$A" "+852 9123 4567" --passphrase-file "$T/pass" --json
expect_grep "both conversations" '"conversations":2,' "$T/out"
expect_grep "the webhook conversation is listed" '"conversation":"85291234567"' "$T/out"
expect_grep "the export conversation is listed" '"source":"whatsapp-export"' "$T/out"
expect_grep "the number is an identifier" '"tel:+85291234567"' "$T/out"
expect_grep "the display name is an identifier" '"name:Chan Tai Man"' "$T/out"
check "the lender (staff) is not listed as the customer's identifier" sh -c "! grep -q '\"name:Lender\"' '$T/out'"
expect_exit "party list shows the link in clear with the passphrase" 0 "$CHATLEDGER" party list -a "$A" --passphrase-file "$T/pass"
expect_grep "party list" "officer .* any:Chan Tai Man <-> tel:+85291234567" "$T/out"
expect_exit "party list without the passphrase shows no identifier" 0 "$CHATLEDGER" party list -a "$A"
check "party list without passphrase is keyed hashes only" sh -c "! grep -q 'Chan Tai Man\|85291234567' '$T/out'"

expect_exit "policy explain --party" 0 "$CHATLEDGER" policy explain -a "$A" --party "+852 9123 4567" --policy "$POL" --now 2090-01-01
check "explain --party covers both conversations (4 records)" [ "$(grep -c '^entry ' "$T/out")" = 4 ]
expect_grep "explain --party: each is held" "keep (held), erase after .*, held" "$T/out"

# --- a far-future retain: the held conversations survive, both sides.
"$CHATLEDGER" ingest -a "$A" --format jsonl /dev/null >/dev/null
expect_exit "dry run with --list" 0 "$CHATLEDGER" retain -a "$A" --policy "$POL" --now 2090-01-01 --dry-run --list --json
python3 -c 'import json,sys; print("\n".join(str(x["index"]) for x in json.load(open(sys.argv[1]))["list"]))' "$T/out" | sort -n >"$T/dry.list"
expect_exit "dry run --list with the passphrase names conversation and party" 0 "$CHATLEDGER" retain -a "$A" --policy "$POL" --now 2090-01-01 --dry-run --list --passphrase-file "$T/pass"
expect_grep "the dry list names a conversation and a party" "conversation .*	party " "$T/out"
expect_exit "--passphrase-file without --dry-run --list is refused" 2 "$CHATLEDGER" retain -a "$A" --policy "$POL" --now 2090-01-01 --passphrase-file "$T/pass"
expect_exit "the real run" 0 "$CHATLEDGER" retain -a "$A" --policy "$POL" --now 2090-01-01 --list --json
python3 -c 'import json,sys; print("\n".join(str(x["index"]) for x in json.load(open(sys.argv[1]))["list"]))' "$T/out" | sort -n >"$T/real.list"
check "dry-run --list equals what the real run erased" cmp -s "$T/dry.list" "$T/real.list"
check "something was erased" [ -s "$T/real.list" ]
# Tombstones in the ledger name exactly the listed entries.
"$CHATLEDGER" leaves -a "$A" >"$T/leaves"
python3 - "$T/leaves" "$CL_ROOT/tests/verifier" >"$T/tomb.list" <<'PY'
import sys, json
sys.path.insert(0, sys.argv[2])
from verify import parse_leaf
out = []
for line in open(sys.argv[1]):
    lf = parse_leaf(bytes.fromhex(line.strip()), "leaf")
    if lf.type == 2:
        out.append(json.loads(lf.body)["erased"])
print("\n".join(str(x) for x in sorted(out)))
PY
check "the tombstones are the listed entries" cmp -s "$T/real.list" "$T/tomb.list"
expect_exit "retain --report" 0 "$CHATLEDGER" retain -a "$A" --report --json
python3 - "$T/out" "$T/leaves" "$CL_ROOT/tests/verifier" "$(wc -l <"$T/real.list")" <<'PY' && ok "the report's counts and ranges match the tombstones" || notok "the report's counts and ranges match the tombstones"
import sys, json
sys.path.insert(0, sys.argv[3])
from verify import parse_leaf
rep = json.load(open(sys.argv[1]))[-1]
leaves = [parse_leaf(bytes.fromhex(l.strip()), "leaf") for l in open(sys.argv[2])]
tomb = [i for i, lf in enumerate(leaves) if lf.type == 2]
inr = [i for a, b in rep["tombstone_ranges"] for i in range(a, b) if leaves[i].type == 2]
assert sorted(inr) == tomb, (inr, tomb)
assert rep["erased"] + rep["attachments"] == int(sys.argv[4]) == len(tomb), rep
assert sum(rep["per_rule"].values()) == rep["erased"] + rep["attachments"], rep
PY
expect_exit "status after the run" 0 "$CHATLEDGER" status -a "$A" --json
expect_grep "status counts the records no rule matched at the last run" '"retention":{"erased":[0-9]*,"held":[0-9]*,"last_run":"2090-01-01T00:00:00.000Z","no_rule":0,"policy":"t85-erase-after-1y","ran_at":"20[0-9][0-9]-[0-9-]*T[0-9:.]*Z"}' "$T/out"
expect_exit "status after the run, human" 0 "$CHATLEDGER" status -a "$A"
expect_grep "status gives when a --now run ran, and the time it decided as of" '^retention    last run 20[0-9-]*T[0-9:.]*Z (policy t85-erase-after-1y, deciding as of 2090-01-01T00:00:00.000Z): ' "$T/out"
expect_exit "retain --report, human" 0 "$CHATLEDGER" retain -a "$A" --report
expect_grep "report names the policy" "policy t85-erase-after-1y" "$T/out"
expect_grep "report gives the tombstone range" "tombstones in entries" "$T/out"

# Every record of both held conversations survives: search them by party.
expect_exit "party show after the retain" 0 "$CHATLEDGER" party show -a "$A" "+852 9123 4567" --passphrase-file "$T/pass" --json
expect_grep "all 4 held records remain (1 webhook, 3 export incl. the lender's)" '"records":4,' "$T/out"
expect_exit "verify after the retain" 0 "$CHATLEDGER" verify -a "$A"

# --- without the hold, the same records are erased per the profile.
B="$T/b"; setup "$B"
"$CHATLEDGER" party link -a "$B" "Chan Tai Man" "+852 9123 4567" >/dev/null
expect_exit "no hold: the far-future retain" 0 "$CHATLEDGER" retain -a "$B" --policy "$POL" --now 2090-01-01
expect_exit "no hold: party show" 0 "$CHATLEDGER" party show -a "$B" "+852 9123 4567" --json
expect_grep "no hold: nothing of the party remains" '"records":0,' "$T/out"

# --- unlink reverses the link: the export chat is no longer the party's.
expect_exit "unlink" 0 "$CHATLEDGER" party unlink -a "$A" "+852 9123 4567" "Chan Tai Man" --note "wrong person"
expect_exit "party show after unlink" 0 "$CHATLEDGER" party show -a "$A" "+852 9123 4567" --json
expect_grep "only the webhook conversation again" '"conversations":1,' "$T/out"

# --- classification: --label, [labels] and `label add`.
C="$T/c"; new_archive "$C"
printf '[labels]\n* = customer-communication\n85230001234 = loan\n' >>"$C/chatledger.conf"
"$CHATLEDGER" ingest -a "$C" --format cloudapi "$T/hook.json" >/dev/null
"$CHATLEDGER" ingest -a "$C" --format whatsapp-export --account 85230001234 --self Lender --date-order dmy --label enquiry \
	"$T/exports/WhatsApp Chat with Chan Tai Man.txt" >/dev/null
expect_exit "show a classified record" 0 "$CHATLEDGER" show -a "$C" --index 1 --passphrase-file "$T/pass"
expect_grep "[labels] * and the account's labels, and --label" '"labels":\["enquiry","customer-communication","loan"\]' "$T/out"
cat >"$T/labels.policy" <<'P'
[policy]
name = t85-labels
default = keep

[rule complaint]
match.label = complaint
minimum = 0
clock = message
maximum = 1y
basis = test rule
confidence = assumed
P
expect_exit "explain before the officer's label" 0 "$CHATLEDGER" policy explain -a "$C" --index 0 --policy "$T/labels.policy" --now 2090-01-01 --json
expect_grep "no rule before" '"reason":"no-rule"' "$T/out"
expect_exit "officer labels the party's conversations" 0 "$CHATLEDGER" label add -a "$C" --label complaint --party "+852 9123 4567" --note "complaint file 7"
expect_grep "label add says what it covers" "label 'complaint' given (entry [0-9]*): 1 record in 1 conversation" "$T/out"
expect_exit "explain after the label" 0 "$CHATLEDGER" policy explain -a "$C" --index 0 --policy "$T/labels.policy" --now 2090-01-01 --json
expect_grep "the rule applies now" '"rule":"complaint"' "$T/out"
expect_exit "label list" 0 "$CHATLEDGER" label list -a "$C"
expect_grep "label list shows it active" "complaint .* active" "$T/out"
expect_exit "label remove" 0 "$CHATLEDGER" label remove -a "$C" --label complaint --party "+852 9123 4567"
expect_exit "explain after removal" 0 "$CHATLEDGER" policy explain -a "$C" --index 0 --policy "$T/labels.policy" --now 2090-01-01 --json
expect_grep "no rule again" '"reason":"no-rule"' "$T/out"
expect_exit "removing again is refused" 2 "$CHATLEDGER" label remove -a "$C" --label complaint --party "+852 9123 4567"
expect_grep "remove refusal" "label 'complaint' is not given to these selectors" "$T/err"
expect_exit "verify the classified archive" 0 "$CHATLEDGER" verify -a "$C"

# --- the webhook classifies what arrives with [labels], as ingest does.
W="$T/w"; new_archive "$W"
printf '[labels]\n* = customer-communication\n109000000000001 = loan\n' >>"$W/chatledger.conf"
SECRET='t85 app secret 0123456789abcdef'
printf '%s\n' "$SECRET" >"$T/secret"; printf 'verify-t85\n' >"$T/token"; chmod 600 "$T/secret" "$T/token"
pid=""
A_SAVED="$A"; A="$W"
. "$(dirname "$0")/webhook-lib.sh"
start_server wh
check "webhook started" [ -n "$port" ]
expect_status "webhook: the body is stored" 200 "$(post "$T/hook.json")"
stop_server TERM
A="$A_SAVED"
expect_exit "show the webhook's record" 0 "$CHATLEDGER" show -a "$W" --index 0 --passphrase-file "$T/pass"
expect_grep "webhook: [labels] applied" '"labels":\["customer-communication","loan"\]' "$T/out"

# --- the shipped example configuration classifies every bundled sample:
# each built-in profile matches every record and conflicts with nothing.
D="$T/d"; new_archive "$D"
sed -n '/^\[labels\]/,/^\[/p' "$CL_ROOT/config/chatledger.conf.example" | sed '$d' >>"$D/chatledger.conf"
check "the example's [labels] section was copied" grep -q '^\* = customer-communication' "$D/chatledger.conf"
for f in "$S"/cloudapi-webhook/*.json; do
	"$CHATLEDGER" ingest -a "$D" --format cloudapi "$f" >/dev/null 2>&1
done
for f in "$S"/wecom-archive/*.json; do
	"$CHATLEDGER" ingest -a "$D" --format wecom --account wecom-corp "$f" >/dev/null 2>&1
done
for f in "$S"/whatsapp-export/*.txt; do
	"$CHATLEDGER" ingest -a "$D" --format whatsapp-export --account 85230001234 "$f" >/dev/null 2>&1
done
"$CHATLEDGER" ingest -a "$D" --format jsonl "$CL_ROOT/tests/data/demo.jsonl" >/dev/null 2>&1
for prof in "$CL_ROOT"/config/policies/*.policy; do
	name=$(basename "$prof" .policy)
	expect_exit "policy check $name over the samples" 0 "$CHATLEDGER" policy check -a "$D" --policy "$prof"
	expect_grep "$name: no conflict within the profile" " 0 conflicts" "$T/out"
	expect_grep "$name: every record matched by a rule" "records examined, 0 matched by no rule" "$T/out"
	check "$name: records were examined" sh -c "! grep -q ' 0 records examined' '$T/out'"
done

t_done
