#!/bin/sh
# t95-units: the example service files in config/systemd and the crontab
# lines in config/retain.crontab.  Every unit parses (systemd-analyze
# verify, when installed); the retain job has a start timeout; the webhook
# takes its secrets as credential files only; the cron jobs exit with
# chatledger's status; the checkpoint job writes a checkpoint that
# `verify --checkpoint` accepts; every unit is listed in config/README and
# the listening services have distinct addresses.
. "$(dirname "$0")/lib.sh"

U="$CL_ROOT/config/systemd"
CRON="$CL_ROOT/config/retain.crontab"

# unit_value FILE KEY: the values of KEY= in FILE, one per line.
unit_value() {
	sed -n "s/^$2=//p" "$1"
}

# unit_cmd FILE KEY: the command line of KEY= as a shell would run it
# under systemd, for units whose command leaves expansion to the shell
# ($$ -> $, %% -> %), with the installed binary replaced by the one
# under test.
unit_cmd() {
	unit_value "$1" "$2" | sed -e 's/\$\$/$/g' -e 's/%%/%/g' \
		-e "s|/usr/local/bin/chatledger|$CHATLEDGER|g"
}

# ---- every unit is documented, and the services can run together ---------
# An operator enables several of these at once: each unit must be named
# in config/README's list, and no two listening services may share an
# address (the defaults in the units and in chatledger.env.example).
for f in "$U"/*.service "$U"/*.timer; do
	b=${f##*/}
	grep -q "^  $b " "$CL_ROOT/config/README" && ok "config/README lists $b" ||
		notok "config/README does not list $b"
done
sed -n 's/^Environment=CHATLEDGER_[A-Z]*_LISTEN=//p' "$U"/*.service >"$T/listen"
sed -n 's/.* --listen \([0-9][0-9.:]*\).*/\1/p' "$U"/*.service >>"$T/listen"
sed -n 's/^CHATLEDGER_[A-Z]*_LISTEN=//p' "$CL_ROOT/config/chatledger.env.example" >"$T/listen.env"
[ "$(sort "$T/listen" | uniq -d)" = "" ] && [ "$(wc -l <"$T/listen")" -ge 4 ] &&
	ok "the units' listening addresses are distinct ($(sort "$T/listen" | tr '\n' ' '))" ||
	notok "listening addresses shared or missing: $(sort "$T/listen" | tr '\n' ' ')"
[ "$(sort "$T/listen.env" | uniq -d)" = "" ] && [ "$(wc -l <"$T/listen.env")" -ge 3 ] &&
	ok "chatledger.env.example's listening addresses are distinct" ||
	notok "chatledger.env.example shares an address: $(sort "$T/listen.env" | tr '\n' ' ')"

# ---- every unit parses ----------------------------------------------------
ls "$U"/*.service "$U"/*.timer >"$T/units" 2>/dev/null
n=$(wc -l <"$T/units")
[ "$n" -ge 6 ] && ok "six or more unit files ($n)" || notok "only $n unit files"
for f in chatledger-collect.service chatledger-webhook.service \
	chatledger-retain.service chatledger-retain.timer \
	chatledger-checkpoint.service chatledger-checkpoint.timer; do
	[ -f "$U/$f" ] && ok "$f exists" || notok "$f is missing"
done
if command -v systemd-analyze >/dev/null 2>&1; then
	# The units name /usr/local/bin/chatledger (make install); verify
	# copies that run the binary under test instead.
	mkdir "$T/units.d"
	for f in $(cat "$T/units"); do
		sed "s|/usr/local/bin/chatledger|$CHATLEDGER|g" "$f" >"$T/units.d/${f##*/}"
	done
	for f in "$T"/units.d/*; do
		name=${f##*/}
		if (cd "$T/units.d" && systemd-analyze verify --man=no "./$name") \
			>"$T/sa.out" 2>&1 && ! [ -s "$T/sa.out" ]; then
			ok "systemd-analyze verify $name"
		else
			notok "systemd-analyze verify $name"
			sed 's/^/#   /' "$T/sa.out" | head -n 10
		fi
	done
else
	skip "systemd-analyze verify of every unit" "systemd-analyze not installed"
fi

# ---- one environment file ------------------------------------------------
for f in $(cat "$T/units"); do
	case $f in *.timer) continue ;; esac
	if [ "$(unit_value "$f" EnvironmentFile)" = "-/etc/chatledger/chatledger.env" ]; then
		ok "${f##*/} reads /etc/chatledger/chatledger.env"
	else
		notok "${f##*/} does not read /etc/chatledger/chatledger.env"
	fi
	grep '^Exec' "$f" | grep -q -- ' -a \| --archive' && notok "${f##*/} names the archive on its command line" ||
		ok "${f##*/} takes the archive from CHATLEDGER_ARCHIVE"
