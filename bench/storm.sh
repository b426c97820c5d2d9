#!/usr/bin/env bash
# bench/storm.sh: what an event storm costs a watcher in CPU, and whether it
# loses events, for `vigil wait -m -r` against the floor (a bare read()
# loop) and `inotifywait -m -r` (and fswatch where installed).
#
# See bench/README.md for what the figures mean. Run with --help for options.

set -euo pipefail
prog=storm.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<EOF
usage: bench/storm.sh [--files N] [--runs N] [--quick]
Make N files (create, write, close, delete: 5 events each) in a watched
directory, and measure the watcher's CPU time (user + system) and the events
it reported, for vigil, the floor and inotifywait (fswatch where installed),
in the order A B A B ...

  --files N   files in the storm (default 200000: 1,000,000 events)
  --runs N    rounds (default 5)
  --quick     20000 files and 1 round, for CI (--files/--runs still apply)

Environment: VIGIL, INOTIFYWAIT, FSWATCH (a tool's path; "" leaves it out),
BENCH_TMPFS=0 (do not use a private tmpfs), TMPDIR, CC.
EOF
}

args=("$@")
runs='' files='' quick=0
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--runs) (($# > 1)) || die "option '--runs' needs a number"; runs=$(count --runs "$2"); shift ;;
	--files) (($# > 1)) || die "option '--files' needs a number"; files=$(count --files "$2"); shift ;;
	--quick) quick=1 ;;
	*) die "unknown argument '$1' (try '$prog --help')" ;;
	esac
	shift
done
if ((quick)); then
	: "${runs:=1}" "${files:=20000}"
else
	: "${runs:=5}" "${files:=200000}"
fi
((runs >= 1)) || die "--runs must be at least 1"
((files >= 1)) || die "--files must be at least 1"

bench_namespace "${args[@]}"
bench_tools
bench_tmp
storm=$(helper storm)
loadtime=$(helper loadtime)
floor_read=$(helper floor_read)
cd "$tmp" # watched by a relative name: the figures do not depend on where $tmp is
dir=storm
out=$tmp/out
mkdir "$dir"
expected=$((files * 5))

tools=(vigil floor)
[[ -z $inotifywait ]] || tools+=(inotifywait)
[[ -z $fswatch ]] || tools+=(fswatch)
[[ -z $watchman ]] || say "watchman: not measured (a server; see bench/README.md)"

# What vigil and inotifywait write for the whole storm, byte for byte: per
# file, "DIR/ EVENTS NAME\n" for CREATE, OPEN, MODIFY, CLOSE_WRITE,CLOSE and
# DELETE (39 bytes of event names), the names being s0, s1, ... Their output
# goes to /dev/null, as the figure is defined; the bytes they wrote there
# (/proc/PID/io) tell whether they reported every event.
expected_bytes=$(awk -v n="$files" -v d=${#dir} 'BEGIN {
	for (i = 0; i < n; i++) names += 1 + length(i "")
	printf "%d\n", n * (5 * (d + 4) + 39) + 5 * names }')

# run TOOL: one storm under TOOL; prints CPU_S REPORTED LOST STATUS STORM_WALL_S STORM_CPU_S
run() {
	local tool=$1 r user sys lines bytes status gevents gwall gcpu events lost
	local -a opts=() argv
	local to=/dev/null
	case $tool in
	vigil) argv=("$vigil" wait -m -r "$dir") ;;
	floor) argv=("$floor_read" --count "$expected" "$dir") to=$out ;;
	inotifywait) argv=("$inotifywait" -m -r "$dir") ;;
	fswatch)
		# no ready line: ready when it holds its watch; it writes through
		# stdio, so line-buffer it, or what it printed last dies with it;
		# it reads once per --latency (1 s), so wait longer for calm. One
		# line per event, the path alone: counted, not checked.
		opts=(--watches 1 --settle 2500)
		argv=(stdbuf -oL "$fswatch" -r "$dir") to=$out ;;
	esac
	r=$("$loadtime" --out "$to" "${opts[@]}" "$storm" "$dir" "$files" -- "${argv[@]}") ||
		die "$tool: the run failed (see above)"
	read -r user sys lines bytes status _ gevents gwall gcpu <<<"$r"
	((gevents == expected)) || die "the storm made $gevents events, not $expected"
	case $tool in
	floor) read -r events _ <"$out" ;; # EVENTS OVERFLOWS USER_US SYS_US
	fswatch) events=$lines ;;
	*)
		# all there, or short by so many lines of the average length
		if ((bytes == expected_bytes)); then
			events=$expected
		else
			events=$(awk -v b="$bytes" -v eb="$expected_bytes" -v e="$expected" \
				'BEGIN { printf "%d\n", b / (eb / e) + 0.5 }')
			say "  $tool wrote $bytes bytes, not $expected_bytes"
		fi ;;
	esac
	lost=$((expected > events ? expected - events : 0))
	if [[ $tool != floor && $tool != fswatch ]] && ((bytes != expected_bytes && lost == 0)); then
		lost=1 # not what was expected, though not shorter: count it as a loss
	fi
	awk -v u="$user" -v s="$sys" -v e="$events" -v l="$lost" -v st="$status" \
		-v gw="$gwall" -v gc="$gcpu" \
		'BEGIN { printf "%.3f %d %d %s %.3f %.3f\n", (u + s) / 1e6, e, l, st, gw / 1e6, gc / 1e6 }'
}

