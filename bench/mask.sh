#!/usr/bin/env bash
# bench/mask.sh: which events a watcher asks of the kernel, given a filter.
# Every event in a watch's mask is queued by the kernel in the writer's time
# and read by the watcher, reported or not; a watcher that only wants
# CLOSE_WRITE should not ask for OPEN, ACCESS or MODIFY.
#
# See bench/README.md. Run with --help for options.

set -euo pipefail
prog=mask.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<EOF
usage: bench/mask.sh [--check] [--quick]
Start each watcher on a small tree with '-r -e close_write' (and '-e create'
and '-e modify'), and print the union of the masks its inotify watches hold
(/proc/PID/fdinfo): for vigil, the floor (what the filter needs, plus what a
recursive watch needs to follow the tree: CREATE, MOVED_FROM, MOVED_TO) and
inotifywait.

  --check   exit with status 1 if vigil asks for an event that none of the
            filters needs, in any of the cases (a test, not a benchmark:
            its outcome does not depend on the machine's speed)
  --quick   the same (it takes a fraction of a second anyway)

Environment: VIGIL, INOTIFYWAIT (a tool's path; "" leaves it out),
BENCH_TMPFS=0 (do not use a private tmpfs), TMPDIR, CC.
EOF
}

args=("$@")
check=0
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--check) check=1 ;;
	--quick) ;;
	*) die "unknown argument '$1' (try '$prog --help')" ;;
	esac
	shift
done

bench_namespace "${args[@]}"
bench_tools
bench_tmp
kmask=$(helper kmask)
mktree=$(helper mktree)
floor_setup=$(helper floor_setup)
cd "$tmp" # watched by a relative name: the figures do not depend on where $tmp is
tree=tree
"$mktree" --files 1 "$tree" 100 || die "cannot build the tree"

# inotify's bits, as <sys/inotify.h> has them
declare -A bit=([ACCESS]=0x1 [MODIFY]=0x2 [ATTRIB]=0x4 [CLOSE_WRITE]=0x8 [CLOSE_NOWRITE]=0x10
	[OPEN]=0x20 [MOVED_FROM]=0x40 [MOVED_TO]=0x80 [CREATE]=0x100 [DELETE]=0x200
	[DELETE_SELF]=0x400 [MOVE_SELF]=0x800)
# What a recursive watch needs whatever is asked: to hear of directories
# appearing, and of renames (DESIGN.md, TRACK_MASK). DELETE_SELF and
# IN_IGNORED come whatever the mask.
track=$((bit[CREATE] | bit[MOVED_FROM] | bit[MOVED_TO]))
# The footsteps: events that the bare use of a file causes, the costly ones.
footsteps=$((bit[OPEN] | bit[ACCESS] | bit[MODIFY] | bit[CLOSE_NOWRITE]))

tools=(vigil floor)
[[ -z $inotifywait ]] || tools+=(inotifywait)

names() { # MASK: its event names
	local m=$1 n out=
	for n in ACCESS MODIFY ATTRIB CLOSE_WRITE CLOSE_NOWRITE OPEN MOVED_FROM MOVED_TO CREATE DELETE DELETE_SELF MOVE_SELF; do
		((m & bit[$n])) && out+=${out:+,}$n
	done
	printf '%s\n' "${out:--}"
}

echo "kernel mask: the union of the masks of a recursive watcher's watches ($((100 + 1)) directories), by filter"
machine
echo
printf '%-14s %-12s %6s  %s\n' filter tool mask events
bad=0
for event in close_write create modify; do
	want=$((bit[${event^^}] | track))
	for tool in "${tools[@]}"; do
		case $tool in
		vigil) argv=("$vigil" wait -m -r -e "$event" "$tree") ;;
		floor) argv=("$floor_setup" --wait --mask "$(printf '%x' "$want")" "$tree") ;;
		inotifywait) argv=("$inotifywait" -m -r -e "$event" "$tree") ;;
		esac
		r=$("$kmask" "$line" "${argv[@]}") || die "$tool: the run failed (see above)"
		read -r _ union _ <<<"$r"
		m=$((16#$union & 0xfff))
		extra=$((m & ~want))
		note=
		if ((extra)); then
			note="  (not needed: $(names "$extra"))"
			if [[ $tool == vigil ]]; then
				bad=1
			fi
		fi
		printf '%-14s %-12s %6x  %s%s\n' "-e $event" "$tool" "$m" "$(names "$m")" "$note"
		if [[ $event == close_write ]]; then
			result mask_close_write "$tool" "$(names "$m")"
			f=$(names "$((m & footsteps))")
			result mask_close_write_footsteps "$tool" "${f/#-/none}"
		fi
	done
done
if ((check && bad)); then
	say "vigil asks the kernel for events its filter does not need (see above)"
	exit 1
fi
