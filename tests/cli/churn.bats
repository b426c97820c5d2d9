#!/usr/bin/env bats
# The churn model check: writers make random changes to a watched tree at
# once (files and directories made, written, renamed, deleted; subtrees
# moved within the tree, out of it and back in), then vigil's view is
# checked against the disk by churn-check.py: every directory watched where
# vigil believes, by inode, and, replaying the events as a reader would,
# every file and directory that exists known under its final path, and no
# path known that is not there. Short here; long runs with bench/churn.sh.
# The overflow case lowers fs.inotify.max_queued_events for the whole
# machine, so this file runs alone (is_parallel: false).

load helpers

QUEUE=/proc/sys/fs/inotify/max_queued_events
WRITER=$BATS_TEST_DIRNAME/churn-writer.pl
FAST_WRITER=$BATS_TEST_DIRNAME/churn-fast.pl
CHECK=$BATS_TEST_DIRNAME/churn-check.py

setup_file() {
	export SAVED_QUEUE
	SAVED_QUEUE=$(cat "$QUEUE")
}

teardown_file() {
	[ -w "$QUEUE" ] && echo "$SAVED_QUEUE" >"$QUEUE" || true
}

# helpers.bash's, and the -S case's image unmounted first (-d: its loop
# device goes with it)
teardown() {
	stop_vigil
	end_test_processes
	cd /
	if [ -n "${IMG_MNT:-}" ] && mountpoint -q "$IMG_MNT"; then
		umount -d "$IMG_MNT" 2>/dev/null || umount -l -d "$IMG_MNT"
	fi
	rm -rf "$TEST_DIR"
}

# ext4_image: an ext4 image loop-mounted at $IMG_MNT, with the watched tree
# ($W) and the writers' outside directories ($OUTSIDE) on it, so that a
# filesystem mark sees only what the writers do, and their moves out of
# the tree and back are renames it sees; skips, saying why, where that
# cannot be done.
ext4_image() {
	[ "$(id -u)" = 0 ] || skip "needs root: a loop-mounted ext4 image and a filesystem mark"
	command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 is not installed (apt-get install e2fsprogs)"
	truncate -s 256M "$TEST_DIR/img"
	mkfs.ext4 -q -F "$TEST_DIR/img" 2>"$TEST_DIR/mkfs.err" ||
		skip "cannot make an ext4 image: $(cat "$TEST_DIR/mkfs.err")"
	mkdir "$TEST_DIR/mnt"
	mount -o loop "$TEST_DIR/img" "$TEST_DIR/mnt" 2>"$TEST_DIR/mount.err" ||
		skip "cannot loop-mount an image here: $(cat "$TEST_DIR/mount.err")"
	IMG_MNT=$TEST_DIR/mnt OUTSIDE=$TEST_DIR/mnt W=$TEST_DIR/mnt/w
}

# writers N OPS SEED: N writers at once, each OPS changes, in the watched
# tree; returns when all are done. Their directories outside the tree go
# in $OUTSIDE if set (on the watched filesystem for -S), else $TEST_DIR. With FAST set, the fast writers
# (churn-fast.pl: at full speed, each with its own list of directories).
writers() {
	local n=$1 ops=$2 seed=$3 i pids=()
	for ((i = 1; i <= n; i++)); do
		if [ -n "${FAST:-}" ]; then
			perl "$FAST_WRITER" "$ops" "$seed$i" "${OUTSIDE:-$TEST_DIR}/outside-$i" >/dev/null 3>&- &
		else
			perl "$WRITER" "$ops" "$seed$i" "${OUTSIDE:-$TEST_DIR}/outside-$i" 3>&- &
		fi
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i"
	done
}

