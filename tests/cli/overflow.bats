#!/usr/bin/env bats
# Promise 3: a queue overflow is announced, then repaired by a re-crawl.
# These lower fs.inotify.max_queued_events for the whole machine, so they
# run alone (is_parallel: false) and restore it.

load helpers

QUEUE=/proc/sys/fs/inotify/max_queued_events

setup_file() {
	export SAVED_QUEUE
	SAVED_QUEUE=$(cat "$QUEUE")
}

teardown_file() {
	[ -w "$QUEUE" ] && echo "$SAVED_QUEUE" >"$QUEUE" || true
}

# start_small_queue ARGS...: start vigil with a queue of ${SMALL_QUEUE:-16}
# events (the limit is taken when the instance is made), then restore the
# machine's limit.
start_small_queue() {
	echo "${SMALL_QUEUE:-16}" >"$QUEUE"
	start_vigil "$@"
	local rc=$?
	echo "$SAVED_QUEUE" >"$QUEUE"
	return $rc
}

@test "an overflow is announced on stderr and as a Q_OVERFLOW event" {
	require_writable_sysctl
	start_small_queue wait -m -r -e create,q_overflow .
	kill -STOP "$VIGIL_PID"
	touch "$W"/f{1..100}
	kill -CONT "$VIGIL_PID"
	wait_for_line "$ERR" 'overflowed'
	wait_for_line "$OUT" 'Q_OVERFLOW'
}

@test "an overflow is announced even when q_overflow was not asked for" {
	require_writable_sysctl
	start_small_queue wait -m -r -e create .
	kill -STOP "$VIGIL_PID"
	touch "$W"/f{1..100}
	kill -CONT "$VIGIL_PID"
	wait_for_line "$ERR" 'event queue overflowed'
	run grep -c Q_OVERFLOW "$OUT"
	expect_eq "Q_OVERFLOW lines on stdout" 0 "$output"
}

@test "after an overflow: directories made in the gap are watched and their contents reported" {
	require_writable_sysctl
	mkdir -p "$W/old/stays" "$W/old/goes"
	start_small_queue wait -m -r -e create --format '%w%f' .
	kill -STOP "$VIGIL_PID"
	touch "$W"/noise{1..100}
	mkdir -p "$W/gap/deep"
	touch "$W/gap/deep/made-in-gap"
	rmdir "$W/old/goes"
	mv "$W/old/stays" "$W/old/moved"
	kill -CONT "$VIGIL_PID"
	wait_for_line "$ERR" 'overflowed'
	wait_for_line "$OUT" 'made-in-gap'
	grep -qx './gap/deep/made-in-gap' "$OUT"
	# the new directories are watched, the vanished one is not, the moved
	# one is watched under its new name: . old old/moved gap gap/deep
	sentinel done
	expect_eq watches 5 "$(watch_count "$VIGIL_PID")"
	touch "$W/gap/deep/later" "$W/old/moved/later"
	wait_for_line "$OUT" 'moved/later'
	grep -qx './gap/deep/later' "$OUT"
	grep -qx './old/moved/later' "$OUT"
}

@test "listing its own tree never overflows the queue (all events asked for)" {
	require_writable_sysctl
	mkdir "$W/tree"
	(cd "$W/tree" && perl -e 'for my $i (1..300) { mkdir "d$i" or die; mkdir "d$i/e" or die }')
	# room for what mkdir -p below does, not for 600 directories' listing
	SMALL_QUEUE=128 start_small_queue wait -m -r .
	mkdir "$W/new"
	mkdir -p "$W/new/a/b/c"
	sentinel done
	run grep -c overflowed "$ERR"
	expect_eq "overflow messages" 0 "$output"
	run grep -c 'ACCESS,ISDIR $' "$OUT"
	expect_eq "self-inflicted ACCESS lines on watched directories" 0 "$output"
}
