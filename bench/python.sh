#!/usr/bin/env bash
# bench/python.sh: vigil's Python package against the Python watchers people
# use, side by side in one run: vigil's own API, the vigil.inotify and
# vigil.pyinotify drop-ins, the inotify package, pyinotify and watchdog.
#
#   - the storm: N files created, written, closed and deleted (5 events
#     each) as fast as one thread can: how many events each delivered, and
#     the CPU it spent on them;
#   - the race: nested bursts (mkdir b/a/b/c one level at a time, a file
#     inside), watched recursively for IN_CREATE: how many of the paths each
#     reported, and how many twice.
#
# See bench/README.md ("Python"). Run with --help for options.

set -euo pipefail
prog=python.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<EOF
usage: bench/python.sh [--files N] [--bursts N] [--runs N] [--quick] [--no-install]
Measure vigil's Python package (its own API, vigil.inotify, vigil.pyinotify)
against the inotify package, pyinotify and watchdog, in the order A B C ...
each round: an event storm (CPU per event, events delivered) and nested
bursts (paths reported).

  --files N     files in the storm (default 40000: 200,000 events)
  --bursts N    bursts in the race (default 500: 2,500 paths)
  --runs N      rounds (default 3)
  --quick       4000 files, 100 bursts, 1 round, and --no-install: for CI
  --no-install  leave out the reference packages that are not installed
                (by default, as root, they are installed from Debian:
                python3-inotify, python3-pyinotify, python3-watchdog)

Environment: PYTHON (default /usr/bin/python3), BENCH_BUILD (the build with
build/python in it), BENCH_TMPFS=0 (do not use a private tmpfs), TMPDIR, CC.
EOF
}