# check LABEL [EVENTS]: vigil (which exits four seconds after the last event,
# printing its view) against the disk; with EVENTS, its events too, up to
# an overflow, if one comes on a loaded machine (these cases are not about
# overflows), or across every overflow with OVERFLOW_REPLAY set (the queue
# cases). With STALE_NOT_FATAL set, stale paths are said, not failed on.
check() {
	wait_vigil
	expect_eq "vigil's exit status (2: the -t timeout)" 2 "$status"
	local upto=--no-overflow-replay
	[ -z "${OVERFLOW_REPLAY:-}" ] || upto=
	run python3 "$CHECK" ${upto:+"$upto"} ${STALE_NOT_FATAL:+--stale-not-fatal} \
		${CHECK_MODE:+"$CHECK_MODE"} "$W" "$ERR" ${2:+"$2"}
	echo "$1: $output"
	# KEEP=DIR keeps a failed check's output, errors and tree listing there
	if [ "$status" != 0 ] && [ -n "${KEEP:-}" ]; then
		local keep=$KEEP/$(date +%s)-${1//[ (),]/}
		mkdir -p "$keep" && cp "$OUT" "$ERR" "$keep/" && (cd "$W" && find . -printf '%i %y %p\n') >"$keep/tree"
	fi
	expect_eq "$1: churn-check's status" 0 "$status"
}

# fresh_tree: an empty watched tree, nothing left outside.
fresh_tree() {
	rm -rf "$W" "${OUTSIDE:-$TEST_DIR}"/outside-*
	mkdir "$W"
	cd "$W"
}

start_churn_vigil() {
	start_vigil wait -m -r ${BACKEND:+"$BACKEND"} --json \
		-e create,moved_from,moved_to,delete,q_overflow -t 4 --debug-watches .
}

# queue_vigil: a fresh tree, and vigil on it with a kernel queue of 64
# events (the machine's limit is put back as soon as its instance is made).
queue_vigil() {
	fresh_tree
	echo 64 >"$QUEUE"
	start_churn_vigil
	local rc=$?
	echo "$SAVED_QUEUE" >"$QUEUE"
	[ "$rc" = 0 ]
}

# churn N OPS [EVENTS]: for seeds 1 to 3, N writers of OPS changes each in
# a fresh watched tree, then check (with EVENTS, vigil's events too).
churn() {
	local seed
	for seed in 1 2 3; do
		fresh_tree
		start_churn_vigil
		writers "$1" "$2" "$seed"
		check "$1 writer(s), seed $seed" ${3:+"$3"}
	done
}

@test "churn, one writer: every directory watched where vigil believes, every path reported, none that is not there" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	churn 1 3000 "$OUT"
}

# Three writers at once on the same names: listings run ahead of the queue
# (they find directories where renames still to be read put them, or later
# directories under names whose events are still to be read), and the
# events must still tell a reader every path.
#
# Stale paths are said here, not failed on: slow writers on six names
# that keep coming back still leave one about one run in 30 (a listing
# that runs ahead of a directory's own rename events; bench/README.md).
# The fast writers' case below fails on them.
@test "churn, three writers at once: every directory watched where vigil believes, every path reported" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	STALE_NOT_FATAL=1 churn 3 1500 "$OUT"
}

# Four writers, 5000 changes each: the trees grow 60 to 100 levels deep, so
# the walks go past their budget of open directories (48) and reopen them
# on the way up; before every closed one was reopened, a leaf on the way
# broke the chain and what was left above it went unwatched (3 seeds of 3).
# Stale paths said, not failed on, as above.
@test "churn, four writers, trees deeper than the walk's descriptor budget: every directory watched, every path reported" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	STALE_NOT_FATAL=1 churn 4 5000 "$OUT"
}

# Three fast writers: made and moved out, a directory gets a file and a
# directory while outside and comes back under a new name, at full speed.
# Before, what was made in it outside was reported under the path it had
# left (hundreds of stale paths in 10 s). Stale paths fail here: the san
# stage of a full scripts/test once left two (at 24fd91e, load 12-19:
# './b3_3981/b3_3995/d3_3994/d3_3997/a/b3_4002/b' and its 'f', seed 3);
# since the fixes of 6 and 7 December the san build gave 0 stale and 0
# missing in 30 of 30 runs of bench/churn.sh --writers 3 --fast 2 --events
# (26,000 to 98,000 changes a run; bench/README.md).
@test "churn, three fast writers: every directory watched, every path reported, none that is not there" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	FAST=1 churn 3 4000 "$OUT"
}

