#!/usr/bin/env bash
# bench/latency.sh: from a writer's close() to the watcher's line on its
# stdout, at idle, for `vigil wait -m -e close_write` against the floor (a
# read() loop that writes each name) and `inotifywait -m -e close_write`.
#
# See bench/README.md for what the figures mean. Run with --help for options.

set -euo pipefail
prog=latency.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<EOF
usage: bench/latency.sh [--probes N] [--runs N] [--gap MS] [--quick]
Write and close a file N times, MS apart, in a watched directory, and time
each close() to the watcher's line: p50, p99 and the maximum per run, for
vigil, the floor and inotifywait, in the order A B A B ...

  --probes N  probes per run (default 1000)
  --runs N    rounds (default 3)
  --gap MS    pause before each probe, so the watcher is asleep (default 2)
  --quick     200 probes and 1 round, for CI (--probes/--runs still apply)

Environment: VIGIL, INOTIFYWAIT (a tool's path; "" leaves it out),
BENCH_TMPFS=0 (do not use a private tmpfs), TMPDIR, CC.
EOF
}

args=("$@")
runs='' probes='' gap=2 quick=0
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--runs) (($# > 1)) || die "option '--runs' needs a number"; runs=$(count --runs "$2"); shift ;;
	--probes) (($# > 1)) || die "option '--probes' needs a number"; probes=$(count --probes "$2"); shift ;;
	--gap) (($# > 1)) || die "option '--gap' needs a number"; gap=$(count --gap "$2"); shift ;;
	--quick) quick=1 ;;
	*) die "unknown argument '$1' (try '$prog --help')" ;;
	esac
	shift
done
if ((quick)); then
	: "${runs:=1}" "${probes:=200}"
else
	: "${runs:=3}" "${probes:=1000}"
fi
((runs >= 1)) || die "--runs must be at least 1"
((probes >= 1)) || die "--probes must be at least 1"

bench_namespace "${args[@]}"
bench_tools
bench_tmp
latency=$(helper latency)
floor_read=$(helper floor_read)
cd "$tmp" # watched by a relative name: the figures do not depend on where $tmp is
dir=w
mkdir "$dir"

tools=(vigil floor)
[[ -z $inotifywait ]] || tools+=(inotifywait)
# fswatch prints in batches, one per --latency period (1 s by default, at
# the least 0.1 s): not a figure of the same kind.
[[ -z $fswatch ]] || say "fswatch: not measured (it prints once per --latency period; see bench/README.md)"

run() { # TOOL: prints PROBES P50_US P99_US MAX_US
	local -a argv
	case $1 in
	vigil) argv=("$vigil" wait -m -e close_write "$dir") ;;
	# IN_CLOSE_WRITE only (0x8), each name on a line: the least a watcher
	# that reports must do
	floor) argv=("$floor_read" --echo --idle 0 --mask 8 "$dir") ;;
	inotifywait) argv=("$inotifywait" -m -e close_write "$dir") ;;
	esac
	"$latency" --probes "$probes" --gap "$gap" "$dir/probe" "$line" "${argv[@]}" ||
		die "$1: the run failed (see above)"
}

fs=$(fstype "$dir")
say "latency: $probes probes, $gap ms apart, in $tmp/$dir ($fs); $runs round(s) of: ${tools[*]}"
declare -A p50=() p99=() max=()
for ((round = 1; round <= runs; round++)); do
	for tool in "${tools[@]}"; do
		r=$(run "$tool") || exit # 130 after Ctrl-C: bench/all stops too
		read -r _ a b c <<<"$r"
		p50[$tool]+="$a " p99[$tool]+="$b " max[$tool]+="$c "
		say "  round $round: $(printf '%-11s p50 %8.1f us  p99 %8.1f us  max %8.1f us' "$tool" "$a" "$b" "$c")"
	done
done

echo "latency at idle: close() to the line on stdout, $probes probes $gap ms apart, on $fs"
machine
echo "median of $runs round(s), alternated; ratio: vigil's p99 / the tool's, the median of each round's"
echo "  $vigil: $(version "$vigil" --version)"
[[ -z $inotifywait ]] || echo "  $inotifywait: $(version "$inotifywait" --help)"
echo
printf '%-12s %10s %10s %10s %12s\n' tool 'p50 us' 'p99 us' 'max us' 'vigil/tool'
for tool in "${tools[@]}"; do
	# shellcheck disable=SC2086 # space-separated numbers
	{
		a=$(median ${p50[$tool]})
		b=$(median ${p99[$tool]})
		c=$(median ${max[$tool]})
	}
	rat=-
	[[ $tool == vigil ]] || rat=$(median_ratio "${p99[vigil]}" "${p99[$tool]}")
	printf '%-12s %10.1f %10.1f %10.1f %12s\n' "$tool" "$a" "$b" "$c" "$rat"
	result latency_p50_us "$tool" "$a"
	result latency_p99_us "$tool" "$b" "$rat"
done
