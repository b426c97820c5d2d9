#!/usr/bin/env bash
# bench/churn.sh: the churn model check of tests/cli/churn.bats, long: many
# seeds, more writers, more changes. Not a test: it reports, per seed,
# whether vigil's view diverged from the disk, and how often in all.
#
# Each run: vigil wait -m -r --json (exits two seconds after the last
# event, printing --debug-watches), WRITERS copies of
# tests/cli/churn-writer.pl making OPS random changes each at once (with
# --fast, of tests/cli/churn-fast.pl changing the tree at full speed for
# SECONDS), then tests/cli/churn-check.py: every directory watched where
# vigil believes (by inode), and with --events every file and directory
# known under its final path to a reader replaying the events, and no
# path known to that reader that is not on disk.
set -euo pipefail
prog=churn.sh
# shellcheck source=bench/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# on a private tmpfs as root (bench/lib.sh): a disk's mkdir() and create()
# cost ten times a tmpfs's, and the writers would be that much slower
bench_namespace "$@"
VIGIL=${VIGIL:-$here/../build/vigil}
writer=$here/../tests/cli/churn-writer.pl
fast_writer=$here/../tests/cli/churn-fast.pl
check=$here/../tests/cli/churn-check.py
writers=1 ops=3000 seeds=10 first=1 events=0 keep= fast= watcher=vigil queue= backend= emulate=
QUEUE=/proc/sys/fs/inotify/max_queued_events

usage() {
	cat <<USAGE
usage: bench/churn.sh [--writers N] [--ops N | --fast S] [--seeds N] [--first N] [--events]
  --writers N  writers changing the tree at once (default 1)
  --ops N      changes each writer makes (default 3000)
  --fast S     fast writers (tests/cli/churn-fast.pl), for S seconds each,
               instead of --ops
  --seeds N    runs, each with its own random seed (default 10)
  --first N    the first seed (default 1)
  --events     also check the events: every path that exists reported,
               and no path reported that is not there
  --watcher W  vigil (default), or inotifywait (\$INOTIFYWAIT): its events
               checked the same way (--events implied; it has no view of
               its watches to check)
  --queue N    the watcher's kernel queue holds N events, so that it
               overflows on the way (fs.inotify.max_queued_events is set
               to N while the watcher starts, as root, and put back at
               once); the events are replayed across each overflow
  --emulate-queue N
               the same, without the sysctl: the watcher runs with
               bench/smallq.c preloaded, which holds its inotify queue to
               N events by the kernel's rules (for a shared machine, where
               lowering fs.inotify.max_queued_events would overflow
               everyone else's queues; SMALLQ_LOG=FILE traces it)
  --backend B  fanotify: a fanotify mark per directory (vigil wait -F);
               filesystem: one mark for the filesystem (-S), on an ext4
               image loop-mounted for the run (root)
  --keep DIR   keep each diverging run in DIR/seed-N: vigil's events
               (out), its view and messages (err), the tree (tree), and
               each writer's changes (writer-I.log)
USAGE
}
while (($#)); do
	case $1 in
	--writers) writers=$2; shift ;;
	--ops) ops=$2; shift ;;
	--fast) fast=$2; shift ;;
	--seeds) seeds=$2; shift ;;
	--first) first=$2; shift ;;
	--events) events=1 ;;
	--watcher) watcher=$2; shift ;;
	--keep) keep=$2; shift ;;
	--queue) queue=$2; shift ;;
	--emulate-queue) emulate=$(count --emulate-queue "$2"); shift ;;
	--backend) backend=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "churn.sh: unknown argument '$1'" >&2; usage >&2; exit 1 ;;
	esac
	shift
done
command -v python3 >/dev/null || { echo "churn.sh: python3 is needed" >&2; exit 1; }

bench_tmp
[[ -z $queue || -z $emulate ]] || { echo "churn.sh: --queue or --emulate-queue, not both" >&2; exit 1; }
[[ -z $emulate || -z $backend ]] || { echo "churn.sh: --emulate-queue holds inotify queues only, not --backend $backend's" >&2; exit 1; }
preload=()
if [[ -n $emulate ]]; then
	((emulate > 0)) || { echo "churn.sh: --emulate-queue must be at least 1" >&2; exit 1; }
	mkdir -p "$tmp/bin"
	"${CC:-cc}" -std=c17 -O2 -shared -fPIC -o "$tmp/bin/smallq.so" "$here/smallq.c" -ldl ||
		{ echo "churn.sh: cannot compile '$here/smallq.c' with '${CC:-cc}'" >&2; exit 1; }
	preload=(env LD_PRELOAD="$tmp/bin/smallq.so" SMALLQ="$emulate")
fi
if [[ -n $queue ]]; then
	[[ -w $QUEUE ]] || { echo "churn.sh: --queue needs root (it writes $QUEUE)" >&2; exit 1; }
	saved_queue=$(cat "$QUEUE")
	restore[$QUEUE]=$saved_queue # put back on any exit (bench/lib.sh)
