#!/usr/bin/env bash
# bench/fanotify.sh: fanotify with a filesystem mark (`vigil wait -m -S`)
# beside inotify (`vigil wait -m -r`) and `inotifywait -m -r` (and
# `fsnotifywait -m -S` where inotify-tools has it: Debian 12's 3.22.6
# does): recursive set-up of a big tree (time and
# peak RSS), and an event storm's CPU. On an ext4 image loop-mounted here,
# so that what the rest of the machine does is not in a filesystem mark's
# queue. Needs root.
#
# See bench/README.md for what the figures mean. Run with --help for options.

set -euo pipefail
prog=fanotify.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<EOF
usage: bench/fanotify.sh [--dirs N[,N...]] [--runs N] [--files N] [--quick]
On a loop-mounted ext4 image: for each tree size, the time until each
watcher says "$line" and its peak RSS, in the order A B A B ...; then an
event storm of N files (5 events each) and each watcher's CPU.

  --dirs LIST  tree sizes, comma-separated (default 100000,1000000)
  --runs N     rounds per size and for the storm (default 3; a size of a
               million or more gets one round of the inotify watchers, whose
               set-up takes tens of seconds and a GiB of kernel memory there)
  --files N    files in the storm (default 200000: 1,000,000 events)
  --quick      2000 directories, 20000 files, 1 round (for a smoke test)

Environment: VIGIL, INOTIFYWAIT, FSNOTIFYWAIT (a tool's path; "" leaves it
out), TMPDIR (where the image goes: about 5 GiB sparse for a million
directories), CC.
EOF
}

runs='' dirs_list='' files='' quick=0
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--runs) (($# > 1)) || die "option '--runs' needs a number"; runs=$(count --runs "$2"); shift ;;
	--dirs) (($# > 1)) || die "option '--dirs' needs a list"; dirs_list=$2; shift ;;
	--files) (($# > 1)) || die "option '--files' needs a number"; files=$(count --files "$2"); shift ;;
	--quick) quick=1 ;;
	*) die "unknown argument '$1' (try '$prog --help')" ;;
	esac
	shift
done
if ((quick)); then
	: "${runs:=1}" "${dirs_list:=2000}" "${files:=20000}"
else
	: "${runs:=3}" "${dirs_list:=100000,1000000}" "${files:=200000}"
fi
IFS=, read -r -a sizes <<<"$dirs_list"
for d in "${sizes[@]}"; do count --dirs "$d" >/dev/null; done

((EUID == 0)) || die "needs root: a loop-mounted image, and filesystem marks (CAP_SYS_ADMIN)"
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not found (apt-get install e2fsprogs)"
bench_tools
fsnotifywait=${FSNOTIFYWAIT-$(command -v fsnotifywait || true)}
if [[ -z $fsnotifywait ]]; then
	say "fsnotifywait not found (inotify-tools 3.22 and later have it): not measured"
fi
mktree=$(helper mktree)
watchtime=$(helper watchtime)
storm=$(helper storm)
loadtime=$(helper loadtime)

# --- the image ----------------------------------------------------------------

base=${TMPDIR:-/tmp}
scratch=$(mktemp -d "$base/vigil-fan.XXXXXX") || die "cannot make a directory in '$base'"
img=$scratch/img mnt=$scratch/mnt
mkdir "$mnt"
unmount() {
	cd /
	if mountpoint -q "$mnt" 2>/dev/null; then
		umount -d "$mnt" 2>/dev/null || umount -l -d "$mnt" 2>/dev/null || true
	fi
	rm -rf "$scratch"
}
trap 'unmount; bench_cleanup' EXIT
trap 'unmount; bench_signal INT' INT
trap 'unmount; bench_signal TERM' TERM
trap 'unmount; bench_signal HUP' HUP

biggest=0
for d in "${sizes[@]}"; do ((d > biggest)) && biggest=$d; done
inodes=$((biggest + files + 10000))
size_mib=$(((inodes * 5) / 1024 + 512)) # a block per directory, and room
truncate -s "${size_mib}M" "$img"
mkfs.ext4 -q -F -N "$inodes" -O ^has_journal "$img" || die "mkfs.ext4 failed"
mount -o loop,noatime "$img" "$mnt" || die "cannot loop-mount the image"
cd "$mnt"
say "ext4 image of ${size_mib} MiB, $inodes inodes, loop-mounted on $mnt"

tools=(vigil-S vigil inotifywait)
[[ -n $inotifywait ]] || tools=(vigil-S vigil)
[[ -z $fsnotifywait ]] || tools+=(fsnotifywait-S)

set_argv() { # TOOL: the watcher's command, less the directory, into argv
	case $1 in
	vigil-S) argv=("$vigil" wait -m -S) ;;
	vigil) argv=("$vigil" wait -m -r --backend inotify) ;;
	inotifywait) argv=("$inotifywait" -m -r) ;;
	# (it says "Failed to decode directory fid." for each event on a
	# directory gone by the time it reads it: kept out of the way)
	fsnotifywait-S) argv=(bash -c 'exec "$0" "$@" 2> >(grep --line-buffered -v "^Failed to decode" >&2)'
			      "$fsnotifywait" -m -S) ;;
	esac
}
ready_of() { # TOOL: the line it says once set up
	case $1 in
	fsnotifywait-S) echo 'Watches established.' ;;
	*) echo "$line" ;;
	esac
}