args=("$@")
runs='' files='' bursts='' quick=0 install=1
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--runs) (($# > 1)) || die "option '--runs' needs a number"; runs=$(count --runs "$2"); shift ;;
	--files) (($# > 1)) || die "option '--files' needs a number"; files=$(count --files "$2"); shift ;;
	--bursts) (($# > 1)) || die "option '--bursts' needs a number"; bursts=$(count --bursts "$2"); shift ;;
	--quick) quick=1 install=0 ;;
	--no-install) install=0 ;;
	*) die "unknown argument '$1' (try '$prog --help')" ;;
	esac
	shift
done
if ((quick)); then
	: "${runs:=1}" "${files:=4000}" "${bursts:=100}"
else
	: "${runs:=3}" "${files:=40000}" "${bursts:=500}"
fi
((runs >= 1)) || die "--runs must be at least 1"
((files >= 1)) || die "--files must be at least 1"
((bursts >= 1)) || die "--bursts must be at least 1"

python=${PYTHON:-/usr/bin/python3}
pkg=$build/python
watch=$here/python_watch.py
[[ -x $python ]] || die "cannot run '$python' (set PYTHON)"
ext=$(compgen -G "$pkg/vigil/_vigil*.so" | head -n 1 || true)
if [[ -z $ext ]]; then
	# CI runs every script; a build without the package (-Dpython=disabled,
	# or no Python headers) has nothing here to measure
	((quick)) && { say "no vigil package in '$pkg' (not built): nothing to measure"; exit 0; }
	die "no vigil package in '$pkg': build it first (./scripts/bootstrap)"
fi
if grep -q -a __asan_init "$ext" 2>/dev/null; then
	# the sanitizer stage's build: its extension needs the sanitizer's
	# runtime preloaded, and its figures would say nothing
	say "'$ext' is built with sanitizers: nothing to measure here"
	exit 0
fi
PYTHONPATH=$pkg "$python" -c 'import vigil, vigil.inotify, vigil.pyinotify' ||
	die "'$python' cannot import vigil from '$pkg'"

# the reference packages, from Debian where missing (as root), else left out
declare -A module=([inotify]=inotify.adapters [pyinotify]=pyinotify [watchdog]=watchdog.observers.inotify)
declare -A deb=([inotify]=python3-inotify [pyinotify]=python3-pyinotify [watchdog]=python3-watchdog)
importable() { "$python" -W ignore -c "import ${module[$1]}" 2>/dev/null; }
missing=()
for t in inotify pyinotify watchdog; do
	importable "$t" || missing+=("${deb[$t]}")
done
if ((${#missing[@]})) && ((install)); then
	if [[ $EUID == 0 ]] && command -v apt-get >/dev/null; then
		say "installing ${missing[*]} (the packages vigil's is measured against)"
		export DEBIAN_FRONTEND=noninteractive
		{ apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
			{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; } >&2 ||
			say "could not install ${missing[*]}: left out"
	else
		say "not root (or no apt-get): ${missing[*]} left out"
	fi
fi
tools=(vigil vigil.inotify vigil.pyinotify)
for t in inotify pyinotify watchdog; do
	if importable "$t"; then tools+=("$t"); else say "$t: not installed (${deb[$t]}), left out"; fi
done

bench_namespace "${args[@]}"
bench_tmp
storm=$(helper storm)
burst=$(helper burst)
loadtime=$(helper loadtime)
out=$tmp/out
cd "$tmp" # watched by a relative name: the figures do not depend on where $tmp is
events=$((files * 5))
paths=$((bursts * 5))
need_watches $((bursts * 4 + 1))

# storm TOOL: EVENTS CPU_US STATUS
storm_run() {
	local r st
	rm -rf -- w && mkdir w
	r=$(PYTHONPATH=$pkg "$loadtime" --out "$out" "$storm" w "$files" -- \
		"$python" "$watch" "$1" count w) || die "$1: the storm run failed (see above)"
	read -r _ _ _ _ st _ <<<"$r"
	read -r ev cpu <"$out" || { ev=0 cpu=0; }
	echo "$ev $cpu $st"
}

# race TOOL: REPORTED MISSED TWICE
race_run() {
	rm -rf -- w && mkdir w
	PYTHONPATH=$pkg "$loadtime" --out "$out" "$burst" w "$bursts" -- \
		"$python" "$watch" "$1" paths w >/dev/null || die "$1: the race run failed (see above)"
	burst_paths "$out" "$bursts" w
}

say "python: storm of $files files ($events events), race of $bursts bursts ($paths paths), on $(fstype "$tmp"); $runs round(s) of: ${tools[*]}"
declare -A got=() cpu=() rate=() status=() rep=() missed=() twice=()
for ((round = 1; round <= runs; round++)); do
	for tool in "${tools[@]}"; do
		read -r e c st <<<"$(storm_run "$tool")" || exit
		r=$(awk -v e="$e" -v c="$c" 'BEGIN { printf "%.0f\n", (c > 0 ? e / (c / 1e6) : 0) }')
		got[$tool]+="$e " cpu[$tool]+="$c " rate[$tool]+="$r "
		[[ $st == ok ]] || status[$tool]=$st
		say "  round $round: $(printf '%-16s storm %7d of %d events, %8.3f s CPU, %9d events/CPU s%s' \
			"$tool" "$e" "$events" "$(awk -v c="$c" 'BEGIN { print c / 1e6 }')" "$r" "${st/#ok/}")"
		read -r g m t <<<"$(race_run "$tool")" || exit
		rep[$tool]+="$g " missed[$tool]+="$m " twice[$tool]+="$t "
		say "  round $round: $(printf '%-16s race  %7d of %d paths, %6d missed, %6d twice' "$tool" "$g" "$paths" "$m" "$t")"
	done
done

# --- the table --------------------------------------------------------------------

have() { [[ -n ${got[$1]:-} ]]; }
echo "Python watchers: a storm of $files files created, written, closed, deleted = $events events,"
echo "and $bursts nested bursts (mkdir b/a/b/c one level at a time, a file inside) = $paths paths"
machine
echo "median of $runs round(s), alternated; x inotify: events per CPU second over the inotify package's,"
echo "the median of each round's ratio. CPU: the watcher's, from ready to caught up (start-up left out)"
echo "  $python: $("$python" --version 2>&1); vigil $(PYTHONPATH=$pkg "$python" -c 'import vigil; print(vigil.__version__)') ($pkg)"
for t in inotify pyinotify watchdog; do
	have "$t" && echo "  ${deb[$t]}: $(dpkg-query -W -f='${Version}' "${deb[$t]}" 2>/dev/null || echo '?')"
done
echo
printf '%-16s %10s %8s %9s %11s %13s %11s %9s %8s %7s\n' tool delivered lost 'CPU s' 'us/event' 'events/CPU s' 'x inotify' 'race' missed twice
for tool in "${tools[@]}"; do
	# shellcheck disable=SC2086 # space-separated numbers
	{
		e=$(median ${got[$tool]})
		c=$(median ${cpu[$tool]})
		r=$(median ${rate[$tool]})
		lmin=$(printf '%s\n' ${got[$tool]} | sort -n | head -n 1)
		g=$(median ${rep[$tool]})
		m=$(median ${missed[$tool]})
		t=$(median ${twice[$tool]})
	}
	x=-
	have inotify && x=$(median_ratio "${rate[$tool]}" "${rate[inotify]}")
	us=$(awk -v c="$c" -v e="$e" 'BEGIN { if (e > 0) printf "%.2f", c / e; else print "-" }')
	lost=$((events - lmin))
	# watchdog's events are its own (see below): no count to lose from
	[[ $tool != watchdog ]] || lost=-
	note=
	[[ -z ${status[$tool]:-} ]] || note="  (ended by itself: ${status[$tool]})"
	printf '%-16s %10.0f %8s %9.3f %11s %13.0f %11s %9.0f %8.0f %7.0f%s\n' "$tool" "$e" \
		"$lost" "$(awk -v c="$c" 'BEGIN { print c / 1e6 }')" "$us" "$r" "$x" "$g" "$m" "$t" "$note"
	result "py_storm_delivered" "$tool" "$lmin"
	result "py_storm_rate" "$tool" "$r" "$x"
	result "py_race_reported" "$tool" "$g"
	result "py_race_twice" "$tool" "$t"
done
echo "  lost: in the worst round. watchdog counts its own events: created, modified, closed,"
echo "  deleted, and a modified event on the directory for each create and delete"
result py_storm_events - "$events"
result py_race_paths - "$paths"

echo
x_native=- x_drop=-
if have inotify; then
	x_native=$(median_ratio "${rate[vigil]}" "${rate[inotify]}")
	x_drop=$(median_ratio "${rate[vigil.inotify]}" "${rate[inotify]}")
fi
all=PASS race=PASS
for t in vigil vigil.inotify vigil.pyinotify; do
	# shellcheck disable=SC2086
	[[ $(printf '%s\n' ${got[$t]} | sort -n | head -n 1) == "$events" ]] || all=MISS
	# shellcheck disable=SC2086
	[[ $(median ${rep[$t]}) == "$paths" && $(median ${twice[$t]}) == 0 ]] || race=MISS
done
target() { # LABEL VALUE LIMIT: PASS, MISS, or - without the inotify package
	if [[ $2 == - ]]; then echo "$1: - (the inotify package is not installed)"
	elif awk -v a="$2" -v b="$3" 'BEGIN { exit !(a + 0 >= b + 0) }'; then echo "$1: $2x  PASS"
	else echo "$1: $2x  MISS"; fi
}
echo "targets"
echo "  every storm event delivered by all three vigil APIs: $all"
echo "  $(target 'native API >= 5x the inotify package (events per CPU s)' "$x_native" 5)"
echo "  $(target 'vigil.inotify >= 2x the inotify package' "$x_drop" 2)"
echo "  the race complete (every path, once) through all three: $race"