fi
opt=() mode=()
case $backend in
'') ;;
fanotify) opt=(-F) mode=(--fanotify) ;;
filesystem)
	# the tree on a loop-mounted ext4 image: what the rest of the machine
	# does is not in the filesystem mark's queue
	((EUID == 0)) || { echo "churn.sh: --backend filesystem needs root" >&2; exit 1; }
	opt=(-S) mode=(--filesystem)
	truncate -s 256M "$tmp/img"
	mkfs.ext4 -q -F "$tmp/img"
	tmp0=$tmp
	tmp=$tmp0/mnt
	mkdir "$tmp"
	mount -o loop "$tmp0/img" "$tmp"
	# unmounted first, then bench/lib.sh's clean-up of the scratch directory
	fs_cleanup() {
		cd /
		umount -d "$tmp" 2>/dev/null || umount -l -d "$tmp" 2>/dev/null || true
		tmp=$tmp0
		bench_cleanup
	}
	trap fs_cleanup EXIT ;;
*) echo "churn.sh: --backend is fanotify or filesystem, not '$backend'" >&2; exit 1 ;;
esac

run() { # run SEED: prints one result line
	local seed=$1 w=$tmp/w vp i pids=()
	rm -rf "$w" "$tmp"/outside-* "$tmp"/writer-*.log "$tmp/out" "$tmp/err" "$tmp/changes"
	mkdir "$w"
	[[ -z $queue ]] || echo "$queue" >"$QUEUE"
	if [[ $watcher == inotifywait ]]; then
		(cd "$w" && exec ${preload[@]+"${preload[@]}"} "${INOTIFYWAIT:-inotifywait}" -m -r \
			-e create,moved_from,moved_to,delete,q_overflow \
			--format $'%e\t%c\t%w%f' -t 2 . >"$tmp/out" 2>"$tmp/err") &
	else
		(cd "$w" && exec ${preload[@]+"${preload[@]}"} "$VIGIL" wait -m -r ${opt[@]+"${opt[@]}"} --json \
			-e create,moved_from,moved_to,delete,q_overflow \
			-t 2 --debug-watches . >"$tmp/out" 2>"$tmp/err") &
	fi
	vp=$!
	until grep -q "Watches established" "$tmp/err" 2>/dev/null; do
		if ! kill -0 "$vp" 2>/dev/null; then
			[[ -z $queue ]] || echo "$saved_queue" >"$QUEUE"
			echo "the watcher did not start: $(head -c 300 "$tmp/err" 2>/dev/null)"
			return
		fi
		sleep 0.01
	done
	# the queue's size is taken when the watcher's inotify instance is made
	[[ -z $queue ]] || echo "$saved_queue" >"$QUEUE"
	for ((i = 1; i <= writers; i++)); do
		if [[ -n $fast ]]; then
			(cd "$w" && exec perl "$fast_writer" "${fast}s" "$seed$i" "$tmp/outside-$i" \
				${keep:+"$tmp/writer-$i.log"}) >>"$tmp/changes" &
		else
			(cd "$w" && exec perl "$writer" "$ops" "$seed$i" "$tmp/outside-$i" \
				${keep:+"$tmp/writer-$i.log"}) &
		fi
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	[[ -z $fast ]] || awk '{ n += $2 } END { printf "%d changes; ", n }' "$tmp/changes"
	wait "$vp" || true
	if [[ $watcher == inotifywait ]]; then
		python3 "$check" "$w" - "lines:$tmp/out" || true
	elif ((events)); then
		python3 "$check" ${mode[@]+"${mode[@]}"} "$w" "$tmp/err" "$tmp/out" || true
	else
		python3 "$check" ${mode[@]+"${mode[@]}"} "$w" "$tmp/err" || true
	fi
}

case $watcher in
vigil) what=$VIGIL ;;
inotifywait) what=${INOTIFYWAIT:-inotifywait} ;;
*) echo "churn.sh: unknown watcher '$watcher'" >&2; exit 1 ;;
esac
if [[ -n $fast ]]; then
	echo "churn: $writers fast writer(s) x $fast s, $seeds seeds ($what${backend:+, $backend})${queue:+, a queue of $queue}${emulate:+, a queue of $emulate (emulated)}"
else
	echo "churn: $writers writer(s) x $ops changes, $seeds seeds ($what${backend:+, $backend})${queue:+, a queue of $queue}${emulate:+, a queue of $emulate (emulated)}"
fi
bad=0
for seed in $(seq "$first" $((first + seeds - 1))); do
	out=$(run "$seed")
	printf 'seed %-4s %s\n' "$seed" "$out"
	[[ $out == *"churn-check: ok"* ]] && continue
	bad=$((bad + 1))
	if [[ -n $keep ]]; then
		mkdir -p "$keep/seed-$seed"
		cp "$tmp/out" "$tmp/err" "$tmp"/writer-*.log "$keep/seed-$seed/"
		(cd "$tmp/w" && find . -printf '%y %i %p\n') >"$keep/seed-$seed/tree"
	fi
done
echo "diverged: $bad of $seeds"
