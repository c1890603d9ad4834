#!/bin/sh
# t90-help-man: every command's --help and its manual page agree.
#
# For each command that `chatledger --help` lists:
#   - `chatledger CMD --help` (and -h) exits 0, prints "usage: " and the
#     usage on stdout and nothing on stderr;
#   - docs/man/chatledger-CMD.1 exists, its NAME names it, and its SYNOPSIS
#     section holds every usage line verbatim, one per line (the text after
#     "usage: ", and continuation lines without their leading spaces);
#   - `man -l` renders it without troff warnings (MANROFFOPT=-ww; skipped,
#     and counted and reported as skipped, not passed, when man is missing
#     or cannot render a trivial page);
#   - chatledger.1 refers to it.
# Also: chatledger.1 exists, renders and holds the top-level usage, and
# no docs/man/chatledger-*.1 page exists for a command that does not.
. "$(dirname "$0")/lib.sh"

MAN_DIR="$CL_ROOT/docs/man"

# usage_lines FILE: the usage lines of a --help output, one per line.
usage_lines() {
	awk 'NR == 1 { if (sub(/^usage: /, "")) { print; go = 1 }; next }
	     go && /^[ \t]/ { sub(/^[ \t]+/, ""); if ($0 != "") print; next }
	     { go = 0 }' "$1"
}

# synopsis PAGE: the lines of the SYNOPSIS section of a man page source.
synopsis() {
	awk '/^\.SH[ \t]/ { t = $0; sub(/^\.SH[ \t]+/, "", t); gsub(/"/, "", t)
	                    insec = (t == "SYNOPSIS"); next }
	     insec' "$1"
}

# man_ok: 0 if `man -l` works here (probed with a trivial page).
man_ok=1
if command -v man >/dev/null 2>&1; then
	printf '.TH PROBE 1\n.SH NAME\nprobe \\- probe\n' >"$T/probe.1"
	if MANPAGER=cat PAGER=cat MANWIDTH=80 man -l "$T/probe.1" >"$T/probe.out" 2>/dev/null &&
	    grep -q probe "$T/probe.out"; then
		man_ok=0
	fi
fi

# render NAME PAGE WANT: `man -l` renders PAGE, showing WANT, quietly.
render() {
	if [ "$man_ok" -ne 0 ]; then
		skip "$1" "man -l not available"
		return
	fi
	MANROFFOPT=-ww MANPAGER=cat PAGER=cat MANWIDTH=80 man -l "$2" >"$T/man.out" 2>"$T/man.err"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		notok "$1 (man -l exited $rc)"
		sed 's/^/#   /' "$T/man.err" | head -n 10
	elif grep -Eiq 'troff|warning|error' "$T/man.err"; then
		notok "$1 (diagnostics)"
		sed 's/^/#   /' "$T/man.err" | head -n 10
	elif ! grep -q "SYNOPSIS" "$T/man.out" || ! grep -Fq "$3" "$T/man.out"; then
		notok "$1 (rendered page lacks SYNOPSIS or '$3')"
	else
		ok "$1"
	fi
}

# ---- the command list ----------------------------------------------------

"$CHATLEDGER" --help >"$T/help" 2>"$T/help.err"
rc=$?
[ "$rc" -eq 0 ] && ok "chatledger --help exits 0" ||
	notok "chatledger --help exits 0 (exit $rc)"
awk '/^commands:$/ { go = 1; next } go && /^$/ { exit } go { print $1 }' \
	"$T/help" >"$T/cmds"
n=$(wc -l <"$T/cmds")
[ "$n" -gt 0 ] && ok "chatledger --help lists $n commands" ||
	notok "chatledger --help lists commands"

# ---- the overview page ---------------------------------------------------

page="$MAN_DIR/chatledger.1"
if [ -f "$page" ]; then
	ok "chatledger.1 exists"
	top=$(sed -n '1s/^usage: //p' "$T/help")
	synopsis "$page" >"$T/syn"
	if [ -n "$top" ] && grep -Fqx -- "$top" "$T/syn"; then
		ok "chatledger.1 SYNOPSIS holds '$top'"
	else
		notok "chatledger.1 SYNOPSIS holds '$top'"
	fi
	render "man -l renders chatledger.1" "$page" "chatledger"
else
	notok "chatledger.1 exists"
fi

# ---- each command ----------------------------------------------------------

while IFS= read -r cmd; do
	"$CHATLEDGER" "$cmd" --help >"$T/u.out" 2>"$T/u.err"
	rc=$?
	if [ "$rc" -eq 0 ]; then ok "$cmd --help exits 0"
	else notok "$cmd --help exits 0 (exit $rc)"; fi
	if [ -s "$T/u.err" ]; then notok "$cmd --help writes nothing to stderr"
	else ok "$cmd --help writes nothing to stderr"; fi
	if head -n 1 "$T/u.out" | grep -q "^usage: chatledger $cmd "; then
		ok "$cmd --help prints 'usage: chatledger $cmd ...'"
	else
		notok "$cmd --help prints 'usage: chatledger $cmd ...'"
		sed 's/^/#   /' "$T/u.out" | head -n 5
	fi
	"$CHATLEDGER" "$cmd" -h >"$T/h.out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && cmp -s "$T/u.out" "$T/h.out"; then
		ok "$cmd -h is the same as --help"
	else
		notok "$cmd -h is the same as --help (exit $rc)"
	fi
	usage_lines "$T/u.out" >"$T/usage"

	page="$MAN_DIR/chatledger-$cmd.1"
	if [ ! -f "$page" ]; then
		notok "docs/man/chatledger-$cmd.1 exists"
		continue
	fi
	ok "docs/man/chatledger-$cmd.1 exists"
	if grep -q "^chatledger\\\\-$cmd \\\\- ." "$page"; then
		ok "chatledger-$cmd.1 NAME is 'chatledger\\-$cmd \\- ...'"
	else
		notok "chatledger-$cmd.1 NAME is 'chatledger\\-$cmd \\- ...'"
	fi
	synopsis "$page" >"$T/syn"
	if [ ! -s "$T/usage" ]; then
		notok "$cmd --help gives a usage to compare"
	fi
	while IFS= read -r line; do
		if grep -Fqx -- "$line" "$T/syn"; then
			ok "chatledger-$cmd.1 SYNOPSIS holds '$line'"
		else
			notok "chatledger-$cmd.1 SYNOPSIS holds '$line'"
		fi
	done <"$T/usage"
	render "man -l renders chatledger-$cmd.1" "$page" "chatledger-$cmd"
	if grep -Fq "chatledger\\-$cmd (1)" "$MAN_DIR/chatledger.1" 2>/dev/null; then
		ok "chatledger.1 refers to chatledger-$cmd(1)"
	else
		notok "chatledger.1 refers to chatledger-$cmd(1)"
	fi
done <"$T/cmds"

# ---- no page without a command ---------------------------------------------

found=0
for page in "$MAN_DIR"/chatledger-*.1; do
	[ -f "$page" ] || continue
	found=1
	name=${page##*/chatledger-}
	name=${name%.1}
	if grep -Fqx -- "$name" "$T/cmds"; then
		ok "chatledger-$name.1 documents an existing command"
	else
		notok "chatledger-$name.1 documents a command that does not exist"
	fi
done
[ "$found" -eq 1 ] && ok "docs/man has command pages" ||
	notok "docs/man has command pages"

t_done