# The queue overflows again and again (1 to 9 times a run): each re-scan
# reports what appeared in and vanished from every directory in the gap,
# and a reader replaying the events across the overflows must have the
# tree on disk, stale paths included (issue 17). At 62bebac, load 2 to 5:
# 40 of 41 runs of this case (2 seeds each) passed on the normal build
# (one left './n4' stale, not kept, so not traced), 10 of 10 on the san
# build; with the queue emulated (bench/smallq.c), 36 of 36 runs of one
# seed each (bench/README.md).
@test "churn with a queue of 64 events: overflows on the way, every directory watched, and the events replayed across them give the tree on disk" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	require_writable_sysctl
	local seed
	for seed in 4 5; do
		queue_vigil
		# the queue overflows while vigil is stopped; then it re-scans
		# while the writers go on
		kill -STOP "$VIGIL_PID"
		writers 3 500 "$seed"
		kill -CONT "$VIGIL_PID"
		writers 3 1500 "${seed}0"
		OVERFLOW_REPLAY=1 check "seed $seed" "$OUT"
		grep -q 'overflowed' "$ERR"
	done
}

# The same with three fast writers: the queue overflows about once in a
# hundred changes, and walks run ahead of renames whose events are then
# lost. A walk that found a directory elsewhere kept quiet about the path
# a listing had reported it under, waiting for its rename's events, which
# an overflow then took (8b2ab56 made it common; fixed by e027b41): 62bebac
# failed 3 of 8 runs of this case (2 to 19 stale), e027b41's engine 0 of 8.
# On the san build e027b41 still failed 1 run in 5 (2 files missing: a
# directory a re-scan's walk moved where its listing found it kept a child
# that had left it first, its rename still queued; a reader had that child
# nowhere), so the case was opt-in until trace-fm fixed that and three
# shapes beside it (owe_below(), say_gone() by inode, a relisted directory
# gone before its walk held): main 3f3a66d failed 4 of 82 runs on the san
# build, the fixes 0 of 59, and 0 of 24 (san and normal) once merged.
# bench/churn.sh --fast 10 --emulate-queue 64 measures the same
# (bench/README.md).
@test "churn with a queue of 64 events and three fast writers: the events replayed across the overflows give the tree on disk" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	require_writable_sysctl
	local seed
	for seed in 6 7; do
		queue_vigil
		FAST=1 writers 3 6000 "$seed"
		OVERFLOW_REPLAY=1 check "seed $seed" "$OUT"
		grep -q 'overflowed' "$ERR"
	done
}

# fanotify: the same writers, the events replayed against the disk. With a
# mark per directory (-F), found by the same walk as inotify's watches.
@test "churn with fanotify marks per directory (-F): every directory watched, every path reported" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	BACKEND=-F CHECK_MODE=--fanotify churn 3 1500 "$OUT"
}

# One mark for the whole filesystem (-S): directories learnt as events name
# them, moves within the tree, out and back in translated from the
# kernel's records, listings that run ahead of the queue; the events
# replayed against the disk, stale paths failed on. At 4988b30 (before
# issue-20i's four fixes) bench/churn.sh --backend filesystem diverged in
# 18 of 491 runs, one and three writers; with them, 0 of 153.
@test "churn with a filesystem mark (-S) on an ext4 image: every path reported, none that is not there" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	ext4_image
	BACKEND=-S CHECK_MODE=--filesystem churn 1 1500 "$OUT"
	BACKEND=-S CHECK_MODE=--filesystem churn 3 1500 "$OUT"
}
