#!/usr/bin/env bash
# bench/run.sh: `vigil run` on an inbox: N files dropped into a directory,
# each handled by `true`; the wall time from the first file dropped to the
# last one handled, for vigil run (one job per file, --jobs 2, --batch)
# against the loop people write today:
#   inotifywait -m -e close_write --format '%w%f' DIR | while read f; do true "$f"; done
# in which `true` is a shell builtin (no process per file), and the same loop
# with /usr/bin/true, which starts a process per file as vigil run does; and
# against the floor, bench/floor_run: a C loop that starts a process per file
# and does nothing else, one at a time and two at a time.
#
# See bench/README.md. Run with --help for options.

set -euo pipefail
prog=run.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<EOF
usage: bench/run.sh [--files N] [--runs N] [--batch N] [--batch-wait DURATION] [--quick]
Drop N files (create, write a byte, close) into a directory handled by
'vigil run DIR -- TRUE {}' (one job per file; --jobs 2; --batch; each with
the default --settle and with --settle 0), by the loop
'inotifywait -m -e close_write --format %w%f DIR | while read f; do true "\$f"; done'
(true the shell's builtin, and TRUE), and by the floor ('floor_run DIR -- TRUE
{}', one and two at a time), A B C A B C ...; print the wall time from the
first file to the last handled, and the ratios. TRUE is true's path in PATH
(/usr/bin/true), the same word for every handler that starts processes.

  --files N              files per run (default 10000)
  --runs N               rounds (default 3)
  --batch N              vigil's --batch (default 1000)
  --batch-wait DURATION  vigil's --batch-wait with it (default 50ms)
  --quick                1000 files and 1 round, for CI (--files/--runs still apply)

The journal's cost: vigil run --state (a fresh state directory each run,
in the same tmpfs unless --state-dir says where; a sync on tmpfs costs
nothing, on a disk the default --state-sync group syncs behind the loop),
one job per file and with
--batch, against the same runs without it, in the same rounds.

  --state-dir DIR         where the journal runs keep their state (default:
                         the bench's own directory)

Environment: VIGIL, INOTIFYWAIT (a tool's path; "" leaves the loops out),
BENCH_TMPFS=0 (do not use a private tmpfs), TMPDIR, CC.
EOF
}

args=("$@")
runs='' files='' batch=1000 batch_wait=50ms quick=0 state_dir=
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--runs) (($# > 1)) || die "option '--runs' needs a number"; runs=$(count --runs "$2"); shift ;;
	--files) (($# > 1)) || die "option '--files' needs a number"; files=$(count --files "$2"); shift ;;
	--batch) (($# > 1)) || die "option '--batch' needs a number"; batch=$(count --batch "$2"); shift ;;
	--batch-wait) (($# > 1)) || die "option '--batch-wait' needs a duration"; batch_wait=$2; shift ;;
	--quick) quick=1 ;;
	--state-dir) (($# > 1)) || die "option '--state-dir' needs a directory"; state_dir=$2; shift ;;
	*) die "unknown argument '$1' (try '$prog --help')" ;;
	esac
	shift
done
if ((quick)); then
	: "${runs:=1}" "${files:=1000}"
else
	: "${runs:=3}" "${files:=10000}"
fi
((runs >= 1)) || die "--runs must be at least 1"
((files >= 1)) || die "--files must be at least 1"
((batch >= 2)) || die "--batch must be at least 2"

bench_namespace "${args[@]}"
bench_tools
bench_tmp
droptime=$(helper droptime)
floor_run=$(helper floor_run)
cd "$tmp" # the inbox by a relative name, as people write it
dir=inbox
stop=stop # the loops' sentinel, dropped after the N files
true_bin=$(type -P true) || die "no 'true' in PATH"

# The variants, in the order of a round. vig_* are vigil run, with the
# words after 'run' (the paths and command follow); loop* are pipelines.
# The journal's runs come right after the same runs without it.
vopts=()
[[ -n $state_dir ]] || state_dir=$tmp/state
mkdir -p -- "$state_dir" || die "cannot make '$state_dir'"
state=$state_dir/bench-run-state
declare -A label=() argv=()
variants=(vigil vigil_state vigil_j2 vigil_batch vigil_batch_state vigil_s0 vigil_batch_s0 floor floor_j2)
label[vigil]="vigil run (one job per file)"
label[vigil_state]="vigil run --state (one job per file)"
label[vigil_batch_state]="vigil run --state --batch $batch --batch-wait $batch_wait"
label[vigil_j2]="vigil run --jobs 2"
label[vigil_batch]="vigil run --batch $batch --batch-wait $batch_wait"
label[vigil_s0]="vigil run --settle 0"
label[vigil_batch_s0]="vigil run --batch $batch --batch-wait $batch_wait --settle 0"
argv[vigil]=""
argv[vigil_state]="--state $state"
argv[vigil_batch_state]="--state $state --batch $batch --batch-wait $batch_wait"
argv[vigil_j2]="--jobs 2"
argv[vigil_batch]="--batch $batch --batch-wait $batch_wait"
argv[vigil_s0]="--settle 0"
argv[vigil_batch_s0]="--batch $batch --batch-wait $batch_wait --settle 0"
label[floor]="floor: a process per file, one at a time"
label[floor_j2]="floor: a process per file, two at a time"
argv[floor]=""
argv[floor_j2]="--jobs 2"
# each vigil variant's floor: the same number of processes at a time
declare -A floor_of=([vigil]=floor [vigil_s0]=floor [vigil_j2]=floor_j2 [vigil_state]=floor)
# each journal variant's run without the journal
declare -A plain_of=([vigil_state]=vigil [vigil_batch_state]=vigil_batch)
if [[ -n $inotifywait ]]; then
	variants+=(loop loop_fork)
	label[loop]="loop: while read f; do true \"\$f\"; done"
	label[loop_fork]="loop: while read f; do $true_bin \"\$f\"; done"
else
	say "inotifywait not found: no loop to compare with"
fi

# run VARIANT: one drop under it; prints WALL_S DROP_S CPU_S SELF_CPU_S JOBS
run() {
	local v=$1 r wall drop handled jobs failed twice self all seen body
	local -a cmd
	rm -rf -- "$dir" "$state"
	mkdir "$dir"
	case $v in
	vigil*)
		# shellcheck disable=SC2206 # the options are words without spaces
		local -a extra=(${argv[$v]})
		cmd=("$droptime" "$dir" "$files" -- "$vigil" run "${vopts[@]}" "${extra[@]}" "$dir" -- "$true_bin" '{}') ;;
	floor*)
		# shellcheck disable=SC2206 # the options are words without spaces
		local -a extra=(${argv[$v]})
		cmd=("$droptime" "$dir" "$files" -- "$floor_run" "${extra[@]}" "$dir" -- "$true_bin" '{}') ;;
	loop*)
		body=true
		[[ $v == loop_fork ]] && body=$true_bin
		# the issue's loop; the test in the condition stops it at the
		# sentinel, so that its end can be seen
		cmd=("$droptime" --pipe "$stop" "$dir" "$files" --
			"$inotifywait" -m -e close_write --format '%w%f' "$dir" --
			"$BASH" -c "while read f && [[ \$f != \"\$1\" ]]; do $body \"\$f\"; done" loop "$dir/$stop") ;;
	esac
	r=$("${cmd[@]}") || die "${label[$v]}: the run failed (see above)"
	read -r wall drop handled jobs failed twice self all seen <<<"$r"
	if [[ $v == loop* ]] && ((handled < files)); then
		# the reference loop losing files is a figure, not a fault of
		# the run (inotifywait's queue overflows on a busy machine, or
		# under a lowered fs.inotify.max_queued_events): said, and the
		# times stand for what it did handle
		say "${label[$v]}: lost $((files - handled)) of $files files"
	elif ((handled != files || failed != 0 || twice != 0)); then
		die "${label[$v]}: $handled of $files files handled, $failed failed, $twice twice"
	fi
	# (more is no fault: with --settle 0 on a busy machine a file's
	# create and its close may come in two reads, and enter twice; it is
	# still handled once, as twice == 0 says)
	[[ $seen == -1 ]] || ((seen >= files)) || die "${label[$v]}: vigil saw $seen paths, not $files"
	awk -v w="$wall" -v d="$drop" -v a="$all" -v s="$self" -v j="$jobs" \
		'BEGIN { printf "%.3f %.3f %.3f %.3f %d\n", w / 1e6, d / 1e6, a / 1e6, s / 1e6, j }'
}

fs=$(fstype "$tmp")
say "run: $files files into $tmp/$dir ($fs); $runs round(s) of: ${variants[*]}"
declare -A wall=() drop=() cpu=() self=() jobs=()
for ((round = 1; round <= runs; round++)); do
	for v in "${variants[@]}"; do
		r=$(run "$v") || exit # 130 after Ctrl-C: bench/all stops too
		read -r w d c s j <<<"$r"
		wall[$v]+="$w " drop[$v]+="$d " cpu[$v]+="$c " self[$v]+="$s " jobs[$v]=$j
		say "  round $round: $(printf '%-15s %8.3f s wall (drop %.3f s), CPU %7.3f s (its own %6.3f s), %5d jobs' \
			"$v" "$w" "$d" "$c" "$s" "$j")"
	done
done

# --- the table ------------------------------------------------------------------

# shellcheck disable=SC2016 # $f is the loop's
echo "vigil run on an inbox: $files files dropped (create, write a byte, close), 'true' on each, on $fs"
machine
echo "median of $runs round(s), alternated; ratios: the median of each round's"
echo "  $vigil: $(version "$vigil" --version); the loop guard on, as by default"
echo "  --state: a fresh state in $state_dir ($(fstype "$state_dir")), --state-sync group (the default)"
[[ -z $inotifywait ]] || echo "  loops: $inotifywait -m -e close_write --format '%w%f' $dir | $BASH ($BASH_VERSION)"
echo "  floor: $floor_run (vfork + execve per file, and nothing else; bench/floor_run.c)"
echo "  every handler that starts a process per file runs $true_bin, by that path"
echo "  wall: the first file dropped to the last handled; drop: the dropping alone; CPU: the"
echo "  handler's, its jobs included (vigil's own, and the loop's inotifywait + bash alone)"
echo
printf '%-58s %8s %7s %8s %8s %8s %6s %10s %10s %11s %9s\n' handler 'wall s' 'drop s' 'ms/file' 'CPU s' 'own CPU' jobs '/loop' '/fork' '/floor' '/stateless'
declare -A med=()
for v in "${variants[@]}"; do
	# shellcheck disable=SC2086 # space-separated numbers
	med[$v]=$(median ${wall[$v]})
done
for v in "${variants[@]}"; do
	# shellcheck disable=SC2086 # space-separated numbers
	{
		d=$(median ${drop[$v]})
		c=$(median ${cpu[$v]})
		s=$(median ${self[$v]})
	}
	rl=- rf=- rfl=- rs=- j=-
	[[ -z ${plain_of[$v]:-} ]] || rs=$(median_ratio "${wall[$v]}" "${wall[${plain_of[$v]}]}")
	[[ $v == loop* ]] || j=${jobs[$v]}
	if [[ $v != loop* && -n $inotifywait ]]; then
		rl=$(median_ratio "${wall[$v]}" "${wall[loop]}")
		rf=$(median_ratio "${wall[$v]}" "${wall[loop_fork]}")
	fi
	[[ -z ${floor_of[$v]:-} ]] || rfl=$(median_ratio "${wall[$v]}" "${wall[${floor_of[$v]}]}")
	printf '%-58s %8.3f %7.3f %8.3f %8.3f %8.3f %6s %10s %10s %11s %9s\n' "${label[$v]}" "${med[$v]}" "$d" \
		"$(awk -v w="${med[$v]}" -v n="$files" 'BEGIN { print w * 1000 / n }')" "$c" "$s" "$j" "$rl" "$rf" "$rfl" "$rs"
	[[ $v != loop* ]] || continue
	tool=vigil
	[[ $v != floor* ]] || tool=floor
	result "run_${v}_s" "$tool" "${med[$v]}"
	[[ -z ${floor_of[$v]:-} ]] || result "run_${v}_s" floor "${med[${floor_of[$v]}]}" "$rfl"
	[[ -z ${plain_of[$v]:-} ]] || result "run_${v}_s" stateless "${med[${plain_of[$v]}]}" "$rs"
	if [[ -n $inotifywait ]]; then
		result "run_${v}_s" loop "${med[loop]}" "$rl"
		result "run_${v}_s" loop_fork "${med[loop_fork]}" "$rf"
	fi
done
result run_files - "$files"
result run_batch - "$batch"

# The journal's targets, within the same rounds.
echo
printf '%-44s %-22s %7s  %s\n' target against ratio verdict
journal_target() { # LABEL VARIANT LIMIT
	local r verdict
	r=$(median_ratio "${wall[$2]}" "${wall[${plain_of[$2]}]}")
	verdict=$(awk -v r="$r" -v l="$3" 'BEGIN { print (r + 0 <= l + 0 ? "PASS" : "MISS") }')
	printf '%-44s %-22s %7s  %s\n' "$1" "the same, stateless" "$r" "$verdict"
}
journal_target "--state, one job per file: <= 1.2x" vigil_state 1.2
journal_target "--state, --batch $batch: <= 1.5x" vigil_batch_state 1.5

[[ -n $inotifywait ]] || exit 0
# The targets are judged against the loop that starts a process per file,
# as vigil run does: against bash's builtin true the loop does no work per
# file, and no handler can end before the last file is dropped (the loop's
# wall is the drop's own time), so that ratio is shown, not judged.
echo
printf '%-44s %-22s %7s  %s\n' target against ratio verdict
target() { # LABEL VARIANT LIMIT
	local loop r verdict
	for loop in loop_fork loop; do
		r=$(median_ratio "${wall[$2]}" "${wall[$loop]}")
		verdict=$(awk -v r="$r" -v l="$3" 'BEGIN { print (r + 0 <= l + 0 ? "PASS" : "MISS") }')
		[[ $loop == loop ]] && verdict="(not judged: no work per file)"
		printf '%-44s %-22s %7s  %s\n' "$1" "$([[ $loop == loop ]] && echo 'loop, builtin true' || echo "loop, $true_bin")" \
			"$r" "$verdict"
	done
}
target "one job per file: <= 0.50x the loop" vigil 0.5
target "  the same, --jobs 2" vigil_j2 0.5
target "--batch $batch: <= 0.05x the loop" vigil_batch 0.05
# The floor says what a process per file costs here, whatever the handler:
# one at a time, no handler ends sooner than it does.
printf '%-44s %-22s %7s  %s\n' "the floor, one at a time" "loop, $true_bin" \
	"$(median_ratio "${wall[floor]}" "${wall[loop_fork]}")" "(no target: the least one at a time can take)"
printf '%-44s %-22s %7s  %s\n' "the floor, two at a time" "loop, $true_bin" \
	"$(median_ratio "${wall[floor_j2]}" "${wall[loop_fork]}")" "(no target: the least two at a time can take)"
