#!/bin/sh
# tests/deb.sh [OUTDIR]: scripts/test's deb stage. Builds the Debian
# packages (debian/) with dpkg-buildpackage -us -uc -b in a copy of the
# source tree, runs lintian on them (no errors allowed), extracts each with
# dpkg -x into a temporary root, checks what each holds (and does not),
# and runs what they install from that root: the vigil command, the shared
# library through its header and pkg-config file, the Python package.
# The .debs are kept in OUTDIR (build/debs by default).
#
# The copy has no .git, so the packages' vigil says the release alone, as
# a package built from a tarball does.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
out=${1:-$root/build/debs}

say() {
	printf 'deb: %s\n' "$*" >&2
}
fail() {
	say "$*"
	exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vigil-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# the tree without the build directories and git's
mkdir "$tmp/src"
tar -C "$root" --exclude=./build --exclude='./build-*' --exclude=./.git \
	--exclude='./obj-*' -cf - . | tar -C "$tmp/src" -xf -

say "dpkg-buildpackage -us -uc -b (log: $out/build.log)"
rm -rf "$out" && mkdir -p "$out"
if ! (cd "$tmp/src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1; then
	tail -n 40 "$out/build.log" >&2
	fail "dpkg-buildpackage failed"
fi
cp "$tmp"/*.deb "$tmp"/*.changes "$tmp"/*.buildinfo "$out/"

version=$(cd "$tmp/src" && dpkg-parsechangelog -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)

say "lintian"
# lintian refuses nothing as root, but says so on stderr
lintian --fail-on error --info "$out/vigil_${version}_${arch}.changes" >"$out/lintian.txt" 2>&1 || {
	cat "$out/lintian.txt" >&2
	fail "lintian reports errors"
}
grep '^E:' "$out/lintian.txt" >&2 && fail "lintian reports errors"

# extract PACKAGE: its files in $tmp/root/PACKAGE, and its list in
# $tmp/PACKAGE.list (paths from /, files and links, no directories)
extract() {
	deb="$out/${1}_${version}_${arch}.deb"
	[ -f "$deb" ] || fail "no package $1 ($deb)"
	mkdir -p "$tmp/root/$1"
	dpkg -x "$deb" "$tmp/root/$1"
	(cd "$tmp/root/$1" && find . ! -type d | sed 's|^\.||' | sort) >"$tmp/$1.list"
}

# has PACKAGE PATH...: PACKAGE holds each PATH
has() {
	p=$1
	shift
	for f; do
		grep -qxF "$f" "$tmp/$p.list" || fail "$p does not hold $f; it holds:
$(cat "$tmp/$p.list")"
	done
}

# holds_no PACKAGE REGEX: no path of PACKAGE matches REGEX
holds_no() {
	if grep -E "$2" "$tmp/$1.list" >&2; then
		fail "$1 holds the above, which it must not"
	fi
}

for p in vigil libvigil0 libvigil-dev python3-vigil; do
	extract "$p"
done
# the only packages built: these four and their debug symbols
built=$(cd "$out" && ls -- *.deb | sed 's/_.*//' | grep -v -- '-dbgsym$' | sort | tr '\n' ' ')
[ "$built" = "libvigil-dev libvigil0 python3-vigil vigil " ] || fail "packages built: $built"

say "contents"
has vigil /usr/bin/vigil \
	/usr/share/man/man1/vigil.1.gz /usr/share/man/man1/vigil-wait.1.gz \
	/usr/share/man/man1/vigil-stats.1.gz /usr/share/man/man1/vigil-run.1.gz \
	/usr/share/man/man1/vigil-usage.1.gz /usr/share/man/man5/vigil-rules.5.gz \
	/usr/share/bash-completion/completions/vigil \
	/usr/share/zsh/vendor-completions/_vigil \
	/usr/share/fish/vendor_completions.d/vigil.fish \
	/usr/lib/systemd/system/vigil-run@.service \
	/usr/share/doc/vigil/copyright /usr/share/doc/vigil/README.Debian \
	/usr/share/doc/vigil/examples/photos.ini \
	/usr/share/doc/vigil/examples/python/vigil_watch.py
# every example, and every man page meson installs
for f in $(cd examples && find . -type f | sed 's|^\./||'); do
	has vigil "/usr/share/doc/vigil/examples/$f"
done
for f in man/*.[0-9]; do
	n=${f#man/}
	has vigil "/usr/share/man/man${n##*.}/$n.gz"
done
holds_no vigil '/(inotifywait|inotifywatch)$|^/usr/local/|\.so|^/usr/include/'
grep -q '^ExecStart=/usr/bin/vigil ' "$tmp/root/vigil/usr/lib/systemd/system/vigil-run@.service" ||
	fail "the unit does not start /usr/bin/vigil"

has libvigil0 "/usr/lib/$multiarch/libvigil.so.0"
holds_no libvigil0 '^/usr/(bin|include)/|/libvigil\.so$|\.pc$'
soname=$(objdump -p "$tmp/root/libvigil0/usr/lib/$multiarch/libvigil.so.0" | awk '$1 == "SONAME" { print $2 }')
[ "$soname" = libvigil.so.0 ] || fail "libvigil0's library has the soname '$soname'"

has libvigil-dev /usr/include/vigil.h "/usr/lib/$multiarch/libvigil.so" \
	"/usr/lib/$multiarch/pkgconfig/vigil.pc"
holds_no libvigil-dev '^/usr/bin/|\.so\.'

has python3-vigil /usr/lib/python3/dist-packages/vigil/__init__.py \
	/usr/lib/python3/dist-packages/vigil/pyinotify.py \
	/usr/lib/python3/dist-packages/vigil/inotify/adapters.py
grep -qE '^/usr/lib/python3/dist-packages/vigil/_vigil\.cpython-[0-9]+-.*\.so$' "$tmp/python3-vigil.list" ||
	fail "python3-vigil holds no extension module"
# no top-level inotify or pyinotify, nothing outside dist-packages and doc
holds_no python3-vigil '^/usr/lib/python3/dist-packages/(inotify|pyinotify)|^/usr/(bin|local)/|site-packages'

say "running what they install"
r=$tmp/root
v=$("$r/vigil/usr/bin/vigil" --version)
[ "$v" = "vigil $version" ] || fail "the packaged vigil --version says '$v', the package is $version"
# a real watch: vigil wait -m on a directory, a file created, the event
mkdir "$tmp/w"
"$r/vigil/usr/bin/vigil" wait -m -e create --format '%e %f' "$tmp/w" >"$tmp/events" 2>"$tmp/wait.err" &
pid=$!
n=0
until grep -q 'Watches established' "$tmp/wait.err" 2>/dev/null; do
	n=$((n + 1))
	[ $n -lt 600 ] || { kill "$pid"; fail "the packaged vigil wait did not set up its watch"; }
	sleep 0.1
done
: >"$tmp/w/new file"
n=0
until grep -qx 'CREATE new file' "$tmp/events"; do
	n=$((n + 1))
	[ $n -lt 600 ] || { kill "$pid"; fail "the packaged vigil wait did not report a file created: $(cat "$tmp/events")"; }
	sleep 0.1
done
kill "$pid"
wait "$pid" 2>/dev/null || true

# the library, through the header and the pkg-config file of libvigil-dev
cat >"$tmp/use.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <vigil.h>
int main(void)
{
	vigil *v;
	int rc = vigil_new(0, &v);
	if (rc < 0)
		return 2;
	vigil_free(v);
	printf("%s\n", vigil_version());
	return strncmp(vigil_version(), VIGIL_VERSION, strlen(VIGIL_VERSION)) != 0;
}
EOF
mkdir -p "$tmp/root/dev"
cp -a "$r/libvigil-dev/." "$r/libvigil0/." "$tmp/root/dev/"
flags=$(PKG_CONFIG_LIBDIR="$r/dev/usr/lib/$multiarch/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$r/dev" \
	pkg-config --cflags --libs vigil) || fail "pkg-config does not know vigil from libvigil-dev"
# shellcheck disable=SC2086 # the flags are words
cc -o "$tmp/use" "$tmp/use.c" $flags || fail "a program does not build against libvigil-dev ($flags)"
libv=$(LD_LIBRARY_PATH="$r/libvigil0/usr/lib/$multiarch" "$tmp/use") ||
	fail "a program linked with libvigil0 failed"
[ "$libv" = "$version" ] || fail "libvigil0's vigil_version() says '$libv', the package is $version"
# and it is libvigil0's library it ran with
LD_LIBRARY_PATH="$r/libvigil0/usr/lib/$multiarch" ldd "$tmp/use" |
	grep -qF "$r/libvigil0/usr/lib/$multiarch/libvigil.so.0" || fail "the program did not load libvigil0's library"

# the Python package, from the extracted root only, watching for real
PYTHONPATH="$r/python3-vigil/usr/lib/python3/dist-packages" PYTHONNOUSERSITE=1 \
	/usr/bin/python3 -I -c '
import os, sys
sys.path.insert(0, sys.argv[1])
import vigil
assert vigil.__file__.startswith(sys.argv[1]), vigil.__file__
assert vigil.__version__ == sys.argv[2], (vigil.__version__, sys.argv[2])
import vigil.inotify.adapters, vigil.pyinotify
d = sys.argv[3]
with vigil.Watcher(d, events="create") as w:
    open(os.path.join(d, "from python"), "w").close()
    ev = w.next(600)
    assert ev is not None and ev.name == "from python", ev
print("python3-vigil", vigil.__version__, "from", os.path.dirname(vigil.__file__))
' "$r/python3-vigil/usr/lib/python3/dist-packages" "$version" "$tmp/w" >&2 ||
	fail "the packaged Python module does not run"

say "ok: $(cd "$out" && ls -- *.deb | tr '\n' ' ')"
