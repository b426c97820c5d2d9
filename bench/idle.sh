#!/usr/bin/env bash
# bench/idle.sh: does a watcher sleep while nothing happens? Its context
# switches over a quiet spell with its watches set, for `vigil wait -m -r`
# against the floor (watches held, nothing else) and `inotifywait -m -r`.
#
# See bench/README.md for what the figures mean. Run with --help for options.

set -euo pipefail
prog=idle.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<EOF
usage: bench/idle.sh [--seconds S] [--runs N] [--dirs N] [--quick]
Watch a tree of N directories, wait until the watcher sleeps, and count its
context switches (voluntary and not, /proc/PID/status) over S seconds in
which nothing happens, for vigil, the floor and inotifywait, A B A B ...

  --seconds S  the quiet spell (default 10)
  --runs N     rounds (default 1)
  --dirs N     directories in the tree (default 1000)
  --quick      1 second, for CI (--seconds/--runs still apply)

Environment: VIGIL, INOTIFYWAIT (a tool's path; "" leaves it out),
BENCH_TMPFS=0 (do not use a private tmpfs), TMPDIR, CC.
EOF
}

args=("$@")
runs=1 seconds='' dirs=1000 quick=0
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--runs) (($# > 1)) || die "option '--runs' needs a number"; runs=$(count --runs "$2"); shift ;;
	--seconds) (($# > 1)) || die "option '--seconds' needs a number"; seconds=$(count --seconds "$2"); shift ;;
	--dirs) (($# > 1)) || die "option '--dirs' needs a number"; dirs=$(count --dirs "$2"); shift ;;
	--quick) quick=1 ;;
	*) die "unknown argument '$1' (try '$prog --help')" ;;
	esac
	shift
done
if ((quick)); then
	: "${seconds:=1}"
else
	: "${seconds:=10}"
fi
((runs >= 1)) || die "--runs must be at least 1"
((seconds >= 1)) || die "--seconds must be at least 1"

bench_namespace "${args[@]}"
bench_tools
bench_tmp
ctxsw=$(helper ctxsw)
mktree=$(helper mktree)
floor_setup=$(helper floor_setup)
cd "$tmp" # watched by a relative name: the figures do not depend on where $tmp is
tree=tree
need_watches $((dirs + 1))
"$mktree" "$tree" "$dirs" || die "cannot build the tree"

tools=(vigil floor)
[[ -z $inotifywait ]] || tools+=(inotifywait)

run() { # TOOL: prints VOLUNTARY NONVOLUNTARY SECONDS
	local -a argv
	case $1 in
	vigil) argv=("$vigil" wait -m -r "$tree") ;;
	floor) argv=("$floor_setup" --wait "$tree") ;;
	inotifywait) argv=("$inotifywait" -m -r "$tree") ;;
	esac
	"$ctxsw" --seconds "$seconds" "$line" "${argv[@]}" || die "$1: the run failed (see above)"
}

fs=$(fstype "$tree")
say "idle: $seconds s with $((dirs + 1)) watches on $fs; $runs round(s) of: ${tools[*]}"
declare -A total=() worst=()
for ((round = 1; round <= runs; round++)); do
	for tool in "${tools[@]}"; do
		r=$(run "$tool") || exit # 130 after Ctrl-C: bench/all stops too
		read -r vol nonvol _ <<<"$r"
		n=$((vol + nonvol))
		total[$tool]+="$n "
		((n <= ${worst[$tool]:-0})) || worst[$tool]=$n
		say "  round $round: $(printf '%-11s %d voluntary, %d involuntary' "$tool" "$vol" "$nonvol")"
	done
done

echo "idle: context switches in $seconds s with $((dirs + 1)) watches set and nothing happening, on $fs"
machine
echo "$runs round(s), alternated; the most of any round"
echo
printf '%-12s %18s\n' tool 'context switches'
for tool in "${tools[@]}"; do
	printf '%-12s %18d\n' "$tool" "${worst[$tool]:-0}"
	result idle_ctxsw "$tool" "${worst[$tool]:-0}"
done
