#!/usr/bin/env bash
# bench/setup.sh: how long recursive set-up takes, and what it costs in
# memory, for `vigil wait -m -r` against the floor (a getdents64 walk with one
# inotify_add_watch per directory) and `inotifywait -m -r`, on one big tree.
#
# See bench/README.md for what the figures mean. Run with --help for options.

set -euo pipefail
prog=setup.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<EOF
usage: bench/setup.sh [--runs N] [--dirs N] [--files N] [--quick] [--cold]
Time recursive set-up ('vigil wait -m -r DIR' until "$line")
and measure memory and watches, against the floor ('floor_setup DIR') and
'inotifywait -m -r DIR'.

  --runs N    timed runs per tool (default 5), in the order A B A B ...
  --dirs N    directories in the tree (default 100000)
  --files N   empty files in each directory (default 0)
  --quick     2000 directories and 1 run, for CI (--dirs/--runs still apply)
  --cold      drop the page, dentry and inode caches before every timed run
              (needs root; use with BENCH_TMPFS=0 and a disk-backed TMPDIR);
              otherwise one untimed warm-up run per tool first

Environment: VIGIL (the vigil binary; default bench/../build/vigil),
INOTIFYWAIT (default: inotifywait in PATH; "" leaves it out), CC (to build
the helpers if meson has not), BENCH_TMPFS=0 (as root, the tree goes on a
private tmpfs unless this is set), TMPDIR (where the tree goes otherwise:
its file system matters).
EOF
}

args=("$@")
runs='' dirs='' files=0 quick=0 cold=0
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--runs) (($# > 1)) || die "option '--runs' needs a number"; runs=$(count --runs "$2"); shift ;;
	--runs=*) runs=$(count --runs "${1#*=}") ;;
	--dirs) (($# > 1)) || die "option '--dirs' needs a number"; dirs=$(count --dirs "$2"); shift ;;
	--dirs=*) dirs=$(count --dirs "${1#*=}") ;;
	--files) (($# > 1)) || die "option '--files' needs a number"; files=$(count --files "$2"); shift ;;
	--files=*) files=$(count --files "${1#*=}") ;;
	--quick) quick=1 ;;
	--cold) cold=1 ;;
	*) die "unknown argument '$1' (try '$prog --help')" ;;
	esac
	shift
done
if ((quick)); then
	: "${runs:=1}" "${dirs:=2000}"
else
	: "${runs:=5}" "${dirs:=100000}"
fi
((runs >= 1)) || die "--runs must be at least 1"
((dirs >= 1)) || die "--dirs must be at least 1"
fanout=10

# --- what to measure --------------------------------------------------------

bench_namespace "${args[@]}"
bench_tools
[[ -n $inotifywait ]] || say "inotifywait not found: no ratios to it"
[[ -z $fswatch ]] || say "fswatch: not measured (it says nothing once its watches are set; see bench/README.md)"
if ((cold)); then
	[[ -w /proc/sys/vm/drop_caches ]] || die "--cold needs root: cannot write '/proc/sys/vm/drop_caches'"
fi

bench_tmp
cd "$tmp" # watched by a relative name: the figures do not depend on where $tmp is
tree=tree
mktree=$(helper mktree)
watchtime=$(helper watchtime)
floor_setup=$(helper floor_setup)
need_watches $((dirs + 1))

# --- the tree ---------------------------------------------------------------

fs=$(fstype "$tmp")
with_files=
((files == 0)) || with_files=" with $files files each"
say "building $dirs directories$with_files (fanout $fanout) in $tmp/$tree ($fs)"
t0=$(date +%s%N)
"$mktree" --files "$files" "$tree" "$dirs" "$fanout" || die "cannot build the tree"
t1=$(date +%s%N)
say "tree built in $(((t1 - t0) / 1000000)) ms"

# --- measuring ----------------------------------------------------------------

tools=(vigil floor)
[[ -z $inotifywait ]] || tools+=(inotifywait)
declare -A setup_us=() hwm_kib=() rss_kib=() nwatch=()

drop_caches() {
	sync
	printf '3\n' >/proc/sys/vm/drop_caches
}