done
grep -q '^CHATLEDGER_ARCHIVE=' "$CL_ROOT/config/chatledger.env.example" &&
	ok "the example environment file sets CHATLEDGER_ARCHIVE" ||
	notok "the example environment file lacks CHATLEDGER_ARCHIVE"

# ---- retain: a timeout, a visible status -----------------------------------
R="$U/chatledger-retain.service"
to=$(unit_value "$R" TimeoutStartSec)
case $to in
"" | infinity | 0) notok "retain service has a start timeout (got '$to')" ;;
*) ok "retain service has a start timeout ($to)" ;;
esac
[ "$(unit_value "$R" Type)" = oneshot ] && ok "retain service is a oneshot" || notok "retain service type"
# "-" before the command would ignore its exit status.
unit_value "$R" ExecStart | grep -q '^[-@:!+]*-' &&
	notok "retain ExecStart ignores its exit status" || ok "retain ExecStart keeps its exit status"
grep -q '^SuccessExitStatus=' "$R" && notok "retain service hides failures (SuccessExitStatus)" ||
	ok "retain service counts every non-zero exit as a failure"
grep -q '^Conflicts=chatledger-webhook.service' "$R" &&
	notok "retain stops the webhook (writers share the archive; no need)" ||
	ok "retain runs beside the webhook (the writer lock is per batch)"

