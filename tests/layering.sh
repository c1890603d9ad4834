#!/bin/sh
# tests/layering.sh - check the library's layers and its "no I/O to the
# terminal" rule; run by `make analyze`.  Prints every violation as
# FILE:LINE: message and exits 1 if there is any.
#
# (a) Includes.  Layers, bottom up:
#       common/                  includes only common/
#       policy/                  includes only common/ and policy/
#       archiver/ledger/         includes only common/ and archiver/ledger/
#       archiver/ingest/         no archiver/sources/, archiver/wa/, cli/
#       archiver/, policy/       never cli/
#     An include is resolved against the including file's directory first,
#     then against the top directory (the build uses -I.); the generated
#     wa.pb-c.h belongs to archiver/wa/.
# (b) The libraries (archiver/, policy/, export/) never print, exit or read
#     the environment: outside comments and string literals there is no
#     printf, fprintf, vprintf, vfprintf, dprintf, puts, putchar, perror,
#     exit, _exit, _Exit, abort, getenv or secure_getenv call, and no use of
#     stdout or stderr (which catches fputs/fwrite/putc to them).  Formatting
#     into memory (snprintf, vsnprintf, asprintf, vasprintf) is fine.
#
# A line can opt out of (b) with a comment containing "layering: allow".
set -u
cd "$(dirname "$0")/.." || exit 2

fail=0
tmp=${TMPDIR:-/tmp}/cl-layering.$$
trap 'rm -f "$tmp"' EXIT INT TERM

# ---- (a) includes --------------------------------------------------------

find common policy archiver export -type f \( -name '*.c' -o -name '*.h' \) \
	2>/dev/null | sort >"$tmp"
# One awk over every file: resolve each #include "..." and apply the rules.
# shellcheck disable=SC2046
awk '
function exists(path,   r, l) {
	r = (getline l < path) >= 0
	close(path)
	return r
}
# Normalise a/b/../c to a/c and drop ./ components.
function norm(path,   a, n, i, k, s, out) {
	n = split(path, a, "/"); k = 0
	for (i = 1; i <= n; i++) {
		if (a[i] == "." || a[i] == "") continue
		if (a[i] == ".." && k > 0 && s[k] != "..") { k--; continue }
		s[++k] = a[i]
	}
	out = s[1]
	for (i = 2; i <= k; i++) out = out "/" s[i]
	return out
}
function layer(path,   a) {
	if (path == "wa.pb-c.h") return "archiver/wa"
	split(path, a, "/")
	if (a[1] == "archiver" && a[3] != "") return "archiver/" a[2]
	if (a[1] == "common" || a[1] == "policy" || a[1] == "cli" || a[1] == "export")
		return a[1]
	return "other"
}
# Why layer f may not include layer t ("" if it may).
function forbidden(f, t) {
	if (f == t || t == "other") return ""
	if (f == "common") return "common/ includes only common/"
	if (f == "policy")
		return t == "common" ? "" : "policy/ includes only common/"
	if (f == "archiver/ledger")
		return t == "common" ? "" : \
		    "archiver/ledger/ is the bottom layer: it includes only common/"
	if (f == "archiver/ingest" && (t == "archiver/sources" || t == "archiver/wa" || t == "cli"))
		return "archiver/ingest/ must not include " t "/"
	if (t == "cli") return "the library must not include cli/"
	return ""
}
FNR == 1 {
	dir = FILENAME; sub(/\/[^\/]*$/, "", dir)
	from = layer(FILENAME)
}
/^[ \t]*#[ \t]*include[ \t]*"/ {
	inc = $0
	sub(/^[^"]*"/, "", inc); sub(/".*$/, "", inc)
	target = exists(dir "/" inc) ? norm(dir "/" inc) : norm(inc)
	why = forbidden(from, layer(target))
	if (why != "") {
		printf "%s:%d: includes \"%s\": %s\n", FILENAME, FNR, inc, why
		bad = 1
	}
}
END { exit bad }
' $(cat "$tmp") || fail=1

# ---- (b) no printing, exiting or environment in the libraries ------------

# Print FILE:LINE:CODE for each line with comments and the contents of
# string and character literals removed.
strip_c() {
	awk '
	FNR == 1 { incom = 0 }
	{
		s = $0; out = ""; i = 1; n = length(s)
		while (i <= n) {
			c = substr(s, i, 1); c2 = substr(s, i, 2)
			if (incom) {
				if (c2 == "*/") { incom = 0; i += 2 } else i++
				continue
			}
			if (c2 == "/*") { incom = 1; i += 2; continue }
			if (c2 == "//") break
			if (c == "\"" || c == "\047") {
				q = c; out = out q; i++
				while (i <= n) {
					c = substr(s, i, 1)
					if (c == "\\") { i += 2; continue }
					i++
					if (c == q) break
				}
				out = out q
				continue
			}
			out = out c; i++
		}
		if (index(s, "layering: allow") == 0)
			print FILENAME ":" FNR ":" out
	}' "$@"
}

lib_files=$(find archiver policy export -type f \( -name '*.c' -o -name '*.h' \) \
	2>/dev/null | sort)
if [ -n "$lib_files" ]; then
	# shellcheck disable=SC2086
	strip_c $lib_files >"$tmp"
	id='[^A-Za-z0-9_]'
	calls='printf|fprintf|vprintf|vfprintf|dprintf|puts|putchar|perror|exit|_exit|_Exit|abort|getenv|secure_getenv'
	grep -E "^[^:]*:[0-9]+:(.*$id)?($calls)[[:space:]]*\\(|^[^:]*:[0-9]+:(.*$id)?(stdout|stderr)($id|\$)" \
		"$tmp" >"$tmp.io"
	if [ -s "$tmp.io" ]; then
		sed 's/^\([^:]*:[0-9]*\):[[:space:]]*/\1: prints, exits or reads the environment: /' \
			"$tmp.io"
		fail=1
	fi
	rm -f "$tmp.io"
fi

if [ "$fail" -ne 0 ]; then
	echo "layering: FAILED (rules in tests/layering.sh)" >&2
	exit 1
fi
echo "layering: ok"