measure() { # TOOL [untimed]: one run; appends the figures unless untimed
	local tool=$1 out us hwm rss w
	local -a argv
	case $tool in
	vigil) argv=("$vigil" wait -m -r) ;;
	floor) argv=("$floor_setup" --wait) ;;
	inotifywait) argv=("$inotifywait" -m -r) ;;
	*) die "no tool '$tool'" ;;
	esac
	if ((cold)); then drop_caches; fi
	out=$("$watchtime" "$line" "${argv[@]}" "$tree") || die "$tool failed (see above)"
	read -r us hwm rss w <<<"$out"
	if ((w != dirs + 1)); then
		say "warning: $tool held $w watches, not $((dirs + 1)) (the tree and its top)"
	fi
	[[ ${2:-} == untimed ]] && return
	setup_us[$tool]+="$us " hwm_kib[$tool]+="$hwm " rss_kib[$tool]+="$rss " nwatch[$tool]=$w
	printf '%s:   %-11s %9.1f ms %7.1f MiB peak RSS\n' "$prog" "$tool" \
		"$(awk -v u="$us" 'BEGIN { print u / 1000 }')" \
		"$(awk -v k="$hwm" 'BEGIN { print k / 1024 }')" >&2
}

if ((!cold)); then
	say "warm-up (untimed): ${tools[*]}"
	for tool in "${tools[@]}"; do
		measure "$tool" untimed
	done
fi
for ((run = 1; run <= runs; run++)); do
	say "run $run of $runs"
	for tool in "${tools[@]}"; do
		measure "$tool"
	done
done

# --- the table ----------------------------------------------------------------

declare -A med_ms=() med_hwm=() med_rss=()
for tool in "${tools[@]}"; do
	# shellcheck disable=SC2086 # the lists are space-separated numbers
	{
		med_ms[$tool]=$(awk -v v="$(median ${setup_us[$tool]})" 'BEGIN { printf "%.1f", v / 1000 }')
		med_hwm[$tool]=$(awk -v v="$(median ${hwm_kib[$tool]})" 'BEGIN { printf "%.1f", v / 1024 }')
		med_rss[$tool]=$(awk -v v="$(median ${rss_kib[$tool]})" 'BEGIN { printf "%.1f", v / 1024 }')
	}
done

cache=warm
((cold == 0)) || cache=cold
echo "recursive set-up: $dirs directories$with_files (fanout $fanout) on $fs"
machine
echo "median of $runs $cache run(s) per tool, alternated; ratios: the median of each run's"
echo "  $vigil: $(version "$vigil" --version)"
echo "  floor: $floor_setup (getdents64 + inotify_add_watch per directory)"
[[ -z $inotifywait ]] || echo "  $inotifywait: $(version "$inotifywait" --help)"
echo
printf '%-18s %12s %14s %10s %9s\n' tool 'set-up ms' 'peak RSS MiB' 'RSS MiB' watches
for tool in "${tools[@]}"; do
	printf '%-18s %12s %14s %10s %9s\n' "$tool" "${med_ms[$tool]}" "${med_hwm[$tool]}" \
		"${med_rss[$tool]}" "${nwatch[$tool]}"
done
for tool in "${tools[@]}"; do
	[[ $tool != vigil ]] || continue
	printf '%-18s %12s %14s %10s\n' "vigil/$tool" \
		"$(median_ratio "${setup_us[vigil]}" "${setup_us[$tool]}")" \
		"$(median_ratio "${hwm_kib[vigil]}" "${hwm_kib[$tool]}")" \
		"$(median_ratio "${rss_kib[vigil]}" "${rss_kib[$tool]}")"
done
for tool in "${tools[@]}"; do
	rt=- rm=-
	if [[ $tool != vigil ]]; then
		rt=$(median_ratio "${setup_us[vigil]}" "${setup_us[$tool]}")
		rm=$(median_ratio "${hwm_kib[vigil]}" "${hwm_kib[$tool]}")
	fi
	result setup_ms "$tool" "${med_ms[$tool]}" "$rt"
	result setup_hwm_mib "$tool" "${med_hwm[$tool]}" "$rm"
done
