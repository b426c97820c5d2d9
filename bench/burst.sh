#!/usr/bin/env bash
# bench/burst.sh: nested creates, the race a recursive watcher must win:
# `mkdir bI/a/b/c` one level at a time and a file inside, N times, as fast
# as can be; how many of the 5N paths does the watcher report, and how many
# twice? vigil against inotifywait (the floor does not recurse: no column).
#
# See bench/README.md. Run with --help for options.

set -euo pipefail
prog=burst.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<EOF
usage: bench/burst.sh [--bursts N] [--runs N] [--quick]
Run N bursts (mkdir bI, bI/a, bI/a/b, bI/a/b/c, create bI/a/b/c/file) in a
directory watched with '-m -r -e create', and count the paths reported,
missed and reported twice, for vigil and inotifywait, A B A B ...

  --bursts N  bursts per run (default 500)
  --runs N    rounds (default 3)
  --quick     100 bursts and 1 round, for CI (--bursts/--runs still apply)

Environment: VIGIL, INOTIFYWAIT (a tool's path; "" leaves it out),
BENCH_TMPFS=0 (do not use a private tmpfs), TMPDIR, CC.
EOF
}

args=("$@")
runs='' bursts='' quick=0
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--runs) (($# > 1)) || die "option '--runs' needs a number"; runs=$(count --runs "$2"); shift ;;
	--bursts) (($# > 1)) || die "option '--bursts' needs a number"; bursts=$(count --bursts "$2"); shift ;;
	--quick) quick=1 ;;
	*) die "unknown argument '$1' (try '$prog --help')" ;;
	esac
	shift
done
if ((quick)); then
	: "${runs:=1}" "${bursts:=100}"
else
	: "${runs:=3}" "${bursts:=500}"
fi
((runs >= 1)) || die "--runs must be at least 1"
((bursts >= 1)) || die "--bursts must be at least 1"

bench_namespace "${args[@]}"
bench_tools
bench_tmp
burst=$(helper burst)
loadtime=$(helper loadtime)
out=$tmp/out
cd "$tmp" # watched by a relative name: the figures do not depend on where $tmp is
expected=$((bursts * 5))
need_watches $((bursts * 4 + 1))

tools=(vigil)
[[ -z $inotifywait ]] || tools+=(inotifywait)

# run TOOL: prints REPORTED MISSING TWICE (distinct paths of the 5N; paths
# missed; lines beyond the first for a path)
run() {
	local tool=$1 dir=w r
	local -a argv
	rm -rf -- "$dir"
	mkdir "$dir"
	case $tool in
	vigil) argv=("$vigil" wait -m -r -e create --format '%w%f' "$dir") ;;
	inotifywait) argv=("$inotifywait" -m -r -e create --format '%w%f' "$dir") ;;
	esac
	r=$("$loadtime" --out "$out" "$burst" "$dir" "$bursts" -- "${argv[@]}") ||
		die "$tool: the run failed (see above)"
	burst_paths "$out" "$bursts" "$dir"
}

say "burst: $bursts bursts ($expected paths) on $(fstype "$tmp"); $runs round(s) of: ${tools[*]}"
declare -A got=() missed=() twice=()
for ((round = 1; round <= runs; round++)); do
	for tool in "${tools[@]}"; do
		r=$(run "$tool") || exit # 130 after Ctrl-C: bench/all stops too
		read -r g m t <<<"$r"
		got[$tool]+="$g " missed[$tool]+="$m " twice[$tool]+="$t "
		say "  round $round: $(printf '%-11s %6d of %d reported, %6d missed, %6d twice' "$tool" "$g" "$expected" "$m" "$t")"
	done
done

echo "nested-create burst: $bursts x (mkdir b/a/b/c one level at a time, a file inside) = $expected paths, -e create"
machine
echo "median of $runs round(s), alternated"
echo
printf '%-12s %10s %10s %10s\n' tool reported missed twice
for tool in "${tools[@]}"; do
	# shellcheck disable=SC2086 # space-separated numbers
	{
		g=$(median ${got[$tool]})
		m=$(median ${missed[$tool]})
		t=$(median ${twice[$tool]})
	}
	printf '%-12s %10s %10s %10s\n' "$tool" "$g" "$m" "$t"
	result burst_reported "$tool" "$g"
	result burst_twice "$tool" "$t"
done
result burst_expected - "$expected"