# --- set-up --------------------------------------------------------------------

declare -A su=() hwm=()
echo "fanotify beside inotify, on ext4 (loop-mounted image)"
machine
echo "  $vigil: $(version "$vigil" --version)"
[[ -z $inotifywait ]] || echo "  $inotifywait: $(version "$inotifywait" --help)"
[[ -z $fsnotifywait ]] || echo "  $fsnotifywait: $(version "$fsnotifywait" --help)"
for dirs in "${sizes[@]}"; do
	rm -rf tree
	need_watches $((dirs + 1))
	say "building $dirs directories (fanout 10)"
	t0=$(date +%s%N)
	"$mktree" tree "$dirs" 10 || die "cannot build the tree"
	say "built in $((($(date +%s%N) - t0) / 1000000)) ms"
	sync
	r=$runs
	for tool in "${tools[@]}"; do su[$tool]='' hwm[$tool]=''; done
	for ((round = 1; round <= runs; round++)); do
		for tool in "${tools[@]}"; do
			# the inotify watchers take minutes on a million: once
			if ((dirs >= 1000000 && round > 1)) && [[ $tool != *-S ]]; then continue; fi
			set_argv "$tool"
			out=$("$watchtime" "$(ready_of "$tool")" "${argv[@]}" tree) ||
				die "$tool failed (see above)"
			read -r us h _ _ <<<"$out"
			su[$tool]+="$us " hwm[$tool]+="$h "
			say "  $dirs dirs, round $round: $(printf '%-15s %10.1f ms %8.1f MiB peak RSS' \
				"$tool" "$(awk -v u="$us" 'BEGIN { print u / 1000 }')" \
				"$(awk -v k="$h" 'BEGIN { print k / 1024 }')")"
		done
	done
	echo
	echo "set-up of $dirs directories: median of $r round(s), alternated (inotify watchers: one round from 1,000,000)"
	printf '%-16s %12s %14s %16s\n' tool 'set-up ms' 'peak RSS MiB' 'vigil-S/tool ms'
	for tool in "${tools[@]}"; do
		# shellcheck disable=SC2086
		{
			m=$(awk -v v="$(median ${su[$tool]})" 'BEGIN { printf "%.1f", v / 1000 }')
			mh=$(awk -v v="$(median ${hwm[$tool]})" 'BEGIN { printf "%.1f", v / 1024 }')
		}
		rat=-
		[[ $tool == vigil-S ]] || rat=$(median_ratio "$(median ${su[vigil-S]})" "$(median ${su[$tool]})")
		printf '%-16s %12s %14s %16s\n' "$tool" "$m" "$mh" "$rat"
		result "fan_setup_ms_$dirs" "$tool" "$m" "$rat"
		result "fan_setup_hwm_mib_$dirs" "$tool" "$mh"
	done
	rm -rf tree
done

# --- the storm -----------------------------------------------------------------

mkdir storm
declare -A cpu=() lines=()
out=$scratch/out # on another filesystem: its writes are no events here
# A storm unwatched first: the first on the image after the trees were
# removed costs the writer several times the next (63 s of wall time and
# 30 s of CPU against 8 s and 4 s here, ext4 handing out the inodes just
# freed), and a watcher fed slowly wakes for fewer events at a time: five
# times the CPU, for whichever watcher came first in round 1.
say "a storm of $files files unwatched first (the first after the trees went is slow)"
"$storm" storm "$files" >/dev/null || die "the storm failed (see above)"
for ((round = 1; round <= runs; round++)); do
	for tool in "${tools[@]}"; do
		set_argv "$tool"
		r=$("$loadtime" --out "$out" "$storm" storm "$files" -- "${argv[@]}" storm) ||
			die "$tool: the storm failed (see above)"
		read -r user sys n _ st _ <<<"$r"
		c=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", (u + s) / 1e6 }')
		cpu[$tool]+="$c " lines[$tool]+="$n "
		say "  storm, round $round: $(printf '%-15s %7s s CPU, %8d events reported %s' \
			"$tool" "$c" "$n" "${st/#ok/}")"
	done
done
echo
echo "storm: $files files created, written, closed, deleted ($((files * 5)) events made);"
echo "median of $runs round(s), alternated. fanotify merges a process's events on one"
echo "file while they wait (CREATE and OPEN, MODIFY and CLOSE_WRITE): fewer reported."
printf '%-16s %10s %16s %12s\n' tool 'CPU s' 'vigil-S/tool' reported
for tool in "${tools[@]}"; do
	# shellcheck disable=SC2086
	{
		m=$(median ${cpu[$tool]})
		n=$(median ${lines[$tool]})
	}
	rat=-
	[[ $tool == vigil-S ]] || rat=$(median_ratio "${cpu[vigil-S]}" "${cpu[$tool]}")
	printf '%-16s %10s %16s %12.0f\n' "$tool" "$m" "$rat" "$n"
	result fan_storm_cpu_s "$tool" "$m" "$rat"
done