# ---- webhook: secrets only as credential files ----------------------------
W="$U/chatledger-webhook.service"
unit_value "$W" ExecStart >"$T/wcmd"
for opt in app-secret-file verify-token-file access-token-file; do
	arg=$(tr ' ' '\n' <"$T/wcmd" | sed -n "/^--$opt\$/{n;p;}")
	case $arg in
	%d/*) ok "webhook --$opt is a credential file ($arg)" ;;
	*) notok "webhook --$opt is '$arg', not %d/NAME" ;;
	esac
	cred=${arg#%d/}
	grep -q "^LoadCredential\(Encrypted\)\?=$cred:" "$W" &&
		ok "webhook loads credential $cred" || notok "webhook does not load credential $cred"
done
grep -qi -- '--app-secret \|--verify-token \|--access-token \|secret=\|token=' "$T/wcmd" &&
	notok "webhook command line carries a secret value" ||
	ok "webhook command line carries no secret value"
grep -q '^Environment=.*\(SECRET\|TOKEN\)' "$W" &&
	notok "webhook environment carries a secret" || ok "webhook environment carries no secret"
[ "$(unit_value "$W" Restart)" = on-failure ] && ok "webhook Restart=on-failure" ||
	notok "webhook Restart is '$(unit_value "$W" Restart)'"
for h in ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes CapabilityBoundingSet= \
	SystemCallFilter=@system-service; do
	grep -q "^$h\$" "$W" && ok "webhook $h" || notok "webhook lacks $h"
done

# ---- the crontab ------------------------------------------------------------
grep -v '^#' "$CRON" | grep -q '|| *true\|||:\||| *:' &&
	notok "crontab hides failures with || true" || ok "crontab has no || true"
grep -v '^#' "$CRON" | grep '^[0-9*]' | grep -q '[^|]|[^|]' &&
	notok "crontab pipes a job's output (loses its status)" || ok "crontab uses no pipe"
# cron_cmd PATTERN: the command of the crontab line matching PATTERN (the
# five time fields dropped, "\%" turned back into "%").
cron_cmd() {
	grep "^[0-9*].*$1" "$CRON" | head -n 1 |
		sed -e 's/^[^ ]* [^ ]* [^ ]* [^ ]* [^ ]* //' -e 's/\\%/%/g'
}
mkdir "$T/bin" "$T/log"
cat >"$T/bin/chatledger-fake" <<'SH'
#!/bin/sh
echo "fake chatledger $*"
echo "fake chatledger: something failed" >&2
exit 3
SH
cat >"$T/bin/logger" <<SH
#!/bin/sh
echo "\$*" >>"$T/log/syslog"
SH
chmod +x "$T/bin/chatledger-fake" "$T/bin/logger"
cron_cmd 'chatledger retain' | sed -e "s|/usr/local/bin/chatledger|$T/bin/chatledger-fake|g" \
	-e "s|/var/log/chatledger|$T/log|g" >"$T/retain.cron"
[ -s "$T/retain.cron" ] && ok "crontab has a retain line" || notok "crontab has no retain line"
PATH="$T/bin:$PATH" CHATLEDGER_ARCHIVE="$T/none" sh -c "$(cat "$T/retain.cron")" >"$T/cron.mail" 2>&1
st=$?
[ "$st" -eq 3 ] && ok "crontab retain line exits with chatledger's status" ||
	notok "crontab retain line exits $st, want 3"
expect_grep "retain output reaches the log file" "fake chatledger retain --json" "$T/log/retain.log"
expect_grep "retain errors reach the log file" "something failed" "$T/log/retain.log"
expect_grep "a failed retain reaches syslog as user.err" "user.err.*status 3" "$T/log/syslog"
expect_grep "a failed retain produces output for cron to mail" "exit status 3" "$T/cron.mail"
# And a successful run is silent (cron mails nothing).
printf '#!/bin/sh\nexit 0\n' >"$T/bin/chatledger-fake"
PATH="$T/bin:$PATH" sh -c "$(cat "$T/retain.cron")" >"$T/cron.mail" 2>&1
st=$?
[ "$st" -eq 0 ] && ! [ -s "$T/cron.mail" ] && ok "a successful retain exits 0 silently" ||
	notok "successful retain: exit $st, output $(wc -c <"$T/cron.mail") bytes"

# ---- the checkpoint job -----------------------------------------------------
A="$T/archive"
new_archive "$A" example.com/chatledger/units && ok "archive for the checkpoint job" ||
	notok "init of the archive for the checkpoint job"
gen_records 20 >"$T/r.jsonl"
"$CHATLEDGER" ingest -a "$A" --format jsonl "$T/r.jsonl" >/dev/null 2>&1 ||
	notok "ingest into the checkpoint test archive"
C="$U/chatledger-checkpoint.service"
unit_cmd "$C" ExecStart >"$T/cp.cmd"
# Every "$" is meant for the shell: no ${VAR} or $VAR that systemd would
# expand first.
unit_value "$C" ExecStart | sed 's/\$\$//g' | grep -q '\$' &&
	notok "checkpoint ExecStart leaves a \$ for systemd to expand" ||
	ok "checkpoint ExecStart escapes every \$ for the shell"
mkdir "$T/saved"
today=$(date -u +%Y-%m-%d)
(export CHATLEDGER_ARCHIVE="$A" CHATLEDGER_CHECKPOINT_DIR="$T/saved"; eval "$(cat "$T/cp.cmd")") \
	>"$T/cp.out" 2>&1
st=$?
[ "$st" -eq 0 ] && ok "checkpoint job exits 0" || { notok "checkpoint job exits $st"; sed 's/^/#   /' "$T/cp.out"; }
F="$T/saved/$today.checkpoint"
[ -s "$F" ] && ok "checkpoint job wrote $today.checkpoint" || notok "no $today.checkpoint"
[ "$(sed -n 1p "$F" 2>/dev/null)" = example.com/chatledger/units ] && ok "saved checkpoint starts with the origin" ||
	notok "saved checkpoint's first line is '$(sed -n 1p "$F")'"
[ "$(sed -n 2p "$F" 2>/dev/null)" = 20 ] && ok "saved checkpoint covers the 20 entries" ||
	notok "saved checkpoint's size is '$(sed -n 2p "$F")'"
[ "$(ls -A "$T/saved" | wc -l)" -eq 1 ] && ok "no temporary file left" ||
	notok "left in the checkpoint directory: $(ls -A "$T/saved" | tr '\n' ' ')"
expect_exit "verify --checkpoint accepts the saved checkpoint" 0 \
	"$CHATLEDGER" verify -a "$A" --checkpoint "$F"
# A missing archive: non-zero status, nothing saved, no temporary file.
rm -f "$F"
(export CHATLEDGER_ARCHIVE="$T/none" CHATLEDGER_CHECKPOINT_DIR="$T/saved"; eval "$(cat "$T/cp.cmd")") \
	>"$T/cp.out" 2>&1
st=$?
[ "$st" -eq 2 ] && ok "checkpoint job fails with chatledger's status (2)" || notok "checkpoint job exits $st, want 2"
[ -z "$(ls -A "$T/saved")" ] && ok "a failed checkpoint job leaves nothing behind" ||
	notok "left behind: $(ls -A "$T/saved" | tr '\n' ' ')"
# The crontab's checkpoint line does the same.
cron_cmd 'chatledger checkpoint' | sed -e "s|/usr/local/bin/chatledger|$CHATLEDGER|g" \
	-e "s|/var/log/chatledger|$T/log|g" >"$T/cp.cron"
(CHATLEDGER_ARCHIVE="$A" CHATLEDGER_CHECKPOINT_DIR="$T/saved" PATH="$T/bin:$PATH" \
	sh -c "$(cat "$T/cp.cron")") >"$T/cp.out" 2>&1
st=$?
[ "$st" -eq 0 ] && ok "crontab checkpoint line exits 0" || notok "crontab checkpoint line exits $st"
expect_exit "verify --checkpoint accepts the crontab's checkpoint" 0 \
	"$CHATLEDGER" verify -a "$A" --checkpoint "$F"
(CHATLEDGER_ARCHIVE="$T/none" CHATLEDGER_CHECKPOINT_DIR="$T/saved" PATH="$T/bin:$PATH" \
	sh -c "$(cat "$T/cp.cron")") >"$T/cp.out" 2>&1
st=$?
[ "$st" -eq 2 ] && ok "crontab checkpoint line exits with chatledger's status (2)" ||
	notok "crontab checkpoint line exits $st, want 2"
t_done