fs=$(fstype "$dir")
say "storm: $files files ($expected events) in $tmp/$dir ($fs); $runs round(s) of: ${tools[*]}"
declare -A cpu=() got=() lost=() status=() gwall=() gcpu=()
for ((round = 1; round <= runs; round++)); do
	for tool in "${tools[@]}"; do
		r=$(run "$tool") || exit # 130 after Ctrl-C: bench/all stops too
		read -r c e l st gw gc <<<"$r"
		cpu[$tool]+="$c " got[$tool]+="$e " lost[$tool]+="$l " gwall[$tool]+="$gw " gcpu[$tool]+="$gc "
		[[ $st == ok ]] || status[$tool]=$st
		say "  round $round: $(printf '%-11s %7.3f s CPU, %8d events reported, %7d lost%s' \
			"$tool" "$c" "$e" "$l" "${st/#ok/}")"
	done
done

# --- the table ------------------------------------------------------------------

echo "event storm: $files files created, written, closed, deleted = $expected events, on $fs"
machine
echo "median of $runs round(s), alternated; ratio: vigil's CPU / the tool's, the median of each round's"
echo "  $vigil: $(version "$vigil" --version)"
[[ -z $inotifywait ]] || echo "  $inotifywait: $(version "$inotifywait" --help)"
[[ -z $fswatch ]] || echo "  $fswatch: $(version "$fswatch" --version)"
echo
printf '%-12s %10s %12s %10s %10s %12s %12s\n' tool 'CPU s' 'vigil/tool' reported 'lost max' 'storm wall s' 'storm CPU s'
for tool in "${tools[@]}"; do
	# shellcheck disable=SC2086 # space-separated numbers
	{
		m=$(median ${cpu[$tool]})
		rep=$(median ${got[$tool]})
		lmax=$(printf '%s\n' ${lost[$tool]} | sort -n | tail -n 1)
		gw=$(median ${gwall[$tool]})
		gc=$(median ${gcpu[$tool]})
	}
	rat=-
	[[ $tool == vigil ]] || rat=$(median_ratio "${cpu[vigil]}" "${cpu[$tool]}")
	note=
	[[ -z ${status[$tool]:-} ]] || note="  (ended by itself: ${status[$tool]})"
	printf '%-12s %10.3f %12s %10.0f %10d %12.3f %12.3f%s\n' "$tool" "$m" "$rat" "$rep" "$lmax" "$gw" "$gc" "$note"
	result storm_cpu_s "$tool" "$m" "$rat"
	result storm_lost "$tool" "$lmax"
done
