#!/bin/sh
# Lint man pages: each PAGE given must format without a single warning.
#
#   sh man/lint.sh man/vigil.1 man/vigil-wait.1
#
# Every page is formatted by man-db and groff with all groff warnings on
# (what Debian's man-db and groff-base give), the way lintian checks pages;
# anything printed on stderr fails the page. When mandoc is installed, its
# linter must find nothing at WARNING level or above either.
# Exit status: 0 all clean, 1 a page has problems, 77 (meson: skipped) when
# man is not installed.

set -u

if [ $# -eq 0 ]; then
	echo "usage: $0 PAGE..." >&2
	exit 1
fi
if ! command -v man >/dev/null 2>&1; then
	echo "man-lint: 'man' (man-db) not found; skipping" >&2
	exit 77
fi

# Same rendering wherever it runs: locale, width, no pager.
LC_ALL=C.UTF-8
MANWIDTH=80
export LC_ALL MANWIDTH
unset MANOPT MANPAGER PAGER 2>/dev/null

tmp=$(mktemp) || exit 1
trap 'rm -f "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

status=0
fail() {
	status=1
	printf '%s: %s\n' "$page" "$1" >&2
}

for page in "$@"; do
	if [ ! -r "$page" ]; then
		fail "cannot read the page"
		continue
	fi
	if ! grep -q '^\.TH ' "$page" || ! grep -q '^\.SH NAME' "$page"; then
		fail "no .TH line or NAME section: not a man(7) page"
	fi

	# -Z: stop at troff's output, which goes away; warnings come on stderr.
	man --warnings=w -E UTF-8 -l -Tutf8 -Z "$page" >/dev/null 2>"$tmp"
	rc=$?
	if [ -s "$tmp" ] || [ $rc -ne 0 ]; then
		fail "man --warnings (exit status $rc):"
		sed 's/^/    /' "$tmp" >&2
	fi

	if command -v mandoc >/dev/null 2>&1; then
		mandoc -Tlint -Wwarning "$page" >"$tmp" 2>&1
		rc=$?
		if [ -s "$tmp" ] || [ $rc -ne 0 ]; then
			fail "mandoc -Tlint (exit status $rc):"
			sed 's/^/    /' "$tmp" >&2
		fi
	fi
done

if [ $status -eq 0 ]; then
	echo "man-lint: $# page(s) clean"
fi
exit $status
